//! mmsg-perf rows "receive, 1000 sockets": what serving many sockets from one receiver costs.
//! One BatchReceiver<LinuxGsoBackend> drains queued UDP_SEGMENT trains from one socket (the
//! reference) or round robin from 1000 sockets (mmsg::Socket, each with its own state), the
//! same number of trains of the same size either way; only the draining is timed. The
//! per-socket state is reached through the socket, so the ratio says what 1000 sockets cost
//! the receiver and the kernel together (target >= 0.95). The "raw" group drains the same
//! way with a hand-written recvmsg: the kernel's own share of that cost.
#ifndef MMSG_BENCH_ROWS_SOCKETS_HPP
#define MMSG_BENCH_ROWS_SOCKETS_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/config.hpp>
#include <mmsg/socket.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::bench::rows_sockets {

#if MMSG_HAS_UDP_GSO

inline constexpr std::size_t sockets = 1000;

// Queues `trains` UDP_SEGMENT trains of `segs` datagrams of `size` bytes on `to`.
inline std::string fill(int fd, const Endpoint& to, std::size_t size, std::size_t segs,
                        std::size_t trains) {
    std::vector<std::byte> bytes(size * segs, std::byte{5});
    rows_gso::SegmentControl ctl;
    iovec iov{bytes.data(), bytes.size()};
    msghdr h{};
    h.msg_name = const_cast<void*>(static_cast<const void*>(to.data()));
    h.msg_namelen = static_cast<socklen_t>(to.size());
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    ctl.attach(h, size);
    for (std::size_t t = 0; t < trains; ++t)
        if (::sendmsg(fd, &h, 0) < 0) return errno_text("sendmsg UDP_SEGMENT");
    return {};
}

// Raises the soft descriptor limit to at least `n` if the hard limit allows.
inline bool raise_descriptor_limit(std::size_t n) {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return false;
    if (r.rlim_cur >= n) return true;
    if (r.rlim_max < n) return false;
    r.rlim_cur = n;
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
}

// Datagrams per train: as many as one receive call takes (num_rcvmmsgs) and GSO allows.
inline std::size_t segments(std::size_t size) {
    return std::max<std::size_t>(1, std::min(rows_gso::train_length(size), num_rcvmmsgs));
}

// Drains with BatchReceiver<LinuxGsoBackend> (split into packets).
template <std::size_t N>
struct MmsgDrain {
    BatchReceiver<LinuxGsoBackend> receiver;
    rows_mmsg::PacketBuffers<N> buf;
    std::size_t segs;
    void prepare(Socket& s) { receiver.backend().enable_gro(s); }
    std::size_t take(Socket& s) {
        std::error_code ec;
        return receiver.try_recv_mmsg(s, buf.first(segs), ec);
    }
};
// Drains with a hand-written recvmsg(2) per coalesced datagram (not split): the kernel's
// own cost of serving 1 or 1000 sockets.
template <std::size_t>
struct RawDrain {
    std::vector<std::byte> buf = std::vector<std::byte>(65536);
    std::size_t segs;
    void prepare(Socket& s) {
        const int one = 1;
        ::setsockopt(s.native_handle(), SOL_UDP, UDP_GRO, &one, sizeof one);
    }
    std::size_t take(Socket& s) {
        const RawGro g = raw_gro_recv(s.native_handle(), buf, MSG_DONTWAIT);
        return g.bytes <= 0 ? 0 : g.datagrams;
    }
};

template <class Drain>
Measurement drain(const RowContext& ctx, std::size_t nsockets) {
    if (auto why = rows_gso::gso_unavailable(true); !why.empty()) return {0, 0, 0, why, {}};
    if (nsockets > 1 && !raise_descriptor_limit(nsockets + 64))
        return {0, 0, 0, "cannot open " + std::to_string(nsockets) + " descriptors (RLIMIT_NOFILE)", {}};
    const std::size_t segs = segments(ctx.size);
    // One train per socket and round; 1 socket takes as many trains per round as 1000 do.
    // Rounds until ctx.count datagrams were drained, at most ctx.max_time of draining.
    const std::size_t trains_per_round = sockets;
    std::vector<Socket> rx;
    rx.reserve(nsockets);
    const Endpoint any(boost::asio::ip::address_v4::loopback(), 0);
    Drain d{};
    d.segs = segs;
    for (std::size_t i = 0; i < nsockets; ++i) {
        rx.emplace_back(any);
        if (nsockets == 1) { // room for all 1000 trains (SO_RCVBUFFORCE: root)
            const int room = 256 << 20;
            ::setsockopt(rx.back().native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof room);
        }
        d.prepare(rx.back());
    }
    LoopbackSocket tx;
    Measurement m;
    std::chrono::nanoseconds spent{0};
    while (m.datagrams < ctx.count && spent < ctx.max_time) {
        for (std::size_t i = 0; i < nsockets; ++i)
            if (auto e = fill(tx.fd(), rx[i].local_endpoint(), ctx.size, segs,
                              trains_per_round / nsockets);
                !e.empty()) {
                m.error = e;
                return m;
            }
        const auto t0 = Clock::now();
        std::size_t got = 0;
        for (std::size_t t = 0; t < trains_per_round; ++t) {
            got += d.take(rx[t % nsockets]);
            ++m.syscalls;
        }
        spent += Clock::now() - t0;
        m.datagrams += got;
        if (got != trains_per_round * segs) {
            m.error = "drained " + std::to_string(got) + " of " +
                      std::to_string(trains_per_round * segs) + " datagrams";
            return m;
        }
    }
    m.seconds = std::chrono::duration<double>(spent).count();
    return m;
}

template <std::size_t N>
struct One {
    Measurement operator()(const RowContext& c) const { return drain<MmsgDrain<N>>(c, 1); }
};
template <std::size_t N>
struct Many {
    Measurement operator()(const RowContext& c) const { return drain<MmsgDrain<N>>(c, sockets); }
};
inline Measurement raw_one(const RowContext& c) { return drain<RawDrain<0>>(c, 1); }
inline Measurement raw_many(const RowContext& c) { return drain<RawDrain<0>>(c, sockets); }

inline const Registration registration{
    Row{"1 socket", "receive, 1000 sockets", rows_mmsg::by_capacity<One>, true,
        "BatchReceiver<LinuxGsoBackend> draining 1000 queued trains from one mmsg::Socket (the "
        "reference)"},
    Row{"1000 sockets, round robin", "receive, 1000 sockets", rows_mmsg::by_capacity<Many>, false,
        "the same receiver draining one train from each of 1000 mmsg::Sockets in turn (target "
        ">= 0.95)"},
    Row{"1 socket", "receive, 1000 sockets, raw", raw_one, true,
        "hand-written recvmsg(2) per coalesced datagram (not split), 1000 trains from one socket "
        "(the reference)"},
    Row{"1000 sockets, round robin", "receive, 1000 sockets, raw", raw_many, false,
        "the same loop, one train from each of 1000 sockets in turn: the kernel's own cost of "
        "1000 sockets"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_sockets

#endif // MMSG_BENCH_ROWS_SOCKETS_HPP
