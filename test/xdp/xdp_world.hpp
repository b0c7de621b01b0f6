//! Test support for test/xdp: the veth pair between two network namespaces of the test's own
//! (mmsg::testing::VethPair, made once per test program), sockets and XdpQueues made inside
//! either namespace.
#ifndef MMSG_TEST_XDP_XDP_WORLD_HPP
#define MMSG_TEST_XDP_XDP_WORLD_HPP

#include <mmsg/backend/xdp.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/veth_pair.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace mmsg::test {

namespace asio = boost::asio;
using udp = asio::ip::udp;

//! XdpOptions for side A ("mmsg-xa") or B ("mmsg-xb").
inline XdpOptions options_for(bool a, XdpMode mode = XdpMode::native) {
    XdpOptions o;
    o.interface = a ? testing::VethPair::a_name : testing::VethPair::b_name;
    o.mode = mode;
    return o;
}

//! Opens an XdpQueue in namespace A or B; null and `ec` on failure.
inline std::shared_ptr<XdpQueue> open_queue(const testing::VethPair& w, bool a, const XdpOptions& o, std::error_code& ec) {
    auto open = [&] { return XdpQueue::open(o, ec); };
    return a ? w.in_a(open) : w.in_b(open);
}

//! An XdpQueue in namespace A or B; the test case stops, saying why, if it cannot be opened.
inline std::shared_ptr<XdpQueue> require_queue(const testing::VethPair& w, bool a, const XdpOptions& o) {
    std::error_code ec;
    auto q = open_queue(w, a, o, ec);
    BOOST_REQUIRE_MESSAGE(q, (a ? "queue on A: " : "queue on B: ") << ec.message());
    return q;
}
inline std::shared_ptr<XdpQueue> require_queue(const testing::VethPair& w, bool a) {
    return require_queue(w, a, options_for(a));
}

//! A UDP socket of namespace A or B bound to `local` (port 0: any), receive timeout 5 s.
inline udp::socket socket_in(const testing::VethPair& w, bool a, asio::io_context& io, const Endpoint& local) {
    auto make = [&] { return testing::bound_socket(io, local); };
    return a ? w.in_a(make) : w.in_b(make);
}

inline Endpoint on_a(std::uint16_t port = 0) { return {testing::VethPair::a_address(), port}; }
inline Endpoint on_b(std::uint16_t port = 0) { return {testing::VethPair::b_address(), port}; }

//! What most cases here begin with: an io_context and a socket on each side, `sa` in A
//! (198.18.0.1) and `sb` in B (198.18.0.2), any port. Take them as
//! `Sides sides(*w); auto& [io, sa, sb] = sides;` (or one by one where a lambda captures
//! them: clang 14 cannot capture a structured binding).
struct Sides {
    asio::io_context io;
    udp::socket sa;
    udp::socket sb;
    explicit Sides(const testing::VethPair& w)
        : sa(socket_in(w, true, io, on_a())), sb(socket_in(w, false, io, on_b())) {}
};

//! The test program's veth pair, or null with the reason it could not be made. Each side
//! has resolved the other's neighbour entry (XdpBackend fails a datagram to an unresolved
//! neighbour: the test of that deletes the entry first).
inline testing::VethPair* world(std::string* why = nullptr) {
    static std::string reason;
    static std::unique_ptr<testing::VethPair> pair = testing::VethPair::make(reason);
    if (why != nullptr) *why = reason;
    return pair.get();
}

//! The veth pair, or null after saying (BOOST_TEST_MESSAGE) why the test does not run.
inline testing::VethPair* world_or_skip() {
    std::string why;
    testing::VethPair* w = world(&why);
    if (w == nullptr) BOOST_TEST_MESSAGE("skipped: " << why);
    return w;
}

} // namespace mmsg::test

#endif // MMSG_TEST_XDP_XDP_WORLD_HPP
