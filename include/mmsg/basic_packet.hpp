//! Defines mmsg::BasicPacket (a fixed-capacity receive buffer with its Meta) and mmsg::Packet.
#ifndef MMSG_BASIC_PACKET_HPP
#define MMSG_BASIC_PACKET_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>

namespace mmsg {

//! A datagram buffer of `Capacity` bytes and the metadata of what it holds.
//! The buffer is left uninitialised by default construction: receives overwrite it.
template <std::size_t Capacity = packet_data_size>
struct BasicPacket {
    static_assert(Capacity > 0, "mmsg::BasicPacket: Capacity must be at least 1 byte");
    static constexpr std::size_t capacity = Capacity;

    std::array<std::byte, Capacity> buffer;
    Meta meta;

    //! The first meta.size bytes of the buffer (never more than Capacity).
    std::span<const std::byte> data() const noexcept {
        return {buffer.data(), std::min(meta.size, Capacity)};
    }
};

//! The default packet: room for one IPv6-minimum-MTU payload.
using Packet = BasicPacket<>;

} // namespace mmsg

#endif // MMSG_BASIC_PACKET_HPP
