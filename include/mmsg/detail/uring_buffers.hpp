//! detail::BufferRegion: the memory of an io_uring provided-buffer ring (its entry array and
//! its buffers, one mapping), and registering it with a ring (liburing).
#ifndef MMSG_DETAIL_URING_BUFFERS_HPP
#define MMSG_DETAIL_URING_BUFFERS_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/detail/errors.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>

#include <liburing.h>
#include <sys/mman.h>

namespace mmsg::detail {

/*! `count` buffers of `size` bytes (count a power of two, at most 32768) and, in front of
    them, the ring of entries through which they are handed to the kernel, in one anonymous
    mapping: page-aligned as the kernel wants the ring, and touched only where used (so
    large buffers that are never filled cost address space, not memory). Movable.
*/
class BufferRegion {
public:
    BufferRegion() = default;
    BufferRegion(BufferRegion&& o) noexcept
        : base_(std::exchange(o.base_, nullptr)), bytes_(o.bytes_), count_(o.count_),
          size_(o.size_), ring_offset_(o.ring_offset_), unpublished_(o.unpublished_) {}
    BufferRegion& operator=(BufferRegion&& o) noexcept {
        if (this != &o) {
            reset();
            base_ = std::exchange(o.base_, nullptr);
            bytes_ = o.bytes_;
            count_ = o.count_;
            size_ = o.size_;
            ring_offset_ = o.ring_offset_;
            unpublished_ = o.unpublished_;
        }
        return *this;
    }
    BufferRegion(const BufferRegion&) = delete;
    BufferRegion& operator=(const BufferRegion&) = delete;
    ~BufferRegion() { reset(); }

    //! Maps the memory. Returns ENOMEM (or mmap's error) when it cannot, EINVAL for a count
    //! that is not a power of two in [1, 32768] or a size of 0.
    std::error_code map(unsigned count, std::size_t size) noexcept {
        reset();
        if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0)
            return errno_code(EINVAL);
        const std::size_t page = 4096;
        const std::size_t ring = (count * sizeof(io_uring_buf) + page - 1) / page * page;
        bytes_ = ring + static_cast<std::size_t>(count) * size;
        void* p =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return errno_code(errno);
        base_ = static_cast<std::byte*>(p);
        count_ = count;
        size_ = size;
        ring_offset_ = ring;
        io_uring_buf_ring_init(this->ring());
        return {};
    }
    void reset() noexcept {
        if (base_ != nullptr) ::munmap(base_, bytes_);
        base_ = nullptr;
    }

    bool mapped() const noexcept { return base_ != nullptr; }
    io_uring_buf_ring* ring() const noexcept { return reinterpret_cast<io_uring_buf_ring*>(base_); }
    unsigned count() const noexcept { return count_; }
    std::size_t size() const noexcept { return size_; }
    std::byte* buffer(unsigned bid) const noexcept { return base_ + ring_offset_ + bid * size_; }

    //! Hands buffer `bid` to the kernel, after the ones handed before it: its entry is
    //! written now and the kernel sees it at the next publish(). No system call.
    void give(unsigned bid) noexcept {
        io_uring_buf_ring_add(ring(), buffer(bid), static_cast<unsigned>(size_),
                              static_cast<unsigned short>(bid), io_uring_buf_ring_mask(count_),
                              static_cast<int>(unpublished_++));
    }
    unsigned unpublished() const noexcept { return unpublished_; }
    //! Makes the buffers given since the last publish visible to the kernel (one release
    //! store of the ring's tail); returns how many.
    unsigned publish() noexcept {
        const unsigned n = unpublished_;
        if (n > 0) io_uring_buf_ring_advance(ring(), static_cast<int>(n));
        unpublished_ = 0;
        return n;
    }

    /*! Registers the ring with `r` as buffer group `group` and hands every buffer to the
        kernel. Returns the kernel's refusal (EINVAL before Linux 5.19: no buffer rings).
    */
    std::error_code register_with(io_uring& r, unsigned short group) noexcept {
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(ring());
        reg.ring_entries = count_;
        reg.bgid = group;
        if (const int e = io_uring_register_buf_ring(&r, &reg, 0); e < 0) return errno_code(-e);
        for (unsigned i = 0; i < count_; ++i)
            give(i);
        publish();
        return {};
    }

private:
    std::byte* base_ = nullptr;
    std::size_t bytes_ = 0;
    unsigned count_ = 0;
    std::size_t size_ = 0;
    std::size_t ring_offset_ = 0;
    unsigned unpublished_ = 0;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_IO_URING
#endif // MMSG_DETAIL_URING_BUFFERS_HPP
