//! Defines mmsg::MockGsoOps, the system-call layer that runs LinuxGsoBackend on a MockNetwork
//! (sendmmsg with UDP_SEGMENT trains, recvmmsg), and mmsg::MockGsoBackend; mmsg::MockUringGsoOps
//! and mmsg::MockUringGsoBackend, the same with IoUringGsoBackend's send (one outcome per message).
#ifndef MMSG_TESTING_MOCK_GSO_OPS_HPP
#define MMSG_TESTING_MOCK_GSO_OPS_HPP

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/udp_segment.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/meta.hpp>

#if MMSG_HAS_UDP_GSO

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! LinuxGsoBackend's system calls, simulated on a MockNetwork, so that trains, their
    failures and the fallback are tested deterministically.

    sendmmsg reads the messages the backend built (iovecs, destination, UDP_SEGMENT control
    message) and hands them to MockNetwork::send_messages, which cuts trains into datagrams
    and applies the network's faults (fail_trains for offload failures). recvmmsg takes
    queued datagrams one per message, as recvmmsg does without GRO (the mock never
    coalesces). Copies share the network; the buffers are the copy's own.
*/
class MockGsoOps {
public:
    //! `limits` are what the backend's default constructor would have probed.
    explicit MockGsoOps(MockNetwork& net, GsoLimits limits = GsoLimits::conservative())
        : net_(&net), limits_(limits) {}
    MockNetwork& network() const noexcept { return *net_; }

    GsoLimits limits() const noexcept { return limits_; }

    int sendmmsg(int fd, mmsghdr* v, unsigned n, int, std::error_code& ec) {
        const int r = net_->send_messages(fd, messages_of(v, n), ec);
        for (unsigned j = 0; j < static_cast<unsigned>(std::max(r, 0)); ++j)
            v[j].msg_len = static_cast<unsigned>(messages_[j].data.size());
        return r;
    }

    int recvmmsg(int fd, mmsghdr* v, unsigned n, int, std::error_code& ec) {
        std::size_t total = 0;
        room_.resize(n);
        for (unsigned j = 0; j < n; ++j) {
            room_[j] = 0;
            for (std::size_t i = 0; i < v[j].msg_hdr.msg_iovlen; ++i)
                room_[j] += v[j].msg_hdr.msg_iov[i].iov_len;
            total += room_[j];
        }
        if (bounce_.size() < total) bounce_.resize(total);
        slots_.resize(n);
        metas_.resize(n);
        std::size_t at = 0;
        for (unsigned j = 0; j < n; ++j) {
            slots_[j] = RecvSlot{bounce_.data() + at, room_[j], &metas_[j]};
            at += room_[j];
        }
        const std::size_t got = net_->recv(fd, slots_, ec);
        if (got == 0) return -1;
        for (std::size_t j = 0; j < got; ++j) {
            msghdr& h = v[j].msg_hdr;
            const Meta& m = metas_[j];
            std::size_t left = m.size;
            const std::byte* src = slots_[j].data;
            for (std::size_t i = 0; i < h.msg_iovlen && left > 0; ++i) {
                const std::size_t c = std::min(left, h.msg_iov[i].iov_len);
                std::memcpy(h.msg_iov[i].iov_base, src, c);
                src += c;
                left -= c;
            }
            v[j].msg_len = static_cast<unsigned>(m.size);
            h.msg_flags = has_flags(m.flags, PacketFlags::truncated) ? MSG_TRUNC : 0;
            h.msg_controllen = write_metadata(h, m);
            if (h.msg_name != nullptr && h.msg_namelen >= m.addr.size()) {
                std::memcpy(h.msg_name, m.addr.data(), m.addr.size());
                h.msg_namelen = static_cast<socklen_t>(m.addr.size());
            }
        }
        return static_cast<int>(got);
    }

