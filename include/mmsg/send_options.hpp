//! Defines mmsg::SendOptions, the per-datagram options of an outgoing datagram.
#ifndef MMSG_SEND_OPTIONS_HPP
#define MMSG_SEND_OPTIONS_HPP

#include <mmsg/ecn.hpp>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>

namespace mmsg {

/*! Options of one outgoing datagram. A default-constructed SendOptions changes nothing.

    They reach the kernel as control messages of that datagram's own message; no socket
    option is set or read per call. When `ecn` or `dscp` is not zero the datagram's TOS /
    traffic class is exactly `dscp << 2 | ecn`; when both are zero the socket's own setting
    applies. `source` (unspecified: the kernel picks) and `interface_index` (0: routing
    decides) go as IP_PKTINFO / IPV6_PKTINFO. IPv4, IPv6 and IPv4-mapped destinations on a
    dual-stack socket all work; a source for an IPv4-mapped destination may be written as
    IPv4 or as ::ffff:a.b.c.d. A source that is not local fails that datagram with the
    kernel's error; a source of the other family than the destination's path (IPv6 for an
    IPv4 destination) fails it with EINVAL. The batch goes on in both cases.

    `release_time` paces the datagram: the kernel holds it until that time on
    CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), in nanoseconds, sent as
    SCM_TXTIME. The clock's epoch (the default) means now. It needs SO_TXTIME on the socket
    (enable_pacing in <mmsg/pacing.hpp>; without it the datagram fails alone with EINVAL)
    and a qdisc on the outgoing device that honours it (fq); elsewhere the datagram goes at
    once. A GSO train carries one release time: datagrams with different times never share
    one, so a train is paced as a whole.
*/
struct SendOptions {
    Ecn ecn = Ecn::not_ect;                //!< ECN codepoint of this datagram (a sender may set CE)
    std::uint8_t dscp = 0;                 //!< DSCP, the upper six bits of the TOS / traffic class
    boost::asio::ip::address source{};     //!< source address; unspecified: the kernel picks
    std::uint32_t interface_index = 0;     //!< outgoing interface; 0: routing decides
    std::chrono::steady_clock::time_point release_time{}; //!< earliest departure; epoch: now

    friend bool operator==(const SendOptions&, const SendOptions&) = default;
};

} // namespace mmsg

#endif // MMSG_SEND_OPTIONS_HPP
