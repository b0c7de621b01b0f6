//! Defines mmsg::BasicCoalescedPacket (a received datagram kept whole, as UDP GRO coalesced
//! it, with a bounds-safe view of its segments) and mmsg::CoalescedPacket.
#ifndef MMSG_COALESCED_PACKET_HPP
#define MMSG_COALESCED_PACKET_HPP

#include <mmsg/meta.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <span>

namespace mmsg {

/*! The segments of a coalesced datagram: `count()` spans of `segment_size` bytes back to
    back (the last may be shorter), never reaching past the bytes received. A random-access
    range of std::span<const std::byte>; quinn-udp's "buffer and stride", bounds-checked.
*/
class SegmentView {
public:
    SegmentView() = default;
    SegmentView(std::span<const std::byte> bytes, std::size_t segment_size) noexcept
        : bytes_(bytes), segment_(segment_size == 0 ? bytes.size() : segment_size) {}

    //! How many segments (0 for an empty datagram).
    std::size_t size() const noexcept {
        return segment_ == 0 ? 0 : (bytes_.size() + segment_ - 1) / segment_;
    }
    bool empty() const noexcept { return size() == 0; }
    //! Segment i (i < size()).
    std::span<const std::byte> operator[](std::size_t i) const noexcept {
        const std::size_t off = i * segment_;
        return bytes_.subspan(off, std::min(segment_, bytes_.size() - off));
    }

    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using iterator_concept = std::random_access_iterator_tag;
        using value_type = std::span<const std::byte>;
        using difference_type = std::ptrdiff_t;
        using reference = value_type;
        using pointer = void;

        iterator() = default;
        iterator(const SegmentView* v, std::size_t i) noexcept : v_(v), i_(i) {}
        value_type operator*() const noexcept { return (*v_)[i_]; }
        value_type operator[](difference_type n) const noexcept { return (*v_)[i_ + static_cast<std::size_t>(n)]; }
        iterator& operator++() noexcept { return ++i_, *this; }
        iterator operator++(int) noexcept { return {v_, i_++}; }
        iterator& operator--() noexcept { return --i_, *this; }
        iterator operator--(int) noexcept { return {v_, i_--}; }
        iterator& operator+=(difference_type n) noexcept { return i_ += static_cast<std::size_t>(n), *this; }
        iterator& operator-=(difference_type n) noexcept { return i_ -= static_cast<std::size_t>(n), *this; }
        friend iterator operator+(iterator a, difference_type n) noexcept { return a += n; }
        friend iterator operator+(difference_type n, iterator a) noexcept { return a += n; }
        friend iterator operator-(iterator a, difference_type n) noexcept { return a -= n; }
        friend difference_type operator-(const iterator& a, const iterator& b) noexcept {
            return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }
        friend auto operator<=>(const iterator& a, const iterator& b) noexcept { return a.i_ <=> b.i_; }

    private:
        const SegmentView* v_ = nullptr;
        std::size_t i_ = 0;
    };
    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, size()}; }

private:
    std::span<const std::byte> bytes_;
    std::size_t segment_ = 0;
};

/*! A receive buffer for one datagram kept whole: with UDP GRO, several datagrams of one
    sender coalesced by the kernel into `segment_size`-byte segments back to back; without
    it, one datagram (segment_size == meta.size). For users who read segments in place and
    want no split and no copy (see BatchReceiver::recv_coalesced and doc/gso.adoc).

    `meta` describes the whole: size (all segments' bytes in the buffer), addr, flags
    (truncated when the coalesced datagram was longer than Capacity: wire_size has its
    length), and the per-datagram metadata every segment shares. The default capacity holds
    any datagram GRO can make (an IP packet is at most 64 KiB).
*/
template <std::size_t Capacity = 65536>
struct BasicCoalescedPacket {
    static_assert(Capacity > 0, "mmsg::BasicCoalescedPacket: Capacity must be at least 1 byte");
    static constexpr std::size_t capacity = Capacity;

    std::array<std::byte, Capacity> buffer;
    Meta meta;
    std::size_t segment_size = 0; //!< bytes per segment (the last may be shorter)

    //! All received bytes (meta.size of them).
    std::span<const std::byte> data() const noexcept {
        return {buffer.data(), std::min(meta.size, Capacity)};
    }
    //! The segments, each a datagram as its sender sent it.
    SegmentView segments() const noexcept { return SegmentView(data(), segment_size); }
};

//! A coalesced packet that holds any datagram GRO can make.
using CoalescedPacket = BasicCoalescedPacket<>;

} // namespace mmsg

#endif // MMSG_COALESCED_PACKET_HPP
