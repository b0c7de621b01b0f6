//! Defines mmsg::PacketFlags and its bitwise operators.
#ifndef MMSG_PACKET_FLAGS_HPP
#define MMSG_PACKET_FLAGS_HPP

#include <mmsg/detail/bitmask.hpp>

#include <cstdint>

namespace mmsg {

//! What happened to one received datagram, beyond its size and source.
enum class PacketFlags : std::uint8_t {
    none = 0,
    truncated = 1, //!< the datagram was longer than the buffer; the tail is lost
    //! the kernel cut the datagram's control data (MSG_CTRUNC): metadata a backend reads
    //! from it (e.g. LinuxGsoBackend's UDP_GRO segment size) may be missing
    control_truncated = 2,
};

namespace detail {
template <>
struct bitmask_bits<PacketFlags> {
    // ~ keeps every bit of the byte, as it always did (flags added later stay covered).
    static constexpr PacketFlags value = static_cast<PacketFlags>(0xff);
};
} // namespace detail

//! True when every flag of `which` is set in `f`.
constexpr bool has_flags(PacketFlags f, PacketFlags which) noexcept {
    return (f & which) == which;
}

} // namespace mmsg

#endif // MMSG_PACKET_FLAGS_HPP
