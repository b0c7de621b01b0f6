//! mmsg-perf rows of IoUringBackend, IoUringGsoBackend and of the Counting policy, each group
//! measured against its reference in the same run and round:
//!   "uring send" / "uring receive": IoUringBackend vs LinuxMmsgBackend (the reference;
//!   target: send >= 1.0x);
//!   "uring gso send": IoUringGsoBackend vs LinuxGsoBackend, the same trains (target >= 0.95x);
//!   "lending receive": LendingReceiver (multishot recvmsg, views) vs LinuxMmsgBackend
//!   (target at 64 B: >= 1.2x, CPU per datagram no more than the reference's);
//!   "lending gro receive": LendingReceiver with UDP_GRO vs LinuxGsoBackend (target >= 0.95x);
//!   "counting send" / "counting receive": Counting<LinuxMmsgBackend> vs LinuxMmsgBackend,
//!   the price of counting (target: ratio >= 0.98).
#ifndef MMSG_BENCH_ROWS_URING_HPP
#define MMSG_BENCH_ROWS_URING_HPP

#include "perf_rows.hpp"
#include "rows_gso.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#if MMSG_HAS_IO_URING
#include <mmsg/backend/io_uring.hpp>
#include <mmsg/backend/io_uring_gso.hpp>
#include <mmsg/lending_receiver.hpp>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

#include <sys/socket.h>

