//! Defines mmsg::GsoCapability and the probe that fills it: whether UDP segmentation offload
//! (UDP_SEGMENT, send) and UDP receive coalescing (UDP_GRO) really work here, and their limits.
#ifndef MMSG_GSO_CAPABILITY_HPP
#define MMSG_GSO_CAPABILITY_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_segment.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_limits.hpp>

#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>

#if MMSG_HAS_UDP_GSO
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

namespace mmsg {

//! What the probe found out about one offload.
enum class OffloadSupport : std::uint8_t {
    untested,     //!< the probe could not run (no loopback of that family, no sockets)
    works,        //!< verified end to end: data went over loopback and came back intact
    unsupported,  //!< the kernel refused it (unknown option / control message, EIO, EINVAL)
    failed,       //!< accepted, but the data did not come back as it should
    not_compiled, //!< this build has no UDP_SEGMENT / UDP_GRO (not Linux, or old headers)
};

/*! The result of probing UDP GSO/GRO for one address family.

    `send` is about UDP_SEGMENT trains, `receive` about UDP_GRO coalescing; `limits` holds
    the probed train limits (GsoLimits::none() unless `send` works) and `error` the first
    error the probe met, if any, so a failure can be explained.
*/
struct GsoCapability {
    OffloadSupport send = OffloadSupport::untested;
    OffloadSupport receive = OffloadSupport::untested;
    GsoLimits limits = GsoLimits::none();
    std::error_code error{};

