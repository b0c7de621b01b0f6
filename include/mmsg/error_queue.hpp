//! Defines mmsg::DatagramError (an error the kernel reported for a datagram a socket sent),
//! mmsg::ErrorQueueReader (reads them in batches from the socket's error queue) and the
//! functions around them: enable_error_queue, read_error_queue, path MTU discovery.
#ifndef MMSG_ERROR_QUEUE_HPP
#define MMSG_ERROR_QUEUE_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/cmsg_walk.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/socket_like.hpp>

#include <boost/asio/ip/address.hpp>

#if MMSG_HAS_MMSG

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <system_error>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

//! Who reported a DatagramError.
enum class ErrorOrigin : std::uint8_t {
    none = SO_EE_ORIGIN_NONE,
    local = SO_EE_ORIGIN_LOCAL, //!< this host (a datagram over the path MTU with don't-fragment)
    icmp = SO_EE_ORIGIN_ICMP,   //!< an ICMP message
    icmp6 = SO_EE_ORIGIN_ICMP6, //!< an ICMPv6 message
};

/*! An error the kernel reported for a datagram the socket sent, from its error queue
    (IP_RECVERR / IPV6_RECVERR): ICMP port unreachable (ECONNREFUSED), host or network
    unreachable (EHOSTUNREACH, ENETUNREACH), fragmentation needed / packet too big or a
    local datagram over the path MTU (EMSGSIZE, with the MTU). Such errors are not a send's
    result: sendmmsg reported the datagram sent; the report comes later, per destination.
*/
struct DatagramError {
    std::error_code error{};                   //!< the errno the report stands for
    //! Where the datagram that caused it was going. (For a local report, on a socket that is
    //! not connected, the kernel gives the address with port 0.)
    Endpoint destination{};
    boost::asio::ip::address offender{};       //!< who reported it (unspecified when local)
    std::uint32_t mtu = 0;                     //!< EMSGSIZE: the path MTU the report gave
    ErrorOrigin origin = ErrorOrigin::none;
    std::uint8_t icmp_type = 0;                //!< the ICMP type and code, for ICMP origins
    std::uint8_t icmp_code = 0;
};

namespace detail {

//! Decodes one error-queue message (its IP_RECVERR / IPV6_RECVERR control message) into
//! `e`; returns false when it carries none. Pure, like parse_control.
inline bool decode_error(const msghdr& h, DatagramError& e) noexcept {
    e = DatagramError{};
    e.destination = source_of(h); // an error message's msg_name is the original destination
    bool found = false;
    for_each_cmsg(h, [&](int level, int type, const unsigned char* data, std::size_t len) noexcept {
        sock_extended_err ee;
        if (!((level == IPPROTO_IP && type == IP_RECVERR) || (level == IPPROTO_IPV6 && type == IPV6_RECVERR)) ||
            !control::read(data, len, ee))
            return true; // not this one: go on
        e.error = errno_code(static_cast<int>(ee.ee_errno));
        e.origin = static_cast<ErrorOrigin>(ee.ee_origin);
        e.icmp_type = ee.ee_type;
        e.icmp_code = ee.ee_code;
        if (ee.ee_errno == EMSGSIZE) e.mtu = ee.ee_info;
        // The offender's address follows the structure (SO_EE_OFFENDER).
        sockaddr_storage ss{};
        const std::size_t rest = std::min(len - sizeof ee, sizeof ss);
        std::memcpy(&ss, data + sizeof ee, rest);
        e.offender = endpoint_from(ss, static_cast<socklen_t>(rest)).address();
        if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) e.offender = boost::asio::ip::address();
        found = true;
        return false; // one report per message
    });
    return found;
}

} // namespace detail

/*! Reads a socket's error queue in batches: one recvmmsg(MSG_ERRQUEUE) for up to
    num_rcvmmsgs reports, never waiting. The arrays are made on the first call and reused:
    no call allocates after it. Not thread-safe: one reader per thread.
*/
class ErrorQueueReader {
public:
    /*! Takes the queued reports into `errors` from the front; returns how many. With none
        queued: 0 and operation_would_block (wait for POLLERR, or boost::asio's wait_error,
        and call again). Other errors as recvmmsg gives them.
    */
    template <SocketLike Socket>
    std::size_t read(Socket&& s, std::span<DatagramError> errors, std::error_code& ec) noexcept {
        ec.clear();
        const std::size_t n = std::min(errors.size(), num_rcvmmsgs);
        if (n == 0) return 0;
        Arrays* a = nullptr;
        try {
            a = arrays();
        } catch (const std::bad_alloc&) {
            ec = std::make_error_code(std::errc::not_enough_memory);
            return 0;
        }
        for (std::size_t i = 0; i < n; ++i) {
            msghdr& h = a->hdr[i].msg_hdr;
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_controllen = sizeof a->ctl[i];
        }
        const int r = detail::sys_recvmmsg(detail::native(s), a->hdr, static_cast<unsigned>(n),
                                           MSG_ERRQUEUE | MSG_DONTWAIT, ec);
        if (r <= 0) return 0;
        std::size_t got = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i)
            if (detail::decode_error(a->hdr[i].msg_hdr, errors[got])) ++got;
        if (got == 0) ec = detail::would_block_code();
        return got;
    }

