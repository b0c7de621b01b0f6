//! Defines mmsg::PacketFlags and its bitwise operators.
#ifndef MMSG_PACKET_FLAGS_HPP
#define MMSG_PACKET_FLAGS_HPP

#include <cstdint>
#include <type_traits>

namespace mmsg {

//! What happened to one received datagram, beyond its size and source.
enum class PacketFlags : std::uint8_t {
    none = 0,
    truncated = 1, //!< the datagram was longer than the buffer; the tail is lost
    //! the kernel cut the datagram's control data (MSG_CTRUNC): metadata a backend reads
    //! from it (e.g. LinuxGsoBackend's UDP_GRO segment size) may be missing
    control_truncated = 2,
};

constexpr PacketFlags operator|(PacketFlags a, PacketFlags b) noexcept {
    using U = std::underlying_type_t<PacketFlags>;
    return static_cast<PacketFlags>(static_cast<U>(a) | static_cast<U>(b));
}
constexpr PacketFlags operator&(PacketFlags a, PacketFlags b) noexcept {
    using U = std::underlying_type_t<PacketFlags>;
    return static_cast<PacketFlags>(static_cast<U>(a) & static_cast<U>(b));
}
constexpr PacketFlags operator^(PacketFlags a, PacketFlags b) noexcept {
    using U = std::underlying_type_t<PacketFlags>;
    return static_cast<PacketFlags>(static_cast<U>(a) ^ static_cast<U>(b));
}
constexpr PacketFlags operator~(PacketFlags a) noexcept {
    using U = std::underlying_type_t<PacketFlags>;
    return static_cast<PacketFlags>(static_cast<U>(~static_cast<U>(a)));
}
constexpr PacketFlags& operator|=(PacketFlags& a, PacketFlags b) noexcept { return a = a | b; }
constexpr PacketFlags& operator&=(PacketFlags& a, PacketFlags b) noexcept { return a = a & b; }
constexpr PacketFlags& operator^=(PacketFlags& a, PacketFlags b) noexcept { return a = a ^ b; }

//! True when every flag of `which` is set in `f`.
constexpr bool has_flags(PacketFlags f, PacketFlags which) noexcept {
    return (f & which) == which;
}

} // namespace mmsg

#endif // MMSG_PACKET_FLAGS_HPP
