//! mmsg-perf rows of group "scaling": multi-core receive with SO_REUSEPORT shards, one
//! socket and one BatchReceiver<LinuxMmsgBackend> per thread (as example/sharded_receiver.cpp).
//!
//! What is timed: draining. Each round, an untimed fill puts the same number of datagrams
//! into every shard's queue (a classic BPF program on the reuseport group steers datagram i
//! to shard i % K, so the shards get equal work instead of the flow hash's luck); then K
//! threads drain their own socket concurrently (try_recv_mmsg until empty) and the round
//! lasts until the last one is done. rate = datagrams drained / time drained. The
//! reference row is one shard on one thread, so the ratio of "2 shards" is the 1 -> 2
//! thread scaling. The sender is kept out of the timed part on purpose: on loopback the
//! sender's system call does the kernel's delivery work, so a live sender would measure
//! the sender, not the receivers.
//!
//! Group "scaling (CPU time)": the same runs, timed by each draining thread's own CPU time
//! (CLOCK_THREAD_CPUTIME_ID) instead of the wall clock; the rate is the sum of the threads'
//! datagrams per CPU-second. It is what K threads would drain if each had a core to itself,
//! so it shows whether the shards slow each other down (shared kernel state, cache
//! lines) even on a machine too busy for the wall-clock rows to scale.
#ifndef MMSG_BENCH_ROWS_SCALING_HPP
#define MMSG_BENCH_ROWS_SCALING_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <linux/filter.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace mmsg::bench::rows_scaling {

//! An owned socket of a SO_REUSEPORT group on 127.0.0.1.
class ShardSocket {
public:
    explicit ShardSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        const int on = 1;
        const Endpoint at(boost::asio::ip::address_v4::loopback(), port);
        if (::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
            ::bind(fd_, static_cast<const sockaddr*>(at.data()), static_cast<socklen_t>(at.size())) != 0) {
            const int e = errno;
            ::close(fd_);
            throw std::system_error(e, std::generic_category(), "SO_REUSEPORT bind");
        }
        socklen_t len = static_cast<socklen_t>(local_.capacity());
        ::getsockname(fd_, static_cast<sockaddr*>(local_.data()), &len);
        local_.resize(len);
        // As much queue as the kernel grants (beyond rmem_max when root): fewer rounds.
        int want = 32 << 20;
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    ShardSocket(ShardSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), local_(o.local_) {}
    ShardSocket& operator=(ShardSocket&&) = delete;
    ~ShardSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    int fd() const noexcept { return fd_; }
    const Endpoint& local() const noexcept { return local_; }
    //! The receive buffer the kernel granted, in bytes of its accounting.
    std::size_t rcvbuf() const noexcept {
        int v = 0;
        socklen_t len = sizeof v;
        ::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &v, &len);
        return static_cast<std::size_t>(std::max(v, 0));
    }

private:
    int fd_;
    Endpoint local_;
};

//! Steers each datagram of the group to socket (first payload byte % shards).
inline bool steer_by_first_byte(int fd, std::size_t shards) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), // A = payload[0] (the UDP header is pulled)
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<std::uint32_t>(shards)),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0;
}

enum class Timing { wall_clock, thread_cpu };

