//! The one rtnetlink client: requests over a socket of the calling thread's network
//! namespace (a fresh one per question, or one kept by its owner), attribute walking, and
//! two questions: which device a datagram to an address leaves by (RTM_GETROUTE), and which
//! qdiscs that device has (RTM_GETQDISC). More questions on this client (routes in full,
//! neighbours, links, addresses, change notifications): detail/netlink_paths.hpp.
//! For set-up helpers and caches, never per datagram.
#ifndef MMSG_DETAIL_NETLINK_HPP
#define MMSG_DETAIL_NETLINK_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! One qdisc of a device, as RTM_GETQDISC describes it.
struct QdiscInfo {
    std::uint32_t handle = 0;
    std::uint32_t parent = 0; //!< TC_H_ROOT for the device's root qdisc
    std::string kind;         //!< "fq", "noqueue", "mq", "fq_codel", ...
};

namespace netlink {

//! Appends attribute `type` with `len` bytes of `data` to the request at `buf` + `used`.
inline void add_attr(unsigned char* buf, std::size_t& used, unsigned short type, const void* data,
                     std::size_t len) noexcept {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(buf + used, &a, sizeof a);
    std::memcpy(buf + used + RTA_LENGTH(0), data, len);
    used += RTA_ALIGN(a.rta_len);
}

/*! Opens a NETLINK_ROUTE socket in the calling thread's network namespace, close-on-exec,
    subscribed to the multicast `groups` (RTMGRP_* bits; 0: none) and non-blocking if asked.
    Requests made on it later reach that namespace from any thread.
*/
inline UniqueFd open_route_socket(std::error_code& ec, std::uint32_t groups = 0, bool nonblocking = false) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), NETLINK_ROUTE));
    if (fd.get() < 0) {
        ec = errno_code(errno);
        return fd;
    }
    sockaddr_nl self{};
    self.nl_family = AF_NETLINK;
    self.nl_groups = groups;
    if (::bind(fd.get(), static_cast<const sockaddr*>(static_cast<const void*>(&self)), sizeof self) != 0) {
        ec = errno_code(errno);
        return UniqueFd();
    }
    ec.clear();
    return fd;
}

/*! Sends the request `req` (its nlmsghdr filled; a sequence number is given here, and a
    request that is not a dump asks for an acknowledgement) on `fd`, and calls
    `on(const nlmsghdr&, const unsigned char*)` for every answer to it until the last
    (NLMSG_DONE for a dump, the acknowledgement otherwise). Messages of other requests (a
    kept socket's late answers) are skipped. Returns the first error: the socket's, or the
    kernel's NLMSG_ERROR.
*/
template <class On>
std::error_code exchange(int fd, unsigned char* req, std::size_t len, bool dump, On&& on) {
    static std::atomic<std::uint32_t> next_seq{1};
    nlmsghdr h;
    std::memcpy(&h, req, sizeof h);
    h.nlmsg_seq = next_seq.fetch_add(1, std::memory_order_relaxed);
    if (!dump) h.nlmsg_flags |= NLM_F_ACK;
    std::memcpy(req, &h, sizeof h);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, req, len, 0, static_cast<const sockaddr*>(static_cast<const void*>(&kernel)),
                 sizeof kernel) < 0)
        return errno_code(errno);
    alignas(nlmsghdr) std::array<unsigned char, 32768> buf;
    for (;;) {
        const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno_code(errno);
        }
        std::size_t left = static_cast<std::size_t>(r);
        for (const unsigned char* p = buf.data(); left >= sizeof(nlmsghdr);) {
            nlmsghdr m;
            std::memcpy(&m, p, sizeof m);
            if (m.nlmsg_len < sizeof m || m.nlmsg_len > left) return errno_code(EPROTO);
            if (m.nlmsg_seq == h.nlmsg_seq) {
                if (m.nlmsg_type == NLMSG_DONE) return {};
                if (m.nlmsg_type == NLMSG_ERROR) {
                    nlmsgerr e{};
                    std::memcpy(&e, p + NLMSG_HDRLEN, std::min<std::size_t>(sizeof e, m.nlmsg_len - NLMSG_HDRLEN));
                    return e.error != 0 ? errno_code(-e.error) : std::error_code();
                }
                on(m, p);
            }
            const std::size_t step = NLMSG_ALIGN(m.nlmsg_len);
            if (step >= left) break;
            p += step;
            left -= step;
        }
    }
}

//! exchange() on a fresh socket of the calling thread's network namespace.
template <class On>
std::error_code ask(unsigned char* req, std::size_t len, bool dump, On&& on) {
    std::error_code ec;
    UniqueFd fd = open_route_socket(ec);
    if (ec) return ec;
    return exchange(fd.get(), req, len, dump, std::forward<On>(on));
}

