//! The buffers of a LendingReceiver, pure: where a received datagram lies in one (the layout
//! of a multishot recvmsg), reading what the kernel wrote there, and lending it out as
//! packets (one per datagram, one per segment of a GRO-coalesced one). No system calls:
//! tested and fuzzed without a kernel.
#ifndef MMSG_DETAIL_LENT_DATAGRAMS_HPP
#define MMSG_DETAIL_LENT_DATAGRAMS_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/gro_split.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <liburing.h>
#include <sys/socket.h>

namespace mmsg::detail {

/*! One buffer, as a multishot recvmsg fills it (and as LendingReceiver lays it for recvmmsg
    where io_uring is refused): the kernel's io_uring_recvmsg_out header, the sender's
    address (name_room bytes), the control messages (control_room), then the payload.
*/
struct LendLayout {
    static constexpr std::size_t header = sizeof(io_uring_recvmsg_out);
    //! Room for any IPv4 or IPv6 address (sockaddr_in6 is 28 bytes), 8-aligned.
    static constexpr std::size_t name_room = 32;
    //! Room for every control message mmsg asks for (recv_decode.hpp), 8-aligned.
    static constexpr std::size_t control_room = (recv_control_room + 7) / 8 * 8;
    static constexpr std::size_t payload_offset = header + name_room + control_room;

    std::size_t payload_room = 0; //!< payload bytes per buffer

    std::size_t buffer_size() const noexcept { return payload_offset + payload_room; }
};

//! One datagram as the kernel left it in a buffer, read far enough to lend it.
struct LentMessage {
    const std::byte* payload = nullptr;
    std::size_t wire = 0; //!< its length on the wire (more than in the buffer when cut)
    GroMessage m;         //!< bytes in the buffer (m.len), segments, source, flags, metadata
};

/*! Reads the datagram that a completion of `res` bytes (the kernel's count: header, name,
    control and payload) put into `buf`, laid out as `l`, into `out`; what the control
    messages say about the socket (the drop counter) goes to `state`. Every length the
    header claims is clamped to what the buffer and `res` hold, so nothing is read outside
    them whatever the header says. Returns false for a completion too short to hold the
    layout (the kernel never writes one); nothing is lent from it.
*/
inline bool read_lent(const std::byte* buf, int res, const LendLayout& l, LentMessage& out,
                      SocketState& state) noexcept {
    if (res < 0 || static_cast<std::size_t>(res) < LendLayout::payload_offset) return false;
    io_uring_recvmsg_out o;
    std::memcpy(&o, buf, sizeof o);
    msghdr h{};
    h.msg_name = const_cast<std::byte*>(buf + LendLayout::header);
    h.msg_namelen = static_cast<socklen_t>(std::min<std::size_t>(o.namelen, LendLayout::name_room));
    h.msg_control = const_cast<std::byte*>(buf + LendLayout::header + LendLayout::name_room);
    h.msg_controllen = std::min<std::size_t>(o.controllen, LendLayout::control_room);
    h.msg_flags = static_cast<int>(o.flags);
    const std::size_t bytes = std::min({static_cast<std::size_t>(res) - LendLayout::payload_offset,
                                        l.payload_room, static_cast<std::size_t>(o.payloadlen)});
    out.payload = buf + LendLayout::payload_offset;
    out.wire = std::max<std::size_t>(o.payloadlen, bytes);
    decode_gro(h, bytes, 0, out.m, state);
    return true;
}

/*! Lends the segments of `d` from segment `first` on (a plain datagram is one segment) to
    out[0], out[1], ...: each packet's view (into the buffer) and its meta. Their holds are
    the caller's to count. Returns how many packets were filled: min(out.size(), segments
    left).

    A plain datagram's meta: size = the bytes in the buffer, wire_size = its length on the
    wire, truncated when it was longer than the buffer. A segment's: its own size, the
    coalesced datagram's source, flags and metadata; the last is truncated when the kernel
    cut the datagram.
*/
inline std::size_t lend_segments(const LentMessage& d, std::size_t first,
                                 std::span<LentPacket> out) noexcept {
    const GroMessage& m = d.m;
    std::size_t k = 0;
    if (m.count <= 1) {
        if (first > 0 || out.empty()) return 0;
        Meta& meta = LentAccess::meta(out[0]);
        assign_meta(meta, d.wire, m.len, m.addr,
                    m.flags | (m.cut ? PacketFlags::truncated : PacketFlags::none), m.meta);
        LentAccess::set_view(out[0], d.payload);
        return 1;
    }
    for (std::size_t t = first; t < m.count && k < out.size(); ++t, ++k) {
        const std::size_t len = m.segment_len(t);
        assign_meta(LentAccess::meta(out[k]), len, len, m.addr, m.segment_flags(t, false), m.meta);
        LentAccess::set_view(out[k], d.payload + t * m.seg);
    }
    return k;
}

} // namespace mmsg::detail

#endif // MMSG_HAS_IO_URING
#endif // MMSG_DETAIL_LENT_DATAGRAMS_HPP
