//! Defines mmsg::LinuxMmsgBackend: sendmmsg(2) / recvmmsg(2), many datagrams per system call.
#ifndef MMSG_BACKEND_LINUX_MMSG_HPP
#define MMSG_BACKEND_LINUX_MMSG_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#if MMSG_HAS_MMSG

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! Backend on Linux's sendmmsg/recvmmsg.

    Send: one sendmmsg per call over up to max_send_batch datagrams. sendmmsg reports an
    error only when the failing datagram is the first of the call; after a partial send it
    returns the count, and BatchSender calls again from the datagram that stopped it.
    Receive: one recvmmsg with MSG_WAITFORONE (block, as the socket says, for the first
    datagram only, then take what is queued); the kernel's timeout argument is not used.
    The mmsghdr/iovec arrays are built once per backend object and reused.

    Drop accounting (opt-in, see enable_drop_count): the kernel's count of datagrams it
    dropped on the socket for lack of receive-buffer room arrives with each datagram
    (SO_RXQ_OVFL) and is exposed as dropped(). When it is not enabled, receives pass no
    control buffer and cost nothing extra.
*/
class LinuxMmsgBackend {
public:
    static constexpr std::size_t max_send = max_send_batch;
    static constexpr std::size_t max_recv = num_rcvmmsgs;

    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        const std::size_t n = std::min(items.size(), max_send);
        SendArrays& a = send_arrays();
        for (std::size_t i = 0; i < n; ++i) {
            const SendItem& it = items[i];
            msghdr& h = a.hdr[i].msg_hdr;
            h.msg_name = detail::sockaddr_of(*it.dest);
            h.msg_namelen = static_cast<socklen_t>(it.dest->size());
            a.iov[i].iov_base = const_cast<std::byte*>(it.data);
            a.iov[i].iov_len = it.size;
        }
        std::error_code ec;
        const int r = detail::send_mmsg(fd, a.hdr, static_cast<unsigned>(n),
                                        detail::flags_for(mode == WaitMode::never), ec);
        if (r < 0) return {0, ec};
        std::fill_n(errors.begin(), r, std::error_code{});
        return {static_cast<std::size_t>(r), {}};
    }

    std::size_t recv(int fd, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        const std::size_t n = std::min(slots.size(), max_recv);
        RecvArrays& a = recv_arrays();
        for (std::size_t i = 0; i < n; ++i) {
            a.iov[i].iov_base = slots[i].data;
            a.iov[i].iov_len = slots[i].capacity;
            // The kernel writes the address and its length; only the length is reset.
            a.hdr[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        }
        if (count_drops_)
            for (std::size_t i = 0; i < n; ++i) {
                // The kernel shrinks msg_controllen to what it wrote: reset it every call.
                a.hdr[i].msg_hdr.msg_control = a.ctrl[i].bytes;
                a.hdr[i].msg_hdr.msg_controllen = sizeof a.ctrl[i].bytes;
            }
        const int flags = MSG_WAITFORONE | detail::flags_for(mode == WaitMode::never);
        const int r = detail::recv_mmsg(fd, a.hdr, static_cast<unsigned>(n), flags, ec);
        if (r < 0) return 0;
        for (int i = 0; i < r; ++i) {
            const std::size_t k = static_cast<std::size_t>(i);
            const msghdr& h = a.hdr[i].msg_hdr;
            detail::decode_datagram(h, a.hdr[i].msg_len, slots[k].capacity, *slots[k].meta);
            if (count_drops_) {
                const detail::RecvControl c = detail::parse_control(h);
                if (c.has_drops) note_drops(c.drops);
            }
        }
        return static_cast<std::size_t>(r);
    }

    /*! Opts in to drop accounting on socket `fd`: sets SO_RXQ_OVFL on it, and from now on
        this backend's receives ask the kernel for the socket's drop counter. Use one backend
        (one BatchReceiver) per counted socket. Returns the setsockopt error, if any (then
        nothing is enabled).
    */
    std::error_code enable_drop_count(int fd) noexcept {
        const int on = 1;
        if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0)
            return detail::errno_code(errno);
        count_drops_ = true;
        return {};
    }
    //! Whether enable_drop_count succeeded on this backend.
    bool counts_drops() const noexcept { return count_drops_; }

    /*! Datagrams the kernel dropped on the counted socket since it was opened, for lack of
        receive-buffer room: the counter as it stood when the last received datagram was
        queued (the kernel reports it only with a datagram, so drops after the last queued
        one show with the next). 0 until enable_drop_count and a first datagram.
    */
    std::uint64_t dropped() const noexcept { return dropped_; }

private:
    struct SendArrays {
        mmsghdr hdr[max_send];
        iovec iov[max_send];
    };
    struct RecvArrays {
        mmsghdr hdr[max_recv];
        iovec iov[max_recv];
        sockaddr_storage addr[max_recv];
        struct alignas(cmsghdr) Control {
            unsigned char bytes[CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(int))];
        } ctrl[max_recv]; // used only when counting drops
    };

    // The kernel's counter is 32 bits and wraps; ours does not.
    void note_drops(std::uint32_t raw) noexcept {
        dropped_ += static_cast<std::uint32_t>(raw - last_raw_drops_);
        last_raw_drops_ = raw;
    }

    SendArrays& send_arrays() {
        const bool fresh = !send_.allocated();
        SendArrays& a = *send_.get(1);
        if (fresh)
            for (std::size_t i = 0; i < max_send; ++i) {
                a.hdr[i].msg_hdr.msg_iov = &a.iov[i];
                a.hdr[i].msg_hdr.msg_iovlen = 1;
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
            }
        return a;
    }

    detail::Scratch<SendArrays> send_;
    detail::Scratch<RecvArrays> recv_;
    bool count_drops_ = false;
    std::uint32_t last_raw_drops_ = 0;
    std::uint64_t dropped_ = 0;
};

static_assert(SendBackend<LinuxMmsgBackend> && RecvBackend<LinuxMmsgBackend>,
              "LinuxMmsgBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_MMSG
#endif // MMSG_BACKEND_LINUX_MMSG_HPP
