//! Defines mmsg::LentPacket: a received datagram lent by a LendingReceiver, a view into the
//! receiver's buffer that gives the buffer back when released.
#ifndef MMSG_LENT_PACKET_HPP
#define MMSG_LENT_PACKET_HPP

#include <mmsg/config.hpp>
#include <mmsg/meta.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/detail/lend_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace mmsg {

class LendingReceiver;
namespace detail {
struct LentAccess;
}

/*! One received datagram (or one segment of a GRO-coalesced one), lent by a LendingReceiver:
    data() is a view of the bytes where the kernel put them, in the receiver's buffer, with
    no copy; meta() describes it as Meta does for BasicPacket (size, sender, flags, ECN,
    local address, timestamp, wire_size).

    The buffer is held until the packet is released: release(), destruction, assigning
    another packet to it, or passing it to LendingReceiver::receive again. A buffer the
    segments of one coalesced datagram share goes back when the last of them is released.
    Until then the receiver cannot use that buffer: a user who holds many packets slows the
    receiver down and, holding all of them, stops it (LendingReceiver reports
    no_buffer_space). A packet may outlive its receiver; its view stays valid until release.

    Move-only. Not thread-safe: release packets on the thread that uses their receiver. An
    empty packet (default-constructed, moved from, released) has empty data() and a
    default meta().
*/
class LentPacket {
public:
    LentPacket() = default;
    LentPacket(LentPacket&& o) noexcept
        : pool_(std::exchange(o.pool_, nullptr)), bid_(o.bid_), data_(o.data_), meta_(o.meta_) {}
    LentPacket& operator=(LentPacket&& o) noexcept {
        if (this != &o) {
            release();
            pool_ = std::exchange(o.pool_, nullptr);
            bid_ = o.bid_;
            data_ = o.data_;
            meta_ = o.meta_;
        }
        return *this;
    }
    LentPacket(const LentPacket&) = delete;
    LentPacket& operator=(const LentPacket&) = delete;
    ~LentPacket() { release(); }

    //! The datagram's bytes (meta().size of them), in the receiver's buffer.
    std::span<const std::byte> data() const noexcept { return {data_, pool_ ? meta_.size : 0}; }
    //! Its metadata; default when empty.
    const Meta& meta() const noexcept { return meta_; }
    //! Whether it holds a datagram.
    bool empty() const noexcept { return pool_ == nullptr; }
    explicit operator bool() const noexcept { return pool_ != nullptr; }

    //! Gives the buffer back now (if this is its last holder) and empties the packet.
    void release() noexcept {
        if (pool_ == nullptr) return;
        detail::LendPool* p = std::exchange(pool_, nullptr);
        meta_ = Meta{};
        data_ = nullptr;
        p->release(bid_);
    }

private:
    friend struct detail::LentAccess;

    detail::LendPool* pool_ = nullptr;
    std::uint32_t bid_ = 0;
    const std::byte* data_ = nullptr;
    Meta meta_{};
};

namespace detail {
//! What a receiver (and the pure code that fills packets) may do to a LentPacket.
struct LentAccess {
    //! The packet's view and metadata, for the filling code; `data` must lie in buffer `bid`.
    static Meta& meta(LentPacket& p) noexcept { return p.meta_; }
    static void set_view(LentPacket& p, const std::byte* data) noexcept { p.data_ = data; }
    //! The view's start, whether or not the packet holds a buffer (for tests and fuzzers).
    static const std::byte* view(const LentPacket& p) noexcept { return p.data_; }
    //! Makes `p` a holder of buffer `bid` of `pool` (the caller counted the hold).
    static void lend(LentPacket& p, LendPool* pool, unsigned bid) noexcept {
        p.pool_ = pool;
        p.bid_ = bid;
    }
};
} // namespace detail

} // namespace mmsg

#endif // MMSG_HAS_IO_URING
#endif // MMSG_LENT_PACKET_HPP
