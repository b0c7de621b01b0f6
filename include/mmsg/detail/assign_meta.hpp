//! detail::assign_meta: the one place a received datagram's Meta is filled in.
#ifndef MMSG_DETAIL_ASSIGN_META_HPP
#define MMSG_DETAIL_ASSIGN_META_HPP

#include <mmsg/ecn.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mmsg::detail {

//! The per-datagram metadata of a received datagram, as its control messages gave it
//! (defaults for what the socket was not asked for).
struct ReceivedMetadata {
    Ecn ecn = Ecn::not_ect;
    boost::asio::ip::address local{};
    std::uint32_t interface_index = 0;
    std::chrono::nanoseconds timestamp{};
};

/*! Assigns the fields of `m` that all datagrams of one message share (a GRO message's
    segments): source address, flags, and the metadata `md`. On a dual-stack socket an IPv4
    datagram's local address is made IPv4-mapped, like its source. assign_size does the rest.
*/
inline void assign_shared_meta(Meta& m, const Endpoint& from, PacketFlags flags,
                               const ReceivedMetadata& md = {}) noexcept {
    m.addr = from;
    m.flags = flags;
    m.ecn = md.ecn;
    if (md.local.is_v4() && !md.local.is_unspecified() && from.address().is_v6())
        m.local = boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, md.local.to_v4());
    else
        m.local = md.local;
    m.interface_index = md.interface_index;
    m.timestamp = md.timestamp;
}

//! Assigns size (never above capacity) and wire_size of a datagram that was `wire` bytes
//! long in a buffer of `capacity` bytes, and adds truncated when it did not fit.
inline void assign_size(Meta& m, std::size_t wire, std::size_t capacity) noexcept {
    m.size = std::min(wire, capacity);
    m.wire_size = wire;
    if (wire > capacity) m.flags = m.flags | PacketFlags::truncated;
}

/*! Assigns every field of `m` for one received datagram that was `wire` bytes long, in a
    buffer of `capacity` bytes: size (never above capacity), wire_size, source address,
    flags (`flags`, plus truncated when it did not fit) and the metadata `md`.
*/
inline void assign_meta(Meta& m, std::size_t wire, std::size_t capacity, const Endpoint& from,
                        PacketFlags flags, const ReceivedMetadata& md = {}) noexcept {
    assign_shared_meta(m, from, flags, md);
    assign_size(m, wire, capacity);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ASSIGN_META_HPP
