//! Defines mmsg::BasicPacketBlock / mmsg::PacketBlock (packets whose buffers lie back to back
//! in one allocation, their Metas apart) and mmsg::BasicPacketBlockView (the same over
//! memory the caller owns): receive targets that let a UDP GRO datagram land in one copy.
#ifndef MMSG_PACKET_BLOCK_HPP
#define MMSG_PACKET_BLOCK_HPP

#include <mmsg/limits.hpp>
#include <mmsg/meta.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace mmsg {

/*! `size()` packets of `Capacity` bytes whose buffers lie back to back from `bytes()`, and
    their Metas at `metas()`: a receive target like a range of BasicPacket<Capacity>, with
    the same results. What it buys: a coalesced (GRO) datagram whose segments are
    `Capacity` bytes lands in the packets with one kernel copy, where packets with their
    own buffers need one per packet (doc/gso.adoc, "Which packets to receive into").
    A view: it owns nothing; copies refer to the same packets.
*/
template <std::size_t Capacity = packet_data_size>
class BasicPacketBlockView {
public:
    static_assert(Capacity > 0, "mmsg::BasicPacketBlockView: Capacity must be at least 1 byte");
    static constexpr std::size_t capacity = Capacity;

    //! Packet i: its buffer and its meta (as BasicPacket's members), and the bytes received.
    struct reference {
        std::span<std::byte, Capacity> buffer;
        Meta& meta;
        std::span<const std::byte> data() const noexcept {
            return {buffer.data(), std::min(meta.size, Capacity)};
        }
    };

    //! A forward iterator whose reference is a `reference` (a proxy, by value).
    class iterator {
    public:
        using value_type = reference;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;

        iterator() = default;
        iterator(const BasicPacketBlockView* v, std::size_t i) noexcept : v_(v), i_(i) {}
        reference operator*() const noexcept { return (*v_)[i_]; }
        iterator& operator++() noexcept { return ++i_, *this; }
        iterator operator++(int) noexcept { return {v_, i_++}; }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

    private:
        const BasicPacketBlockView* v_ = nullptr;
        std::size_t i_ = 0;
    };

    BasicPacketBlockView() = default;
    //! metas.size() packets over `bytes`, which must hold metas.size() * Capacity bytes
    //! (std::invalid_argument otherwise); extra bytes are not used.
    BasicPacketBlockView(std::span<std::byte> bytes, std::span<Meta> metas)
        : bytes_(bytes.data()), metas_(metas.data()), size_(metas.size()) {
        if (bytes.size() / Capacity < metas.size())
            throw std::invalid_argument("mmsg::BasicPacketBlockView: " + std::to_string(bytes.size()) +
                                        " bytes cannot hold " + std::to_string(metas.size()) +
                                        " packets of " + std::to_string(Capacity) + " bytes");
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    //! Packet i (i < size()).
    reference operator[](std::size_t i) const noexcept {
        return {std::span<std::byte, Capacity>(bytes_ + i * Capacity, Capacity), metas_[i]};
    }
    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, size_}; }

    //! Packets [from, size()) (from <= size()).
    BasicPacketBlockView subspan(std::size_t from) const noexcept {
        return BasicPacketBlockView(bytes_ + from * Capacity, metas_ + from, size_ - from);
    }
    //! Packets [0, n) (n <= size()).
    BasicPacketBlockView first(std::size_t n) const noexcept {
        return BasicPacketBlockView(bytes_, metas_, n);
    }

    //! The first packet's buffer; packet i's is at bytes() + i * Capacity.
    std::byte* bytes() const noexcept { return bytes_; }
    Meta* metas() const noexcept { return metas_; }

private:
    BasicPacketBlockView(std::byte* b, Meta* m, std::size_t n) noexcept : bytes_(b), metas_(m), size_(n) {}

    std::byte* bytes_ = nullptr;
    Meta* metas_ = nullptr;
    std::size_t size_ = 0;
};

/*! A BasicPacketBlockView that owns its memory: `count` packets of `Capacity` bytes in one
    allocation (64-byte aligned, left uninitialised: receives overwrite it) and `count`
    Metas. Move-only. Allocates only when constructed (std::bad_alloc).
*/
template <std::size_t Capacity = packet_data_size>
class BasicPacketBlock {
public:
    using view_type = BasicPacketBlockView<Capacity>;
    using reference = typename view_type::reference;
    using iterator = typename view_type::iterator;
    static constexpr std::size_t capacity = Capacity;

    explicit BasicPacketBlock(std::size_t count)
        : bytes_(allocate(count)), metas_(std::make_unique<Meta[]>(count)),
          view_(std::span<std::byte>(bytes_.get(), count * Capacity), std::span<Meta>(metas_.get(), count)) {}
    //! The moved-from block is empty.
    BasicPacketBlock(BasicPacketBlock&& o) noexcept
        : bytes_(std::move(o.bytes_)), metas_(std::move(o.metas_)), view_(std::exchange(o.view_, {})) {}
    BasicPacketBlock& operator=(BasicPacketBlock&& o) noexcept {
        bytes_ = std::move(o.bytes_);
        metas_ = std::move(o.metas_);
        view_ = std::exchange(o.view_, {});
        return *this;
    }

    std::size_t size() const noexcept { return view_.size(); }
    bool empty() const noexcept { return view_.empty(); }
    reference operator[](std::size_t i) const noexcept { return view_[i]; }
    iterator begin() const noexcept { return view_.begin(); }
    iterator end() const noexcept { return view_.end(); }
    //! All its packets, as a view (valid while the block lives and is not moved from).
    view_type view() const noexcept { return view_; }
    operator view_type() const noexcept { return view_; }

private:
    struct Free {
        void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
    };
    static std::unique_ptr<std::byte[], Free> allocate(std::size_t count) {
        if (count > SIZE_MAX / Capacity) throw std::bad_array_new_length();
        const std::size_t n = std::max<std::size_t>(count * Capacity, 1);
        return std::unique_ptr<std::byte[], Free>(
            static_cast<std::byte*>(::operator new[](n, std::align_val_t{64})));
    }

    std::unique_ptr<std::byte[], Free> bytes_;
    std::unique_ptr<Meta[]> metas_;
    view_type view_;
};

//! The default block: packets with room for one IPv6-minimum-MTU payload each.
using PacketBlock = BasicPacketBlock<>;
using PacketBlockView = BasicPacketBlockView<>;

} // namespace mmsg

#endif // MMSG_PACKET_BLOCK_HPP
