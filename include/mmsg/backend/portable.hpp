//! Defines mmsg::PortableBackend: one datagram per system call (sendto / recvmsg), any POSIX.
#ifndef MMSG_BACKEND_PORTABLE_HPP
#define MMSG_BACKEND_PORTABLE_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#include <cstddef>
#include <span>
#include <system_error>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! Backend with one datagram per system call, for systems without sendmmsg/recvmmsg.
    Always compiled and tested on Linux too, so it cannot rot.

    Send: sendto for each datagram until one fails (its error is reported) or all went.
    Receive: recvmsg as the socket's mode says for the first datagram, then MSG_DONTWAIT
    until the queue is empty or the slots are full; truncation comes from msg_flags.
*/
class PortableBackend {
public:
    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        const int flags = detail::flags_for(mode == WaitMode::never);
        std::error_code ec;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const SendItem& it = items[i];
            if (detail::send_to(fd, it.data, it.size, *it.dest, flags, ec) < 0) return {i, ec};
            errors[i].clear();
        }
        return {items.size(), {}};
    }

    std::size_t recv(int fd, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        int flags = detail::flags_for(mode == WaitMode::never);
        std::size_t got = 0;
        for (; got < slots.size(); ++got) {
            const RecvSlot& s = slots[got];
            sockaddr_storage addr;
            iovec iov{s.data, s.capacity};
            msghdr h{};
            h.msg_name = &addr;
            h.msg_namelen = sizeof addr;
            h.msg_iov = &iov;
            h.msg_iovlen = 1;
            const long r = detail::recv_msg(fd, &h, flags, ec);
            if (r < 0) {
                // Would-block after the first datagram just means the queue is drained.
                if (got > 0 && detail::is_would_block(ec)) ec.clear();
                return got;
            }
            Meta& m = *s.meta;
            m.size = static_cast<std::size_t>(r);
            m.addr = detail::endpoint_from(addr, h.msg_namelen);
            m.flags = (h.msg_flags & MSG_TRUNC) ? PacketFlags::truncated : PacketFlags::none;
            flags |= MSG_DONTWAIT;
        }
        ec.clear();
        return got;
    }
};

static_assert(SendBackend<PortableBackend> && RecvBackend<PortableBackend>,
              "PortableBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_BACKEND_PORTABLE_HPP