//! Calls `on(type, data, len)` for each attribute of the message `msg` after its fixed
//! header of `fixed` bytes.
template <class On>
void each_attr(const nlmsghdr& h, const unsigned char* msg, std::size_t fixed, On&& on) {
    std::size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(fixed);
    while (off + sizeof(rtattr) <= h.nlmsg_len) {
        rtattr a;
        std::memcpy(&a, msg + off, sizeof a);
        if (a.rta_len < sizeof a || off + a.rta_len > h.nlmsg_len) return;
        on(a.rta_type, msg + off + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0));
        off += RTA_ALIGN(a.rta_len);
    }
}

} // namespace netlink

//! The index of the device a datagram to `dest` leaves by (the route's RTA_OIF: 1, "lo",
//! for local addresses); 0 with `ec` set when there is no route.
inline std::uint32_t route_interface(const Endpoint& dest, std::error_code& ec) {
    const auto a = dest.address();
    const bool v4 = a.is_v4() || a.to_v6().is_v4_mapped();
    alignas(nlmsghdr) unsigned char req[NLMSG_SPACE(sizeof(rtmsg)) + RTA_SPACE(16)] = {};
    std::size_t used = NLMSG_SPACE(sizeof(rtmsg));
    rtmsg rt{};
    rt.rtm_family = v4 ? AF_INET : AF_INET6;
    rt.rtm_dst_len = v4 ? 32 : 128;
    std::memcpy(req + NLMSG_HDRLEN, &rt, sizeof rt);
    if (v4) {
        const auto b = (a.is_v4() ? a.to_v4()
                                  : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()))
                           .to_bytes();
        netlink::add_attr(req, used, RTA_DST, b.data(), b.size());
    } else {
        const auto b = a.to_v6().to_bytes();
        netlink::add_attr(req, used, RTA_DST, b.data(), b.size());
    }
    nlmsghdr h{};
    h.nlmsg_len = static_cast<std::uint32_t>(used);
    h.nlmsg_type = RTM_GETROUTE;
    h.nlmsg_flags = NLM_F_REQUEST;
    std::memcpy(req, &h, sizeof h);
    std::uint32_t oif = 0;
    ec = netlink::ask(req, used, false, [&](const nlmsghdr& m, const unsigned char* p) {
        if (m.nlmsg_type != RTM_NEWROUTE) return;
        netlink::each_attr(m, p, sizeof(rtmsg), [&](unsigned short type, const unsigned char* d, std::size_t n) {
            if (type == RTA_OIF && n >= sizeof oif) std::memcpy(&oif, d, sizeof oif);
        });
    });
    if (!ec && oif == 0) ec = errno_code(ENETUNREACH);
    return ec ? 0 : oif;
}

//! The qdiscs of device `ifindex` (an RTM_GETQDISC dump, filtered here).
inline std::vector<QdiscInfo> qdiscs_of(std::uint32_t ifindex, std::error_code& ec) {
    alignas(nlmsghdr) unsigned char req[NLMSG_SPACE(sizeof(tcmsg))] = {};
    tcmsg tc{};
    tc.tcm_family = AF_UNSPEC;
    tc.tcm_ifindex = static_cast<int>(ifindex);
    std::memcpy(req + NLMSG_HDRLEN, &tc, sizeof tc);
    nlmsghdr h{};
    h.nlmsg_len = sizeof req;
    h.nlmsg_type = RTM_GETQDISC;
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    std::memcpy(req, &h, sizeof h);
    std::vector<QdiscInfo> out;
    ec = netlink::ask(req, sizeof req, true, [&](const nlmsghdr& m, const unsigned char* p) {
        if (m.nlmsg_type != RTM_NEWQDISC || m.nlmsg_len < NLMSG_SPACE(sizeof(tcmsg))) return;
        tcmsg t;
        std::memcpy(&t, p + NLMSG_HDRLEN, sizeof t);
        if (static_cast<std::uint32_t>(t.tcm_ifindex) != ifindex) return;
        QdiscInfo q{t.tcm_handle, t.tcm_parent, {}};
        netlink::each_attr(m, p, sizeof(tcmsg), [&](unsigned short type, const unsigned char* d, std::size_t n) {
            if (type == TCA_KIND) q.kind.assign(reinterpret_cast<const char*>(d), ::strnlen(reinterpret_cast<const char*>(d), n));
        });
        out.push_back(std::move(q));
    });
    return out;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_NETLINK_HPP
