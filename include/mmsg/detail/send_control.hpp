//! The control messages that carry a datagram's SendOptions (TOS / traffic class, packet
//! info, release time), written and read in one place: every kernel backend writes them, MockGsoOps reads
//! them back. Pure functions, tested without a kernel.
#ifndef MMSG_DETAIL_SEND_CONTROL_HPP
#define MMSG_DETAIL_SEND_CONTROL_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/cmsg_walk.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_options.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::detail {

//! Bytes of control buffer the options of one datagram need at most: a datagram for the
//! connected peer (no destination) carries both families' messages.
inline constexpr std::size_t send_control_room = 2 * CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in_pktinfo)) +
                                                 CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(std::uint64_t));

#ifndef SCM_TXTIME
#define SCM_TXTIME 61 // SO_TXTIME, Linux 4.19
#endif

//! A release time as SCM_TXTIME carries it: nanoseconds on CLOCK_MONOTONIC (0: none).
inline std::uint64_t txtime_of(const SendOptions& o) noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.release_time.time_since_epoch());
    return ns.count() > 0 ? static_cast<std::uint64_t>(ns.count()) : 0;
}

//! Whether `o` asks for anything (null or default options do not).
inline bool has_options(const SendOptions* o) noexcept {
    return o != nullptr && (o->ecn != Ecn::not_ect || o->dscp != 0 ||
                            !o->source.is_unspecified() || o->interface_index != 0 ||
                            o->release_time != std::chrono::steady_clock::time_point{});
}

//! Whether two datagrams' options are the same (null counts as default).
inline bool same_options(const SendOptions* a, const SendOptions* b) noexcept {
    if (a == b) return true;
    if (!has_options(a)) return !has_options(b);
    if (!has_options(b)) return false;
    return *a == *b;
}

//! Whether a datagram to `dest` takes the IPv4 path: an IPv4 destination, or an
//! IPv4-mapped one on a dual-stack socket (the kernel then reads only IP-level messages).
inline bool ipv4_path(const Endpoint& dest) noexcept {
    const auto a = dest.address();
    return a.is_v4() || a.to_v6().is_v4_mapped();
}

/*! Why options `o` cannot go with a datagram to `dest`, or nothing: a DSCP over 63, or a
    source of the other family than the destination's path (an IPv6 source for an IPv4 or
    IPv4-mapped destination, an IPv4 source for an IPv6 one). EINVAL, as the kernel says for
    options it refuses. For the connected peer (`dest` null) only the DSCP is checked: the
    path is not known here, and a source of the wrong family for it is ignored by the
    kernel rather than refused (name the destination when choosing a source).
*/
inline std::error_code options_error(const SendOptions& o, const Endpoint* dest) noexcept {
    const auto invalid = std::make_error_code(std::errc::invalid_argument);
    if (o.dscp > 63) return invalid;
    if (o.source.is_unspecified() || dest == nullptr) return {};
    const bool v4_source = o.source.is_v4() || o.source.to_v6().is_v4_mapped();
    return v4_source == ipv4_path(*dest) ? std::error_code{} : invalid;
}

namespace send_control {
inline std::size_t put(unsigned char* at, int level, int type, const void* data,
                       std::size_t len) noexcept {
    cmsghdr h{};
    h.cmsg_level = level;
    h.cmsg_type = type;
    h.cmsg_len = CMSG_LEN(len);
    std::memcpy(at, &h, sizeof h);
    std::memcpy(at + CMSG_LEN(0), data, len);
    return CMSG_SPACE(len);
}
} // namespace send_control

