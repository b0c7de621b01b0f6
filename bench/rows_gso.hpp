//! mmsg-perf rows of LinuxGsoBackend (UDP segmentation offload).
//!  - "gso send": a per-datagram sendto loop (the reference), a hand-written UDP_SEGMENT
//!    loop (one sendmsg per train, trains as long as the backend builds them), and
//!    BatchSender<LinuxGsoBackend> (batch_send, and send_trains of the same payloads as
//!    SendTrains). Targets: >= 3.5x the reference, >= 0.95x the raw loop.
//!  - "gso receive": a per-datagram recvmsg loop (the reference), a hand-written UDP_GRO
//!    loop (one recvmsg per coalesced datagram, not split), and BatchReceiver<LinuxGsoBackend>
//!    (split into packets; also into a PacketBlock, and whole). Target: >= 3.5x the
//!    reference. All fed by UDP_SEGMENT trains.
//!  - "alternating": every datagram to another destination than the one before (no train
//!    possible): BatchSender<LinuxMmsgBackend> (the reference) against LinuxGsoBackend.
//!    Target: >= 0.95x.
//! Run with --size 64,1232 for the small-datagram rows.
#ifndef MMSG_BENCH_ROWS_GSO_HPP
#define MMSG_BENCH_ROWS_GSO_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/config.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/packet_block.hpp>
#include <mmsg/send_train.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::bench::rows_gso {

#if MMSG_HAS_UDP_GSO

// Why a GSO row cannot run here, or empty.
inline std::string gso_unavailable(bool need_gro = false) {
    const GsoCapability& c = gso_capability(boost::asio::ip::udp::v4());
    if (!c.gso()) return "UDP GSO does not work here (" + c.error.message() + ")";
    if (need_gro && !c.gro()) return "UDP GRO does not work here (" + c.error.message() + ")";
    return {};
}

// Datagrams per train for `size`-byte datagrams, as LinuxGsoBackend builds them.
inline std::size_t train_length(std::size_t size) {
    const GsoLimits l = probed_gso_limits();
    return std::min(l.max_segments, size == 0 ? 1 : l.max_bytes / size);
}

// ---- send ----------------------------------------------------------------------------

//! A hand-written UDP_SEGMENT control message, as the raw loops write it.
struct SegmentControl {
    alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(std::uint16_t))] = {};

    //! Makes `h` carry it, with segment size `size`.
    void attach(msghdr& h, std::size_t size) noexcept {
        h.msg_control = bytes;
        h.msg_controllen = sizeof bytes;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto seg = static_cast<std::uint16_t>(size);
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
};

