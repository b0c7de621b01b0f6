//! mmsg-perf rows of the library's own work on the GSO send and receive paths, with no
//! system call:
//!  - "library cost, gso send": a hand-written loop that only builds the sendmmsg headers
//!    of a batch's UDP_SEGMENT trains (the reference: what any caller must do before the
//!    system call), and BatchSender<LinuxGsoBackend> on a system-call layer that accepts
//!    every message without entering the kernel (planning, headers, per-datagram outcomes,
//!    the SendResult). Read the CPU ns/dgram column: the library's cost per datagram sent,
//!    to set beside the kernel's (the "gso send" rows). doc/gso.adoc has the figures.
//!  - "library cost, gso receive": the same for the GRO receive. A system-call layer hands
//!    back, without entering the kernel, what a recvmmsg of one coalesced datagram leaves
//!    (its length, source and UDP_GRO size; the payload bytes are whatever the packets
//!    hold): a hand-written decode of it (the reference) against BatchReceiver<LinuxGsoBackend>
//!    splitting it into a vector of packets, into a PacketBlock, and handing it back whole.
#ifndef MMSG_BENCH_ROWS_LIBRARY_HPP
#define MMSG_BENCH_ROWS_LIBRARY_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/config.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/packet_block.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mmsg::bench::rows_library {

#if MMSG_HAS_UDP_GSO

// The headers reach "the kernel" (the compiler must assume they are read).
inline void consume(const mmsghdr* v) noexcept { asm volatile("" : : "r"(v) : "memory"); }

//! LinuxGsoBackend's system-call layer without the system call: every message accepted.
struct NoKernelOps : ::mmsg::detail::KernelGroOps {
    static int sendmmsg(int, mmsghdr* v, unsigned n, int, std::error_code&) noexcept {
        consume(v);
        return static_cast<int>(n);
    }
};

//! A recvmmsg that returns, without entering the kernel, one coalesced datagram of as many
//! `segment`-byte segments as a 64 KiB datagram holds (at most 64), from 127.0.0.1.
struct OneCoalescedOps : ::mmsg::detail::KernelGsoOps {
    std::size_t segment = 0;
    std::size_t count() const noexcept { return std::min<std::size_t>(64, 65000 / segment); }
    static bool enable_gro(int, std::error_code&) noexcept { return true; }
    int recvmmsg(int, mmsghdr* v, unsigned, int, std::error_code&) const noexcept {
        msghdr& h = v[0].msg_hdr;
        sockaddr_in from{};
        from.sin_family = AF_INET;
        from.sin_port = htons(4433);
        from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        std::memcpy(h.msg_name, &from, sizeof from);
        h.msg_namelen = sizeof from;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_GRO;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        const int seg = static_cast<int>(segment);
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
        h.msg_controllen = CMSG_SPACE(sizeof(int));
        h.msg_flags = 0;
        v[0].msg_len = static_cast<unsigned>(segment * count());
        consume(v);
        return 1;
    }
};

//! Hand-written: what any caller does with a UDP_GRO recvmsg's result, no system call: read
//! the segment size from the control message and count the segments.
inline Measurement raw_gro_decode(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
    OneCoalescedOps ops;
    ops.segment = ctx.size;
    sockaddr_storage from;
    alignas(cmsghdr) unsigned char ctl[64];
    mmsghdr h{};
    return timed_send(ctx, [&](std::size_t) {
        h.msg_hdr.msg_name = &from;
        h.msg_hdr.msg_control = ctl;
        h.msg_hdr.msg_controllen = sizeof ctl;
        std::error_code ec;
        ops.recvmmsg(0, &h, 1, 0, ec);
        std::size_t seg = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr); c != nullptr; c = CMSG_NXTHDR(&h.msg_hdr, c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                int v = 0;
                std::memcpy(&v, CMSG_DATA(c), sizeof v);
                seg = static_cast<std::size_t>(v);
            }
        return Moved{seg == 0 ? 1 : (h.msg_len + seg - 1) / seg, 0, {}};
    });
}

