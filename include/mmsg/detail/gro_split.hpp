//! Splitting UDP_GRO-coalesced datagrams into packets, and the per-socket store of segments
//! kept for the next receive. No system calls: tested and fuzzed without a kernel.
#ifndef MMSG_DETAIL_GRO_SPLIT_HPP
#define MMSG_DETAIL_GRO_SPLIT_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include <sys/socket.h>

namespace mmsg::detail {

//! One received message as the kernel left it, decoded: a plain datagram (count 1) or a
//! coalesced one of `count` segments of `seg` bytes (the last may be shorter).
struct GroMessage {
    std::size_t len = 0;       //!< bytes the kernel reported (its length on the wire)
    std::size_t seg = 0;       //!< segment size (len for a plain datagram)
    std::size_t count = 1;     //!< segments
    std::size_t first_out = 0; //!< index, among all segments of the call, of its first one
    Endpoint addr{};
    PacketFlags flags = PacketFlags::none; //!< control_truncated
    bool cut = false;                      //!< MSG_TRUNC: the kernel cut the message
    ReceivedMetadata meta{};               //!< every segment's metadata

    //! Bytes of segment t, and whether the packet it goes to cuts it (capacity `cap`).
    std::size_t segment_len(std::size_t t) const noexcept { return std::min(seg, len - t * seg); }
    PacketFlags segment_flags(std::size_t t, bool too_long) const noexcept {
        const bool truncated = too_long || (cut && t + 1 == count);
        return flags | (truncated ? PacketFlags::truncated : PacketFlags::none);
    }
};

/*! Decodes message `h` (msg_len bytes): its segment size from UDP_GRO, its source, flags
    and metadata; the kernel's drop counter goes to `state`. `first_out` is where its
    segments start among the call's. Returns its segment count.
*/
inline std::size_t decode_gro(const msghdr& h, std::size_t msg_len, std::size_t first_out,
                              GroMessage& m, SocketState& state) noexcept {
    const RecvControl c = parse_control(h);
    if (c.has_drops) state.note_drops(c.drops);
    m.len = msg_len;
    if (c.gro_segment > 0 && msg_len > c.gro_segment) {
        m.seg = c.gro_segment;
        m.count = (msg_len + m.seg - 1) / m.seg;
    } else {
        m.seg = msg_len;
        m.count = 1;
    }
    m.first_out = first_out;
    m.addr = source_of(h);
    m.flags = c.control_truncated ? PacketFlags::control_truncated : PacketFlags::none;
    m.cut = (h.msg_flags & MSG_TRUNC) != 0;
    m.meta = c.meta;
    return m.count;
}

/*! Where received bytes lie. `train`: one message laid over every slot in order, then the
    spill area (so a coalesced datagram whose segments have the slots' capacity lands in
    place); otherwise message j is slot j, then spill area j (each `spill_room` bytes).
*/
struct GroLayout {
    std::span<const RecvSlot> slots;
    std::byte* spill = nullptr;
    std::size_t spill_room = 0;
    bool train = false;