//! Drains with `shards` threads; see the header comment.
inline Measurement drain(const RowContext& ctx, std::size_t shards, Timing timing = Timing::wall_clock) {
    Measurement m;
    const std::size_t size = std::clamp<std::size_t>(ctx.size, 1, packet_data_size);
    std::vector<ShardSocket> socks;
    socks.emplace_back(0);
    for (std::size_t i = 1; i < shards; ++i) socks.emplace_back(socks.front().local().port());
    if (shards > 1 && !steer_by_first_byte(socks.front().fd(), shards)) {
        m.unavailable = errno_text("SO_ATTACH_REUSEPORT_CBPF");
        return m;
    }
    // Per shard and round: what its queue surely holds (a queued datagram costs its
    // payload plus ~0.7-1.1 KB of kernel overhead on loopback; keep a margin).
    const std::size_t per_shard =
        std::clamp<std::size_t>(socks.front().rcvbuf() * 6 / 10 / (size + 1200), 16, 16384);

    // The fill: datagram i carries i % shards in its first byte.
    LoopbackSocket tx;
    std::vector<std::vector<std::byte>> bytes(shards, std::vector<std::byte>(size));
    for (std::size_t k = 0; k < shards; ++k) bytes[k][0] = static_cast<std::byte>(k);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    for (std::size_t i = 0; i < per_shard * shards; ++i)
        batch.emplace_back(bytes[i % shards], socks.front().local());
    BatchSender<LinuxMmsgBackend> sender;

    struct Shard {
        BatchReceiver<Counting<LinuxMmsgBackend>> receiver;
        std::unique_ptr<BasicPacket<packet_data_size>[]> packets =
            std::make_unique<BasicPacket<packet_data_size>[]>(num_rcvmmsgs);
        std::size_t received = 0;
        std::size_t total = 0;  // over all rounds
        double cpu = 0;         // CPU seconds spent draining, over all rounds
        std::string error;
    };
    std::vector<Shard> state(shards);
    std::atomic<bool> quit{false};
    std::barrier sync(static_cast<std::ptrdiff_t>(shards + 1));
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < shards; ++k)
        threads.emplace_back([&, k] {
            Shard& s = state[k];
            const std::span<BasicPacket<packet_data_size>> packets(s.packets.get(), num_rcvmmsgs);
            for (;;) {
                sync.arrive_and_wait(); // round starts (or quit)
                if (quit.load(std::memory_order_relaxed)) return;
                const double c0 = thread_cpu_seconds();
                for (;;) {
                    std::error_code ec;
                    const std::size_t n = s.receiver.try_recv_mmsg(socks[k].fd(), packets, ec);
                    s.received += n;
                    if (ec) {
                        if (ec != std::errc::operation_would_block && s.error.empty())
                            s.error = "try_recv_mmsg: " + ec.message();
                        break; // empty: this shard is done for the round
                    }
                }
                s.cpu += thread_cpu_seconds() - c0;
                sync.arrive_and_wait(); // round ends
            }
        });

    const auto t_end = Clock::now() + ctx.max_time;
    Clock::duration drained{};
    while (m.datagrams < ctx.count && Clock::now() < t_end) {
        const std::size_t want = std::min(batch.size(), ((ctx.count - m.datagrams) / shards + 1) * shards);
        const SendResult r = sender.batch_send(tx.fd(), std::span(batch).first(want));
        if (r.sent == 0) {
            m.error = "fill: " + r.first_error.message();
            break;
        }
        const auto t0 = Clock::now();
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        drained += Clock::now() - t0;
        std::size_t got = 0;
        for (Shard& s : state) {
            s.total += s.received;
            got += std::exchange(s.received, 0);
        }
        m.datagrams += got;
    }
    quit = true;
    sync.arrive_and_wait();
    for (std::thread& t : threads) t.join();
    for (Shard& s : state) {
        m.syscalls += syscalls(s.receiver.backend());
        if (m.error.empty() && !s.error.empty()) m.error = s.error;
    }
    m.seconds = std::chrono::duration<double>(drained).count();
    if (timing == Timing::thread_cpu) {
        // The sum of the threads' own rates, expressed as one duration for m.datagrams.
        double rate = 0;
        for (const Shard& s : state)
            if (s.cpu > 0) rate += static_cast<double>(s.total) / s.cpu;
        m.seconds = rate > 0 ? static_cast<double>(m.datagrams) / rate : 0;
    }
    return m;
}

inline Measurement one_shard(const RowContext& ctx) { return drain(ctx, 1); }
inline Measurement two_shards(const RowContext& ctx) { return drain(ctx, 2); }
inline Measurement one_shard_cpu(const RowContext& ctx) { return drain(ctx, 1, Timing::thread_cpu); }
inline Measurement two_shards_cpu(const RowContext& ctx) { return drain(ctx, 2, Timing::thread_cpu); }

inline const Registration registration{
    Row{"1 shard, 1 thread", "scaling", one_shard, true,
        "SO_REUSEPORT receive: 1 socket + BatchReceiver drained by 1 thread (the reference)"},
    Row{"2 shards, 2 threads", "scaling", two_shards, false,
        "SO_REUSEPORT receive: 2 sockets, each drained by its own thread and BatchReceiver"},
    Row{"1 shard, 1 thread", "scaling (CPU time)", one_shard_cpu, true,
        "as \"scaling\", rate per CPU-second of the draining thread (the reference)"},
    Row{"2 shards, 2 threads", "scaling (CPU time)", two_shards_cpu, false,
        "as \"scaling\", sum of the 2 threads' rates per CPU-second: the scaling with a core each"},
};

} // namespace mmsg::bench::rows_scaling

#endif // MMSG_BENCH_ROWS_SCALING_HPP
