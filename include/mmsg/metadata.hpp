//! Defines mmsg::Metadata (what per-datagram metadata receives carry), its bitwise
//! operators, and mmsg::request_metadata, which asks the kernel for it.
#ifndef MMSG_METADATA_HPP
#define MMSG_METADATA_HPP

#include <mmsg/detail/bitmask.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/socket_like.hpp>

#include <cstdint>
#include <system_error>
#include <type_traits>

#include <netinet/in.h>
#include <sys/socket.h>

namespace mmsg {

//! Per-datagram metadata a receive can carry in Meta (see request_metadata).
enum class Metadata : std::uint8_t {
    none = 0,
    ecn = 1,           //!< Meta::ecn
    local_address = 2, //!< Meta::local and Meta::interface_index
    timestamp = 4,     //!< Meta::timestamp
    all = 7,
};

namespace detail {
template <>
struct bitmask_bits<Metadata> {
    static constexpr Metadata value = Metadata::all;
};
} // namespace detail

/*! Asks the kernel to deliver `what` with every datagram received on `s`: IP_RECVTOS /
    IPV6_RECVTCLASS (ecn), IP_PKTINFO / IPV6_RECVPKTINFO (local_address), SO_TIMESTAMPNS
    (timestamp); on an IPv6 socket both families' options, so that IPv4 datagrams on a
    dual-stack socket carry theirs too. Adds to earlier requests (none: no change). Every
    kernel backend then decodes them into each received packet's Meta. Returns the first
    error (ENOTSOCK for a descriptor that is not a socket, ...), else {}.
*/
template <SocketLike Socket>
std::error_code request_metadata(Socket&& s, Metadata what) noexcept {
    const int fd = detail::native(s);
    if (what == Metadata::none) return {};
    int type = 0;
    if (std::error_code ec = detail::socket_type(fd, type)) return ec;
    const bool v6 = detail::family_of(fd) == AF_INET6;
    auto want = [&](Metadata m) { return (what & m) != Metadata::none; };
    // On an IPv6 socket the IPv4 options serve IPv4-mapped traffic; a v6-only socket may
    // refuse them, which is no loss, so their errors count only on an IPv4 socket.
    auto both = [&](int v4_name, int v6_name) -> std::error_code {
        const std::error_code e4 = detail::set_int_option(fd, IPPROTO_IP, v4_name, 1);
        if (!v6) return e4;
        return detail::set_int_option(fd, IPPROTO_IPV6, v6_name, 1);
    };
    if (want(Metadata::ecn))
        if (std::error_code ec = both(IP_RECVTOS, IPV6_RECVTCLASS)) return ec;
    if (want(Metadata::local_address))
        if (std::error_code ec = both(IP_PKTINFO, IPV6_RECVPKTINFO)) return ec;
    if (want(Metadata::timestamp))
        if (std::error_code ec = detail::set_int_option(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) return ec;
    return {};
}

} // namespace mmsg

#endif // MMSG_METADATA_HPP