    //! A contiguous piece of a message: its bytes [start, start + len), at ptr.
    struct Region {
        std::size_t start;
        std::size_t len;
        std::byte* ptr;
    };
    //! The piece of message j that holds its byte `off`.
    Region region(std::size_t j, std::size_t off) const noexcept {
        if (train) {
            const std::size_t cap = slots[0].capacity;
            const std::size_t in_slots = cap * slots.size();
            if (off < in_slots) {
                const std::size_t k = off / cap;
                return {k * cap, cap, slots[k].data};
            }
            return {in_slots, spill_room, spill};
        }
        const std::size_t cap = slots[j].capacity;
        if (off < cap) return {0, cap, slots[j].data};
        return {cap, spill_room, spill + j * spill_room};
    }
    //! Where byte `off` of message j is.
    const std::byte* at(std::size_t j, std::size_t off) const noexcept {
        const Region r = region(j, off);
        return r.ptr + (off - r.start);
    }
    /*! Copies bytes [off, off + len) of message j to dst, piece by piece, in the order that
        is safe when dst lies after (backward) or before (forward) the source.
    */
    void copy_out(std::size_t j, std::size_t off, std::size_t len, std::byte* dst,
                  bool backward) const noexcept {
        if (backward) {
            for (std::size_t e = off + len; e > off;) {
                const Region r = region(j, e - 1);
                const std::size_t b = std::max(r.start, off);
                std::memmove(dst + (b - off), r.ptr + (b - r.start), e - b);
                e = b;
            }
        } else {
            for (std::size_t b = off; b < off + len;) {
                const Region r = region(j, b);
                const std::size_t e = std::min(r.start + r.len, off + len);
                std::memmove(dst + (b - off), r.ptr + (b - r.start), e - b);
                b = e;
            }
        }
    }
};

/*! Segments a receive could not hand out (more than the caller had packets for), kept in
    order for the socket's next receive: a SocketState part of LinuxGsoBackend. Nothing is
    dropped; pending() says how many are owed.
*/
class KeptSegments {
public:
    std::size_t pending() const noexcept { return items_.size() - next_; }

    //! Hands kept segments out to `slots` from the front; returns how many.
    std::size_t take(std::span<const RecvSlot> slots) noexcept {
        std::size_t i = 0;
        for (; i < slots.size() && next_ < items_.size(); ++i, ++next_) {
            const Item& k = items_[next_];
            const std::size_t c = std::min(k.size, slots[i].capacity);
            if (c > 0) std::memcpy(slots[i].data, bytes_.data() + k.offset, c);
            assign_meta(*slots[i].meta, k.size, slots[i].capacity, k.addr, k.flags, k.meta);
        }
        if (next_ == items_.size()) clear();
        return i;
    }

    //! Keeps the segments of messages[0, got) that have no packet among the first `n`.
    void keep(const GroLayout& layout, std::span<const GroMessage> messages, std::size_t n) {
        std::size_t bytes = 0, count = 0;
        for (const GroMessage& m : messages)
            for (std::size_t t = 0; t < m.count; ++t)
                if (m.first_out + t >= n) {
                    bytes += m.segment_len(t);
                    ++count;
                }
        clear();
        items_.reserve(count);
        if (bytes_.size() < bytes) bytes_.resize(bytes);
        std::size_t at = 0;
        for (std::size_t j = 0; j < messages.size(); ++j) {
            const GroMessage& m = messages[j];
            for (std::size_t t = 0; t < m.count; ++t) {
                if (m.first_out + t < n) continue;
                const std::size_t len = m.segment_len(t);
                layout.copy_out(j, t * m.seg, len, bytes_.data() + at, false);
                // Truncation to the packet is decided when it is handed out.
                items_.push_back(Item{at, len, m.addr, m.segment_flags(t, false), m.meta});
                at += len;
            }
        }
    }

