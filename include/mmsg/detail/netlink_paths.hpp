//! The questions XdpBackend asks of rtnetlink to build a frame's path, on the client of
//! detail/netlink.hpp: a route in full (type, device, gateway, preferred source), a
//! neighbour's link-layer address (RTM_GETNEIGH) and a request that the kernel resolve one
//! (RTM_NEWNEIGH with NTF_USE), a link's type, MTU, address and kind (RTM_GETLINK), and a
//! device's addresses (RTM_GETADDR). Parsers shared with the change notifications.
#ifndef MMSG_DETAIL_NETLINK_PATHS_HPP
#define MMSG_DETAIL_NETLINK_PATHS_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/netlink.hpp>
#include <mmsg/detail/udp_frame.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! A route as RTM_GETROUTE answers for one destination.
struct RouteInfo {
    std::uint8_t type = 0;    //!< RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST, ...
    std::uint32_t oif = 0;    //!< the device it leaves by
    bool has_gateway = false; //!< via a gateway (else the destination is on the link)
    IpBytes gateway{};
    bool has_prefsrc = false; //!< the source address the kernel would choose
    IpBytes prefsrc{};
};

//! A neighbour entry: its NUD state and link-layer address.
struct NeighbourInfo {
    std::uint32_t ifindex = 0;
    bool v6 = false;
    IpBytes addr{};
    std::uint16_t state = 0; //!< NUD_* bits; 0: no entry
    bool has_mac = false;
    MacAddress mac{};
    //! Whether frames can go to it now: an address and a state in which the kernel sends.
    bool usable() const noexcept {
        return has_mac && (state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT |
                                    NUD_NOARP)) != 0;
    }
};

//! A device as RTM_GETLINK describes it.
struct LinkInfo {
    std::uint16_t type = 0;  //!< ARPHRD_ETHER, ARPHRD_LOOPBACK, ...
    std::uint32_t flags = 0; //!< IFF_UP, IFF_NOARP, IFF_LOOPBACK, ...
    std::uint32_t mtu = 0;
    MacAddress mac{};
    std::string kind; //!< IFLA_INFO_KIND: "veth", "bridge", ...; empty for a hardware device
};

namespace netlink {

//! A request buffer: header, fixed part of type Fixed, room for a few attributes.
template <class Fixed>
struct Request {
    alignas(nlmsghdr) unsigned char bytes[NLMSG_SPACE(sizeof(Fixed)) + 4 * RTA_SPACE(16)] = {};
    std::size_t used = NLMSG_SPACE(sizeof(Fixed));

    Request(std::uint16_t type, std::uint16_t flags, const Fixed& fixed) noexcept {
        std::memcpy(bytes + NLMSG_HDRLEN, &fixed, sizeof fixed);
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
        std::memcpy(bytes, &h, sizeof h);
    }
    void add(unsigned short type, const void* data, std::size_t len) noexcept { add_attr(bytes, used, type, data, len); }
    std::error_code send(int fd, bool dump, auto&& on) {
        nlmsghdr h;
        std::memcpy(&h, bytes, sizeof h);
        h.nlmsg_len = static_cast<std::uint32_t>(used);
        std::memcpy(bytes, &h, sizeof h);
        return exchange(fd, bytes, used, dump, on);
    }
};

inline std::size_t addr_len(bool v6) noexcept { return v6 ? 16 : 4; }

//! A neighbour entry from an RTM_NEWNEIGH / RTM_DELNEIGH message (a reply or a
//! notification); false when the message is not one. A deletion has state 0.
inline bool parse_neighbour(const nlmsghdr& m, const unsigned char* p, NeighbourInfo& out) {
    if ((m.nlmsg_type != RTM_NEWNEIGH && m.nlmsg_type != RTM_DELNEIGH) || m.nlmsg_len < NLMSG_SPACE(sizeof(ndmsg)))
        return false;
    ndmsg nd;
    std::memcpy(&nd, p + NLMSG_HDRLEN, sizeof nd);
    if (nd.ndm_family != AF_INET && nd.ndm_family != AF_INET6) return false;
    out = NeighbourInfo{};
    out.ifindex = static_cast<std::uint32_t>(nd.ndm_ifindex);
    out.v6 = nd.ndm_family == AF_INET6;
    out.state = m.nlmsg_type == RTM_DELNEIGH ? 0 : nd.ndm_state;
    bool have_dst = false;
    each_attr(m, p, sizeof(ndmsg), [&](unsigned short type, const unsigned char* d, std::size_t n) {
        if (type == NDA_DST && n == addr_len(out.v6)) {
            std::memcpy(out.addr.data(), d, n);
            have_dst = true;
        } else if (type == NDA_LLADDR && n == 6) {
            std::memcpy(out.mac.data(), d, 6);
            out.has_mac = true;
        }
    });
    return have_dst;
}

} // namespace netlink

