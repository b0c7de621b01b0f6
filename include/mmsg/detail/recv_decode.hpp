//! Decodes what recvmsg/recvmmsg wrote for one datagram (length, msg_flags, source address,
//! control messages) into a Meta: a pure function, so it is tested and fuzzed without a kernel.
#ifndef MMSG_DETAIL_RECV_DECODE_HPP
#define MMSG_DETAIL_RECV_DECODE_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! Control buffer per received message: room for every control message mmsg asks for.
inline constexpr std::size_t recv_control_room =
    CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(int)) + 64;

//! What the control messages of one received datagram said. Fields the kernel did not
//! send keep their defaults.
struct RecvControl {
    bool has_drops = false;        //!< an SO_RXQ_OVFL message was present
    std::uint32_t drops = 0;       //!< the socket's cumulative drop counter (wraps at 2^32)
    std::size_t gro_segment = 0;   //!< UDP_GRO: segment size of a coalesced datagram; 0: none
    bool control_truncated = false;//!< MSG_CTRUNC: the kernel had more than fitted
};

//! Reads the control messages of `h` (msg_control / msg_controllen as the kernel left
//! them). Only well-formed messages are read: a cmsg_len that overruns msg_controllen or is
//! too short for its payload is ignored, never dereferenced.
inline RecvControl parse_control(const msghdr& h) noexcept {
    RecvControl c;
    c.control_truncated = (h.msg_flags & MSG_CTRUNC) != 0;
    if (h.msg_control == nullptr || h.msg_controllen < sizeof(cmsghdr)) return c;
    const auto* base = static_cast<const unsigned char*>(h.msg_control);
    const std::size_t total = h.msg_controllen;
    std::size_t off = 0;
    // Walks the buffer by hand rather than with CMSG_NXTHDR so that every bound is checked
    // against msg_controllen before anything is read.
    while (total - off >= sizeof(cmsghdr)) {
        cmsghdr hdr;
        std::memcpy(&hdr, base + off, sizeof hdr);
        if (hdr.cmsg_len < sizeof(cmsghdr) || hdr.cmsg_len > total - off) break;
        // Payload starts CMSG_LEN(0) bytes into the message (the aligned header).
        const std::size_t head = CMSG_LEN(0);
        if (hdr.cmsg_len < head) break;
        const unsigned char* data = base + off + head;
        const std::size_t data_len = hdr.cmsg_len - head;
#ifdef SO_RXQ_OVFL
        if (hdr.cmsg_level == SOL_SOCKET && hdr.cmsg_type == SO_RXQ_OVFL &&
            data_len >= sizeof(std::uint32_t)) {
            std::memcpy(&c.drops, data, sizeof c.drops);
            c.has_drops = true;
        }
#endif
#ifdef UDP_GRO
        if (hdr.cmsg_level == SOL_UDP && hdr.cmsg_type == UDP_GRO) {
            // The kernel writes an int; a u16 from older kernels is accepted too.
            if (data_len >= sizeof(int)) {
                int seg = 0;
                std::memcpy(&seg, data, sizeof seg);
                c.gro_segment = seg > 0 ? static_cast<std::size_t>(seg) : 0;
            } else if (data_len >= sizeof(std::uint16_t)) {
                std::uint16_t seg = 0;
                std::memcpy(&seg, data, sizeof seg);
                c.gro_segment = seg;
            }
        }
#endif
        const std::size_t step = CMSG_ALIGN(hdr.cmsg_len);
        if (step == 0 || step > total - off) break;
        off += step;
    }
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
    control_truncated on MSG_CTRUNC.
*/
inline void decode_datagram(const msghdr& h, std::size_t msg_len, std::size_t capacity,
                            Meta& m) noexcept {
    PacketFlags f = (h.msg_flags & MSG_TRUNC) ? PacketFlags::truncated : PacketFlags::none;
    if (h.msg_flags & MSG_CTRUNC) f |= PacketFlags::control_truncated;
    assign_meta(m, msg_len, capacity, source_of(h), f);
}

/*! decode_datagram, then what the control messages say about the socket: the kernel's drop
    counter (SO_RXQ_OVFL) goes to `state`. The one decoder of a plain received datagram.
*/
inline void decode_received(const msghdr& h, std::size_t msg_len, std::size_t capacity, Meta& m,
                            SocketState& state) noexcept {
    decode_datagram(h, msg_len, capacity, m);
    if (h.msg_controllen == 0) return;
    const RecvControl c = parse_control(h);
    if (c.has_drops) state.note_drops(c.drops);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_RECV_DECODE_HPP
