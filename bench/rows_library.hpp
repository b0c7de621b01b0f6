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
#include <mmsg/config.hpp>

#include <algorithm>
#include <cstddef>
#include <system_error>
#include <vector>

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
