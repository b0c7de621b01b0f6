//! detail::assign_meta: the one place a received datagram's Meta is filled in.
#ifndef MMSG_DETAIL_ASSIGN_META_HPP
#define MMSG_DETAIL_ASSIGN_META_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>

#include <algorithm>
#include <cstddef>

namespace mmsg::detail {

/*! Assigns every field of `m` for one received datagram that was `wire` bytes long, in a
    buffer of `capacity` bytes: size (never above capacity), wire_size, source address and
    flags (`flags`, plus truncated when it did not fit). The one place a Meta is filled.
*/
inline void assign_meta(Meta& m, std::size_t wire, std::size_t capacity, const Endpoint& from,
                        PacketFlags flags) noexcept {
    m.size = std::min(wire, capacity);
    m.wire_size = wire;
    m.addr = from;
    m.flags = flags | (wire > capacity ? PacketFlags::truncated : PacketFlags::none);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ASSIGN_META_HPP
