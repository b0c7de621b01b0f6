//! Defines mmsg::PortableBackend: one datagram per system call (sendto / recvmsg), any POSIX.
#ifndef MMSG_BACKEND_PORTABLE_HPP
#define MMSG_BACKEND_PORTABLE_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/socket_state.hpp>

#include <cstddef>
#include <span>
#include <system_error>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! Backend with one datagram per system call, for systems without sendmmsg/recvmmsg.
    Always compiled and tested on Linux too, so it cannot rot.

    Send: sendto for each datagram (sendmsg when it has SendOptions) until one fails (its
    error is reported) or all went.
    Receive: recvmsg as the socket's mode says for the first datagram, then MSG_DONTWAIT
    until the queue is empty or the slots are full. A socket that is not a datagram socket
    is refused with EPROTOTYPE, checked once per socket.
*/
class PortableBackend {
public:
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        s = implicit_.resolve(s);
        if (std::error_code e = detail::refuse_non_datagram(s)) return {0, e};
        const int flags = detail::flags_for(mode == WaitMode::never);
        std::error_code ec;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const SendItem& it = items[i];
            if (!detail::has_options(it.options)) {
                if (detail::sys_sendto(s.fd, it.data, it.size, it.dest, flags, ec) < 0) return {i, ec};
            } else {
                // Options go as control messages: sendmsg instead of sendto.
                alignas(cmsghdr) unsigned char control[detail::send_control_room];
                iovec iov{};
                msghdr h{};
                h.msg_iov = &iov;
                h.msg_iovlen = 1;
                if ((ec = detail::fill_plain_message(h, iov, control, it))) return {i, ec};
                if (detail::sys_sendmsg(s.fd, &h, flags, ec) < 0) return {i, ec};
            }
            errors[i].clear();
        }
        return {items.size(), {}};
    }

    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        s = implicit_.resolve(s);
        if ((ec = detail::refuse_non_datagram(s))) return 0;
        int flags = detail::recv_flags(mode == WaitMode::never);
        std::size_t got = 0;
        for (; got < slots.size(); ++got) {
            const RecvSlot& slot = slots[got];
            sockaddr_storage addr;
            alignas(cmsghdr) unsigned char control[detail::recv_control_room];
            iovec iov{slot.data, slot.capacity};
            msghdr h{};
            h.msg_name = &addr;
            h.msg_namelen = sizeof addr;
            h.msg_iov = &iov;
            h.msg_iovlen = 1;
            h.msg_control = control;
            h.msg_controllen = sizeof control;
            const long r = detail::sys_recvmsg(s.fd, &h, flags, ec);
            if (r < 0) {
                // Would-block after the first datagram just means the queue is drained.
                if (got > 0 && detail::is_would_block(ec)) ec.clear();
                return got;
            }
            detail::decode_received(h, static_cast<std::size_t>(r), slot.capacity, *slot.meta, *s.state);
            flags |= MSG_DONTWAIT;
        }
        ec.clear();
        return got;
    }

private:
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
};

static_assert(SendBackend<PortableBackend> && RecvBackend<PortableBackend>,
              "PortableBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_BACKEND_PORTABLE_HPP
