//! Test support: lists of payloads for the train tests (test/gso, test/uring): numbered
//! payloads by size, a batch of them to one endpoint, lists compared, and what a mock socket
//! has queued. One copy for the tests that had each their own.
#ifndef MMSG_TEST_SUPPORT_PAYLOAD_LISTS_HPP
#define MMSG_TEST_SUPPORT_PAYLOAD_LISTS_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/mock_network.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

namespace mmsg::test {

using mmsg::testing::Bytes;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

//! One numbered payload of each size, numbered from `first`.
inline std::vector<Bytes> sized(std::initializer_list<std::size_t> sizes, std::uint32_t first = 0) {
    std::vector<Bytes> v;
    for (std::size_t s : sizes) v.push_back(mmsg::testing::numbered(s, first++));
    return v;
}
//! `n` numbered payloads of `size` bytes, numbered from `first`.
inline std::vector<Bytes> same(std::size_t n, std::size_t size, std::uint32_t first = 0) {
    return mmsg::testing::numbered_payloads(n, size, first);
}
//! `a`, then `b`.
inline std::vector<Bytes> operator+(std::vector<Bytes> a, const std::vector<Bytes>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}
//! Every payload of `d` to `ep`, in order.
inline Batch to(const std::vector<Bytes>& d, const Endpoint& ep) {
    Batch b;
    for (const Bytes& x : d) b.emplace_back(x, ep);
    return b;
}
//! The bytes of all of `d`.
inline std::size_t total_bytes(const std::vector<Bytes>& d) {
    std::size_t t = 0;
    for (const Bytes& x : d) t += x.size();
    return t;
}
//! Whether the two lists hold the same payloads in the same order.
inline bool same_list(const std::vector<Bytes>& a, const std::vector<Bytes>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!mmsg::testing::same_bytes(a[i], b[i])) return false;
    return true;
}
//! Every datagram queued on mock socket `h` of `net` (up to 2048 bytes each), in order; their
//! sources are appended to `sources` when it is given.
inline std::vector<Bytes> drain(MockNetwork& net, int h, std::vector<Endpoint>* sources = nullptr) {
    std::vector<Bytes> out;
    std::vector<BasicPacket<2048>> p(16);
    RecvSlot slots[16];
    for (std::size_t i = 0; i < 16; ++i) slots[i] = RecvSlot{p[i].buffer.data(), 2048, &p[i].meta};
    for (;;) {
        std::error_code ec;
        const std::size_t n = net.recv(h, std::span<const RecvSlot>(slots, 16), ec);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) {
            out.emplace_back(p[i].data().begin(), p[i].data().end());
            if (sources != nullptr) sources->push_back(p[i].meta.addr);
        }
    }
    return out;
}

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_PAYLOAD_LISTS_HPP
