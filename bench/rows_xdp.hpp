//! mmsg-perf rows of XdpBackend, over a veth pair between two network namespaces of
//! mmsg-perf's own (mmsg::testing::VethPair: 198.18.0.1/24 in A, 198.18.0.2/24 in B, inside
//! them only; gone with the process). Every row of a group crosses the same veth:
//!  - "xdp send, many destinations": multi_target_send of one payload to 1024 peers in turn
//!    (198.19.x.y, routed via B, which takes the whole /16 as its own for a sink socket
//!    never read), BatchSender<LinuxMmsgBackend> (the reference) against
//!    BatchSender<XdpBackend> (a transmit-only queue on A, copy mode);
//!  - "xdp send vs gso, many destinations": the same, LinuxGsoBackend the reference;
//!  - "xdp receive": a thread in B keeps a socket of A fed with UDP_SEGMENT trains;
//!    BatchReceiver<LinuxMmsgBackend> with nothing attached (the reference) against
//!    BatchReceiver<XdpBackend> (native mode, copy). The figure is CPU ns/dgram of the
//!    receiving thread (the kernel's receive work runs on the feeder's CPU for both);
//!  - "xdp attach cost": the same trains to a socket of A with UDP GRO that XDP does not
//!    serve, received by BatchReceiver<LinuxGsoBackend>: nothing attached (the reference),
//!    the receive program in generic mode, in native mode.
//! Where namespaces, veth or AF_XDP are refused, each row says why (unavailable).
#ifndef MMSG_BENCH_ROWS_XDP_HPP
#define MMSG_BENCH_ROWS_XDP_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"

#include <mmsg/config.hpp>

#if MMSG_HAS_XDP && MMSG_HAS_UDP_GSO

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/xdp.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/testing/veth_pair.hpp>

#include <boost/asio/ip/address_v4.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <poll.h>

namespace mmsg::bench::rows_xdp {

using testing::VethPair;

// The veth world, made at the first XDP row; `why` says why not when it cannot be.
struct World {
    std::unique_ptr<VethPair> pair;
    std::string why;
    int tx = -1;                      // A's sending socket, 198.18.0.1
    int sink = -1;                    // B's socket for 198.19.0.0/16, never read
    std::vector<Endpoint> peers;      // 1024 of them, routed via B

