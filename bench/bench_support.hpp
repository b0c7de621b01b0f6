//! Shared helpers for mmsg-perf rows: loopback sockets, a payload batch, the system calls
//! behind what mmsg::Counting counted, timed send/receive drivers, and a sender thread (Feeder) that keeps
//! a receiver's queue full for receive rows. Loopback only; every loop is bounded in
//! count and time.
#ifndef MMSG_BENCH_BENCH_SUPPORT_HPP
#define MMSG_BENCH_BENCH_SUPPORT_HPP

#include "perf_rows.hpp"

#include <mmsg/backend/portable.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/ip/address_v4.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mmsg::bench {

using Clock = std::chrono::steady_clock;

inline std::string errno_text(const char* what, int e = errno) {
    return std::string(what) + ": " + std::generic_category().message(e);
}

#if MMSG_HAS_UDP_GSO
//! What one hand-written UDP_GRO recvmsg(2) got: its byte count (-1 with errno set on
//! failure) and the datagrams that held (segments counted by the UDP_GRO size, not split).
struct RawGro {
    ssize_t bytes = -1;
    std::size_t datagrams = 0;
};

//! The raw rows' UDP_GRO receive, one recvmsg(2) of `fd` into `buf` with `flags`.
inline RawGro raw_gro_recv(int fd, std::span<std::byte> buf, int flags) {
    alignas(cmsghdr) unsigned char ctl[64];
    sockaddr_storage from;
    iovec iov{buf.data(), buf.size()};
    msghdr h{};
    h.msg_name = &from;
    h.msg_namelen = sizeof from;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = ctl;
    h.msg_controllen = sizeof ctl;
    RawGro g;
    g.bytes = ::recvmsg(fd, &h, flags);
    if (g.bytes < 0) return g;
    std::size_t seg = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            seg = static_cast<std::size_t>(v);
        }
    const auto len = static_cast<std::size_t>(g.bytes);
    g.datagrams = seg > 0 && len > seg ? (len + seg - 1) / seg : 1;
    return g;
}
#endif

//! How many system calls one call of a backend makes: one (LinuxMmsgBackend and the other
//! batching backends), or one per datagram (PortableBackend, which loops sendto / recvmsg
//! inside one backend call).
enum class CallCost { one_syscall, per_datagram };
template <class B>
inline constexpr CallCost call_cost = CallCost::one_syscall;
template <>
inline constexpr CallCost call_cost<PortableBackend> = CallCost::per_datagram;
template <class B>
inline constexpr CallCost call_cost<Counting<B>> = call_cost<B>;

/*! The system calls behind what a Counting<B> backend counted, for the "syscalls per
    datagram" column (every row that runs mmsg counts with Counting): one per backend call;
    or, for B of CallCost::per_datagram, one per datagram it moved or had refused, plus one
    for each call that stopped on would-block or EINTR. (Such a receive that finds the
    queue empty after some datagrams reports no would-block, so that last recvmsg is not
    counted; under the receive rows' flood calls fill their packets and end there.)
*/
template <class B>
std::size_t syscalls(const Counting<B>& b) noexcept {
    const CountingStats& s = b.stats();
    if constexpr (call_cost<B> == CallCost::one_syscall)
        return s.send_calls + s.recv_calls;
    else
        return s.datagrams_sent + s.datagrams_failed + s.datagrams_received + s.would_block +
               s.interrupted;
}

//! An owned UDP/IPv4 socket on 127.0.0.1.
class LoopbackSocket {
public:
    //! Opens a socket bound to 127.0.0.1:port (port 0: any free port). Throws
    //! std::system_error when the kernel refuses.
    explicit LoopbackSocket(std::uint16_t port = 0)
        : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        const Endpoint want(boost::asio::ip::address_v4::loopback(), port);
        if (::bind(fd_, static_cast<const sockaddr*>(want.data()),
                   static_cast<socklen_t>(want.size())) != 0) {
            const int e = errno;
            ::close(fd_);
            throw std::system_error(e, std::generic_category(),
                                    "bind 127.0.0.1:" + std::to_string(port));
        }
        socklen_t len = static_cast<socklen_t>(local_.capacity());
        ::getsockname(fd_, static_cast<sockaddr*>(local_.data()), &len);
        local_.resize(len);
    }
    LoopbackSocket(LoopbackSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), local_(o.local_) {}
    LoopbackSocket& operator=(LoopbackSocket&&) = delete;
    ~LoopbackSocket() {
        if (fd_ >= 0) ::close(fd_);
    }

    int fd() const noexcept { return fd_; }
    int native_handle() const noexcept { return fd_; }
    const Endpoint& local() const noexcept { return local_; }

    //! Asks for a receive buffer of `bytes` (beyond rmem_max when root), best effort.
    void set_rcvbuf(int bytes) noexcept {
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    //! Blocking receives give up after `t` (so a receive row can never hang).
    void set_rcvtimeo(std::chrono::milliseconds t) noexcept {
        timeval tv{static_cast<time_t>(t.count() / 1000),
                   static_cast<suseconds_t>(t.count() % 1000 * 1000)};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    //! Waits up to `t` until a datagram is queued.
    bool wait_readable(std::chrono::milliseconds t) const noexcept {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(t.count())) == 1;
    }

private:
    int fd_;
    Endpoint local_;
};

