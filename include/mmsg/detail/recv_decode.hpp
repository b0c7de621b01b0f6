//! Decodes what recvmsg/recvmmsg wrote for one datagram (length, msg_flags, source address,
//! control messages) into a Meta: pure functions, tested and fuzzed without a kernel.
#ifndef MMSG_DETAIL_RECV_DECODE_HPP
#define MMSG_DETAIL_RECV_DECODE_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/cmsg_walk.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/ecn.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>

namespace mmsg::detail {

/*! Control buffer per received message: room for every control message mmsg asks for at
    once (drop counter, GRO segment size, TOS or traffic class, packet info of the larger
    family, a timestamp), with a margin. A socket asked for more by other code may see
    PacketFlags::control_truncated.
*/
inline constexpr std::size_t recv_control_room =
    CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(int)) +
    CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(timespec)) + 64;

//! What the control messages of one received datagram said. Fields the kernel did not
//! send keep their defaults.
struct RecvControl {
    bool has_drops = false;         //!< an SO_RXQ_OVFL message was present
    std::uint32_t drops = 0;        //!< the socket's cumulative drop counter (wraps at 2^32)
    std::size_t gro_segment = 0;    //!< UDP_GRO: segment size of a coalesced datagram; 0: none
    bool control_truncated = false; //!< MSG_CTRUNC: the kernel had more than fitted
    ReceivedMetadata meta{};        //!< ECN, local address and interface, timestamp
};

//! Reads the control messages of `h` (msg_control / msg_controllen as the kernel left
//! them). Only well-formed messages are read: a cmsg_len that overruns msg_controllen or is
//! too short for its payload is ignored, never dereferenced.
inline RecvControl parse_control(const msghdr& h) noexcept {
    RecvControl c;
    c.control_truncated = (h.msg_flags & MSG_CTRUNC) != 0;
    for_each_cmsg(h, [&](int level, int type, const unsigned char* data, std::size_t len) noexcept {
        if (level == SOL_SOCKET) {
#ifdef SO_RXQ_OVFL
            if (type == SO_RXQ_OVFL && control::read(data, len, c.drops)) c.has_drops = true;
#endif
            if (type == SCM_TIMESTAMPNS) {
                timespec ts{};
                // A time the nanosecond count can hold (until 2262), else it is not a time.
                constexpr long long max_sec = std::chrono::nanoseconds::max().count() / 1'000'000'000 - 1;
                if (control::read(data, len, ts) && ts.tv_sec >= 0 && ts.tv_sec <= max_sec &&
                    ts.tv_nsec >= 0 && ts.tv_nsec < 1'000'000'000)
                    c.meta.timestamp = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
            }
        } else if (level == SOL_UDP) {
#ifdef UDP_GRO
            if (type == UDP_GRO) {
                // The kernel writes an int; a u16 from older kernels is accepted too.
                int seg = 0;
                std::uint16_t seg16 = 0;
                if (control::read(data, len, seg)) c.gro_segment = seg > 0 ? static_cast<std::size_t>(seg) : 0;
                else if (control::read(data, len, seg16)) c.gro_segment = seg16;
            }
#endif
        } else if (level == IPPROTO_IP) {
            if (type == IP_TOS) {
                // One byte: the whole TOS, ECN in its two low bits.
                std::uint8_t tos = 0;
                if (control::read(data, len, tos)) c.meta.ecn = static_cast<Ecn>(tos & 3);
            } else if (type == IP_PKTINFO) {
                in_pktinfo pi{};
                if (control::read(data, len, pi)) {
                    c.meta.local = boost::asio::ip::address_v4(ntohl(pi.ipi_addr.s_addr));
                    c.meta.interface_index = static_cast<std::uint32_t>(pi.ipi_ifindex);
                }
            }
        } else if (level == IPPROTO_IPV6) {
            if (type == IPV6_TCLASS) {
                int tclass = 0;
                if (control::read(data, len, tclass)) c.meta.ecn = static_cast<Ecn>(tclass & 3);
            } else if (type == IPV6_PKTINFO) {
                in6_pktinfo pi{};
                if (control::read(data, len, pi)) {
                    boost::asio::ip::address_v6::bytes_type b;
                    std::memcpy(b.data(), &pi.ipi6_addr, b.size());
                    c.meta.local = boost::asio::ip::address_v6(b);
                    c.meta.interface_index = pi.ipi6_ifindex;
                }
            }
        }
    });
    return c;
}

//! The sender of a datagram as the kernel wrote it in msg_name (a default Endpoint when
//! there is none, or it is short or of an unknown family).
inline Endpoint source_of(const msghdr& h) noexcept {
    if (h.msg_name == nullptr) return Endpoint{};
    return endpoint_from(*static_cast<const sockaddr_storage*>(h.msg_name),
                         std::min<socklen_t>(h.msg_namelen, sizeof(sockaddr_storage)));
}

/*! Assigns `m` from one datagram received with `h`: `msg_len` is what the kernel returned
    for it (its length on the wire: kernel receives ask for MSG_TRUNC), into a buffer of
    `capacity` bytes. Truncated when MSG_TRUNC is in msg_flags or msg_len > capacity;
    control_truncated on MSG_CTRUNC; the metadata from the control messages. What they say
    about the socket (the kernel's drop counter) goes to `state`. The one decoder of a
    plain received datagram.
*/
inline void decode_received(const msghdr& h, std::size_t msg_len, std::size_t capacity, Meta& m,
                            SocketState& state) noexcept {
    PacketFlags f = (h.msg_flags & MSG_TRUNC) ? PacketFlags::truncated : PacketFlags::none;
    if (h.msg_flags & MSG_CTRUNC) f |= PacketFlags::control_truncated;
    if (h.msg_controllen == 0 || h.msg_control == nullptr) {
        assign_meta(m, msg_len, capacity, source_of(h), f);
        return;
    }
    const RecvControl c = parse_control(h);
    if (c.has_drops) state.note_drops(c.drops);
    assign_meta(m, msg_len, capacity, source_of(h), f, c.meta);
}

//! decode_received for a caller with no socket state to update (tests, the fuzzer).
inline void decode_datagram(const msghdr& h, std::size_t msg_len, std::size_t capacity,
                            Meta& m) noexcept {
    SocketState scratch;
    decode_received(h, msg_len, capacity, m, scratch);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_RECV_DECODE_HPP
