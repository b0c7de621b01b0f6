//! Two rtnetlink questions, asked of the calling thread's network namespace: which device
//! a datagram to an address leaves by (RTM_GETROUTE), and which qdiscs that device has
//! (RTM_GETQDISC). For set-up helpers (pacing_path), never on a hot path.
#ifndef MMSG_DETAIL_NETLINK_HPP
#define MMSG_DETAIL_NETLINK_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
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

/*! Sends the request `req` (its nlmsghdr filled) and calls `on(const nlmsghdr&)` for every
    answer until the last (NLMSG_DONE for a dump, the one reply otherwise). Returns the
    first error: the socket's, or the kernel's NLMSG_ERROR.
*/
template <class On>
std::error_code ask(const unsigned char* req, std::size_t len, bool dump, On&& on) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd.get() < 0) return errno_code(errno);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), req, len, 0, static_cast<const sockaddr*>(static_cast<const void*>(&kernel)),
                 sizeof kernel) < 0)
        return errno_code(errno);
    alignas(nlmsghdr) std::array<unsigned char, 32768> buf;
    for (;;) {
        const ssize_t r = ::recv(fd.get(), buf.data(), buf.size(), 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno_code(errno);
        }
        std::size_t left = static_cast<std::size_t>(r);
        for (const unsigned char* p = buf.data(); left >= sizeof(nlmsghdr);) {
            nlmsghdr h;
            std::memcpy(&h, p, sizeof h);
            if (h.nlmsg_len < sizeof h || h.nlmsg_len > left) return errno_code(EPROTO);
            if (h.nlmsg_type == NLMSG_DONE) return {};
            if (h.nlmsg_type == NLMSG_ERROR) {
                nlmsgerr e{};
                std::memcpy(&e, p + NLMSG_HDRLEN, std::min<std::size_t>(sizeof e, h.nlmsg_len - NLMSG_HDRLEN));
                if (e.error != 0) return errno_code(-e.error);
                if (!dump) return {};
            } else {
                on(h, p);
                if (!dump) return {};
            }
            const std::size_t step = NLMSG_ALIGN(h.nlmsg_len);
            if (step >= left) break;
            p += step;
            left -= step;
        }
    }
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
