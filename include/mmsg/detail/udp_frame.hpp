//! Ethernet/IPv4-or-IPv6/UDP frames: built once here for XdpBackend's transmit ring and
//! parsed once here for its receive ring. Pure functions (no kernel), tested and fuzzed.
#ifndef MMSG_DETAIL_UDP_FRAME_HPP
#define MMSG_DETAIL_UDP_FRAME_HPP

#include <mmsg/detail/checksum.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace mmsg::detail {

using MacAddress = std::array<std::uint8_t, 6>;
//! An IP address as its bytes: IPv4 in the first 4 (the rest zero), IPv6 in all 16.
using IpBytes = std::array<std::uint8_t, 16>;

inline constexpr std::size_t ethernet_header = 14;
inline constexpr std::size_t ipv4_header = 20;
inline constexpr std::size_t ipv6_header = 40;
inline constexpr std::size_t udp_header = 8;
inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_ipv6 = 0x86dd;
inline constexpr std::uint8_t ip_protocol_udp = 17;

//! Bytes a frame adds to its UDP payload.
constexpr std::size_t udp_frame_overhead(bool v6) noexcept {
    return ethernet_header + (v6 ? ipv6_header : ipv4_header) + udp_header;
}

//! Everything of a frame but its payload.
struct UdpFrameHeader {
    MacAddress dst_mac{};
    MacAddress src_mac{};
    bool v6 = false;
    IpBytes src{};
    IpBytes dst{};
    std::uint16_t src_port = 0; //!< host order
    std::uint16_t dst_port = 0; //!< host order
    std::uint8_t tos = 0;       //!< IPv4 TOS / IPv6 traffic class: DSCP << 2 | ECN
    std::uint8_t ttl = 64;      //!< IPv4 TTL / IPv6 hop limit
    std::uint16_t ip_id = 0;    //!< IPv4 identification
};

