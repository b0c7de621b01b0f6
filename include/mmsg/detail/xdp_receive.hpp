//! detail::take_frames: XdpBackend's receive loop: datagrams from an AF_XDP receive ring
//! copied into the slots, each Meta filled as a kernel socket would (source, truncation, and
//! ECN, local address and interface when the socket asked for them), frames given back.
#ifndef MMSG_DETAIL_XDP_RECEIVE_HPP
#define MMSG_DETAIL_XDP_RECEIVE_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_XDP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/udp_frame.hpp>
#include <mmsg/detail/xdp_socket_view.hpp>
#include <mmsg/detail/xsk_socket.hpp>
#include <mmsg/ecn.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace mmsg::detail {

//! An address of a frame as an Endpoint: IPv4-mapped when `as_v6` (a dual-stack socket).
inline Endpoint frame_endpoint(bool v6, const IpBytes& a, std::uint16_t port, bool as_v6) {
    if (v6) {
        boost::asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), a.data(), 16);
        return {boost::asio::ip::address_v6(b), port};
    }
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), a.data(), 4);
    const boost::asio::ip::address_v4 v4(b);
    if (as_v6) return {boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, v4), port};
    return {v4, port};
}

//! What take_frames did: datagrams into slots, and frames that were for no receiving socket.
struct Taken {
    std::size_t got = 0;
    std::size_t stray = 0;
};

/*! Takes up to slots.size() datagrams from `xsk`'s receive ring into the slots, in order,
    for the socket `v` (of device `ifindex`). A frame that is not one of its datagrams (it
    was redirected for a socket that received here before, and is gone) is counted stray.
    Every frame taken goes back to the kernel (fill ring).
*/
inline Taken take_frames(XskSocket& xsk, const XdpSocketView& v, std::uint32_t ifindex, std::span<const RecvSlot> slots) {
    std::uint32_t first = 0;
    const std::uint32_t n = xsk.peek(static_cast<std::uint32_t>(slots.size()), first);
    Taken t;
    for (std::uint32_t k = 0; k < n; ++k) {
        const xdp_desc& d = xsk.received(first + k);
        const std::span<const std::byte> frame(xsk.frame(d.addr), d.len);
        ParsedUdpFrame f;
        const bool ours = parse_udp_frame(frame, f) && f.dst_port == v.port &&
                          (v.any || (f.v6 == (v.v6 && !v.mapped) && f.dst == v.local)) &&
                          (f.v6 ? v.v6 : (!v.v6 || !v.v6only));
        if (!ours) {
            ++t.stray;
            continue;
        }
        const RecvSlot& slot = slots[t.got++];
        std::memcpy(slot.data, frame.data() + f.payload_offset, std::min(f.payload_size, slot.capacity));
        ReceivedMetadata md;
        if (f.v6 ? v.ecn6 : v.ecn4) md.ecn = static_cast<Ecn>(f.tos & 3);
        if (f.v6 ? v.local6 : v.local4) {
            md.local = frame_endpoint(f.v6, f.dst, 0, false).address();
            md.interface_index = ifindex;
        }
        assign_meta(*slot.meta, f.payload_size, slot.capacity, frame_endpoint(f.v6, f.src, f.src_port, v.v6),
                    PacketFlags::none, md);
    }
    xsk.refill(first, n);
    return t;
}

} // namespace mmsg::detail

#endif // MMSG_HAS_XDP
#endif // MMSG_DETAIL_XDP_RECEIVE_HPP
