//! Defines mmsg::Meta, the per-datagram metadata of a received packet.
#ifndef MMSG_META_HPP
#define MMSG_META_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#include <cstddef>

namespace mmsg {

//! Metadata of one received datagram; a receive assigns every field of each packet it fills.
struct Meta {
    std::size_t size = 0;                  //!< bytes of payload in the buffer
    Endpoint addr{};                       //!< sender (receive side)
    PacketFlags flags = PacketFlags::none; //!< e.g. truncated
    //! The datagram's length on the wire: size, or more when it was truncated (the bytes
    //! beyond size are lost). An addition to the Meta of the first release, so a truncation says by
    //! how much.
    std::size_t wire_size = 0;

    friend bool operator==(const Meta&, const Meta&) = default;
};

} // namespace mmsg

#endif // MMSG_META_HPP