//! Hand-written: one sendmsg(2) per UDP_SEGMENT train of train_length(size) datagrams, over
//! the payloads the LinuxGsoBackend row sends: a step's datagrams back to back in one buffer
//! of a batch (not one train's buffer sent again and again, which stays in the cache and
//! cost 1.09x less CPU per datagram at 1232 B; doc/gso.adoc).
inline Measurement udp_segment_loop(const RowContext& ctx) {
    if (auto why = gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    const std::size_t segs = train_length(ctx.size);
    if (segs < 2) return Measurement{0, 0, 0, "datagrams too large for trains", {}};
    LoopbackSocket tx;
    std::vector<std::byte> bytes(ctx.size * std::max(segs, ctx.batch), std::byte{7});
    SegmentControl ctl;
    iovec iov{bytes.data(), 0};
    msghdr h{};
    h.msg_name = const_cast<void*>(static_cast<const void*>(ctx.sink.data()));
    h.msg_namelen = static_cast<socklen_t>(ctx.sink.size());
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    ctl.attach(h, ctx.size);
    return timed_send(ctx, [&](std::size_t k) {
        Moved m;
        while (m.datagrams < k) {
            const std::size_t n = std::min(segs, k - m.datagrams);
            iov.iov_base = bytes.data() + m.datagrams * ctx.size;
            iov.iov_len = n * ctx.size;
            h.msg_controllen = n > 1 ? sizeof ctl.bytes : 0;
            ++m.syscalls;
            if (::sendmsg(tx.fd(), &h, 0) < 0) {
                if (errno == EINTR) continue;
                m.error = errno_text("sendmsg UDP_SEGMENT");
                break;
            }
            m.datagrams += n;
        }
        return m;
    });
}

//! BatchSender<B> (LinuxGsoBackend by default) with payloads that are slices of one buffer,
//! back to back, as a QUIC stack writes its packets (and as the raw loop sends them): a train
//! goes as one iovec with no copy. No Counting layer here, so that the row compares the
//! library alone with the raw loop and quinn-udp: a batch (<= max_send, nothing refused) is
//! one sendmmsg (one io_uring_enter for IoUringGsoBackend): `calls` system calls per batch
//! (0 for a layer that makes none, see rows_library.hpp).
template <class B = LinuxGsoBackend, std::size_t calls = 1>
Measurement gso_sender(const RowContext& ctx) {
    if (auto why = gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx;
    std::vector<std::byte> bytes(std::max<std::size_t>(ctx.size, 1) * ctx.batch, std::byte{7});
    std::vector<std::pair<std::span<const std::byte>, const Endpoint*>> batch(ctx.batch);
    for (std::size_t i = 0; i < ctx.batch; ++i)
        batch[i] = {std::span<const std::byte>(bytes.data() + i * ctx.size, ctx.size), &ctx.sink};
    BatchSender<B> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const SendResult r = sender.batch_send(tx.fd(), std::span(batch).first(k));
        Moved m{r.sent, calls, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}

//! BatchSender<B>::send_trains over the same payloads, handed over as trains of
//! train_length(size) datagrams (a buffer and its segment size each, as a QUIC stack
//! writes them and as the raw loop sends them): the backend plans nothing per datagram.
template <class B = LinuxGsoBackend, std::size_t calls = 1>
Measurement gso_train_sender(const RowContext& ctx) {
    if (auto why = gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx;
    const std::size_t size = std::max<std::size_t>(ctx.size, 1);
    const std::size_t segs = train_length(size);
    std::vector<std::byte> bytes(size * ctx.batch, std::byte{7});
    std::vector<SendTrain> trains;
    for (std::size_t d = 0; d < ctx.batch; d += segs) {
        const std::size_t n = std::min(segs, ctx.batch - d);
        trains.push_back(SendTrain{std::span<const std::byte>(bytes.data() + d * size, n * size),
                                   size, &ctx.sink});
    }
    BatchSender<B> sender;
    return timed_send(ctx, [&](std::size_t k) {
        // The first k datagrams: whole trains, the last one cut.
        const std::size_t whole = k / segs;
        const std::size_t rest = k % segs;
        SendTrain last{};
        if (rest != 0) {
            last = trains[whole].slice(0, rest);
            std::swap(last, trains[whole]);
        }
        const SendResult r = sender.send_trains(tx.fd(), std::span(trains).first(whole + (rest != 0)));
        if (rest != 0) std::swap(last, trains[whole]);
        Moved m{r.sent, calls, {}};
        if (!r.ok()) m.error = "send_trains: " + r.first_error.message();
        return m;
    });
}

//! The same with every payload the same bytes (scattered, not back to back): small trains
//! are copied into one run, large ones go one iovec per datagram.
inline Measurement gso_sender_scattered(const RowContext& ctx) {
    if (auto why = gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    return rows_mmsg::batch_sender<LinuxGsoBackend>(ctx);
}

// ---- alternating destinations ----------------------------------------------------------

//! BatchSender<B>::batch_send with every datagram to another destination than the one
//! before (the sink and a second loopback socket, never read).
template <class B>
Measurement alternating(const RowContext& ctx) {
    LoopbackSocket tx;
    LoopbackSocket other;
    other.set_rcvbuf(1 << 20);
    PayloadBatch batch(ctx.size, 1, ctx.sink);
    const Endpoint dests[2] = {ctx.sink, other.local()};
    std::vector<std::pair<std::span<const std::byte>, const Endpoint*>> items(ctx.batch);
    for (std::size_t i = 0; i < ctx.batch; ++i)
        items[i] = {std::span<const std::byte>(batch.data(), ctx.size), &dests[i % 2]};
    BatchSender<Counting<B>> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const std::size_t before = syscalls(sender.backend());
        const SendResult r = sender.batch_send(tx.fd(), std::span(items).first(k));
        Moved m{r.sent, syscalls(sender.backend()) - before, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}

// ---- receive -------------------------------------------------------------------------

//! Hand-written: one recvmsg(2) per coalesced datagram into a 64 KiB buffer, counting its
//! segments (the UDP_GRO size says how many); nothing is split or copied.
inline Measurement udp_gro_loop(const RowContext& ctx) {
    if (auto why = gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket rx = receiver_socket();
    const int one = 1;
    if (::setsockopt(rx.fd(), SOL_UDP, UDP_GRO, &one, sizeof one) != 0)
        return Measurement{0, 0, 0, errno_text("UDP_GRO"), {}};
    std::vector<std::byte> buf(65536);
    return timed_receive(ctx, rx, [&](std::size_t) {
        Moved m;
        ++m.syscalls;
        const RawGro g = raw_gro_recv(rx.fd(), buf, 0);
        if (g.bytes < 0) {
            if (errno != EINTR) m.error = errno_text("recvmsg");
            return m;
        }
        m.datagrams = g.datagrams;
        return m;
    });
}

template <std::size_t N>
struct GsoReceiver {
    Measurement operator()(const RowContext& ctx) const {
        if (auto why = gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
        LoopbackSocket rx = receiver_socket();
        rows_mmsg::PacketBuffers<N> buf;
        // No Counting layer (as in the send row): one recvmmsg per call.
        BatchReceiver<LinuxGsoBackend> receiver;
        receiver.backend().enable_gro(rx.fd()); // before the feeder starts
        return timed_receive(ctx, rx, [&](std::size_t k) {
            std::error_code ec;
            const std::size_t n =
                receiver.recv_mmsg(rx.fd(), buf.first(std::min(k, num_rcvmmsgs)), ec);
            Moved m{n, 1, {}};
            if (ec) m.error = "recv_mmsg: " + ec.message();
            return m;
        });
    }
};

//! The same into a BasicPacketBlock: the packets' buffers back to back, so a coalesced
//! datagram of packet-sized segments lands with one kernel copy.
template <std::size_t N>
struct GsoBlockReceiver {
    Measurement operator()(const RowContext& ctx) const {
        if (auto why = gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
        LoopbackSocket rx = receiver_socket();
        BasicPacketBlock<N> block(num_rcvmmsgs);
        BatchReceiver<LinuxGsoBackend> receiver;
        receiver.backend().enable_gro(rx.fd()); // before the feeder starts
        return timed_receive(ctx, rx, [&](std::size_t k) {
            std::error_code ec;
            const std::size_t n =
                receiver.recv_mmsg(rx.fd(), block.view().first(std::min(k, num_rcvmmsgs)), ec);
            Moved m{n, 1, {}};
            if (ec) m.error = "recv_mmsg: " + ec.message();
            return m;
        });
    }
};

//! BatchReceiver<LinuxGsoBackend>::recv_coalesced: datagrams whole, segments not split.
inline Measurement gso_receiver_whole(const RowContext& ctx) {
    if (auto why = gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket rx = receiver_socket();
    const auto packets = std::make_unique<CoalescedPacket[]>(num_rcvmmsgs);
    BatchReceiver<LinuxGsoBackend> receiver;
    receiver.backend().enable_gro(rx.fd()); // before the feeder starts
    return timed_receive(ctx, rx, [&](std::size_t k) {
        std::error_code ec;
        const std::size_t n = receiver.recv_coalesced(
            rx.fd(), std::span<CoalescedPacket>(packets.get(), std::min(k, num_rcvmmsgs)), ec);
        Moved m{0, 1, {}};
        for (std::size_t i = 0; i < n; ++i) m.datagrams += packets[i].segments().size();
        if (ec) m.error = "recv_coalesced: " + ec.message();
        return m;
    });
}

inline const Registration registration{
    Row{"sendto loop", "gso send", rows_mmsg::sendto_loop, true,
        "hand-written loop: one sendto(2) per datagram (the reference)"},
    Row{"UDP_SEGMENT loop", "gso send", udp_segment_loop, false,
        "hand-written loop: one sendmsg(2) per UDP_SEGMENT train, trains as long as the backend's, "
        "over the same payloads as the LinuxGsoBackend row"},
    Row{"LinuxGsoBackend", "gso send", gso_sender<>, false,
        "BatchSender<LinuxGsoBackend>::batch_send (sendmmsg of UDP_SEGMENT trains), payloads "
        "back to back in one buffer"},
    Row{"LinuxGsoBackend, trains", "gso send", gso_train_sender<>, false,
        "BatchSender<LinuxGsoBackend>::send_trains: the same payloads handed over as trains "
        "(buffer and segment size, SendTrain), nothing planned per datagram"},
    Row{"LinuxGsoBackend, scattered payloads", "gso send", gso_sender_scattered, false,
        "the same with every payload the same bytes: staged copies or one iovec per datagram"},
    Row{"recvmsg loop", "gso receive", rows_mmsg::by_capacity<rows_mmsg::RecvmsgLoop>, true,
        "hand-written loop: one recvmsg(2) per datagram, no GRO (the reference)"},
    Row{"UDP_GRO loop", "gso receive", udp_gro_loop, false,
        "hand-written loop: one recvmsg(2) per coalesced datagram, segments counted, not split"},
    Row{"LinuxGsoBackend", "gso receive", rows_mmsg::by_capacity<GsoReceiver>, false,
        "BatchReceiver<LinuxGsoBackend>::recv_mmsg (UDP_GRO, split into packets)"},
    Row{"LinuxGsoBackend, PacketBlock", "gso receive", rows_mmsg::by_capacity<GsoBlockReceiver>, false,
        "BatchReceiver<LinuxGsoBackend>::recv_mmsg into a PacketBlock (split into packets whose "
        "buffers lie back to back)"},
    Row{"LinuxGsoBackend, whole", "gso receive", gso_receiver_whole, false,
        "BatchReceiver<LinuxGsoBackend>::recv_coalesced (UDP_GRO, datagrams whole, not split)"},
    Row{"LinuxMmsgBackend", "alternating", alternating<LinuxMmsgBackend>, true,
        "BatchSender<LinuxMmsgBackend>, destinations alternating every datagram (the reference)"},
    Row{"LinuxGsoBackend", "alternating", alternating<LinuxGsoBackend>, false,
        "BatchSender<LinuxGsoBackend>, destinations alternating every datagram (no trains)"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_gso

#endif // MMSG_BENCH_ROWS_GSO_HPP
