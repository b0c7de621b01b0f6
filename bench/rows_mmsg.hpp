//! mmsg-perf rows of the core backends. Group "send": a hand-written per-datagram sendto
//! loop (the reference), a hand-written sendmmsg loop, and BatchSender on LinuxMmsgBackend
//! and on PortableBackend. Group "receive": the same four for receiving (recvmsg loop as
//! the reference, recvmmsg loop, BatchReceiver on each backend), fed by a Feeder thread.
#ifndef MMSG_BENCH_ROWS_MMSG_HPP
#define MMSG_BENCH_ROWS_MMSG_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::bench::rows_mmsg {

// ---- send ----------------------------------------------------------------------------

inline Measurement sendto_loop(const RowContext& ctx) {
    LoopbackSocket tx;
    PayloadBatch batch(ctx.size, 1, ctx.sink);
    const auto* to = static_cast<const sockaddr*>(ctx.sink.data());
    const auto to_len = static_cast<socklen_t>(ctx.sink.size());
    return timed_send(ctx, [&](std::size_t k) {
        Moved m;
        for (std::size_t i = 0; i < k; ++i) {
            ++m.syscalls;
            if (::sendto(tx.fd(), batch.data(), ctx.size, 0, to, to_len) < 0) {
                if (errno == EINTR) continue;
                m.error = errno_text("sendto");
                break;
            }
            ++m.datagrams;
        }
        return m;
    });
}

inline Measurement sendmmsg_loop(const RowContext& ctx) {
    LoopbackSocket tx;
    PayloadBatch batch(ctx.size, 1, ctx.sink);
    std::vector<iovec> iov(ctx.batch, iovec{batch.data(), ctx.size});
    std::vector<mmsghdr> hdr(ctx.batch);
    for (std::size_t i = 0; i < ctx.batch; ++i) {
        hdr[i] = mmsghdr{};
        hdr[i].msg_hdr.msg_name = const_cast<void*>(static_cast<const void*>(ctx.sink.data()));
        hdr[i].msg_hdr.msg_namelen = static_cast<socklen_t>(ctx.sink.size());
        hdr[i].msg_hdr.msg_iov = &iov[i];
        hdr[i].msg_hdr.msg_iovlen = 1;
    }
    return timed_send(ctx, [&](std::size_t k) {
        Moved m;
        while (m.datagrams < k) {
            ++m.syscalls;
            const int r = ::sendmmsg(tx.fd(), hdr.data() + m.datagrams,
                                     static_cast<unsigned>(k - m.datagrams), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                m.error = errno_text("sendmmsg");
                break;
            }
            m.datagrams += static_cast<std::size_t>(r);
        }
        return m;
    });
}

//! BatchSender::batch_send on backend B, batches of ctx.batch datagrams.
template <class B>
Measurement batch_sender(const RowContext& ctx) {
    LoopbackSocket tx;
    PayloadBatch batch(ctx.size, ctx.batch, ctx.sink);
    BatchSender<Counting<B>> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const std::size_t before = syscalls(sender.backend());
        const SendResult r = sender.batch_send(tx.fd(), batch.first(k));
        Moved m{r.sent, syscalls(sender.backend()) - before, {}};
        if (!r.ok())
            m.error = "batch_send: " + std::to_string(r.failed) + " failed, " +
                      std::to_string(r.unsent) + " unsent (" + r.first_error.message() + ")";
        return m;
    });
}

// ---- receive -------------------------------------------------------------------------

//! Receive buffers for up to num_rcvmmsgs datagrams of `size` bytes, as packets of the
//! smallest capacity that holds them (the raw loops receive into the same buffers).
template <std::size_t N>
struct PacketBuffers {
    std::unique_ptr<BasicPacket<N>[]> packets = std::make_unique<BasicPacket<N>[]>(num_rcvmmsgs);
    std::span<BasicPacket<N>> first(std::size_t k) { return {packets.get(), k}; }
};

template <std::size_t N>
Measurement recvmsg_loop_n(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    PacketBuffers<N> buf;
    return timed_receive(ctx, rx, [&](std::size_t k) {
        Moved m;
        k = std::min(k, num_rcvmmsgs);
        for (std::size_t i = 0; i < k; ++i) {
            sockaddr_storage from;
            iovec iov{buf.packets[i].buffer.data(), N};
            msghdr h{};
            h.msg_name = &from;
            h.msg_namelen = sizeof from;
            h.msg_iov = &iov;
            h.msg_iovlen = 1;
            ++m.syscalls;
            if (::recvmsg(rx.fd(), &h, 0) < 0) {
                if (errno == EINTR) continue;
                m.error = errno_text("recvmsg");
                break;
            }
            ++m.datagrams;
        }
        return m;
    });
}

