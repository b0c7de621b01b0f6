//! The UDP_SEGMENT control message of an outgoing train, written and read in one place:
//! LinuxGsoBackend, its mock layer and the capability probe all use these.
#ifndef MMSG_DETAIL_UDP_SEGMENT_HPP
#define MMSG_DETAIL_UDP_SEGMENT_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_UDP_GSO

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! Bytes of control buffer for one outgoing train: one UDP_SEGMENT message (a u16).
inline constexpr std::size_t gso_cmsg_space = CMSG_SPACE(sizeof(std::uint16_t));

//! Sets the segment size of a UDP_SEGMENT control message already written into `buf`.
inline void set_segment_cmsg(unsigned char* buf, std::uint16_t segment) noexcept {
    std::memcpy(buf + CMSG_LEN(0), &segment, sizeof segment);
}

//! Writes a UDP_SEGMENT control message for `segment`-byte datagrams into `buf`.
inline void write_segment_cmsg(unsigned char* buf, std::uint16_t segment) noexcept {
    cmsghdr h{};
    h.cmsg_level = SOL_UDP;
    h.cmsg_type = UDP_SEGMENT;
    h.cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    std::memcpy(buf, &h, sizeof h);
    set_segment_cmsg(buf, segment);
}

//! The UDP_SEGMENT size a message asks for, or 0 when it carries none (a plain datagram).
inline std::size_t segment_of(const msghdr& h) noexcept {
    if (h.msg_control == nullptr || h.msg_controllen < CMSG_LEN(sizeof(std::uint16_t))) return 0;
    cmsghdr c;
    std::memcpy(&c, h.msg_control, sizeof c);
    if (c.cmsg_level != SOL_UDP || c.cmsg_type != UDP_SEGMENT ||
        c.cmsg_len < CMSG_LEN(sizeof(std::uint16_t)))
        return 0;
    std::uint16_t seg = 0;
    std::memcpy(&seg, static_cast<const unsigned char*>(h.msg_control) + CMSG_LEN(0), sizeof seg);
    return seg;
}

} // namespace mmsg::detail

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_DETAIL_UDP_SEGMENT_HPP