private:
    // Room for the extended error and its offender's address (and a margin).
    static constexpr std::size_t control_room =
        CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6)) + 64;
    struct Arrays {
        mmsghdr hdr[num_rcvmmsgs];
        iovec iov[num_rcvmmsgs];
        sockaddr_storage addr[num_rcvmmsgs];
        alignas(cmsghdr) unsigned char ctl[num_rcvmmsgs][control_room];
        std::byte payload[num_rcvmmsgs][64]; // the start of the datagram the report quotes
    };
    Arrays* arrays() {
        const bool fresh = !arrays_.allocated();
        Arrays* a = arrays_.get(1);
        if (fresh)
            for (std::size_t i = 0; i < num_rcvmmsgs; ++i) {
                a->iov[i] = iovec{a->payload[i], sizeof a->payload[i]};
                msghdr& h = a->hdr[i].msg_hdr;
                h.msg_iov = &a->iov[i];
                h.msg_iovlen = 1;
                h.msg_name = &a->addr[i];
                h.msg_control = a->ctl[i];
            }
        return a;
    }
    detail::Scratch<Arrays> arrays_;
};

/*! Asks the kernel to queue an error report for every datagram of `s` that an ICMP message
    (or the host itself) reports failed: IP_RECVERR, and IPV6_RECVERR on an IPv6 socket.
    Read them with read_error_queue. Returns the setsockopt error, if any.
*/
template <SocketLike Socket>
std::error_code enable_error_queue(Socket&& s) noexcept {
    const int fd = detail::native(s);
    if (std::error_code ec = detail::set_int_option(fd, IPPROTO_IP, IP_RECVERR, 1);
        ec && detail::family_of(fd) != AF_INET6)
        return ec;
    if (detail::family_of(fd) == AF_INET6)
        return detail::set_int_option(fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
    return {};
}

//! ErrorQueueReader::read with the calling thread's reader.
template <SocketLike Socket>
std::size_t read_error_queue(Socket&& s, std::span<DatagramError> errors, std::error_code& ec) noexcept {
    thread_local ErrorQueueReader reader;
    return reader.read(s, errors, ec);
}

//! Path MTU discovery modes (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER).
enum class PathMtuDiscovery : std::uint8_t {
    dont = IP_PMTUDISC_DONT,   //!< fragment as needed, never set don't-fragment
    want = IP_PMTUDISC_WANT,   //!< the kernel's default: discover, fragment when needed
    on = IP_PMTUDISC_DO,       //!< set don't-fragment; a datagram over the path MTU fails (EMSGSIZE)
    probe = IP_PMTUDISC_PROBE, //!< set don't-fragment but ignore the path MTU (for probing)
};

/*! Sets path MTU discovery on `s` (IPv4 and, on an IPv6 socket, IPv6). With `on`, a
    datagram longer than the path MTU fails alone with EMSGSIZE, and with the error queue
    enabled a report says the MTU. Returns the setsockopt error, if any.
*/
template <SocketLike Socket>
std::error_code set_path_mtu_discovery(Socket&& s, PathMtuDiscovery mode) noexcept {
    const int fd = detail::native(s);
    const bool v6 = detail::family_of(fd) == AF_INET6;
    std::error_code ec = detail::set_int_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, static_cast<int>(mode));
    if (!v6) return ec;
    return detail::set_int_option(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, static_cast<int>(mode));
}

/*! The path MTU the kernel knows for a connected socket's peer (IP_MTU / IPV6_MTU); 0 with
    `ec` set otherwise (ENOTCONN on a socket that is not connected: an unconnected socket
    learns a destination's MTU from its error queue).
*/
template <SocketLike Socket>
std::size_t path_mtu(Socket&& s, std::error_code& ec) noexcept {
    const int fd = detail::native(s);
    int mtu = 0;
    ec = detail::family_of(fd) == AF_INET6 ? detail::get_int_option(fd, IPPROTO_IPV6, IPV6_MTU, mtu)
                                          : detail::get_int_option(fd, IPPROTO_IP, IP_MTU, mtu);
    return ec ? 0 : static_cast<std::size_t>(mtu);
}

} // namespace mmsg

#endif // MMSG_HAS_MMSG
#endif // MMSG_ERROR_QUEUE_HPP
