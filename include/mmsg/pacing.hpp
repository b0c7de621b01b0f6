//! Pacing: enable_pacing (SO_TXTIME on a socket) and pacing_path (whether the device a
//! destination is reached by holds datagrams until their SendOptions::release_time).
#ifndef MMSG_PACING_HPP
#define MMSG_PACING_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/netlink.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/socket_like.hpp>

#if MMSG_HAS_MMSG

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>

#include <linux/net_tstamp.h>
#include <linux/pkt_sched.h>
#include <sys/socket.h>
#include <time.h>

#ifndef SO_TXTIME
#define SO_TXTIME 61 // Linux 4.19
#endif

namespace mmsg {

/*! Lets datagrams of `s` carry a release time (SendOptions::release_time): SO_TXTIME on
    CLOCK_MONOTONIC, the clock the `fq` qdisc paces by. Returns the setsockopt error
    (ENOPROTOOPT on kernels before 4.19). Once enabled, a datagram whose release time is in
    the past, or has none, goes at once.
*/
template <SocketLike Socket>
std::error_code enable_pacing(Socket&& s) noexcept {
    sock_txtime t{};
    t.clockid = CLOCK_MONOTONIC;
    t.flags = 0;
    if (::setsockopt(detail::native(s), SOL_SOCKET, SO_TXTIME, &t, sizeof t) != 0)
        return detail::errno_code(errno);
    return {};
}

//! What the way to a destination does with release times.
struct PacingPath {
    std::uint32_t interface_index = 0; //!< the device datagrams to it leave by (1: loopback)
    std::string qdisc;                 //!< that device's root qdisc: "fq", "noqueue", "mq", ...
    //! Whether datagrams are held until their release time: the root qdisc is `fq`, or a
    //! multiqueue root (`mq`) whose every queue has `fq`. Elsewhere they go at once.
    bool honoured = false;
};

/*! Which device a datagram to `dest` leaves by (the kernel's route, in the calling thread's
    network namespace) and whether its qdiscs honour release times. Asks rtnetlink; for
    set-up, not per datagram. `ec` is set (and the result empty) when there is no route or
    netlink is refused. Loopback (`noqueue`) never paces: release times matter on real
    devices (and veth) with `fq`, e.g. after `tc qdisc replace dev eth0 root fq`.
*/
inline PacingPath pacing_path(const Endpoint& dest, std::error_code& ec) {
    PacingPath p;
    p.interface_index = detail::route_interface(dest, ec);
    if (ec) return {};
    const auto qdiscs = detail::qdiscs_of(p.interface_index, ec);
    if (ec) return {};
    const auto root = std::find_if(qdiscs.begin(), qdiscs.end(),
                                   [](const detail::QdiscInfo& q) { return q.parent == TC_H_ROOT; });
    if (root == qdiscs.end()) return p;
    p.qdisc = root->kind;
    if (root->kind == "fq") {
        p.honoured = true;
    } else if (root->kind == "mq" || root->kind == "mqprio") {
        // Children hang off the root's major number (8001:1, 8001:2, ...).
        bool any = false, all = true;
        for (const detail::QdiscInfo& q : qdiscs)
            if (q.parent != TC_H_ROOT && TC_H_MAJ(q.parent) == TC_H_MAJ(root->handle)) {
                any = true;
                all = all && q.kind == "fq";
            }
        p.honoured = any && all;
    }
    return p;
}

/*! enable_pacing(s), then pacing_path(toward): enables release times on `s` and says
    whether the way to `toward` honours them. `ec` is the first error.
*/
template <SocketLike Socket>
PacingPath enable_pacing(Socket&& s, const Endpoint& toward, std::error_code& ec) {
    if ((ec = enable_pacing(s))) return {};
    return pacing_path(toward, ec);
}

} // namespace mmsg

#endif // MMSG_HAS_MMSG
#endif // MMSG_PACING_HPP
