//! detail::route_datagram: where XdpBackend sends one datagram (a frame, the socket's
//! kernel path, or nowhere with the error a kernel socket would give) and the frame header
//! when it is a frame: destination and family checks, the route and neighbour (NextHops),
//! source, TTL and TOS.
#ifndef MMSG_DETAIL_XDP_ROUTE_HPP
#define MMSG_DETAIL_XDP_ROUTE_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/next_hop.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_frame.hpp>
#include <mmsg/detail/xdp_socket_view.hpp>
#include <mmsg/detail/xdp_transmit.hpp>
#include <mmsg/ecn.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_options.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include <linux/rtnetlink.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! What one send call learns once (the connected peer, SO_BROADCAST), the error of the
//! datagram routed last, and the payload sum kept for the next datagram with the same
//! payload (multi_target_send sums it once).
struct XdpSendCall {
    std::error_code error{};
    bool peer_read = false;
    std::error_code peer_error{};
    Endpoint peer{};
    int broadcast = -1;
    const std::byte* sum_data = nullptr;
    std::size_t sum_size = 0;
    std::uint64_t sum = 0;
};

// Records the failure of the datagram routed last.
inline FrameRoute xdp_fail(XdpSendCall& call, std::error_code e) {
    call.error = e;
    return FrameRoute::failed;
}
inline FrameRoute xdp_fail(XdpSendCall& call, int e) { return xdp_fail(call, errno_code(e)); }

/*! Where datagram `it` of socket `fd` (`v`) goes, as a kernel socket would send it: a frame
    (its header in `h`), the kernel's path (what a frame cannot carry: a release time, a
    destination routed elsewhere or local, a datagram over the MTU or a frame), or nowhere
    (its error in call.error: EDESTADDRREQ, EAFNOSUPPORT, ENETUNREACH, EINVAL, EACCES,
    EHOSTUNREACH...). `hops` answers route and neighbour; `frame_size` is the UMEM's.
*/
inline FrameRoute route_datagram(NextHops& hops, std::uint32_t frame_size, int fd, const XdpSocketView& v,
                                 const SendItem& it, XdpSendCall& call, UdpFrameHeader& h) {
    call.error.clear();
    const Endpoint* dest = it.dest;
    if (dest == nullptr) {
        if (!call.peer_read) {
            call.peer_read = true;
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
                call.peer_error = errno == ENOTCONN ? errno_code(EDESTADDRREQ) : errno_code(errno);
            else
                call.peer = endpoint_from(ss, len);
        }
        if (call.peer_error) return xdp_fail(call, call.peer_error);
        dest = &call.peer;
    }
    const SendOptions* o = it.options;
    if (o != nullptr && o->release_time != std::chrono::steady_clock::time_point{}) return FrameRoute::kernel;
    if (dest->address().is_v6() && !v.v6) return xdp_fail(call, EAFNOSUPPORT);
    h.v6 = frame_address(dest->address(), h.dst);
    if (!h.v6 && v.v6 && v.v6only) return xdp_fail(call, ENETUNREACH);
    if (dest->port() == 0) return xdp_fail(call, EINVAL);
    if (h.v6 != (v.v6 && !v.mapped) && !v.any) return FrameRoute::kernel; // a bound address of the other family
    if (udp_frame_overhead(h.v6) + it.size > frame_size) return FrameRoute::kernel;
    IpBytes chosen{};
    const IpBytes* src = v.any ? nullptr : &v.local;
    if (o != nullptr && !o->source.is_unspecified()) {
        if (frame_address(o->source, chosen) != h.v6) return xdp_fail(call, EINVAL);
        src = &chosen;
    }
    std::uint32_t oif = o != nullptr ? o->interface_index : 0;
    if (oif == 0 && h.v6 && dest->address().to_v6().scope_id() != 0) oif = dest->address().to_v6().scope_id();
    const PathResult path = hops.path(h.v6, h.dst, src, oif);
    if (path.kind == PathResult::kernel) return FrameRoute::kernel;
    if (path.kind == PathResult::failed) return xdp_fail(call, path.error);
    if (path.route_type == RTN_BROADCAST) {
        if (call.broadcast < 0) {
            int on = 0;
            get_int_option(fd, SOL_SOCKET, SO_BROADCAST, on);
            call.broadcast = on != 0;
        }
        if (call.broadcast == 0) return xdp_fail(call, EACCES);
    }
    if ((h.v6 ? ipv6_header : ipv4_header) + udp_header + it.size > hops.link().mtu)
        return FrameRoute::kernel; // longer than the MTU: the kernel fragments it
    if (src != nullptr) h.src = *src;
    else if (path.has_src) h.src = path.src;
    else return xdp_fail(call, EADDRNOTAVAIL);
    h.dst_mac = path.mac;
    h.src_mac = hops.link().mac;
    h.src_port = v.port;
    h.dst_port = dest->port();
    const bool multicast = path.route_type == RTN_MULTICAST;
    h.ttl = h.v6 ? (multicast ? v.multicast_hops : v.hops) : (multicast ? v.multicast_ttl : v.ttl);
    if (o != nullptr && (o->ecn != Ecn::not_ect || o->dscp != 0))
        h.tos = static_cast<std::uint8_t>(o->dscp << 2 | static_cast<std::uint8_t>(o->ecn));
    else
        h.tos = h.v6 ? v.tclass : v.tos;
    h.ip_id = 0; // DF is set: the kernel sends 0 too
    return FrameRoute::frame;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_XDP_ROUTE_HPP