    World() {
        pair = VethPair::make(why);
        if (!pair) return;
        if (!pair->run_a("ip route add 198.19.0.0/16 via 198.18.0.2") ||
            !pair->run_b("ip route add local 198.19.0.0/16 dev lo")) {
            why = "cannot route 198.19.0.0/16 over the veth";
            pair.reset();
            return;
        }
        tx = pair->in_a([] { return bound(Endpoint(VethPair::a_address(), 0)); });
        sink = pair->in_b([] { return bound(Endpoint(boost::asio::ip::address_v4::any(), 9000)); });
        const int rcvbuf = 1 << 20;
        ::setsockopt(sink, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
        for (std::uint32_t i = 0; i < 1024; ++i)
            peers.emplace_back(boost::asio::ip::address_v4(0xc6130000u + 256 * (i / 250) + 1 + i % 250), 9000);
    }
    ~World() {
        for (int fd : {tx, sink})
            if (fd >= 0) ::close(fd);
    }
    static int bound(const Endpoint& at) {
        const int fd = ::socket(at.protocol().family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::bind(fd, static_cast<const sockaddr*>(at.data()), static_cast<socklen_t>(at.size())) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
};

inline World& world() {
    static World w;
    return w;
}
inline Measurement unavailable(const std::string& why) {
    Measurement m;
    m.unavailable = why;
    return m;
}

//! An XdpQueue on A for one measurement (A carries nothing of XDP in the other rows), or
//! null with `why`.
inline std::shared_ptr<XdpQueue> queue_on_a(bool receive, XdpMode mode, std::string& why) {
    XdpOptions o;
    o.interface = VethPair::a_name;
    o.receive = receive;
    o.mode = mode;
    o.allow_coalescing_interface = true; // the attach-cost rows measure it; no train reaches the ring
    std::error_code ec;
    auto q = world().pair->in_a([&] { return XdpQueue::open(o, ec); });
    if (!q) why = ec.message();
    return q;
}

// ---- send: every datagram to another peer ----------------------------------------------

template <class B>
Measurement send_many(const RowContext& ctx, B backend) {
    World& w = world();
    if (!w.pair) return unavailable(w.why);
    const std::vector<std::byte> payload(ctx.size, std::byte{0x5a});
    BatchSender<Counting<B>> sender{Counting<B>{std::move(backend)}};
    std::size_t next = 0;
    return timed_send(ctx, [&](std::size_t k) {
        // multi_target_send to the next k peers, in turn (wrapping round the 1024).
        const std::size_t first = next % w.peers.size();
        const std::size_t n = std::min(k, w.peers.size() - first);
        next += n;
        const std::size_t before = syscalls(sender.backend());
        const SendResult r = sender.multi_target_send(w.tx, std::span<const std::byte>(payload),
                                                      std::span<const Endpoint>(w.peers).subspan(first, n));
        Moved m{r.sent, syscalls(sender.backend()) - before, {}};
        if (!r.ok()) m.error = "multi_target_send: " + r.first_error.message();
        return m;
    });
}
inline Measurement mmsg_send_many(const RowContext& c) { return send_many(c, LinuxMmsgBackend{}); }
inline Measurement gso_send_many(const RowContext& c) { return send_many(c, LinuxGsoBackend{}); }
inline Measurement xdp_send_many(const RowContext& c) {
    World& w = world();
    if (!w.pair) return unavailable(w.why);
    std::string why;
    const auto q = queue_on_a(false, XdpMode::native, why); // transmit only
    if (!q) return unavailable(why);
    return send_many(c, XdpBackend(q));
}

// ---- receive: a feeder in B, a receiver in A ---------------------------------------------

//! A thread in namespace B that sends UDP_SEGMENT trains to `dest` until stopped or its
//! time is up (bounded: limit).
class VethFeeder {
public:
    VethFeeder(const VethPair& pair, const Endpoint& dest, std::size_t size, std::chrono::nanoseconds limit)
        : thread_([this, &pair, dest, size, limit] {
              const PinnedTo pin(1);
              const int fd = pair.in_b([] { return World::bound(Endpoint(VethPair::b_address(), 0)); });
              const std::size_t segs = std::min<std::size_t>(64, 65000 / std::max<std::size_t>(size, 1));
              const int seg = static_cast<int>(size);
              ::setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
              std::vector<std::byte> bytes(size * segs, std::byte{0x33});
              iovec iov{bytes.data(), bytes.size()};
              msghdr h{};
              h.msg_name = const_cast<sockaddr*>(dest.data());
              h.msg_namelen = static_cast<socklen_t>(dest.size());
              h.msg_iov = &iov;
              h.msg_iovlen = 1;
              const auto deadline = Clock::now() + limit;
              while (!stop_.load(std::memory_order_relaxed) && Clock::now() < deadline) ::sendmsg(fd, &h, 0);
              ::close(fd);
          }) {}
    VethFeeder(const VethFeeder&) = delete;
    VethFeeder& operator=(const VethFeeder&) = delete;
    ~VethFeeder() {
        stop_.store(true, std::memory_order_relaxed);
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

//! Receives with BatchReceiver<B> on a socket of A fed from B, timed like timed_receive.
//! `prepare(fd)` runs before the feeder starts (to make the socket the queue's receiver).
template <class B, class Packet, class Prepare>
Measurement receive_fed(const RowContext& ctx, B backend, Prepare&& prepare) {
    World& w = world();
    if (!w.pair) return unavailable(w.why);
    const int rx = w.pair->in_a([] { return World::bound(Endpoint(VethPair::a_address(), 0)); });
    const int rcvbuf = 8 << 20;
    ::setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    const timeval second{1, 0};
    ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
    Endpoint at;
    mmsg::detail::local_endpoint_of(rx, at);
    BatchReceiver<Counting<B>> receiver{Counting<B>{std::move(backend)}};
    std::vector<Packet> packets(std::min<std::size_t>(ctx.batch, num_rcvmmsgs));
    Measurement m;
    if (const std::string why = prepare(receiver, rx, packets); !why.empty()) {
        ::close(rx);
        return unavailable(why);
    }
    {
        const PinnedTo pin(0);
        VethFeeder feeder(*w.pair, at, ctx.size, ctx.max_time + std::chrono::seconds(3));
        std::error_code ec;
        if (receiver.recv_mmsg(rx, std::span(packets).first(1), ec) != 1) { // the first one: it has begun
            m.error = "nothing arrived from the other namespace within 1 s: " + ec.message();
        } else {
            const double c0 = thread_cpu_seconds();
            const auto t0 = Clock::now();
            const std::size_t calls0 = syscalls(receiver.backend());
            while (m.datagrams < ctx.count && Clock::now() - t0 < ctx.max_time) {
                const std::size_t n = receiver.recv_mmsg(rx, packets, ec);
                if (n == 0) {
                    m.error = "recv_mmsg: " + ec.message();
                    break;
                }
                m.datagrams += n;
            }
            m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            m.cpu_seconds = thread_cpu_seconds() - c0;
            m.syscalls = syscalls(receiver.backend()) - calls0;
        }
    }
    ::close(rx);
    return m;
}

inline std::string nothing_to_prepare(auto&, int, auto&) { return {}; }

inline Measurement mmsg_receive(const RowContext& c) {
    return receive_fed<LinuxMmsgBackend, mmsg::Packet>(c, LinuxMmsgBackend{}, [](auto& r, int fd, auto& p) { return nothing_to_prepare(r, fd, p); });
}
inline Measurement xdp_receive(const RowContext& c) {
    World& w = world();
    if (!w.pair) return unavailable(w.why);
    std::string why;
    const auto q = queue_on_a(true, XdpMode::native, why);
    if (!q) return unavailable(why);
    return receive_fed<XdpBackend, mmsg::Packet>(c, XdpBackend(q), [&](auto& r, int fd, auto& p) -> std::string {
        std::error_code e;
        r.try_recv_mmsg(fd, std::span(p).first(1), e); // the socket becomes the queue's receiver
        return q->receiving_port() != 0 ? std::string() : "the socket did not become the queue's receiver";
    });
}

// ---- what the receive program costs the interface's other traffic -------------------------

inline Measurement gro_receive(const RowContext& c, bool attach, XdpMode mode) {
    World& w = world();
    if (!w.pair) return unavailable(w.why);
    std::shared_ptr<XdpQueue> q;
    std::string why;
    if (attach && !(q = queue_on_a(true, mode, why))) return unavailable(why);
    return receive_fed<LinuxGsoBackend, mmsg::Packet>(c, LinuxGsoBackend{}, [](auto& r, int fd, auto& p) -> std::string {
        std::error_code e;
        r.try_recv_mmsg(fd, std::span(p).first(1), e); // turns UDP GRO on
        return {};
    });
}
inline Measurement gro_nothing(const RowContext& c) { return gro_receive(c, false, XdpMode::native); }
inline Measurement gro_generic(const RowContext& c) { return gro_receive(c, true, XdpMode::generic); }
inline Measurement gro_native(const RowContext& c) { return gro_receive(c, true, XdpMode::native); }

inline const Registration registration{
    Row{"LinuxMmsgBackend", "xdp send, many destinations", mmsg_send_many, true,
        "multi_target_send over the veth, every datagram to another of 1024 peers (the reference)"},
    Row{"XdpBackend", "xdp send, many destinations", xdp_send_many, false,
        "the same through AF_XDP (transmit-only queue, copy mode)"},
    Row{"LinuxGsoBackend", "xdp send vs gso, many destinations", gso_send_many, true,
        "multi_target_send over the veth with LinuxGsoBackend, every datagram to another peer (the reference)"},
    Row{"XdpBackend", "xdp send vs gso, many destinations", xdp_send_many, false,
        "the same through AF_XDP (transmit-only queue, copy mode)"},
    Row{"LinuxMmsgBackend", "xdp receive", mmsg_receive, true,
        "recv_mmsg on a socket fed over the veth with GSO trains, nothing attached (the reference)"},
    Row{"XdpBackend", "xdp receive", xdp_receive, false,
        "the same through AF_XDP (native mode, copy): see the CPU ns/dgram column"},
    Row{"nothing attached", "xdp attach cost", gro_nothing, true,
        "GSO trains over the veth to a UDP GRO socket XDP does not serve (the reference)"},
    Row{"receive program, generic mode", "xdp attach cost", gro_generic, false,
        "the same with XdpQueue's receive program attached in generic mode"},
    Row{"receive program, native mode", "xdp attach cost", gro_native, false,
        "the same with it attached in native mode (a veth then gives up GSO and GRO)"},
};

} // namespace mmsg::bench::rows_xdp

#endif // MMSG_HAS_XDP && MMSG_HAS_UDP_GSO
#endif // MMSG_BENCH_ROWS_XDP_HPP