namespace frame {
inline void put16(unsigned char* p, std::uint16_t v) noexcept {
    p[0] = static_cast<unsigned char>(v >> 8);
    p[1] = static_cast<unsigned char>(v & 0xff);
}
inline std::uint16_t get16(const unsigned char* p) noexcept {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
} // namespace frame

/*! Writes a whole frame (headers with both checksums, then the payload) at `out`, which
    must have room for udp_frame_overhead(h.v6) + size bytes; returns the frame's length.
    `payload_sum` is checksum_add(0, payload, size), passed in so that a caller sending the
    same payload to many destinations sums it once. IPv4 goes with DF set (the kernel's
    default path-MTU discovery); a UDP checksum of zero is sent as 0xffff (RFC 768).
*/
inline std::size_t write_udp_frame(std::byte* out, const UdpFrameHeader& h, const std::byte* payload,
                                   std::size_t size, std::uint64_t payload_sum) noexcept {
    using frame::put16;
    unsigned char* f = reinterpret_cast<unsigned char*>(out);
    std::memcpy(f, h.dst_mac.data(), 6);
    std::memcpy(f + 6, h.src_mac.data(), 6);
    put16(f + 12, h.v6 ? ethertype_ipv6 : ethertype_ipv4);
    unsigned char* ip = f + ethernet_header;
    const std::size_t udp_len = udp_header + size;
    const std::size_t addr_len = h.v6 ? 16 : 4;
    unsigned char* udp;
    if (h.v6) {
        ip[0] = static_cast<unsigned char>(0x60 | h.tos >> 4);
        ip[1] = static_cast<unsigned char>((h.tos & 0x0f) << 4);
        ip[2] = ip[3] = 0; // flow label
        put16(ip + 4, static_cast<std::uint16_t>(udp_len));
        ip[6] = ip_protocol_udp;
        ip[7] = h.ttl;
        std::memcpy(ip + 8, h.src.data(), 16);
        std::memcpy(ip + 24, h.dst.data(), 16);
        udp = ip + ipv6_header;
    } else {
        ip[0] = 0x45;
        ip[1] = h.tos;
        put16(ip + 2, static_cast<std::uint16_t>(ipv4_header + udp_len));
        put16(ip + 4, h.ip_id);
        put16(ip + 6, 0x4000); // DF, no fragment offset
        ip[8] = h.ttl;
        ip[9] = ip_protocol_udp;
        ip[10] = ip[11] = 0;
        std::memcpy(ip + 12, h.src.data(), 4);
        std::memcpy(ip + 16, h.dst.data(), 4);
        const std::uint16_t c = checksum_finish(checksum_add(0, ip, ipv4_header));
        std::memcpy(ip + 10, &c, 2);
        udp = ip + ipv4_header;
    }
    put16(udp, h.src_port);
    put16(udp + 2, h.dst_port);
    put16(udp + 4, static_cast<std::uint16_t>(udp_len));
    udp[6] = udp[7] = 0;
    if (size != 0) std::memcpy(udp + udp_header, payload, size); // an empty payload may be null
    // Pseudo-header (addresses, protocol, UDP length), the UDP header, the payload.
    std::uint64_t sum = checksum_add(payload_sum, h.src.data(), addr_len);
    sum = checksum_add(sum, h.dst.data(), addr_len);
    sum = checksum_add_u16(sum, ip_protocol_udp);
    sum = checksum_add_u16(sum, static_cast<std::uint16_t>(udp_len));
    sum = checksum_add(sum, udp, udp_header);
    std::uint16_t c = checksum_finish(sum);
    if (c == 0) c = 0xffff;
    std::memcpy(udp + 6, &c, 2);
    return udp_frame_overhead(h.v6) + size;
}

//! What parse_udp_frame found in a frame.
struct ParsedUdpFrame {
    bool v6 = false;
    IpBytes src{};
    IpBytes dst{};
    std::uint16_t src_port = 0; //!< host order
    std::uint16_t dst_port = 0; //!< host order
    std::uint8_t tos = 0;       //!< TOS / traffic class (ECN in the two low bits)
    std::size_t payload_offset = 0;
    std::size_t payload_size = 0; //!< from the UDP length
};

/*! Parses a frame as Ethernet, IPv4 (options skipped) or IPv6 (no extension header), UDP.
    Returns false for anything else: another protocol, a VLAN tag, an IP fragment, lengths
    that disagree with each other or run past the frame. Never reads outside `f`.
*/
inline bool parse_udp_frame(std::span<const std::byte> f, ParsedUdpFrame& out) noexcept {
    using frame::get16;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(f.data());
    const std::size_t n = f.size();
    if (n < ethernet_header) return false;
    const std::uint16_t type = get16(p + 12);
    const unsigned char* ip = p + ethernet_header;
    const std::size_t room = n - ethernet_header;
    std::size_t ip_end = 0, udp_at = 0;
    if (type == ethertype_ipv4) {
        if (room < ipv4_header || ip[0] >> 4 != 4) return false;
        const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
        const std::size_t total = get16(ip + 2);
        if (ihl < ipv4_header || total < ihl || total > room) return false;
        if ((get16(ip + 6) & 0x3fff) != 0 || ip[9] != ip_protocol_udp) return false; // MF or offset
        out.v6 = false;
        out.tos = ip[1];
        out.src = {};
        out.dst = {};
        std::memcpy(out.src.data(), ip + 12, 4);
        std::memcpy(out.dst.data(), ip + 16, 4);
        udp_at = ihl;
        ip_end = total;
    } else if (type == ethertype_ipv6) {
        if (room < ipv6_header || ip[0] >> 4 != 6 || ip[6] != ip_protocol_udp) return false;
        const std::size_t total = ipv6_header + get16(ip + 4);
        if (total > room) return false;
        out.v6 = true;
        out.tos = static_cast<std::uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
        std::memcpy(out.src.data(), ip + 8, 16);
        std::memcpy(out.dst.data(), ip + 24, 16);
        udp_at = ipv6_header;
        ip_end = total;
    } else {
        return false;
    }
    if (ip_end - udp_at < udp_header) return false;
    const unsigned char* udp = ip + udp_at;
    const std::size_t udp_len = get16(udp + 4);
    if (udp_len < udp_header || udp_len > ip_end - udp_at) return false;
    out.src_port = get16(udp);
    out.dst_port = get16(udp + 2);
    out.payload_offset = ethernet_header + udp_at + udp_header;
    out.payload_size = udp_len - udp_header;
    return true;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_UDP_FRAME_HPP
