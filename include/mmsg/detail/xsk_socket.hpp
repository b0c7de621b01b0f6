//! detail::XskSocket: one AF_XDP socket with its UMEM and four rings (through libxdp), set up
//! once: the transmit half of the UMEM as a stack of free frames, the receive half lent to
//! the kernel through the fill ring. Frame memory and rings only; what goes in a frame and
//! which datagram it is are XdpBackend's.
#ifndef MMSG_DETAIL_XSK_SOCKET_HPP
#define MMSG_DETAIL_XSK_SOCKET_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_XDP

#include <mmsg/detail/errors.hpp>
#include <mmsg/xdp_options.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <thread>

#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

namespace mmsg::detail {

// XDP_MAX_TX_SKB_BUDGET (Linux 6.17): how many frames one copy-mode transmit call may take
// (else 32). Not in older uapi headers.
inline constexpr int xdp_max_tx_skb_budget = 9;

class XskSocket {
public:
    XskSocket() = default;
    XskSocket(const XskSocket&) = delete;
    XskSocket& operator=(const XskSocket&) = delete;
    ~XskSocket() { close(); }

    /*! Creates the UMEM, the socket and its rings, bound to queue o.queue of `ifname`, copy
        or zero copy as `o` says, and lends every receive frame to the kernel. A queue that is
        busy (a socket closed moments ago is released about 20 ms later) is tried again until
        o.busy_retry has passed. Errors: the kernel's, as XdpErrc where one says more.
    */
    std::error_code open(const XdpOptions& o, const char* ifname) {
        frame_size_ = o.frame_size;
        tx_frames_ = o.frames / 2;
        const auto deadline = std::chrono::steady_clock::now() + o.busy_retry;
        for (;;) {
            const int e = try_open(o, ifname);
            if (e == 0) break;
            close();
            if (e != EBUSY) return classify(e, o);
            if (std::chrono::steady_clock::now() >= deadline) return XdpErrc::queue_busy;
            // The kernel gives no event when a released queue becomes free: try again soon.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        // A bigger copy-mode transmit budget where the kernel has it: one kick per batch.
        const int budget = static_cast<int>(o.ring_size);
        ::setsockopt(fd(), SOL_XDP, xdp_max_tx_skb_budget, &budget, sizeof budget);
        free_.reset(new std::uint64_t[tx_frames_]);
        for (std::uint32_t i = 0; i < tx_frames_; ++i) free_[i] = std::uint64_t{i} * frame_size_;
        free_count_ = tx_frames_;
        // Every receive frame to the kernel.
        const std::uint32_t rx_frames = o.frames - tx_frames_;
        std::uint32_t at = 0;
        const std::uint32_t n = xsk_ring_prod__reserve(&fill_, rx_frames, &at);
        for (std::uint32_t i = 0; i < n; ++i)
            *xsk_ring_prod__fill_addr(&fill_, at + i) = std::uint64_t{tx_frames_ + i} * frame_size_;
        xsk_ring_prod__submit(&fill_, n);
        zero_copy_ = o.zero_copy;
        return {};
    }

    int fd() const noexcept { return xsk_ != nullptr ? xsk_socket__fd(xsk_) : -1; }
    std::uint32_t frame_size() const noexcept { return frame_size_; }
    std::byte* frame(std::uint64_t addr) const noexcept { return static_cast<std::byte*>(area_) + addr; }

    // ---- transmit ------------------------------------------------------------------------

    //! Takes back every frame the kernel has finished sending (the completion ring).
    void reclaim() noexcept {
        std::uint32_t at = 0;
        const std::uint32_t n = xsk_ring_cons__peek(&comp_, tx_frames_, &at);
        for (std::uint32_t i = 0; i < n; ++i) free_[free_count_++] = *xsk_ring_cons__comp_addr(&comp_, at + i);
        xsk_ring_cons__release(&comp_, n);
    }
    std::uint32_t free_frames() const noexcept { return free_count_; }
    //! Frames handed to the kernel and not yet completed.
    std::uint32_t in_flight() const noexcept { return tx_frames_ - free_count_; }
    //! Reserves one transmit descriptor with a free frame for it; false when the ring or
    //! the frames are all in use.
    bool reserve(std::uint32_t& at) noexcept {
        return free_count_ > 0 && xsk_ring_prod__reserve(&tx_, 1, &at) == 1;
    }
    //! A free frame (reserve() said there is one).
    std::uint64_t take_frame() noexcept { return free_[--free_count_]; }
    xdp_desc& descriptor(std::uint32_t at) noexcept { return *xsk_ring_prod__tx_desc(&tx_, at); }
    //! Publishes the `n` descriptors reserved (and filled) since the last submit.
    void submit(std::uint32_t n) noexcept { xsk_ring_prod__submit(&tx_, n); }
    bool ring_empty() const noexcept {
        return xsk_ == nullptr || __atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE) == *tx_.producer;
    }