    //! The mock never coalesces, so there is nothing to turn on.
    static bool enable_gro(int, std::error_code& ec) noexcept {
        ec.clear();
        return true;
    }
    //! Every mock socket is a datagram socket.
    static std::error_code refuse(SocketRef) noexcept { return {}; }

protected:
    // What the backend built, as the network's messages: the payload of each gathered into
    // one run (copies owned here), its destination, segment size and options.
    std::span<const MockNetwork::Message> messages_of(const mmsghdr* v, std::size_t n) {
        std::size_t total = 0;
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t i = 0; i < v[j].msg_hdr.msg_iovlen; ++i)
                total += v[j].msg_hdr.msg_iov[i].iov_len;
        bytes_.resize(total);
        messages_.resize(n);
        dests_.resize(n);
        std::size_t at = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const msghdr& h = v[j].msg_hdr;
            const std::size_t start = at;
            for (std::size_t i = 0; i < h.msg_iovlen; ++i) {
                if (h.msg_iov[i].iov_len > 0)
                    std::memcpy(bytes_.data() + at, h.msg_iov[i].iov_base, h.msg_iov[i].iov_len);
                at += h.msg_iov[i].iov_len;
            }
            // The backend's msg_name points at an Endpoint's storage, as with the kernel.
            // No msg_name: to the connected peer.
            if (h.msg_name != nullptr) {
                std::memcpy(dests_[j].data(), h.msg_name,
                            std::min<std::size_t>(h.msg_namelen, dests_[j].capacity()));
                dests_[j].resize(h.msg_namelen);
            }
            messages_[j] = MockNetwork::Message{h.msg_name != nullptr ? &dests_[j] : nullptr,
                                                {bytes_.data() + start, at - start},
                                                detail::segment_of(h),
                                                detail::read_send_control(h)};
        }
        return messages_;
    }

    MockNetwork* net_;

private:
    // The control messages the kernel would write for a datagram with metadata `m` (its
    // ECN and the address it was sent to), as the mock network delivers them unasked.
    static std::size_t write_metadata(const msghdr& h, const Meta& m) noexcept {
        if (h.msg_control == nullptr) return 0;
        auto* buf = static_cast<unsigned char*>(h.msg_control);
        const std::size_t room = h.msg_controllen;
        std::size_t len = 0;
        auto put = [&](int level, int type, const void* data, std::size_t size) {
            if (len + CMSG_SPACE(size) > room) return;
            cmsghdr c{};
            c.cmsg_level = level;
            c.cmsg_type = type;
            c.cmsg_len = CMSG_LEN(size);
            std::memcpy(buf + len, &c, sizeof c);
            std::memcpy(buf + len + CMSG_LEN(0), data, size);
            len += CMSG_SPACE(size);
        };
        if (m.local.is_v4()) {
            const auto tos = static_cast<std::uint8_t>(m.ecn);
            put(IPPROTO_IP, IP_TOS, &tos, sizeof tos);
            in_pktinfo pi{};
            pi.ipi_addr.s_addr = htonl(m.local.to_v4().to_uint());
            put(IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
        } else if (m.local.is_v6()) {
            const int tclass = static_cast<int>(m.ecn);
            put(IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass);
            in6_pktinfo pi{};
            const auto b = m.local.to_v6().to_bytes();
            std::memcpy(&pi.ipi6_addr, b.data(), b.size());
            put(IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
        }
        return len;
    }

    GsoLimits limits_;
    std::vector<std::byte> bytes_;
    std::vector<Endpoint> dests_;
    std::vector<MockNetwork::Message> messages_;
    std::vector<std::size_t> room_;
    std::vector<std::byte> bounce_;
    std::vector<RecvSlot> slots_;
    std::vector<Meta> metas_;
};

//! LinuxGsoBackend on a MockNetwork.
using MockGsoBackend = BasicLinuxGsoBackend<MockGsoOps>;

/*! MockGsoOps with the send of IoUringGsoBackend's layer (detail::UringGsoOps): one outcome
    per message, messages from the first train on linked (MockNetwork::send_each). Runs the
    io_uring flavour of the train code (unlinked plain datagrams, a refused train with
    nothing sent after it) on the mock network, for the conformance kit and the fuzzers.
*/
class MockUringGsoOps : public MockGsoOps {
public:
    using MockGsoOps::MockGsoOps;

    void send_each(int fd, mmsghdr* v, std::size_t m, std::size_t linked_from, int,
                   std::error_code* res) {
        net_->send_each(fd, messages_of(v, m), linked_from, std::span<std::error_code>(res, m));
    }
};

//! IoUringGsoBackend's train code on a MockNetwork.
using MockUringGsoBackend = BasicLinuxGsoBackend<MockUringGsoOps>;

static_assert(SendBackend<MockGsoBackend> && RecvBackend<MockGsoBackend>,
              "MockGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");
static_assert(SendBackend<MockUringGsoBackend> && RecvBackend<MockUringGsoBackend>,
              "MockUringGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_TESTING_MOCK_GSO_OPS_HPP