namespace mmsg::bench::rows_uring {

using rows_mmsg::batch_receiver_n;
using rows_mmsg::batch_sender;

template <class B>
struct Receiver {
    template <std::size_t N>
    struct At {
        Measurement operator()(const RowContext& c) const {
            return batch_receiver_n<B, N>(c);
        }
    };
};

#if MMSG_HAS_IO_URING
// IoUringBackend with a kernel submission-polling thread, if the kernel grants it.
struct SqpollUring : IoUringBackend {
    SqpollUring() : IoUringBackend(IoUringOptions{256, true}) {}
};

// The row says why instead of failing where the kernel refuses io_uring.
template <Measurement (*F)(const RowContext&)>
Measurement if_io_uring(const RowContext& ctx) {
    if (const std::error_code e = IoUringBackend::available()) {
        Measurement m;
        m.unavailable = "io_uring: " + e.message();
        return m;
    }
    return F(ctx);
}
#endif

#if MMSG_HAS_IO_URING
/*! The alternative receive design, measured to choose IoUringBackend's: one multishot
    recvmsg armed on the socket with a ring of provided buffers; each completion's datagram
    is copied into the caller's packet (the RecvSlot interface gives the kernel no say in
    which buffer it fills) and the buffer goes back to the ring. Hand-written, no library.
*/
template <std::size_t N>
Measurement multishot_loop_n(const RowContext& ctx) {
    constexpr unsigned entries = 256;
    constexpr unsigned group = 7;
    const std::size_t buf_size =
        ((ctx.size + sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + 63) / 64) * 64;
    LoopbackSocket rx = receiver_socket();
    rows_mmsg::PacketBuffers<N> out;
    io_uring ring;
    if (const int e = io_uring_queue_init(64, &ring, 0); e < 0) {
        Measurement m;
        m.unavailable = "io_uring: " + errno_text("io_uring_queue_init", -e);
        return m;
    }
    void* mem = nullptr;
    const std::size_t ring_bytes = entries * sizeof(io_uring_buf);
    if (::posix_memalign(&mem, 4096, ring_bytes + entries * buf_size) != 0) {
        io_uring_queue_exit(&ring);
        Measurement m;
        m.error = "posix_memalign failed";
        return m;
    }
    auto* br = static_cast<io_uring_buf_ring*>(mem);
    auto* bufs = static_cast<unsigned char*>(mem) + ring_bytes;
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
    reg.ring_entries = entries;
    reg.bgid = group;
    Measurement result;
    if (const int e = io_uring_register_buf_ring(&ring, &reg, 0); e < 0) {
        result.unavailable = "provided buffer rings: " + errno_text("register", -e);
    } else {
        const int mask = io_uring_buf_ring_mask(entries);
        for (unsigned i = 0; i < entries; ++i)
            io_uring_buf_ring_add(br, bufs + i * buf_size, static_cast<unsigned>(buf_size),
                                  static_cast<unsigned short>(i), mask, static_cast<int>(i));
        io_uring_buf_ring_advance(br, entries);
        msghdr hdr{};
        hdr.msg_namelen = sizeof(sockaddr_storage);
        auto arm = [&] {
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            io_uring_prep_recvmsg_multishot(sqe, rx.fd(), &hdr, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = group;
        };
        arm();
        result = timed_receive(ctx, rx, [&](std::size_t k) {
            Moved m;
            k = std::min(k, num_rcvmmsgs);
            ++m.syscalls;
            const int r = io_uring_submit_and_wait(&ring, 1);
            if (r < 0 && r != -EINTR) {
                m.error = errno_text("io_uring_submit_and_wait", -r);
                return m;
            }
            unsigned head;
            unsigned seen = 0;
            unsigned returned = 0;
            io_uring_cqe* cqe;
            bool rearm = false;
            io_uring_for_each_cqe(&ring, head, cqe) {
                if (m.datagrams == k) break;
                ++seen;
                if (!(cqe->flags & IORING_CQE_F_MORE)) rearm = true;
                if (cqe->res < 0) continue; // ENOBUFS: ring ran dry; re-armed below
                const unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                unsigned char* b = bufs + bid * buf_size;
                io_uring_recvmsg_out* o = io_uring_recvmsg_validate(b, cqe->res, &hdr);
                if (o != nullptr) {
                    const std::size_t len = std::min<std::size_t>(
                        io_uring_recvmsg_payload_length(o, cqe->res, &hdr), N);
                    std::memcpy(out.packets[m.datagrams].buffer.data(),
                                io_uring_recvmsg_payload(o, &hdr), len);
                    ++m.datagrams;
                }
                io_uring_buf_ring_add(br, b, static_cast<unsigned>(buf_size),
                                      static_cast<unsigned short>(bid), mask,
                                      static_cast<int>(returned));
                ++returned;
            }
            io_uring_buf_ring_advance(br, static_cast<int>(returned));
            io_uring_cq_advance(&ring, seen);
            if (rearm) arm();
            return m;
        });
    }
    io_uring_queue_exit(&ring);
    std::free(mem);
    return result;
}
template <std::size_t N>
struct Multishot {
    Measurement operator()(const RowContext& c) const { return multishot_loop_n<N>(c); }
};
#endif

#if MMSG_HAS_IO_URING
/*! LendingReceiver::receive of up to 64 datagrams per call (as the receive rows take them),
    each call releasing the packets of the one before; the engine and GRO as given. Fed by a
    Feeder. The receiver is set up (and UDP_GRO turned on) before the feeder starts.
*/
template <LendEngine Engine, bool Gro>
Measurement lending_receiver(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    LendingOptions o;
    o.engine = Engine;
    o.gro = Gro;
    o.buffer_size = std::max<std::size_t>(ctx.size, packet_data_size);
    LendingReceiver receiver(rx, o);
    std::vector<LentPacket> out(num_rcvmmsgs);
    std::error_code ec;
    receiver.try_receive(out, ec); // sets up: nothing is queued yet
    if (ec && !mmsg::detail::is_would_block(ec)) {
        Measurement m;
        m.unavailable = "LendingReceiver: " + ec.message();
        return m;
    }
    return timed_receive(ctx, rx, [&](std::size_t k) {
        const std::uint64_t before = receiver.stats().syscalls;
        std::error_code e;
        const std::size_t n =
            receiver.receive(std::span<LentPacket>(out).first(std::min(k, out.size())), e);
        Moved m{n, static_cast<std::size_t>(receiver.stats().syscalls - before), {}};
        if (e) m.error = "LendingReceiver::receive: " + e.message();
        return m;
    });
}
template <LendEngine Engine, bool Gro>
Measurement if_lending(const RowContext& ctx) {
    if (Engine == LendEngine::io_uring)
        if (const std::error_code e = LendingReceiver::available()) {
            Measurement m;
            m.unavailable = "io_uring lending: " + e.message();
            return m;
        }
    return lending_receiver<Engine, Gro>(ctx);
}
#endif

inline const Registration registration {
    Row{"LinuxMmsgBackend", "uring send", batch_sender<LinuxMmsgBackend>,
        true, "BatchSender<LinuxMmsgBackend> (sendmmsg): the reference of the io_uring rows"},
#if MMSG_HAS_IO_URING
        Row{"IoUringBackend", "uring send",
            if_io_uring<batch_sender<IoUringBackend>>, false,
            "BatchSender<IoUringBackend>: one send SQE per datagram (IORING_OP_SEND with its "
            "destination), one io_uring_enter per call"},
        Row{"IoUringBackend SQPOLL", "uring send",
            if_io_uring<batch_sender<SqpollUring>>, false,
            "BatchSender<IoUringBackend> with IoUringOptions::sqpoll (kernel polling thread)"},
#endif
#if MMSG_HAS_UDP_GSO
        Row{"LinuxGsoBackend", "uring gso send", rows_gso::gso_sender<LinuxGsoBackend>, true,
            "BatchSender<LinuxGsoBackend> (sendmmsg of UDP_SEGMENT trains), payloads back to back: "
            "the reference of IoUringGsoBackend"},
#if MMSG_HAS_IO_URING
        Row{"IoUringGsoBackend", "uring gso send",
            if_io_uring<rows_gso::gso_sender<IoUringGsoBackend>>, false,
            "BatchSender<IoUringGsoBackend>: the same trains, one io_uring submission each, "
            "one io_uring_enter per call"},
#endif
#endif
        Row{"LinuxMmsgBackend", "uring receive",
            rows_mmsg::by_capacity<Receiver<LinuxMmsgBackend>::At>, true,
            "BatchReceiver<LinuxMmsgBackend> (recvmmsg): the reference of the io_uring rows"},
#if MMSG_HAS_IO_URING
        Row{"IoUringBackend", "uring receive",
            if_io_uring<rows_mmsg::by_capacity<Receiver<IoUringBackend>::At>>, false,
            "BatchReceiver<IoUringBackend>: one recvmsg SQE per packet, one io_uring_enter"},
        Row{"io_uring multishot loop", "uring receive",
            if_io_uring<rows_mmsg::by_capacity<Multishot>>, false,
            "hand-written: multishot recvmsg + provided buffer ring, a copy per datagram "
            "(the receive design IoUringBackend did not take)"},
#endif
        Row{"LinuxMmsgBackend", "lending receive",
            rows_mmsg::by_capacity<Receiver<LinuxMmsgBackend>::At>, true,
            "BatchReceiver<LinuxMmsgBackend> (recvmmsg, up to 64): the reference of LendingReceiver"},
#if MMSG_HAS_IO_URING
        Row{"LendingReceiver", "lending receive", if_lending<LendEngine::io_uring, false>, false,
            "LendingReceiver: multishot recvmsg over a provided-buffer ring, datagrams lent as "
            "views (no copy), up to 64 per call"},
        Row{"LendingReceiver, recvmmsg", "lending receive", if_lending<LendEngine::recvmmsg, false>,
            false, "LendingReceiver filled by recvmmsg (its engine where io_uring is refused)"},
#endif
#if MMSG_HAS_UDP_GSO
        Row{"LinuxGsoBackend", "lending gro receive", rows_mmsg::by_capacity<rows_gso::GsoReceiver>,
            true, "BatchReceiver<LinuxGsoBackend>::recv_mmsg (UDP_GRO, split into packets): the "
            "reference of LendingReceiver with GRO"},
#if MMSG_HAS_IO_URING
        Row{"LendingReceiver, GRO", "lending gro receive", if_lending<LendEngine::io_uring, true>,
            false, "LendingReceiver with UDP_GRO: coalesced datagrams in 64 KiB buffers, lent as one "
            "view per segment (no copy)"},
#endif
#endif
        Row{"LinuxMmsgBackend", "counting send",
            batch_sender<LinuxMmsgBackend>, true,
            "BatchSender<LinuxMmsgBackend>: the reference of the Counting rows (every row "
            "counts its system calls with one Counting layer)"},
        Row{"Counting<LinuxMmsgBackend>", "counting send",
            batch_sender<Counting<LinuxMmsgBackend>>, false,
            "BatchSender<Counting<LinuxMmsgBackend>>: one Counting layer more than the "
            "reference, the cost of counting (target >= 0.98)"},
        Row{"LinuxMmsgBackend", "counting receive",
            rows_mmsg::by_capacity<Receiver<LinuxMmsgBackend>::At>, true,
            "BatchReceiver<LinuxMmsgBackend>: the reference of the Counting rows (counted as "
            "every row is)"},
        Row{"Counting<LinuxMmsgBackend>", "counting receive",
            rows_mmsg::by_capacity<Receiver<Counting<LinuxMmsgBackend>>::At>, false,
            "BatchReceiver<Counting<LinuxMmsgBackend>>: one Counting layer more than the "
            "reference, the cost of counting (target >= 0.98)"},
};

} // namespace mmsg::bench::rows_uring

#endif // MMSG_BENCH_ROWS_URING_HPP