/*! The route from `src` (null: any) to `dst` (an IPv4 address in the first 4 bytes when
    !v6), out of `oif` if not 0, as the kernel would choose it now. Errors are the kernel's:
    ENETUNREACH (no route), EHOSTUNREACH (an unreachable route), EACCES (prohibit), EINVAL
    (a source that is not local)...
*/
inline std::error_code route_to(int fd, bool v6, const IpBytes& dst, const IpBytes* src, std::uint32_t oif,
                                RouteInfo& out) {
    rtmsg rt{};
    rt.rtm_family = v6 ? AF_INET6 : AF_INET;
    rt.rtm_dst_len = v6 ? 128 : 32;
    netlink::Request<rtmsg> req(RTM_GETROUTE, 0, rt);
    const std::size_t n = netlink::addr_len(v6);
    req.add(RTA_DST, dst.data(), n);
    if (src != nullptr) {
        rt.rtm_src_len = v6 ? 128 : 32;
        std::memcpy(req.bytes + NLMSG_HDRLEN, &rt, sizeof rt);
        req.add(RTA_SRC, src->data(), n);
    }
    if (oif != 0) req.add(RTA_OIF, &oif, sizeof oif);
    out = RouteInfo{};
    bool got = false;
    std::error_code ec = req.send(fd, false, [&](const nlmsghdr& m, const unsigned char* p) {
        if (m.nlmsg_type != RTM_NEWROUTE || m.nlmsg_len < NLMSG_SPACE(sizeof(rtmsg))) return;
        rtmsg r;
        std::memcpy(&r, p + NLMSG_HDRLEN, sizeof r);
        out.type = r.rtm_type;
        got = true;
        netlink::each_attr(m, p, sizeof(rtmsg), [&](unsigned short type, const unsigned char* d, std::size_t len) {
            if (type == RTA_OIF && len >= 4) std::memcpy(&out.oif, d, 4);
            else if (type == RTA_GATEWAY && len == n) {
                std::memcpy(out.gateway.data(), d, n);
                out.has_gateway = true;
            } else if (type == RTA_PREFSRC && len == n) {
                std::memcpy(out.prefsrc.data(), d, n);
                out.has_prefsrc = true;
            }
        });
    });
    if (!ec && !got) ec = errno_code(ENETUNREACH);
    return ec;
}

//! The neighbour entry of `addr` on device `ifindex` (state 0 when there is none).
inline std::error_code neighbour_of(int fd, bool v6, const IpBytes& addr, std::uint32_t ifindex, NeighbourInfo& out) {
    ndmsg nd{};
    nd.ndm_family = v6 ? AF_INET6 : AF_INET;
    nd.ndm_ifindex = static_cast<int>(ifindex);
    netlink::Request<ndmsg> req(RTM_GETNEIGH, 0, nd);
    req.add(NDA_DST, addr.data(), netlink::addr_len(v6));
    out = NeighbourInfo{ifindex, v6, addr};
    std::error_code ec = req.send(fd, false, [&](const nlmsghdr& m, const unsigned char* p) {
        NeighbourInfo n;
        if (netlink::parse_neighbour(m, p, n)) out = n;
    });
    if (ec == std::errc::no_such_file_or_directory) ec.clear(); // no entry: state 0
    return ec;
}