//! `batch` datagrams of `size` bytes to one destination, as BatchSender takes them:
//! (payload view, destination pointer) pairs; the payload bytes are shared.
class PayloadBatch {
public:
    using Element = std::pair<std::span<const std::byte>, const Endpoint*>;

    PayloadBatch(std::size_t size, std::size_t batch, const Endpoint& dest)
        : bytes_(std::max<std::size_t>(size, 1)), dest_(dest) {
        for (std::size_t i = 0; i < bytes_.size(); ++i)
            bytes_[i] = static_cast<std::byte>(i * 7u);
        elements_.assign(batch, Element{std::span<const std::byte>(bytes_.data(), size), &dest_});
    }
    //! The first k elements (k <= batch).
    std::span<const Element> first(std::size_t k) const noexcept { return {elements_.data(), k}; }
    const std::byte* data() const noexcept { return bytes_.data(); }
    std::byte* data() noexcept { return bytes_.data(); }
    const Endpoint& dest() const noexcept { return dest_; }

private:
    std::vector<std::byte> bytes_;
    Endpoint dest_;
    std::vector<Element> elements_;
};

//! What one call of a row's inner step moved.
struct Moved {
    std::size_t datagrams = 0;
    std::size_t syscalls = 0;
    std::string error; //!< non-empty: the row stops and reports it
};

/*! Keeps the calling thread on one CPU while alive (the measured thread on CPU 0, a helper
    such as the Feeder on CPU 1, so they never share a core), and restores its affinity
    after. Does nothing on a one-CPU machine. A helper thread is started by the measured
    thread, so it inherits that thread's single CPU: whether `cpu` may be used is the
    machine's question (online CPUs, and the kernel refusing a CPU outside the process's
    cpuset), not the inherited mask's.
*/
class PinnedTo {
public:
    explicit PinnedTo(int cpu) noexcept {
        if (::sysconf(_SC_NPROCESSORS_ONLN) < 2 || cpu >= ::sysconf(_SC_NPROCESSORS_ONLN) ||
            ::sched_getaffinity(0, sizeof before_, &before_) != 0)
            return;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pinned_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
    }
    PinnedTo(const PinnedTo&) = delete;
    PinnedTo& operator=(const PinnedTo&) = delete;
    ~PinnedTo() {
        if (pinned_) ::sched_setaffinity(0, sizeof before_, &before_);
    }

private:
    cpu_set_t before_{};
    bool pinned_ = false;
};

//! Calls `step(k)` (move k <= ctx.batch datagrams, return what moved) until ctx.count
//! datagrams moved, a step failed or ctx.max_time passed, and times it (wall clock and
//! the calling thread's CPU time).
template <class Step>
Measurement timed_steps(const RowContext& ctx, Step& step) {
    Measurement m;
    const double c0 = thread_cpu_seconds();
    const auto t0 = Clock::now();
    const auto deadline = t0 + ctx.max_time;
    while (m.datagrams < ctx.count) {
        const Moved r = step(std::min(ctx.batch, ctx.count - m.datagrams));
        m.datagrams += r.datagrams;
        m.syscalls += r.syscalls;
        if (!r.error.empty()) {
            m.error = r.error;
            break;
        }
        if (Clock::now() >= deadline) break;
    }
    m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    m.cpu_seconds = thread_cpu_seconds() - c0;
    return m;
}

//! Send driver: timed_steps with `step(k)` sending k datagrams, the thread on CPU 0.
template <class Step>
Measurement timed_send(const RowContext& ctx, Step&& step) {
    const PinnedTo pin(0);
    return timed_steps(ctx, step);
}

/*! A sender thread that keeps a loopback receiver's queue full, for receive rows.

    It sends `size`-byte datagrams to `dest` as fast as it can until stop() (or the
    destructor) or `limit` passes. It uses UDP_SEGMENT trains (one system call for up to
    64 datagrams, several times cheaper than sendmmsg per datagram) where the kernel has
    them, and sendmmsg otherwise, so that the receiver, not the feeder, is the bottleneck.
    What the receiver does not take in time is dropped by the kernel, as UDP does.
*/
class Feeder {
public:
    Feeder(const Endpoint& dest, std::size_t size, std::chrono::nanoseconds limit,
           bool segmentation_offload = true)
        : dest_(dest), size_(size), deadline_(Clock::now() + limit), gso_(segmentation_offload) {
        thread_ = std::thread([this] {
            const PinnedTo pin(1); // never on the measured thread's core
            run();
        });
    }
    Feeder(const Feeder&) = delete;
    Feeder& operator=(const Feeder&) = delete;
    ~Feeder() { stop(); }

