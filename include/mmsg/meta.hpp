//! Defines mmsg::Meta, the per-datagram metadata of a received packet.
#ifndef MMSG_META_HPP
#define MMSG_META_HPP

#include <mmsg/ecn.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mmsg {

/*! Metadata of one received datagram; a receive assigns every field of each packet it
    fills. Fields whose metadata was not requested (see request_metadata) keep their
    defaults on every receive. Every segment of a GRO-coalesced datagram gets that
    datagram's metadata.
*/
struct Meta {
    std::size_t size = 0;                   //!< bytes of payload in the buffer
    Endpoint addr{};                        //!< sender
    PacketFlags flags = PacketFlags::none;  //!< truncated, control_truncated
    Ecn ecn = Ecn::not_ect;                 //!< ECN codepoint (needs Metadata::ecn)
    //! Address the datagram was sent to (needs Metadata::local_address); on a dual-stack
    //! socket an IPv4 datagram's is IPv4-mapped, in the same form as `addr`.
    boost::asio::ip::address local{};
    std::uint32_t interface_index = 0;      //!< interface it arrived on (Metadata::local_address)
    //! Kernel receive time, CLOCK_REALTIME since the epoch (Metadata::timestamp); zero when
    //! not requested.
    std::chrono::nanoseconds timestamp{};
    //! The datagram's length on the wire: size, or more when it was truncated (the bytes
    //! beyond size are lost). An addition to DESIGN's Meta, so a truncation says by how much.
    std::size_t wire_size = 0;

    friend bool operator==(const Meta&, const Meta&) = default;
};

} // namespace mmsg

#endif // MMSG_META_HPP