//! BatchReceiver<LinuxGsoBackend> on OneCoalescedOps, receiving into `Packets` (a vector of
//! packets, a PacketBlock) or, with `whole`, CoalescedPackets.
template <class Make, bool whole = false>
Measurement library_receive(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
    if (ctx.size > packet_data_size) return Measurement{0, 0, 0, "for datagrams up to 1232 bytes", {}};
    OneCoalescedOps ops;
    ops.segment = ctx.size;
    BatchReceiver<BasicLinuxGsoBackend<OneCoalescedOps>> receiver(
        BasicLinuxGsoBackend<OneCoalescedOps>(ops, GsoLimits::conservative()));
    auto packets = Make{}();
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0); // a datagram socket, never used for I/O
    if (fd < 0) return Measurement{0, 0, 0, {}, errno_text("socket")};
    const Measurement m = timed_send(ctx, [&](std::size_t) {
        std::error_code ec;
        Moved moved;
        if constexpr (whole) {
            const std::size_t n = receiver.try_recv_coalesced(fd, packets, ec);
            for (std::size_t i = 0; i < n; ++i) moved.datagrams += packets[i].segments().size();
        } else {
            moved.datagrams = receiver.try_recv_mmsg(fd, packets, ec);
        }
        if (ec) moved.error = "receive: " + ec.message();
        return moved;
    });
    ::close(fd);
    return m;
}
struct MakePackets {
    std::vector<Packet> operator()() const { return std::vector<Packet>(num_rcvmmsgs); }
};
struct MakeBlock {
    PacketBlock operator()() const { return PacketBlock(num_rcvmmsgs); }
};
struct MakeCoalesced {
    std::vector<CoalescedPacket> operator()() const { return std::vector<CoalescedPacket>(num_rcvmmsgs); }
};

//! Hand-written: the mmsghdrs of the batch's trains (one iovec and a UDP_SEGMENT message
//! each), as the raw loops build them; no system call.
inline Measurement raw_headers(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    const std::size_t segs = rows_gso::train_length(ctx.size);
    if (segs < 2) return Measurement{0, 0, 0, "datagrams too large for trains", {}};
    std::vector<std::byte> bytes(ctx.size * ctx.batch, std::byte{7});
    const std::size_t trains = (ctx.batch + segs - 1) / segs;
    std::vector<mmsghdr> h(trains);
    std::vector<iovec> iov(trains);
    std::vector<rows_gso::SegmentControl> ctl(trains);
    return timed_send(ctx, [&](std::size_t k) {
        std::size_t j = 0;
        for (std::size_t d = 0; d < k; d += segs, ++j) {
            const std::size_t n = std::min(segs, k - d);
            iov[j] = iovec{bytes.data() + d * ctx.size, n * ctx.size};
            msghdr& m = h[j].msg_hdr;
            m.msg_name = const_cast<void*>(static_cast<const void*>(ctx.sink.data()));
            m.msg_namelen = static_cast<socklen_t>(ctx.sink.size());
            m.msg_iov = &iov[j];
            m.msg_iovlen = 1;
            ctl[j].attach(m, ctx.size);
            if (n == 1) m.msg_controllen = 0;
        }
        consume(h.data());
        return Moved{k, 0, {}};
    });
}

//! BatchSender<LinuxGsoBackend> on NoKernelOps: the "gso send" row of the same payloads,
//! back to back, with no system call.
inline Measurement library_alone(const RowContext& ctx) {
    return rows_gso::gso_sender<BasicLinuxGsoBackend<NoKernelOps>, 0>(ctx);
}

//! The same through send_trains (rows_gso::gso_train_sender).
inline Measurement library_trains(const RowContext& ctx) {
    return rows_gso::gso_train_sender<BasicLinuxGsoBackend<NoKernelOps>, 0>(ctx);
}

inline const Registration registration{
    Row{"hand-written headers", "library cost, gso send", raw_headers, true,
        "hand-written: the sendmmsg headers of the batch's UDP_SEGMENT trains, no system call (the reference)"},
    Row{"BatchSender<LinuxGsoBackend>", "library cost, gso send", library_alone, false,
        "BatchSender<LinuxGsoBackend> on a system-call layer that accepts every message without "
        "entering the kernel: the library's own CPU per datagram"},
    Row{"BatchSender<LinuxGsoBackend>, trains", "library cost, gso send", library_trains, false,
        "the same through send_trains, the payloads handed over as trains (SendTrain)"},
    Row{"hand-written decode", "library cost, gso receive", raw_gro_decode, true,
        "hand-written: a UDP_GRO receive's segment size read and its segments counted, no system "
        "call (the reference)"},
    Row{"BatchReceiver<LinuxGsoBackend>", "library cost, gso receive",
        library_receive<MakePackets>, false,
        "BatchReceiver<LinuxGsoBackend> splitting one coalesced datagram per call into a vector of "
        "packets, on a system-call layer that hands it back without entering the kernel"},
    Row{"BatchReceiver<LinuxGsoBackend>, PacketBlock", "library cost, gso receive",
        library_receive<MakeBlock>, false, "the same into a PacketBlock"},
    Row{"BatchReceiver<LinuxGsoBackend>, whole", "library cost, gso receive",
        library_receive<MakeCoalesced, true>, false,
        "the same with recv_coalesced: the datagram whole, its segments counted"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_library

#endif // MMSG_BENCH_ROWS_LIBRARY_HPP