    void stop() noexcept {
        stop_.store(true, std::memory_order_relaxed);
        if (thread_.joinable()) thread_.join();
    }
    //! Datagrams handed to the kernel so far (valid after stop()).
    std::size_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
    //! Why the feeder stopped early, if it did (valid after stop()).
    const std::string& error() const noexcept { return error_; }

private:
    static constexpr std::size_t train = 64;

    void run() {
        LoopbackSocket tx;
        std::vector<std::byte> bytes(std::max<std::size_t>(size_, 1) * train);
#if MMSG_HAS_UDP_GSO
        const std::size_t segs = std::min<std::size_t>(train, size_ ? 65507 / size_ : 0);
        if (gso_ && segs >= 2) {
            const int seg = static_cast<int>(size_);
            if (::setsockopt(tx.fd(), SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0) {
                iovec iov{bytes.data(), segs * size_};
                msghdr h{};
                h.msg_name = const_cast<void*>(static_cast<const void*>(dest_.data()));
                h.msg_namelen = static_cast<socklen_t>(dest_.size());
                h.msg_iov = &iov;
                h.msg_iovlen = 1;
                while (!done()) {
                    if (::sendmsg(tx.fd(), &h, 0) < 0) {
                        if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
                        break; // no GSO after all: fall back to sendmmsg below
                    }
                    sent_.fetch_add(segs, std::memory_order_relaxed);
                }
                if (done()) return;
                const int off = 0;
                ::setsockopt(tx.fd(), SOL_UDP, UDP_SEGMENT, &off, sizeof off);
            }
        }
#endif
        std::vector<mmsghdr> hdr(train);
        std::vector<iovec> iov(train);
        for (std::size_t i = 0; i < train; ++i) {
            iov[i] = iovec{bytes.data(), size_};
            hdr[i] = mmsghdr{};
            hdr[i].msg_hdr.msg_name = const_cast<void*>(static_cast<const void*>(dest_.data()));
            hdr[i].msg_hdr.msg_namelen = static_cast<socklen_t>(dest_.size());
            hdr[i].msg_hdr.msg_iov = &iov[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        while (!done()) {
            const int r = ::sendmmsg(tx.fd(), hdr.data(), train, 0);
            if (r < 0) {
                if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
                error_ = errno_text("feeder sendmmsg");
                return;
            }
            sent_.fetch_add(static_cast<std::size_t>(r), std::memory_order_relaxed);
        }
    }
    bool done() const noexcept {
        return stop_.load(std::memory_order_relaxed) || Clock::now() >= deadline_;
    }

    Endpoint dest_;
    std::size_t size_;
    Clock::time_point deadline_;
    bool gso_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> sent_{0};
    std::string error_;
    std::thread thread_;
};

//! A receiver socket for receive rows: 127.0.0.1, a large receive buffer (so the feeder
//! can run ahead), and a receive timeout (so a stalled feeder cannot hang the row).
inline LoopbackSocket receiver_socket() {
    LoopbackSocket rx;
    rx.set_rcvbuf(8 << 20);
    rx.set_rcvtimeo(std::chrono::seconds(1));
    return rx;
}

/*! Receive driver: starts a Feeder towards `rx`, waits for the first datagram, then calls
    `step(k)` (receive up to k <= ctx.batch datagrams with the row's method, return what
    moved) until ctx.count datagrams arrived or ctx.max_time passed, and times it.
    The feeder is stopped and joined before returning.
*/
template <class Step>
Measurement timed_receive(const RowContext& ctx, LoopbackSocket& rx, Step&& step,
                          bool feeder_segmentation_offload = true) {
    const PinnedTo pin(0);
    Measurement m;
    Feeder feeder(rx.local(), ctx.size, ctx.max_time + std::chrono::seconds(3),
                  feeder_segmentation_offload);
    if (!rx.wait_readable(std::chrono::seconds(2))) {
        feeder.stop();
        m.error = "the feeder delivered nothing within 2 s" +
                  (feeder.error().empty() ? std::string() : " (" + feeder.error() + ")");
        return m;
    }
    m = timed_steps(ctx, step);
    feeder.stop();
    return m;
}

} // namespace mmsg::bench

#endif // MMSG_BENCH_BENCH_SUPPORT_HPP