template <std::size_t N>
Measurement recvmmsg_loop_n(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    PacketBuffers<N> buf;
    std::vector<sockaddr_storage> from(num_rcvmmsgs);
    std::vector<iovec> iov(num_rcvmmsgs);
    std::vector<mmsghdr> hdr(num_rcvmmsgs);
    for (std::size_t i = 0; i < num_rcvmmsgs; ++i) {
        iov[i] = iovec{buf.packets[i].buffer.data(), N};
        hdr[i] = mmsghdr{};
        hdr[i].msg_hdr.msg_name = &from[i];
        hdr[i].msg_hdr.msg_iov = &iov[i];
        hdr[i].msg_hdr.msg_iovlen = 1;
    }
    return timed_receive(ctx, rx, [&](std::size_t k) {
        Moved m;
        k = std::min(k, num_rcvmmsgs);
        for (std::size_t i = 0; i < k; ++i)
            hdr[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        ++m.syscalls;
        const int r =
            ::recvmmsg(rx.fd(), hdr.data(), static_cast<unsigned>(k), MSG_WAITFORONE, nullptr);
        if (r < 0) {
            if (errno != EINTR) m.error = errno_text("recvmmsg");
            return m;
        }
        m.datagrams = static_cast<std::size_t>(r);
        return m;
    });
}

//! BatchReceiver<B>::recv_mmsg on `rx`, fed by a Feeder.
template <class B, std::size_t N>
Measurement batch_receive_on(const RowContext& ctx, LoopbackSocket& rx) {
    PacketBuffers<N> buf;
    BatchReceiver<Counting<B>> receiver;
    return timed_receive(ctx, rx, [&](std::size_t k) {
        const std::size_t before = syscalls(receiver.backend());
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(rx.fd(), buf.first(std::min(k, num_rcvmmsgs)), ec);
        Moved m{n, syscalls(receiver.backend()) - before, {}};
        if (ec) m.error = "recv_mmsg: " + ec.message();
        return m;
    });
}
template <class B, std::size_t N>
Measurement batch_receiver_n(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    return batch_receive_on<B, N>(ctx, rx);
}

//! Runs F<N> with the smallest packet capacity N that holds ctx.size bytes.
template <template <std::size_t> class F>
Measurement by_capacity(const RowContext& ctx) {
    if (ctx.size <= packet_data_size) return F<packet_data_size>{}(ctx);
    return F<65536>{}(ctx);
}
template <std::size_t N>
struct RecvmsgLoop {
    Measurement operator()(const RowContext& c) const { return recvmsg_loop_n<N>(c); }
};
template <std::size_t N>
struct RecvmmsgLoop {
    Measurement operator()(const RowContext& c) const { return recvmmsg_loop_n<N>(c); }
};
template <std::size_t N>
struct MmsgReceiver {
    Measurement operator()(const RowContext& c) const {
        return batch_receiver_n<LinuxMmsgBackend, N>(c);
    }
};
template <std::size_t N>
struct PortableReceiver {
    Measurement operator()(const RowContext& c) const {
        return batch_receiver_n<PortableBackend, N>(c);
    }
};

inline const Registration registration{
    Row{"sendto loop", "send", sendto_loop, true,
        "hand-written loop: one sendto(2) per datagram (the reference)"},
    Row{"sendmmsg loop", "send", sendmmsg_loop, false,
        "hand-written loop: sendmmsg(2) over the whole batch, no library"},
    Row{"LinuxMmsgBackend", "send", batch_sender<LinuxMmsgBackend>, false,
        "BatchSender<LinuxMmsgBackend>::batch_send (sendmmsg)"},
    Row{"PortableBackend", "send", batch_sender<PortableBackend>, false,
        "BatchSender<PortableBackend>::batch_send (sendto per datagram)"},
    Row{"recvmsg loop", "receive", by_capacity<RecvmsgLoop>, true,
        "hand-written loop: one recvmsg(2) per datagram (the reference)"},
    Row{"recvmmsg loop", "receive", by_capacity<RecvmmsgLoop>, false,
        "hand-written loop: recvmmsg(2) of up to 64, MSG_WAITFORONE, no library"},
    Row{"LinuxMmsgBackend", "receive", by_capacity<MmsgReceiver>, false,
        "BatchReceiver<LinuxMmsgBackend>::recv_mmsg (recvmmsg, up to 64)"},
    Row{"PortableBackend", "receive", by_capacity<PortableReceiver>, false,
        "BatchReceiver<PortableBackend>::recv_mmsg (recvmsg per datagram)"},
};

} // namespace mmsg::bench::rows_mmsg

#endif // MMSG_BENCH_ROWS_MMSG_HPP