    //! True when UDP_SEGMENT trains were sent and arrived intact.
    bool gso() const noexcept { return send == OffloadSupport::works; }
    //! True when a train arrived as one coalesced datagram with its UDP_GRO segment size.
    bool gro() const noexcept { return receive == OffloadSupport::works; }
};

#if MMSG_HAS_UDP_GSO
namespace detail {

// Sends `total` bytes (byte i = i % 251) as one UDP_SEGMENT train of `segment`-byte datagrams.
inline std::error_code probe_send_train(int fd, const Endpoint& to, std::size_t segment,
                                        std::size_t total, std::byte* buf) noexcept {
    for (std::size_t i = 0; i < total; ++i) buf[i] = static_cast<std::byte>(i % 251);
    iovec iov{buf, total};
    alignas(cmsghdr) unsigned char ctl[gso_cmsg_space] = {};
    write_segment_cmsg(ctl, static_cast<std::uint16_t>(segment));
    msghdr m{};
    m.msg_name = const_cast<void*>(static_cast<const void*>(to.data()));
    m.msg_namelen = static_cast<socklen_t>(to.size());
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    std::error_code ec;
    sys_sendmsg(fd, &m, 0, ec);
    return ec;
}

// Receives until `total` bytes arrived (as one coalesced datagram or as segments), checking
// every byte and every datagram's size. Sets `coalesced` when a datagram came with a UDP_GRO
// segment size equal to `segment` and held more than one segment.
inline std::error_code probe_receive(int fd, std::size_t segment, std::size_t total,
                                     std::byte* buf, std::size_t cap, bool& coalesced) noexcept {
    std::size_t got = 0;
    coalesced = false;
    while (got < total) {
        iovec iov{buf, cap};
        alignas(cmsghdr) unsigned char ctl[64];
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        std::error_code ec;
        const long r = sys_recvmsg(fd, &m, 0, ec);
        if (r < 0) return ec; // SO_RCVTIMEO bounds the wait
        if (m.msg_flags & MSG_TRUNC) return std::make_error_code(std::errc::message_size);
        const std::size_t gro = parse_control(m).gro_segment;
        const auto n = static_cast<std::size_t>(r);
        if (gro == segment && n > segment) coalesced = true;
        else if (n > segment) return std::make_error_code(std::errc::message_size);
        for (std::size_t i = 0; i < n; ++i)
            if (buf[i] != static_cast<std::byte>((got + i) % 251))
                return std::make_error_code(std::errc::illegal_byte_sequence);
        got += n;
    }
    return got == total ? std::error_code{} : std::make_error_code(std::errc::message_size);
}

inline bool offload_refused(const std::error_code& ec) noexcept {
    return ec == std::errc::no_protocol_option || ec == std::errc::invalid_argument ||
           ec == std::errc::io_error || ec == std::errc::operation_not_supported;
}

} // namespace detail
#endif

/*! Probes UDP GSO/GRO for `protocol`'s family by doing it: opens two sockets on loopback,
    enables UDP_GRO on the receiver, sends UDP_SEGMENT trains and receives them, checking
    every byte. The segment limit is found by sending trains of 256, 128, 64, ... small
    datagrams (the kernel refuses too many with EINVAL); the byte limit by sending a train
    of the largest UDP payload of the family (65507 for IPv4, 65527 for IPv6), then smaller.
    Uncached: costs a few dozen system calls and waits at most about a second (receive
    timeouts) when something is broken. Never throws; sends only to loopback.
*/
inline GsoCapability probe_gso(const boost::asio::ip::udp& protocol) noexcept {
    GsoCapability cap;
#if !MMSG_HAS_UDP_GSO
    (void)protocol;
    cap.send = cap.receive = OffloadSupport::not_compiled;
    return cap;
#else
    const bool v6 = protocol.family() == AF_INET6;
    std::error_code ec;
    detail::UniqueFd rx(detail::open_udp(protocol.family(), ec));
    if (ec) {
        cap.error = ec;
        return cap;
    }
    detail::UniqueFd tx(detail::open_udp(protocol.family(), ec));
    if (ec) {
        cap.error = ec;
        return cap;
    }
    Endpoint to(v6 ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                   : boost::asio::ip::address(boost::asio::ip::address_v4::loopback()),
                0);
    if ((ec = detail::bind_to(rx.get(), to)) || (ec = detail::local_endpoint_of(rx.get(), to))) {
        cap.error = ec; // e.g. IPv6 disabled: untested
        return cap;
    }
    detail::set_timeout(rx.get(), SO_RCVTIMEO, 300000);

    const std::error_code gro_error = detail::set_int_option(rx.get(), SOL_UDP, UDP_GRO, 1);
    const bool gro_on = !gro_error;
    if (!gro_on) {
        cap.receive = OffloadSupport::unsupported;
        cap.error = gro_error;
    }

    constexpr std::size_t buf_size = 65536;
    const auto buf = std::make_unique_for_overwrite<std::byte[]>(buf_size);
    bool coalesced_any = false;
    auto fail = [&](OffloadSupport s, std::error_code ec) {
        cap.send = s;
        if (!cap.error) cap.error = ec;
        cap.limits = GsoLimits::none();
        return cap;
    };

    // Segment limit: the largest power of two the kernel accepts (it answers EINVAL above).
    std::size_t max_segments = 0;
    for (std::size_t n : {256u, 128u, 64u, 32u, 16u, 8u, 4u, 2u}) {
        const std::error_code ec = detail::probe_send_train(tx.get(), to, 8, 8 * n, buf.get());
        if (ec == std::errc::invalid_argument && n > 2) continue;
        if (ec)
            return fail(detail::offload_refused(ec) ? OffloadSupport::unsupported
                                                    : OffloadSupport::failed,
                        ec);
        bool coalesced = false;
        if (const auto rec = detail::probe_receive(rx.get(), 8, 8 * n, buf.get(), buf_size, coalesced))
            return fail(OffloadSupport::failed, rec);
        coalesced_any = coalesced_any || coalesced;
        max_segments = n;
        break;
    }

    // Byte limit: the largest UDP payload of the family, else smaller.
    const std::size_t family_max = v6 ? 65527 : 65507;
    std::size_t max_bytes = 0;
    for (std::size_t total : {family_max, std::size_t{61440}, std::size_t{32768}}) {
        const std::size_t segment =
            std::max<std::size_t>(1232, (total + max_segments - 1) / max_segments);
        const std::error_code ec = detail::probe_send_train(tx.get(), to, segment, total, buf.get());
        if (ec == std::errc::message_size || ec == std::errc::invalid_argument) continue;
        if (ec) return fail(OffloadSupport::failed, ec);
        bool coalesced = false;
        if (const auto rec =
                detail::probe_receive(rx.get(), segment, total, buf.get(), buf_size, coalesced))
            return fail(OffloadSupport::failed, rec);
        coalesced_any = coalesced_any || coalesced;
        max_bytes = total;
        break;
    }
    if (max_bytes == 0) return fail(OffloadSupport::failed, std::make_error_code(std::errc::message_size));

    cap.send = OffloadSupport::works;
    cap.limits = GsoLimits{max_segments, max_bytes};
    if (gro_on) cap.receive = coalesced_any ? OffloadSupport::works : OffloadSupport::failed;
    return cap;
#endif
}

/*! The probe's result for `protocol`'s family, probed once per process and family (the
    first call pays for probe_gso; later calls return the cached result). Thread-safe.
*/
inline const GsoCapability& gso_capability(const boost::asio::ip::udp& protocol) noexcept {
    if (protocol.family() == boost::asio::ip::udp::v6().family()) {
        static const GsoCapability v6 = probe_gso(boost::asio::ip::udp::v6());
        return v6;
    }
    static const GsoCapability v4 = probe_gso(boost::asio::ip::udp::v4());
    return v4;
}

/*! The cached probe result for the family of socket `s` (its bound address family, read with
    getsockname). A descriptor that is not an IP socket gives the IPv4 result.
*/
template <SocketLike Socket>
const GsoCapability& gso_capability(Socket&& s) noexcept {
    if (detail::family_of(detail::native(s)) == AF_INET6)
        return gso_capability(boost::asio::ip::udp::v6());
    return gso_capability(boost::asio::ip::udp::v4());
}

/*! The train limits LinuxGsoBackend uses by default: the IPv4 probe's limits when it
    verified GSO, GsoLimits::conservative() when it could not run (no loopback: the backend
    still falls back safely at run time if trains fail), and GsoLimits::none() when the
    kernel refused or broke trains.
*/
inline GsoLimits probed_gso_limits() noexcept {
    const GsoCapability& c = gso_capability(boost::asio::ip::udp::v4());
    if (c.gso()) return c.limits;
    if (c.send == OffloadSupport::untested) return GsoLimits::conservative();
    return GsoLimits::none();
}

} // namespace mmsg

#endif // MMSG_GSO_CAPABILITY_HPP
