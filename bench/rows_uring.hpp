//! mmsg-perf rows of IoUringBackend and of the Counting policy, each group measured against
//! BatchSender / BatchReceiver on LinuxMmsgBackend in the same run and round:
//!   "uring send" / "uring receive": IoUringBackend vs LinuxMmsgBackend (the reference);
//!   "counting send" / "counting receive": Counting<LinuxMmsgBackend> vs LinuxMmsgBackend,
//!   the price of counting (target: ratio >= 0.98).
#ifndef MMSG_BENCH_ROWS_URING_HPP
#define MMSG_BENCH_ROWS_URING_HPP

#include "perf_rows.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#if MMSG_HAS_IO_URING
#include <mmsg/backend/io_uring.hpp>
#endif

#include <cstddef>

namespace mmsg::bench::rows_uring {

using rows_mmsg::batch_receiver_n;
using rows_mmsg::batch_sender;

template <class B>
struct Receiver {
    template <std::size_t N>
    struct At {
        Measurement operator()(const RowContext& c) const {
            return batch_receiver_n<B, CallCost::one_syscall, N>(c);
        }
    };
};

#if MMSG_HAS_IO_URING
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

inline const Registration registration{
    Row{"LinuxMmsgBackend", "uring send", batch_sender<LinuxMmsgBackend, CallCost::one_syscall>,
        true, "BatchSender<LinuxMmsgBackend> (sendmmsg): the reference of the io_uring rows"},
#if MMSG_HAS_IO_URING
    Row{"IoUringBackend", "uring send",
        if_io_uring<batch_sender<IoUringBackend, CallCost::one_syscall>>, false,
        "BatchSender<IoUringBackend>: a linked chain of sendmsg SQEs, one io_uring_enter"},
#endif
    Row{"LinuxMmsgBackend", "uring receive",
        rows_mmsg::by_capacity<Receiver<LinuxMmsgBackend>::At>, true,
        "BatchReceiver<LinuxMmsgBackend> (recvmmsg): the reference of the io_uring rows"},
#if MMSG_HAS_IO_URING
    Row{"IoUringBackend", "uring receive",
        if_io_uring<rows_mmsg::by_capacity<Receiver<IoUringBackend>::At>>, false,
        "BatchReceiver<IoUringBackend>: a linked chain of recvmsg SQEs, one io_uring_enter"},
#endif
    Row{"LinuxMmsgBackend", "counting send", batch_sender<LinuxMmsgBackend, CallCost::one_syscall>,
        true, "BatchSender<LinuxMmsgBackend>: the reference of the Counting rows"},
    Row{"Counting<LinuxMmsgBackend>", "counting send",
        batch_sender<Counting<LinuxMmsgBackend>, CallCost::one_syscall>, false,
        "BatchSender<Counting<LinuxMmsgBackend>>: the cost of counting (target >= 0.98)"},
    Row{"LinuxMmsgBackend", "counting receive",
        rows_mmsg::by_capacity<Receiver<LinuxMmsgBackend>::At>, true,
        "BatchReceiver<LinuxMmsgBackend>: the reference of the Counting rows"},
    Row{"Counting<LinuxMmsgBackend>", "counting receive",
        rows_mmsg::by_capacity<Receiver<Counting<LinuxMmsgBackend>>::At>, false,
        "BatchReceiver<Counting<LinuxMmsgBackend>>: the cost of counting (target >= 0.98)"},
};

} // namespace mmsg::bench::rows_uring

#endif // MMSG_BENCH_ROWS_URING_HPP
