//! mmsg-perf rows of the asynchronous layer (<mmsg/asio.hpp>). Group "async send": the
//! blocking BatchSender<LinuxMmsgBackend>::batch_send (the reference) against
//! async_batch_send on a Boost.Asio socket, each completion starting the next batch.
//! Group "async receive": the blocking BatchReceiver::recv_mmsg on a plain socket (the
//! reference) against async_recv_mmsg, both fed by a Feeder thread. Group "async receive,
//! same socket": the same two on a Boost.Asio socket. Asio registers every socket with its
//! reactor (epoll) when it opens it, and from then on the kernel runs epoll's wake-up
//! callback for every datagram queued on it, on the sending side, whether anyone waits or
//! not. That costs a blocking receiver on such a socket about as much as the whole async
//! layer costs against a plain socket, so the second group is the layer's own cost.
#ifndef MMSG_BENCH_ROWS_ASYNC_HPP
#define MMSG_BENCH_ROWS_ASYNC_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/asio.hpp>
#include <mmsg/backend/linux_mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include <poll.h>
#include <sys/socket.h>

namespace mmsg::bench::rows_async {

namespace asio = boost::asio;
using asio::ip::udp;

//! async_batch_send of ctx.batch datagrams at a time; each completion starts the next
//! batch, until ctx.count datagrams went or ctx.max_time passed.
inline Measurement async_sender(const RowContext& ctx) {
    asio::io_context io(1);
    udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    PayloadBatch batch(ctx.size, ctx.batch, ctx.sink);
    BatchSender<Counting<LinuxMmsgBackend>> sender;
    Measurement m;
    const auto t0 = Clock::now();
    const auto deadline = t0 + ctx.max_time;
    struct Loop {
        Measurement& m;
        BatchSender<Counting<LinuxMmsgBackend>>& sender;
        udp::socket& tx;
        const PayloadBatch& batch;
        const RowContext& ctx;
        Clock::time_point deadline;
        void next() {
            const std::size_t k = std::min(ctx.batch, ctx.count - m.datagrams);
            async_batch_send(sender, tx, batch.first(k), *this);
        }
        void operator()(boost::system::error_code ec, SendResult r) {
            m.datagrams += r.sent;
            if (ec || !r.ok()) {
                m.error = "async_batch_send: " + (ec ? ec.message() : r.first_error.message());
                return;
            }
            if (m.datagrams < ctx.count && Clock::now() < deadline) next();
        }
    };
    Loop{m, sender, tx, batch, ctx, deadline}.next();
    io.run();
    m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    m.syscalls = syscalls(sender.backend());
    return m;
}

//! async_recv_mmsg of up to min(ctx.batch, num_rcvmmsgs) at a time, fed by a Feeder; each
//! completion starts the next receive, until ctx.count datagrams came or ctx.max_time
//! passed.
template <std::size_t N>
Measurement async_receiver_n(const RowContext& ctx) {
    asio::io_context io(1);
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    const int rcvbuf = 8 << 20;
    if (::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    rows_mmsg::PacketBuffers<N> buf;
    BatchReceiver<Counting<LinuxMmsgBackend>> receiver;
    Measurement m;
    Feeder feeder(rx.local_endpoint(), ctx.size, ctx.max_time + std::chrono::seconds(3));
    pollfd first{rx.native_handle(), POLLIN, 0}; // bounded start: a datagram within 2 s
    if (::poll(&first, 1, 2000) != 1) {
        feeder.stop();
        m.error = "the feeder delivered nothing within 2 s";
        return m;
    }
    const auto t0 = Clock::now();
    const auto deadline = t0 + ctx.max_time;
    // A stalled feeder must not hang the row: the io_context runs until the deadline
    // plus one second at most.
    struct Loop {
        Measurement& m;
        BatchReceiver<Counting<LinuxMmsgBackend>>& receiver;
        udp::socket& rx;
        rows_mmsg::PacketBuffers<N>& buf;
        const RowContext& ctx;
        Clock::time_point deadline;
        void next() {
            const std::size_t k = std::min({ctx.batch, ctx.count - m.datagrams, num_rcvmmsgs});
            async_recv_mmsg(receiver, rx, buf.first(k), *this);
        }
        void operator()(boost::system::error_code ec, std::size_t n) {
            m.datagrams += n;
            if (ec) {
                m.error = "async_recv_mmsg: " + ec.message();
                return;
            }
            if (m.datagrams < ctx.count && Clock::now() < deadline) next();
        }
    };
    Loop{m, receiver, rx, buf, ctx, deadline}.next();
    io.run_for(ctx.max_time + std::chrono::seconds(1));
    m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    m.syscalls = syscalls(receiver.backend());
    feeder.stop();
    if (m.datagrams == 0 && m.error.empty()) m.error = "the feeder delivered nothing";
    return m;
}
/*! BatchReceiver::recv_mmsg, blocking, on a socket Boost.Asio has registered with its
    reactor: the socket of the blocking row, handed to an asio udp::socket (assign) for
    the row and taken back (release) after it.
*/
template <std::size_t N>
Measurement asio_blocking_receiver_n(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    asio::io_context io(1);
    udp::socket registered(io);
    boost::system::error_code ec;
    registered.assign(udp::v4(), rx.fd(), ec);
    if (ec) {
        Measurement m;
        m.error = "udp::socket::assign: " + ec.message();
        return m;
    }
    Measurement m = rows_mmsg::batch_receive_on<LinuxMmsgBackend, N>(ctx, rx);
    registered.release(ec); // the descriptor stays rx's
    return m;
}
template <std::size_t N>
struct AsioBlockingReceiver {
    Measurement operator()(const RowContext& c) const { return asio_blocking_receiver_n<N>(c); }
};

template <std::size_t N>
struct AsyncReceiver {
    Measurement operator()(const RowContext& c) const { return async_receiver_n<N>(c); }
};

inline const Registration registration{
    Row{"blocking batch_send", "async send",
        rows_mmsg::batch_sender<LinuxMmsgBackend>, true,
        "BatchSender<LinuxMmsgBackend>::batch_send, blocking (the reference)"},
    Row{"async_batch_send", "async send", async_sender, false,
        "async_batch_send on a Boost.Asio socket, each completion starting the next batch"},
    Row{"blocking recv_mmsg", "async receive", rows_mmsg::by_capacity<rows_mmsg::MmsgReceiver>,
        true, "BatchReceiver<LinuxMmsgBackend>::recv_mmsg, blocking (the reference)"},
    Row{"async_recv_mmsg", "async receive", rows_mmsg::by_capacity<AsyncReceiver>, false,
        "async_recv_mmsg on a Boost.Asio socket, each completion starting the next receive"},
    Row{"blocking recv_mmsg, asio socket", "async receive, same socket",
        rows_mmsg::by_capacity<AsioBlockingReceiver>, true,
        "BatchReceiver::recv_mmsg, blocking, on a socket registered with Boost.Asio's reactor "
        "(the reference)"},
    Row{"async_recv_mmsg", "async receive, same socket", rows_mmsg::by_capacity<AsyncReceiver>,
        false, "async_recv_mmsg, as in group \"async receive\""},
};

} // namespace mmsg::bench::rows_async

#endif // MMSG_BENCH_ROWS_ASYNC_HPP