/*! Writes the control messages of options `o` for a datagram to `dest` at `buf` (at least
    send_control_room bytes, aligned for cmsghdr); returns the bytes written (0 when the
    options ask for nothing). On the IPv4 path: IP_TOS when ecn or dscp is set, IP_PKTINFO
    (ipi_spec_dst = source, ipi_ifindex) when a source or an interface is; on the IPv6 path
    IPV6_TCLASS and IPV6_PKTINFO; on both, SCM_TXTIME when a release time is set. For the
    connected peer (`dest` null) the path is not known here, so both families' messages
    are written: each stack reads its own level and skips the other's. `o` must have
    passed options_error.
*/
inline std::size_t write_send_control(unsigned char* buf, const SendOptions& o,
                                      const Endpoint* dest) noexcept {
    std::size_t len = 0;
    const bool v4 = dest == nullptr || ipv4_path(*dest);
    const bool v6 = dest == nullptr || !v4;
    if (o.ecn != Ecn::not_ect || o.dscp != 0) {
        const int tos = (o.dscp << 2) | static_cast<int>(o.ecn);
        if (v4) len += send_control::put(buf + len, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
        if (v6) len += send_control::put(buf + len, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    }
    if (!o.source.is_unspecified() || o.interface_index != 0) {
        const bool v4_source = o.source.is_v4() || (!o.source.is_unspecified() && o.source.to_v6().is_v4_mapped());
        if (v4 && (o.source.is_unspecified() || v4_source)) {
            in_pktinfo pi{};
            pi.ipi_ifindex = static_cast<int>(o.interface_index);
            if (!o.source.is_unspecified()) {
                const auto a = o.source.is_v4() // else ::ffff:a.b.c.d
                                   ? o.source.to_v4()
                                   : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped,
                                                                      o.source.to_v6());
                pi.ipi_spec_dst.s_addr = htonl(a.to_uint());
            }
            len += send_control::put(buf + len, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
        }
        if (v6) {
            in6_pktinfo pi{};
            pi.ipi6_ifindex = o.interface_index;
            if (!o.source.is_unspecified()) {
                const auto b = (o.source.is_v4() ? boost::asio::ip::make_address_v6(
                                                       boost::asio::ip::v4_mapped, o.source.to_v4())
                                                 : o.source.to_v6())
                                   .to_bytes();
                std::memcpy(&pi.ipi6_addr, b.data(), b.size());
            }
            len += send_control::put(buf + len, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
        }
    }
    if (const std::uint64_t t = txtime_of(o); t != 0)
        len += send_control::put(buf + len, SOL_SOCKET, SCM_TXTIME, &t, sizeof t);
    return len;
}

/*! Fills the one-datagram message `h` for `it`: its destination (none for the connected
    peer), its payload as `iov` (which h.msg_iov must point at, msg_iovlen 1), and its
    options' control messages in `ctl` (send_control_room bytes, aligned for cmsghdr).
    Returns options_error's verdict; when the options are refused nothing is written. The
    one place the plain backends (sendmmsg, sendmsg, io_uring) turn a SendItem into a
    message.
*/
inline std::error_code fill_plain_message(msghdr& h, iovec& iov, unsigned char* ctl, const SendItem& it) noexcept {
    h.msg_controllen = 0;
    if (has_options(it.options)) {
        if (std::error_code e = options_error(*it.options, it.dest)) return e;
        h.msg_control = ctl;
        h.msg_controllen = write_send_control(ctl, *it.options, it.dest);
    }
    set_destination(h, it.dest);
    iov.iov_base = const_cast<std::byte*>(it.data);
    iov.iov_len = it.size;
    return {};
}

/*! Reads the options back from the control messages of an outgoing message `h` (what
    write_send_control wrote; other messages are skipped). For the mock network, which
    must see what the kernel would.
*/
inline SendOptions read_send_control(const msghdr& h) noexcept {
    SendOptions o;
    for_each_cmsg(h, [&](int level, int type, const unsigned char* data, std::size_t len) {
        int tos = -1;
        in_pktinfo pi4;
        in6_pktinfo pi6;
        std::uint64_t t = 0;
        if (((level == IPPROTO_IP && type == IP_TOS) || (level == IPPROTO_IPV6 && type == IPV6_TCLASS)) &&
            control::read(data, len, tos)) {
            o.ecn = static_cast<Ecn>(tos & 3);
            o.dscp = static_cast<std::uint8_t>((tos >> 2) & 63);
        } else if (level == IPPROTO_IP && type == IP_PKTINFO && control::read(data, len, pi4)) {
            o.interface_index = static_cast<std::uint32_t>(pi4.ipi_ifindex);
            if (pi4.ipi_spec_dst.s_addr != 0)
                o.source = boost::asio::ip::address_v4(ntohl(pi4.ipi_spec_dst.s_addr));
        } else if (level == IPPROTO_IPV6 && type == IPV6_PKTINFO && control::read(data, len, pi6)) {
            o.interface_index = pi6.ipi6_ifindex;
            boost::asio::ip::address_v6::bytes_type b;
            std::memcpy(b.data(), &pi6.ipi6_addr, b.size());
            const boost::asio::ip::address_v6 a(b);
            // (Both families' messages for the connected peer: the IPv4 one names it plainly.)
            if (!a.is_unspecified() && !(a.is_v4_mapped() && o.source.is_v4())) o.source = a;
        } else if (level == SOL_SOCKET && type == SCM_TXTIME && control::read(data, len, t) &&
                   t <= static_cast<std::uint64_t>(std::chrono::nanoseconds::max().count())) {
            o.release_time = std::chrono::steady_clock::time_point(
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::nanoseconds(static_cast<std::int64_t>(t))));
        }
    });
    return o;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SEND_CONTROL_HPP