    void clear() noexcept {
        items_.clear();
        next_ = 0;
    }

private:
    struct Item {
        std::size_t offset;
        std::size_t size;
        Endpoint addr;
        PacketFlags flags;
        ReceivedMetadata meta;
    };
    std::vector<std::byte> bytes_;
    std::vector<Item> items_;
    std::size_t next_ = 0;
};

//! The Meta every segment of `m` shares (source, flags, metadata), assigned once.
inline Meta shared_meta(const GroMessage& m) noexcept {
    Meta shared;
    assign_shared_meta(shared, m.addr, m.flags, m.meta);
    return shared;
}
//! The Meta of segment t of `m` in a packet of `capacity` bytes, from shared_meta(m).
inline void assign_segment_meta(Meta& out, const Meta& shared, const GroMessage& m, std::size_t t,
                                std::size_t capacity) noexcept {
    out = shared;
    out.flags = m.segment_flags(t, false);
    assign_size(out, m.segment_len(t), capacity);
}

/*! Moves the first min(m.count, slots) segments of `m`, laid over the slots in order
    (GroLayout::train) with segments shorter than the slots' capacity `cap`, each into its
    slot, and assigns their meta. From the last segment back: segment t's bytes lie below
    byte t * cap, where its slot starts, so every segment moves before its slot is
    overwritten; one lying across two slots moves its second piece first.
*/
inline void repack_train(const GroMessage& m, std::span<const RecvSlot> slots, std::size_t cap) noexcept {
    const std::size_t k = std::min(m.count, slots.size());
    if (k == 0) return;
    const Meta shared = shared_meta(m);
    std::size_t q = (k - 1) * m.seg / cap; // slot holding the segment's first byte
    std::size_t q_start = q * cap;
    for (std::size_t t = k; t-- > 0;) {
        const std::size_t off = t * m.seg;
        while (q_start > off) {
            --q;
            q_start -= cap;
        }
        const std::size_t len = std::min(m.segment_len(t), cap);
        std::byte* dst = slots[t].data;
        const std::byte* src = slots[q].data + (off - q_start);
        if (src != dst) {
            const std::size_t first = std::min(len, q_start + cap - off);
            if (first < len) std::memmove(dst + first, slots[q + 1].data, len - first);
            std::memmove(dst, src, first);
        }
        assign_segment_meta(*slots[t].meta, shared, m, t, cap);
    }
}

/*! Puts the segments of `messages` (`total` segments in all) into the layout's slots and
    keeps those beyond them in `kept`; returns how many slots were filled. Assigns each
    filled slot's meta: size, wire_size, source, flags (truncated when the segment was
    longer than its packet or the kernel cut the message; control_truncated).
*/
inline std::size_t split_gro(const GroLayout& layout, std::span<const GroMessage> messages,
                             std::size_t total, KeptSegments& kept) {
    const std::span<const RecvSlot> slots = layout.slots;
    const std::size_t n = slots.size();
    // Segments beyond the packets are kept first, before anything is moved.
    if (total > n) kept.keep(layout, messages, n);

    if (layout.train && messages[0].seg == slots[0].capacity) {
        // The common case: every segment is already in its packet; only metadata.
        const GroMessage& m = messages[0];
        const Meta shared = shared_meta(m);
        const std::size_t k = std::min(m.count, n);
        for (std::size_t t = 0; t < k; ++t) assign_segment_meta(*slots[t].meta, shared, m, t, slots[t].capacity);
        return std::min(total, n);
    }
    if (layout.train && messages[0].seg < slots[0].capacity) {
        repack_train(messages[0], slots, slots[0].capacity);
        return std::min(total, n);
    }

    // Otherwise segments are copied piece by piece. Packets only ever receive data from the
    // same or an earlier place in the layout when segments are not larger than packets, so
    // going from the last segment back moves each one before its packet is overwritten;
    // larger segments (train layout only) go front to back for the mirror reason.
    auto place = [&](std::size_t j, std::size_t t, const Meta& shared, bool backward) {
        const GroMessage& m = messages[j];
        const std::size_t p = m.first_out + t;
        if (p >= n) return;
        const std::size_t off = t * m.seg;
        const std::size_t c = std::min(m.segment_len(t), slots[p].capacity);
        if (c > 0 && layout.at(j, off) != slots[p].data)
            layout.copy_out(j, off, c, slots[p].data, backward);
        assign_segment_meta(*slots[p].meta, shared, m, t, slots[p].capacity);
    };
    if (layout.train) {
        const Meta shared = shared_meta(messages[0]);
        for (std::size_t t = 0; t < messages[0].count; ++t) place(0, t, shared, false);
    } else {
        for (std::size_t j = messages.size(); j-- > 0;) {
            const Meta shared = shared_meta(messages[j]);
            for (std::size_t t = messages[j].count; t-- > 0;) place(j, t, shared, true);
        }
    }
    return std::min(total, n);
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_GRO_SPLIT_HPP
