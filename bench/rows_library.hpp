//! mmsg-perf rows of the library's own work on the GSO send path, with no system call:
//!  - "library cost, gso send": a hand-written loop that only builds the sendmmsg headers
//!    of a batch's UDP_SEGMENT trains (the reference: what any caller must do before the
//!    system call), and BatchSender<LinuxGsoBackend> on a system-call layer that accepts
//!    every message without entering the kernel (planning, headers, per-datagram outcomes,
//!    the SendResult). Read the CPU ns/dgram column: the library's cost per datagram sent,
//!    to set beside the kernel's (the "gso send" rows). doc/gso.adoc has the figures.
#ifndef MMSG_BENCH_ROWS_LIBRARY_HPP
#define MMSG_BENCH_ROWS_LIBRARY_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

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
    struct Control {
        alignas(cmsghdr) unsigned char b[CMSG_SPACE(sizeof(std::uint16_t))];
    };
    std::vector<Control> ctl(trains);
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
            m.msg_control = ctl[j].b;
            m.msg_controllen = n > 1 ? sizeof ctl[j].b : 0;
            cmsghdr* c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
            const auto seg = static_cast<std::uint16_t>(ctx.size);
            std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        consume(h.data());
        return Moved{k, 0, {}};
    });
}

//! BatchSender<LinuxGsoBackend> on NoKernelOps, payloads back to back as in the "gso send"
//! row of the same name.
inline Measurement library_alone(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx; // a real datagram socket: the backend checks its type once
    std::vector<std::byte> bytes(std::max<std::size_t>(ctx.size, 1) * ctx.batch, std::byte{7});
    std::vector<std::pair<std::span<const std::byte>, const Endpoint*>> batch(ctx.batch);
    for (std::size_t i = 0; i < ctx.batch; ++i)
        batch[i] = {std::span<const std::byte>(bytes.data() + i * ctx.size, ctx.size), &ctx.sink};
    BatchSender<BasicLinuxGsoBackend<NoKernelOps>> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const SendResult r = sender.batch_send(tx.fd(), std::span(batch).first(k));
        Moved m{r.sent, 0, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}

inline const Registration registration{
    Row{"hand-written headers", "library cost, gso send", raw_headers, true,
        "hand-written: the sendmmsg headers of the batch's UDP_SEGMENT trains, no system call (the reference)"},
    Row{"BatchSender<LinuxGsoBackend>", "library cost, gso send", library_alone, false,
        "BatchSender<LinuxGsoBackend> on a system-call layer that accepts every message without "
        "entering the kernel: the library's own CPU per datagram"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_library

#endif // MMSG_BENCH_ROWS_LIBRARY_HPP
