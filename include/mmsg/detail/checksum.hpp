//! The Internet checksum (RFC 1071): the one place mmsg computes it (the IPv4 header and
//! UDP checksums of the frames XdpBackend builds). Pure functions, tested without a kernel.
#ifndef MMSG_DETAIL_CHECKSUM_HPP
#define MMSG_DETAIL_CHECKSUM_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mmsg::detail {

/*! Adds the bytes [p, p + n) to a running ones'-complement sum, as 16-bit words in memory
    order (a trailing odd byte is padded with zero). The sum is kept in the machine's byte
    order (RFC 1071 §2(B): the result is byte-order independent once folded and stored as
    it is), 32 bits at a time into 64, so no carry is lost for any length mmsg handles.
    Every piece added must start at an even offset of the checksummed stream.
*/
inline std::uint64_t checksum_add(std::uint64_t sum, const void* p, std::size_t n) noexcept {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (; n >= 8; b += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, b, 8);
        sum += (w & 0xffffffffu) + (w >> 32);
    }
    if (n >= 4) {
        std::uint32_t w;
        std::memcpy(&w, b, 4);
        sum += w;
        b += 4;
        n -= 4;
    }
    if (n >= 2) {
        std::uint16_t w;
        std::memcpy(&w, b, 2);
        sum += w;
        b += 2;
        n -= 2;
    }
    if (n == 1) {
        const unsigned char last[2] = {b[0], 0};
        std::uint16_t w;
        std::memcpy(&w, last, 2);
        sum += w;
    }
    return sum;
}

//! Adds a 16-bit value given in host order (a length, a protocol number) to a running sum.
inline std::uint64_t checksum_add_u16(std::uint64_t sum, std::uint16_t host_order) noexcept {
    const unsigned char be[2] = {static_cast<unsigned char>(host_order >> 8),
                                 static_cast<unsigned char>(host_order & 0xff)};
    return checksum_add(sum, be, 2);
}

/*! The checksum of a running sum: folded to 16 bits and complemented, in the byte order
    to store as it is (memcpy) into the header's checksum field.
*/
inline std::uint16_t checksum_finish(std::uint64_t sum) noexcept {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_CHECKSUM_HPP
