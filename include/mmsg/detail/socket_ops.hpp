//! Thin wrappers over the socket system calls: the only place that reads errno.
//! No retry policy lives here (EINTR goes back to BatchSender/BatchReceiver, which retry it).
#ifndef MMSG_DETAIL_SOCKET_OPS_HPP
#define MMSG_DETAIL_SOCKET_OPS_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/ip/udp.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

namespace mmsg::detail {

//! The sockaddr of an endpoint, for msg_name. The kernel only reads it.
inline void* sockaddr_of(const Endpoint& ep) noexcept {
    return const_cast<void*>(static_cast<const void*>(ep.data()));
}

//! Decodes a kernel-written source address; an unknown family (or a short length) gives
//! a default Endpoint rather than garbage.
inline Endpoint endpoint_from(const sockaddr_storage& ss, socklen_t len) noexcept {
    Endpoint ep;
    if (ss.ss_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        std::memcpy(ep.data(), &ss, sizeof(sockaddr_in));
    } else if (ss.ss_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        std::memcpy(ep.data(), &ss, sizeof(sockaddr_in6));
    }
    return ep;
}

inline int flags_for(bool dont_wait) noexcept { return dont_wait ? MSG_DONTWAIT : 0; }

inline long send_to(int fd, const void* data, std::size_t size, const Endpoint& dest, int flags,
                    std::error_code& ec) noexcept {
    const ssize_t r = ::sendto(fd, data, size, flags | MSG_NOSIGNAL,
                               static_cast<const sockaddr*>(sockaddr_of(dest)),
                               static_cast<socklen_t>(dest.size()));
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return static_cast<long>(r);
}

inline long recv_msg(int fd, msghdr* msg, int flags, std::error_code& ec) noexcept {
    const ssize_t r = ::recvmsg(fd, msg, flags);
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return static_cast<long>(r);
}

inline long send_msg(int fd, const msghdr* msg, int flags, std::error_code& ec) noexcept {
    const ssize_t r = ::sendmsg(fd, msg, flags | MSG_NOSIGNAL);
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return static_cast<long>(r);
}

/*! The kernel's identity of the socket behind `fd` (SO_COOKIE): unique for the life of
    the system, so a reused descriptor number is told apart from the socket that had it
    before. 0 when unknown (not a socket, or no SO_COOKIE). One system call: for rare
    paths only.
*/
inline std::uint64_t socket_cookie(int fd) noexcept {
#ifdef SO_COOKIE
    std::uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0) return cookie;
#else
    (void)fd;
#endif
    return 0;
}

#if MMSG_HAS_MMSG
inline int send_mmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
    const int r = ::sendmmsg(fd, v, n, flags | MSG_NOSIGNAL);
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return r;
}

inline int recv_mmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
    // The timeout argument is never used: it is only checked between datagrams, so a
    // quiet socket would block past it (the hang of the seeds). SO_RCVTIMEO is honoured.
    const int r = ::recvmmsg(fd, v, n, flags, nullptr);
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return r;
}
#endif

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SOCKET_OPS_HPP