/*! Asks the kernel to resolve `addr` on `ifindex` as if a datagram were waiting for it (an
    entry is made if there is none and a solicitation goes out: RTM_NEWNEIGH with NTF_USE).
    Returns at once; the answer comes as a neighbour notification.
*/
inline std::error_code solicit_neighbour(int fd, bool v6, const IpBytes& addr, std::uint32_t ifindex) {
    ndmsg nd{};
    nd.ndm_family = v6 ? AF_INET6 : AF_INET;
    nd.ndm_ifindex = static_cast<int>(ifindex);
    nd.ndm_flags = NTF_USE;
    netlink::Request<ndmsg> req(RTM_NEWNEIGH, NLM_F_CREATE, nd);
    req.add(NDA_DST, addr.data(), netlink::addr_len(v6));
    return req.send(fd, false, [](const nlmsghdr&, const unsigned char*) {});
}

//! Device `ifindex`: type, flags, MTU, address, kind.
inline std::error_code link_of(int fd, std::uint32_t ifindex, LinkInfo& out) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = static_cast<int>(ifindex);
    netlink::Request<ifinfomsg> req(RTM_GETLINK, 0, ifi);
    out = LinkInfo{};
    return req.send(fd, false, [&](const nlmsghdr& m, const unsigned char* p) {
        if (m.nlmsg_type != RTM_NEWLINK || m.nlmsg_len < NLMSG_SPACE(sizeof(ifinfomsg))) return;
        ifinfomsg i;
        std::memcpy(&i, p + NLMSG_HDRLEN, sizeof i);
        out.type = i.ifi_type;
        out.flags = i.ifi_flags;
        netlink::each_attr(m, p, sizeof(ifinfomsg), [&](unsigned short type, const unsigned char* d, std::size_t n) {
            if (type == IFLA_MTU && n >= 4) std::memcpy(&out.mtu, d, 4);
            else if (type == IFLA_ADDRESS && n == 6) std::memcpy(out.mac.data(), d, 6);
            else if (type == IFLA_LINKINFO) {
                // Nested: IFLA_INFO_KIND is a string attribute inside.
                for (std::size_t off = 0; off + sizeof(rtattr) <= n;) {
                    rtattr a;
                    std::memcpy(&a, d + off, sizeof a);
                    if (a.rta_len < sizeof a || off + a.rta_len > n) break;
                    if (a.rta_type == IFLA_INFO_KIND) {
                        const char* k = reinterpret_cast<const char*>(d + off + RTA_LENGTH(0));
                        out.kind.assign(k, ::strnlen(k, a.rta_len - RTA_LENGTH(0)));
                    }
                    off += RTA_ALIGN(a.rta_len);
                }
            }
        });
    });
}

//! The addresses of device `ifindex`, both families (an RTM_GETADDR dump, filtered here).
inline std::vector<std::pair<bool, IpBytes>> addresses_of(int fd, std::uint32_t ifindex, std::error_code& ec) {
    ifaddrmsg a{};
    a.ifa_family = AF_UNSPEC;
    netlink::Request<ifaddrmsg> req(RTM_GETADDR, NLM_F_DUMP, a);
    std::vector<std::pair<bool, IpBytes>> out;
    ec = req.send(fd, true, [&](const nlmsghdr& m, const unsigned char* p) {
        if (m.nlmsg_type != RTM_NEWADDR || m.nlmsg_len < NLMSG_SPACE(sizeof(ifaddrmsg))) return;
        ifaddrmsg i;
        std::memcpy(&i, p + NLMSG_HDRLEN, sizeof i);
        if (i.ifa_index != ifindex || (i.ifa_family != AF_INET && i.ifa_family != AF_INET6)) return;
        const bool v6 = i.ifa_family == AF_INET6;
        netlink::each_attr(m, p, sizeof(ifaddrmsg), [&](unsigned short type, const unsigned char* d, std::size_t n) {
            // IPv4's own address is IFA_LOCAL (IFA_ADDRESS is the peer's on a point-to-point link).
            if (type == (v6 ? IFA_ADDRESS : IFA_LOCAL) && n == netlink::addr_len(v6)) {
                IpBytes b{};
                std::memcpy(b.data(), d, n);
                out.emplace_back(v6, b);
            }
        });
    });
    return out;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_NETLINK_PATHS_HPP
