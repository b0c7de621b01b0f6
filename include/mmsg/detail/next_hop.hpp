//! detail::NextHops: where a frame to a destination goes, as the kernel's route and
//! neighbour tables say (netlink), remembered in two fixed tables allocated once, and kept
//! true by the kernel's change notifications: a neighbour message updates its entry, any
//! route, address or link change makes every route be asked again.
#ifndef MMSG_DETAIL_NEXT_HOP_HPP
#define MMSG_DETAIL_NEXT_HOP_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/netlink_paths.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_frame.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! Where one datagram goes.
struct PathResult {
    enum Kind : std::uint8_t { frame, kernel, failed };
    Kind kind = failed;
    std::error_code error{}; //!< failed: why (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL...)
    std::uint8_t route_type = 0; //!< RTN_UNICAST, RTN_BROADCAST, RTN_MULTICAST, RTN_LOCAL
    MacAddress mac{};        //!< frame: the destination's link-layer address
    bool has_src = false;    //!< frame: the source address the route chose
    IpBytes src{};
};

class NextHops {
public:
    /*! Opens the request and notification sockets in the calling thread's network
        namespace, for device `ifindex`, with room for `capacity` (a power of two) routes and
        as many neighbours, and reads the device's description (link()).
    */
    std::error_code open(std::uint32_t ifindex, std::uint32_t capacity) {
        std::error_code ec;
        requests_ = netlink::open_route_socket(ec);
        if (ec) return ec;
        const timeval second{1, 0}; // the kernel answers at once; never hang a send on it
        ::setsockopt(requests_.get(), SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
        changes_ = netlink::open_route_socket(ec, RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
                                                      RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, true);
        if (ec) return ec;
        ifindex_ = ifindex;
        if ((ec = link_of(requests_.get(), ifindex, link_))) return ec;
        mask_ = capacity - 1;
        routes_.reset(new RouteEntry[capacity]{});
        neighbours_.reset(new NeighbourEntry[capacity]{});
        return {};
    }

    const LinkInfo& link() const noexcept { return link_; }
    //! Whether a change of the device (MTU, address, state) was seen since the last call.
    bool take_link_change() noexcept { return std::exchange(link_changed_, false); }
    //! The socket the requests go on (for other questions of the same namespace).
    int request_socket() const noexcept { return requests_.get(); }

    //! Applies the kernel's change notifications that arrived since the last call (one
    //! non-blocking read when there are none).
    void refresh() {
        alignas(nlmsghdr) unsigned char buf[16384];
        for (;;) {
            const ssize_t r = ::recv(changes_.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0) {
                if (errno == ENOBUFS) { // notifications were lost: forget everything
                    ++route_gen_;
                    for (std::uint32_t i = 0; i <= mask_; ++i) neighbours_[i] = NeighbourEntry{};
                    reread_link();
                    continue;
                }
                return; // EAGAIN: nothing more
            }
            std::size_t left = static_cast<std::size_t>(r);
            for (const unsigned char* p = buf; left >= sizeof(nlmsghdr);) {
                nlmsghdr m;
                std::memcpy(&m, p, sizeof m);
                if (m.nlmsg_len < sizeof m || m.nlmsg_len > left) break;
                apply(m, p);
                const std::size_t step = NLMSG_ALIGN(m.nlmsg_len);
                if (step >= left) break;
                p += step;
                left -= step;
            }
        }
    }

    /*! The path of a datagram to `dst` from `src` (null: the route's choice) out of `oif` (0:
        the route's choice). A miss asks the kernel (a route, then the neighbour); a
        neighbour that is not resolved fails the datagram with EHOSTUNREACH and asks the
        kernel to resolve it (at most once a second while it stays unresolved).
    */
    PathResult path(bool v6, const IpBytes& dst, const IpBytes* src, std::uint32_t oif) {
        RouteKey key{};
        key.v6 = v6;
        key.dst = dst;
        if (src != nullptr) key.src = *src;
        key.oif = oif;
        RouteEntry& e = route_slot(key);
        if (!(e.gen == route_gen_ && e.used && e.key == key)) e = ask_route(key, src);
        PathResult out;
        out.kind = e.kind;
        out.error = e.error;
        out.route_type = e.type;
        out.has_src = e.has_src;
        out.src = e.src;
        if (e.kind != PathResult::frame) return out;
        if (e.type == RTN_BROADCAST) {
            out.mac.fill(0xff);
        } else if (e.type == RTN_MULTICAST) {
            out.mac = v6 ? MacAddress{0x33, 0x33, dst[12], dst[13], dst[14], dst[15]}
                         : MacAddress{0x01, 0x00, 0x5e, static_cast<std::uint8_t>(dst[1] & 0x7f), dst[2], dst[3]};
        } else if ((link_.flags & (IFF_NOARP | IFF_LOOPBACK)) != 0) {
            out.mac = link_.mac; // the kernel addresses such a device's frames to itself
        } else {
            NeighbourEntry& n = neighbour_slot(v6, e.next);
            if (!n.known || n.info.v6 != v6 || n.info.addr != e.next) ask_neighbour(n, v6, e.next);
            if (!n.info.usable()) {
                solicit(n, v6, e.next, 1'000'000'000);
                out.kind = PathResult::failed;
                out.error = errno_code(EHOSTUNREACH);
                return out;
            }
            // Frames of AF_XDP never confirm a neighbour to the kernel as its own traffic
            // would: a stale one is used, and its confirmation asked for now and then.
            if ((n.info.state & NUD_STALE) != 0) solicit(n, v6, e.next, 5'000'000'000);
            out.mac = n.info.mac;
        }
        return out;
    }

private:
    struct RouteKey {
        bool v6 = false;
        IpBytes dst{};
        IpBytes src{};
        std::uint32_t oif = 0;
        bool operator==(const RouteKey&) const = default;
    };
    struct RouteEntry {
        bool used = false;
        std::uint64_t gen = 0;
        RouteKey key{};
        PathResult::Kind kind = PathResult::failed;
        std::error_code error{};
        std::uint8_t type = 0;
        IpBytes next{}; // the neighbour the frame goes to: the gateway, or the destination
        bool has_src = false;
        IpBytes src{};
    };
    struct NeighbourEntry {
        bool known = false;
        NeighbourInfo info{};
        std::int64_t solicited_ns = -10'000'000'000;
    };

    static std::uint64_t mix(const IpBytes& a, std::uint64_t more) noexcept {
        std::uint64_t x, y;
        std::memcpy(&x, a.data(), 8);
        std::memcpy(&y, a.data() + 8, 8);
        std::uint64_t h = (x ^ (y * 0x9e3779b97f4a7c15ull) ^ more) * 0xff51afd7ed558ccdull;
        return h ^ (h >> 32);
    }
    // The slot for `key`: its own, else a free or stale one of the few it may take, else
    // the first of them (the oldest guess is overwritten).
    RouteEntry& route_slot(const RouteKey& key) noexcept {
        const std::uint64_t h = mix(key.dst, mix(key.src, key.oif * 2u + key.v6));
        for (std::uint32_t i = 0; i < probes; ++i) {
            RouteEntry& e = routes_[(h + i) & mask_];
            if (!e.used || e.gen != route_gen_ || e.key == key) return e;
        }
        return routes_[h & mask_];
    }
    NeighbourEntry& neighbour_slot(bool v6, const IpBytes& addr) noexcept {
        const std::uint64_t h = mix(addr, v6);
        for (std::uint32_t i = 0; i < probes; ++i) {
            NeighbourEntry& n = neighbours_[(h + i) & mask_];
            if (!n.known || (n.info.v6 == v6 && n.info.addr == addr)) return n;
        }
        return neighbours_[h & mask_];
    }

    RouteEntry ask_route(const RouteKey& key, const IpBytes* src) {
        RouteEntry e;
        e.used = true;
        e.gen = route_gen_;
        e.key = key;
        RouteInfo r;
        if ((e.error = route_to(requests_.get(), key.v6, key.dst, src, key.oif, r))) return e;
        e.type = r.type;
        e.has_src = r.has_prefsrc;
        e.src = r.prefsrc;
        e.next = r.has_gateway ? r.gateway : key.dst;
        const bool ours = r.oif == ifindex_;
        switch (r.type) {
        case RTN_UNICAST:
        case RTN_BROADCAST:
        case RTN_MULTICAST: e.kind = ours ? PathResult::frame : PathResult::kernel; break;
        case RTN_LOCAL: // to this host: only a loopback queue can carry it
            e.kind = ours && (link_.flags & IFF_LOOPBACK) != 0 ? PathResult::frame : PathResult::kernel;
            break;
        default: e.kind = PathResult::kernel; break; // the kernel knows what to do (or say)
        }
        return e;
    }
    void ask_neighbour(NeighbourEntry& n, bool v6, const IpBytes& addr) {
        n = NeighbourEntry{};
        n.known = true;
        if (neighbour_of(requests_.get(), v6, addr, ifindex_, n.info)) n.info = NeighbourInfo{ifindex_, v6, addr};
    }
    // Asks the kernel to resolve (or confirm) a neighbour, at most once per `every_ns`.
    void solicit(NeighbourEntry& n, bool v6, const IpBytes& addr, std::int64_t every_ns) {
        const std::int64_t now = coarse_now_ns();
        if (now - n.solicited_ns < every_ns) return;
        n.solicited_ns = now;
        solicit_neighbour(requests_.get(), v6, addr, ifindex_);
    }
    void apply(const nlmsghdr& m, const unsigned char* p) {
        switch (m.nlmsg_type) {
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH: {
            NeighbourInfo info;
            if (!netlink::parse_neighbour(m, p, info) || info.ifindex != ifindex_) return;
            NeighbourEntry& n = neighbour_slot(info.v6, info.addr);
            const bool same = n.known && n.info.v6 == info.v6 && n.info.addr == info.addr;
            const std::int64_t solicited = same ? n.solicited_ns : NeighbourEntry{}.solicited_ns;
            n.known = true;
            n.info = info;
            n.solicited_ns = solicited;
            return;
        }
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            ++route_gen_;
            ifinfomsg i{};
            if (m.nlmsg_len >= NLMSG_SPACE(sizeof i)) std::memcpy(&i, p + NLMSG_HDRLEN, sizeof i);
            if (static_cast<std::uint32_t>(i.ifi_index) == ifindex_) reread_link();
            return;
        }
        default: ++route_gen_; return; // routes and addresses
        }
    }
    void reread_link() {
        LinkInfo l;
        if (!link_of(requests_.get(), ifindex_, l)) link_ = l;
        link_changed_ = true;
    }

    static constexpr std::uint32_t probes = 8;
    UniqueFd requests_;
    UniqueFd changes_;
    std::uint32_t ifindex_ = 0;
    LinkInfo link_{};
    bool link_changed_ = false;
    std::uint32_t mask_ = 0;
    std::uint64_t route_gen_ = 1;
    std::unique_ptr<RouteEntry[]> routes_;
    std::unique_ptr<NeighbourEntry[]> neighbours_;
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_NEXT_HOP_HPP
