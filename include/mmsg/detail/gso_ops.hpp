//! The system-call layer of LinuxGsoBackend on the real kernel (detail::KernelGsoOps) and
//! the small helpers both of its layers share (destinations; the UDP_SEGMENT control
//! message is in detail/udp_segment.hpp).
#ifndef MMSG_DETAIL_GSO_OPS_HPP
#define MMSG_DETAIL_GSO_OPS_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_segment.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>

#if MMSG_HAS_UDP_GSO

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! True when two endpoints name the same destination (family, address, port, and for IPv6
//! flow label and scope), compared on the raw sockaddr without building address objects.
inline bool same_destination(const Endpoint& a, const Endpoint& b) noexcept {
    if (&a == &b) return true;
    const auto* sa = static_cast<const sockaddr*>(static_cast<const void*>(a.data()));
    const auto* sb = static_cast<const sockaddr*>(static_cast<const void*>(b.data()));
    if (sa->sa_family != sb->sa_family) return false;
    if (sa->sa_family == AF_INET) {
        const auto* x = reinterpret_cast<const sockaddr_in*>(sa);
        const auto* y = reinterpret_cast<const sockaddr_in*>(sb);
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const auto* x = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(sb);
    return x->sin6_port == y->sin6_port && x->sin6_flowinfo == y->sin6_flowinfo &&
           x->sin6_scope_id == y->sin6_scope_id &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/*! LinuxGsoBackend's system-call layer on the real kernel. A layer provides:
      limits()                       -> GsoLimits   the train limits to use by default
      send_mmsg(fd, v, n, flags, ec) -> int         sendmmsg(2): messages sent, or -1 and ec
      recv_mmsg(fd, v, n, flags, ec) -> int         recvmmsg(2): messages filled, or -1 and ec
      enable_gro(fd, ec)             -> bool        turns UDP_GRO on for the socket
      socket_id(fd)                  -> uint64_t    identifies the socket behind fd (0: unknown)
    MockGsoOps (backend/mock_gso_ops.hpp) is the other layer, on MockNetwork.
*/
struct KernelGsoOps {
    static GsoLimits limits() noexcept { return probed_gso_limits(); }

    static int send_mmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return detail::send_mmsg(fd, v, n, flags, ec);
    }
    static int recv_mmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return detail::recv_mmsg(fd, v, n, flags, ec);
    }
    static bool enable_gro(int fd, std::error_code& ec) noexcept {
        const int one = 1;
        if (::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0) {
            ec.clear();
            return true;
        }
        ec = errno_code(errno);
        return false;
    }
    //! SO_COOKIE (see detail::socket_cookie).
    static std::uint64_t socket_id(int fd) noexcept { return socket_cookie(fd); }
};

} // namespace mmsg::detail

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_DETAIL_GSO_OPS_HPP
