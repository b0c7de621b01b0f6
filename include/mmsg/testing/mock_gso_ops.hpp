//! Defines mmsg::MockGsoOps, the system-call layer that runs LinuxGsoBackend on a MockNetwork
//! (sendmmsg with UDP_SEGMENT trains, recvmmsg), and mmsg::MockGsoBackend.
#ifndef MMSG_TESTING_MOCK_GSO_OPS_HPP
#define MMSG_TESTING_MOCK_GSO_OPS_HPP

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
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
        std::size_t total = 0;
        for (unsigned j = 0; j < n; ++j)
            for (std::size_t i = 0; i < v[j].msg_hdr.msg_iovlen; ++i)
                total += v[j].msg_hdr.msg_iov[i].iov_len;
        bytes_.resize(total);
        messages_.resize(n);
        std::size_t at = 0;
        for (unsigned j = 0; j < n; ++j) {
            const msghdr& h = v[j].msg_hdr;
            const std::size_t start = at;
            for (std::size_t i = 0; i < h.msg_iovlen; ++i) {
                if (h.msg_iov[i].iov_len > 0)
                    std::memcpy(bytes_.data() + at, h.msg_iov[i].iov_base, h.msg_iov[i].iov_len);
                at += h.msg_iov[i].iov_len;
            }
            // The backend's msg_name points at an Endpoint's storage, as with the kernel.
            dests_.resize(n);
            std::memcpy(dests_[j].data(), h.msg_name,
                        std::min<std::size_t>(h.msg_namelen, dests_[j].capacity()));
            dests_[j].resize(h.msg_namelen);
            messages_[j] = MockNetwork::Message{&dests_[j], {bytes_.data() + start, at - start},
                                                detail::segment_of(h)};
        }
        const int r = net_->send_messages(fd, messages_, ec);
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
            h.msg_controllen = 0;
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

private:
    MockNetwork* net_;
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

static_assert(SendBackend<MockGsoBackend> && RecvBackend<MockGsoBackend>,
              "MockGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_TESTING_MOCK_GSO_OPS_HPP
