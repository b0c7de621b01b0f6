//! Defines mmsg::LinuxMmsgBackend: sendmmsg(2) / recvmmsg(2), many datagrams per system call.
#ifndef MMSG_BACKEND_LINUX_MMSG_HPP
#define MMSG_BACKEND_LINUX_MMSG_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/socket_options.hpp>
#include <mmsg/socket_state.hpp>

#if MMSG_HAS_MMSG

#include <algorithm>
#include <cstddef>
#include <span>
#include <system_error>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! Backend on Linux's sendmmsg/recvmmsg.

    Send: one sendmmsg per call over up to max_send_batch datagrams, each datagram's
    SendOptions as control messages of its own message. sendmmsg reports an error only when
    the failing datagram is the first of the call; after a partial send it returns the
    count, and BatchSender calls again from the datagram that stopped it.
    Receive: one recvmmsg with MSG_WAITFORONE (block, as the socket says, for the first
    datagram only, then take what is queued); the kernel's timeout argument is not used.
    Control messages the socket was asked for (mmsg::enable_drop_count) are decoded.
    Errors: a socket that is not a datagram socket is refused with EPROTOTYPE before any
    system call (checked once per socket). The mmsghdr/iovec arrays are built once per
    backend object and reused: no call allocates after the first.
*/
class LinuxMmsgBackend {
public:
    static constexpr std::size_t max_send = max_send_batch;
    static constexpr std::size_t max_recv = num_rcvmmsgs;

    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        s = implicit_.resolve(s);
        if (std::error_code e = detail::refuse_non_datagram(s)) return {0, e};
        std::size_t n = std::min(items.size(), max_send);
        SendArrays& a = send_arrays();
        for (std::size_t i = 0; i < n; ++i)
            if (std::error_code e = detail::fill_plain_message(a.hdr[i].msg_hdr, a.iov[i], a.ctl[i].bytes, items[i])) {
                if (i == 0) return {0, e}; // this datagram is refused
                n = i;                     // send those before it; the next call reports it
                break;
            }
        std::error_code ec;
        const int r = detail::sys_sendmmsg(s.fd, a.hdr, static_cast<unsigned>(n),
                                           detail::flags_for(mode == WaitMode::never), ec);
        if (r < 0) return {0, ec};
        std::fill_n(errors.begin(), r, std::error_code{});
        return {static_cast<std::size_t>(r), {}};
    }

    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        s = implicit_.resolve(s);
        if ((ec = detail::refuse_non_datagram(s))) return 0;
        const std::size_t n = std::min(slots.size(), max_recv);
        RecvArrays& a = recv_arrays();
        for (std::size_t i = 0; i < n; ++i) {
            a.iov[i].iov_base = slots[i].data;
            a.iov[i].iov_len = slots[i].capacity;
            // The kernel writes the address and control data and shrinks their lengths;
            // only the lengths are reset.
            a.hdr[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            a.hdr[i].msg_hdr.msg_controllen = sizeof a.ctrl[i].bytes;
        }
        const int flags = MSG_WAITFORONE | detail::recv_flags(mode == WaitMode::never);
        const int r = detail::sys_recvmmsg(s.fd, a.hdr, static_cast<unsigned>(n), flags, ec);
        if (r < 0) return 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i)
            detail::decode_received(a.hdr[i].msg_hdr, a.hdr[i].msg_len, slots[i].capacity,
                                    *slots[i].meta, *s.state);
        return static_cast<std::size_t>(r);
    }

    //! For code written against the first release: the same as mmsg::enable_drop_count(fd).
    std::error_code enable_drop_count(int fd) noexcept { return mmsg::enable_drop_count(fd); }

private:
    struct SendArrays {
        mmsghdr hdr[max_send];
        iovec iov[max_send];
        struct alignas(cmsghdr) Control {
            unsigned char bytes[detail::send_control_room];
        } ctl[max_send];
    };
    struct RecvArrays {
        mmsghdr hdr[max_recv];
        iovec iov[max_recv];
        sockaddr_storage addr[max_recv];
        struct alignas(cmsghdr) Control {
            unsigned char bytes[detail::recv_control_room];
        } ctrl[max_recv];
    };

    SendArrays& send_arrays() {
        const bool fresh = !send_.allocated();
        SendArrays& a = *send_.get(1);
        if (fresh)
            for (std::size_t i = 0; i < max_send; ++i) {
                a.hdr[i].msg_hdr.msg_iov = &a.iov[i];
                a.hdr[i].msg_hdr.msg_iovlen = 1;
                a.hdr[i].msg_hdr.msg_control = a.ctl[i].bytes;
            }
        return a;
    }
    RecvArrays& recv_arrays() {
        const bool fresh = !recv_.allocated();
        RecvArrays& a = *recv_.get(1);
        if (fresh)
            for (std::size_t i = 0; i < max_recv; ++i) {
                a.hdr[i].msg_hdr.msg_iov = &a.iov[i];
                a.hdr[i].msg_hdr.msg_iovlen = 1;
                a.hdr[i].msg_hdr.msg_name = &a.addr[i];
                a.hdr[i].msg_hdr.msg_control = a.ctrl[i].bytes;
            }
        return a;
    }

    detail::Scratch<SendArrays> send_;
    detail::Scratch<RecvArrays> recv_;
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
};

static_assert(SendBackend<LinuxMmsgBackend> && RecvBackend<LinuxMmsgBackend>,
              "LinuxMmsgBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_MMSG
#endif // MMSG_BACKEND_LINUX_MMSG_HPP
