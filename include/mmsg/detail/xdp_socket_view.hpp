//! detail::XdpSocketView: what XdpBackend reads of a UDP socket once, at its first use, to
//! send frames in its name and receive for it (family, bound address and port, TTL, TOS,
//! metadata requested), and detail::inspect_socket, which reads it.
#ifndef MMSG_DETAIL_XDP_SOCKET_VIEW_HPP
#define MMSG_DETAIL_XDP_SOCKET_VIEW_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_frame.hpp>
#include <mmsg/endpoint.hpp>

#include <cstdint>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace mmsg::detail {

struct XdpSocketView {
    bool v6 = false;         //!< AF_INET6 (dual-stack unless v6only)
    bool v6only = false;
    bool any = true;         //!< bound to the unspecified address
    bool mapped = false;     //!< an AF_INET6 socket bound to an IPv4-mapped address
    IpBytes local{};         //!< the bound address (IPv4: first 4 bytes; mapped: the IPv4 one)
    std::uint16_t port = 0;  //!< host order; 0: not bound yet
    std::uint8_t ttl = 64, hops = 64, multicast_ttl = 1, multicast_hops = 1;
    std::uint8_t tos = 0, tclass = 0; //!< the socket's own IP_TOS / IPV6_TCLASS
    bool ecn4 = false, ecn6 = false, local4 = false, local6 = false; //!< metadata requested
    bool gro = false;        //!< UDP_GRO is on
};

//! An Endpoint's address as frame bytes, and whether the frame is IPv6 (an IPv4-mapped
//! address is an IPv4 frame).
inline bool frame_address(const boost::asio::ip::address& a, IpBytes& out) noexcept {
    out = {};
    if (a.is_v4()) {
        const auto b = a.to_v4().to_bytes();
        std::memcpy(out.data(), b.data(), 4);
        return false;
    }
    const auto b = a.to_v6().to_bytes();
    if (a.to_v6().is_v4_mapped()) {
        std::memcpy(out.data(), b.data() + 12, 4);
        return false;
    }
    std::memcpy(out.data(), b.data(), 16);
    return true;
}

/*! Reads what XdpSocketView holds of socket `fd`. Errors: the kernel's for a descriptor that
    is not a socket (ENOTSOCK, EBADF); EPROTOTYPE for a socket that is not UDP over IPv4/IPv6.
*/
inline std::error_code inspect_socket(int fd, XdpSocketView& v) {
    int type = 0, protocol = 0;
    if (std::error_code ec = socket_type(fd, type)) return ec;
    get_int_option(fd, SOL_SOCKET, SO_PROTOCOL, protocol);
    Endpoint local;
    if (std::error_code ec = local_endpoint_of(fd, local)) return ec;
    const int family = local.protocol().family();
    if (type != SOCK_DGRAM || protocol != IPPROTO_UDP || (family != AF_INET && family != AF_INET6))
        return std::make_error_code(std::errc::wrong_protocol_type);
    v = XdpSocketView{};
    v.v6 = family == AF_INET6;
    v.port = local.port();
    v.any = local.address().is_unspecified();
    const bool frame_v6 = frame_address(local.address(), v.local);
    v.mapped = v.v6 && !frame_v6 && !v.any;
    int x = 0;
    auto byte = [&](int level, int name, std::uint8_t& out) {
        if (!get_int_option(fd, level, name, x) && x >= 0 && x <= 255) out = static_cast<std::uint8_t>(x);
    };
    auto flag = [&](int level, int name) { return !get_int_option(fd, level, name, x) && x != 0; };
    if (v.v6) {
        v.v6only = flag(IPPROTO_IPV6, IPV6_V6ONLY);
        byte(IPPROTO_IPV6, IPV6_UNICAST_HOPS, v.hops);
        byte(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, v.multicast_hops);
        byte(IPPROTO_IPV6, IPV6_TCLASS, v.tclass);
        v.ecn6 = flag(IPPROTO_IPV6, IPV6_RECVTCLASS);
        v.local6 = flag(IPPROTO_IPV6, IPV6_RECVPKTINFO);
    }
    if (!v.v6 || !v.v6only) { // the IPv4 path, of an IPv4 or a dual-stack socket
        byte(IPPROTO_IP, IP_TTL, v.ttl);
        byte(IPPROTO_IP, IP_MULTICAST_TTL, v.multicast_ttl);
        byte(IPPROTO_IP, IP_TOS, v.tos);
        v.ecn4 = flag(IPPROTO_IP, IP_RECVTOS);
        v.local4 = flag(IPPROTO_IP, IP_PKTINFO);
    }
#ifdef UDP_GRO
    v.gro = flag(SOL_UDP, UDP_GRO);
#endif
    return {};
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_XDP_SOCKET_VIEW_HPP
