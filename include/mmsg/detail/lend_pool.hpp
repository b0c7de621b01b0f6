//! detail::LendPool: the buffers of a LendingReceiver and who holds each one (the kernel, the
//! receiver, or the LentPackets it lent out), outliving the receiver for as long as any of
//! them is lent.
#ifndef MMSG_DETAIL_LEND_POOL_HPP
#define MMSG_DETAIL_LEND_POOL_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/detail/uring_buffers.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

namespace mmsg::detail {

/*! The buffers of one LendingReceiver (a BufferRegion) and a hold count for each: the
    receiver holds a buffer while it still has segments of it to hand out, each LentPacket
    holds the buffer its view points into. A buffer nobody holds goes back to the kernel
    (its provided-buffer ring), or to the receiver's free list when it fills buffers with
    recvmmsg. Made by the receiver; freed by whichever lets go last, the receiver (detach())
    or the last LentPacket (release()), so a LentPacket may outlive its receiver: its view
    stays valid until it is released. Not thread-safe: lent packets are released on the
    receiver's thread.
*/
class LendPool {
public:
    //! A pool of `count` buffers of `size` bytes; null (and `ec`) when it cannot be mapped.
    static LendPool* make(unsigned count, std::size_t size, std::error_code& ec) noexcept {
        std::unique_ptr<LendPool> p(new (std::nothrow) LendPool);
        if (!p) {
            ec = std::make_error_code(std::errc::not_enough_memory);
            return nullptr;
        }
        if ((ec = p->region_.map(count, size))) return nullptr;
        p->holds_.reset(new (std::nothrow) std::uint32_t[count]());
        p->free_.reset(new (std::nothrow) std::uint16_t[count]);
        if (!p->holds_ || !p->free_) {
            ec = std::make_error_code(std::errc::not_enough_memory);
            return nullptr;
        }
        return p.release();
    }

    BufferRegion& region() noexcept { return region_; }
    std::byte* buffer(unsigned bid) const noexcept { return region_.buffer(bid); }

    //! Buffers handed to the kernel and not yet returned with a datagram in them.
    unsigned in_kernel() const noexcept { return in_kernel_; }
    //! Buffers held by the receiver or by lent packets.
    unsigned held() const noexcept { return held_; }
    //! Buffers on the free list (recvmmsg filling only).
    unsigned free_count() const noexcept { return free_count_; }

    //! Publishes the buffers given back since the last call to the kernel's ring (the
    //! receiver does, before each system call that lets the kernel fill buffers).
    void publish() noexcept { in_kernel_ += region_.publish(); }
    //! Buffers given back and not yet published.
    bool unpublished() const noexcept { return region_.unpublished() > 0; }

    //! Every buffer goes to the kernel's ring (`ring` true) or to the free list.
    void start(bool ring) noexcept {
        ring_ = ring;
        if (ring)
            in_kernel_ = region_.count();
        else
            for (unsigned i = 0; i < region_.count(); ++i)
                free_[free_count_++] = static_cast<std::uint16_t>(i);
    }
    //! The kernel returned buffer `bid` with a datagram in it: the receiver holds it now.
    void from_kernel(unsigned bid) noexcept {
        if (in_kernel_ > 0) --in_kernel_;
        hold(bid);
    }
    //! Takes a free buffer for the receiver (free_count() > 0).
    unsigned take_free() noexcept {
        const unsigned bid = free_[--free_count_];
        hold(bid);
        return bid;
    }
    //! One more holder of buffer `bid` (the receiver, or a packet it lends).
    void hold(unsigned bid) noexcept {
        if (holds_[bid]++ == 0) ++held_;
    }
    //! A holder lets go of buffer `bid`; the last one gives it back. Frees the pool when the
    //! receiver has detached and nothing is held any more.
    void release(unsigned bid) noexcept {
        if (--holds_[bid] > 0) return;
        --held_;
        if (!detached_) {
            if (ring_) {
                region_.give(bid); // the kernel sees it at the receiver's next publish()
            } else {
                free_[free_count_++] = static_cast<std::uint16_t>(bid);
            }
        } else if (held_ == 0) {
            delete this;
        }
    }
    //! The receiver is gone (its ring with it): buffers are no longer given back, and the
    //! pool is freed now or when the last lent packet lets go.
    void detach() noexcept {
        detached_ = true;
        if (held_ == 0) delete this;
    }

    ~LendPool() = default;

private:
    LendPool() = default;

    BufferRegion region_;
    std::unique_ptr<std::uint32_t[]> holds_;
    std::unique_ptr<std::uint16_t[]> free_;
    unsigned in_kernel_ = 0;
    unsigned held_ = 0;
    unsigned free_count_ = 0;
    bool ring_ = true;
    bool detached_ = false;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_IO_URING
#endif // MMSG_DETAIL_LEND_POOL_HPP