    /*! Tells the kernel to send what is in the ring. Copy mode sends in the call: kick until
        the kernel has taken every descriptor or stops taking them (the device is busy; what
        is left goes at the next kick). Zero copy: one wake-up, when the driver asks for it.
        Returns an error only when the socket is unusable (ENXIO: the device went away).
    */
    std::error_code kick() noexcept {
        if (zero_copy_) {
            if (xsk_ring_prod__needs_wakeup(&tx_)) ::sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
            return {};
        }
        for (int rounds = 0; rounds < 64 && !ring_empty(); ++rounds) {
            const std::uint32_t before = __atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE);
            if (::sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) continue;
            const int e = errno;
            if (e == ENXIO || e == EBADF) return errno_code(e);
            // EAGAIN: the per-call budget, or a busy device; EBUSY: one frame dropped (down
            // device); ENETDOWN; ENOBUFS. Go on while the kernel keeps taking frames.
            if (e != EINTR && __atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE) == before) break;
        }
        return {};
    }

    // ---- receive -------------------------------------------------------------------------

    //! Up to `max` received descriptors, the first at `at`.
    std::uint32_t peek(std::uint32_t max, std::uint32_t& at) noexcept { return xsk_ring_cons__peek(&rx_, max, &at); }
    const xdp_desc& received(std::uint32_t at) const noexcept { return *xsk_ring_cons__rx_desc(&rx_, at); }
    //! Gives the `n` peeked frames back to the kernel (fill ring) and releases them.
    void refill(std::uint32_t first, std::uint32_t n) noexcept {
        std::uint32_t at = 0;
        // The fill ring has room for every receive frame, so this reserve cannot fail.
        xsk_ring_prod__reserve(&fill_, n, &at);
        const std::uint64_t mask = ~std::uint64_t{frame_size_ - 1};
        for (std::uint32_t i = 0; i < n; ++i)
            *xsk_ring_prod__fill_addr(&fill_, at + i) = xsk_ring_cons__rx_desc(&rx_, first + i)->addr & mask;
        xsk_ring_prod__submit(&fill_, n);
        xsk_ring_cons__release(&rx_, n);
        if (xsk_ring_prod__needs_wakeup(&fill_)) ::recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }

    //! The kernel's counters of this socket (XDP_STATISTICS).
    xdp_statistics statistics() const noexcept {
        xdp_statistics s{};
        socklen_t len = sizeof s;
        if (xsk_ != nullptr) ::getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &s, &len);
        return s;
    }

    void close() noexcept {
        if (xsk_ != nullptr) xsk_socket__delete(xsk_);
        if (umem_ != nullptr) xsk_umem__delete(umem_);
        if (area_ != nullptr) ::munmap(area_, area_size_);
        xsk_ = nullptr;
        umem_ = nullptr;
        area_ = nullptr;
        fill_ = tx_ = xsk_ring_prod{};
        comp_ = rx_ = xsk_ring_cons{};
    }

private:
    // One attempt; 0 or an errno value.
    int try_open(const XdpOptions& o, const char* ifname) noexcept {
        area_size_ = std::size_t{o.frames} * o.frame_size;
        void* a = ::mmap(nullptr, area_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (a == MAP_FAILED) return errno;
        area_ = a;
        xsk_umem_config uc{};
        uc.fill_size = o.ring_size;
        uc.comp_size = o.ring_size;
        uc.frame_size = o.frame_size;
        uc.frame_headroom = 0;
        if (const int e = xsk_umem__create(&umem_, area_, area_size_, &fill_, &comp_, &uc); e < 0) {
            umem_ = nullptr;
            return -e;
        }
        xsk_socket_config sc{};
        sc.rx_size = o.ring_size;
        sc.tx_size = o.ring_size;
        sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; // the program is XdpQueue's own
        sc.bind_flags = static_cast<std::uint16_t>((o.zero_copy ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP);
        if (const int e = xsk_socket__create(&xsk_, ifname, o.queue, umem_, &rx_, &tx_, &sc); e < 0) {
            xsk_ = nullptr;
            return -e;
        }
        return 0;
    }
    static std::error_code classify(int e, const XdpOptions& o) noexcept {
        switch (e) {
        case EPERM:
        case EACCES: return XdpErrc::no_permission;
        case ENODEV: return XdpErrc::no_such_interface;
        case EOPNOTSUPP: return o.zero_copy ? XdpErrc::zero_copy_refused : XdpErrc::driver_refused;
        case EINVAL: return XdpErrc::driver_refused; // e.g. a queue the device does not have
        default: return errno_code(e);
        }
    }

    void* area_ = nullptr;
    std::size_t area_size_ = 0;
    xsk_umem* umem_ = nullptr;
    xsk_socket* xsk_ = nullptr;
    xsk_ring_prod fill_{}, tx_{};
    xsk_ring_cons comp_{}, rx_{};
    std::uint32_t frame_size_ = 0;
    std::uint32_t tx_frames_ = 0;
    std::unique_ptr<std::uint64_t[]> free_;
    std::uint32_t free_count_ = 0;
    bool zero_copy_ = false;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_XDP
#endif // MMSG_DETAIL_XSK_SOCKET_HPP
