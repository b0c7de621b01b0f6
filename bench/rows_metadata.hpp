//! mmsg-perf rows of per-datagram metadata (DESIGN §7): what it costs.
//!  - "metadata send": BatchSender<LinuxGsoBackend> without options (the reference) against
//!    the same batches with ECN ECT(0) on every datagram (a SendOptions per element, so
//!    every train carries an IP_TOS message). Target >= 0.95.
//!  - "metadata receive": BatchReceiver<LinuxGsoBackend> on a socket asked for nothing (the
//!    reference) against one asked for Metadata::all (TOS, packet info, timestamp with every
//!    coalesced datagram, given to each of its segments). Target >= 0.90.
//!  - "pacing send": the unpaced reference again against batches where each train's worth
//!    of datagrams (as many as the backend puts in one train, rows_gso::train_length) share
//!    a release time (SendOptions::release_time, SO_TXTIME on the socket): the same trains,
//!    each carrying an SCM_TXTIME message. Loopback does not hold datagrams (no fq), so
//!    this is what pacing costs the sender. Target >= 1/1.05.
//! Each row uses its own sockets: nothing requested on one socket affects the other.
#ifndef MMSG_BENCH_ROWS_METADATA_HPP
#define MMSG_BENCH_ROWS_METADATA_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"
#include "rows_mmsg.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/pacing.hpp>
#include <mmsg/send_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace mmsg::bench::rows_metadata {

#if MMSG_HAS_UDP_GSO

//! BatchSender<LinuxGsoBackend> with `options(i)` on datagram i (nullptr: none).
template <class OptionsOf>
Measurement gso_send(const RowContext& ctx, OptionsOf options, bool paced = false) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx;
    if (paced)
        if (const std::error_code ec = enable_pacing(tx.fd()))
            return Measurement{0, 0, 0, "SO_TXTIME refused: " + ec.message(), {}};
    PayloadBatch payload(ctx.size, 1, ctx.sink);
    const std::span<const std::byte> bytes(payload.data(), ctx.size);
    std::vector<std::tuple<std::span<const std::byte>, const Endpoint*, const SendOptions*>> batch;
    batch.reserve(ctx.batch);
    for (std::size_t i = 0; i < ctx.batch; ++i) batch.emplace_back(bytes, &payload.dest(), options(i));
    BatchSender<LinuxGsoBackend> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const SendResult r = sender.batch_send(tx.fd(), std::span(batch).first(k));
        Moved m{r.sent, 1, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}
inline Measurement gso_send_plain(const RowContext& ctx) {
    return gso_send(ctx, [](std::size_t) -> const SendOptions* { return nullptr; });
}
inline Measurement gso_send_ecn(const RowContext& ctx) {
    static const SendOptions ect0{Ecn::ect0, 0, {}, 0, {}};
    return gso_send(ctx, [](std::size_t) { return &ect0; });
}
//! One release time per train (as many datagrams as one train holds at this size), 1 µs
//! apart, all in the past by the time they are sent, so that nothing waits on a device
//! that would honour them. (A time per fewer datagrams would cut the trains shorter, and
//! measure shorter trains rather than pacing.)
inline Measurement gso_send_paced(const RowContext& ctx) {
    const std::size_t per_train = std::max<std::size_t>(1, rows_gso::train_length(ctx.size));
    std::vector<SendOptions> times((ctx.batch + per_train - 1) / per_train);
    const auto base = std::chrono::steady_clock::now();
    for (std::size_t j = 0; j < times.size(); ++j)
        times[j].release_time = base + std::chrono::microseconds(static_cast<long>(j));
    return gso_send(ctx, [&](std::size_t i) { return &times[i / per_train]; }, true);
}

//! BatchReceiver<LinuxGsoBackend> on a socket asked for `what`, fed by GSO trains.
template <std::size_t N>
Measurement gro_receive(const RowContext& ctx, Metadata what) {
    if (auto why = rows_gso::gso_unavailable(true); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket rx = receiver_socket();
    if (const std::error_code ec = request_metadata(rx.fd(), what))
        return Measurement{0, 0, 0, {}, "request_metadata: " + ec.message()};
    rows_mmsg::PacketBuffers<N> buf;
    BatchReceiver<LinuxGsoBackend> receiver;
    receiver.backend().enable_gro(rx.fd()); // before the feeder starts
    return timed_receive(ctx, rx, [&](std::size_t k) {
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(rx.fd(), buf.first(std::min(k, num_rcvmmsgs)), ec);
        Moved m{n, 1, {}};
        if (ec) m.error = "recv_mmsg: " + ec.message();
        return m;
    });
}
template <std::size_t N>
struct ReceivePlain {
    Measurement operator()(const RowContext& c) const { return gro_receive<N>(c, Metadata::none); }
};
template <std::size_t N>
struct ReceiveAll {
    Measurement operator()(const RowContext& c) const { return gro_receive<N>(c, Metadata::all); }
};

inline const Registration registration{
    Row{"LinuxGsoBackend, no options", "metadata send", gso_send_plain, true,
        "BatchSender<LinuxGsoBackend>, (payload, destination, nullptr) elements (the reference)"},
    Row{"LinuxGsoBackend, ECN on every datagram", "metadata send", gso_send_ecn, false,
        "the same batches with SendOptions{ect0} on every datagram (target >= 0.95)"},
    Row{"LinuxGsoBackend, unpaced", "pacing send", gso_send_plain, true,
        "BatchSender<LinuxGsoBackend>, no options (the reference)"},
    Row{"LinuxGsoBackend, a release time per train", "pacing send", gso_send_paced, false,
        "SO_TXTIME on; the same trains, each carrying SCM_TXTIME (target >= 0.95: paced <= 1.05x unpaced)"},
    Row{"LinuxGsoBackend, nothing requested", "metadata receive",
        rows_mmsg::by_capacity<ReceivePlain>, true,
        "BatchReceiver<LinuxGsoBackend>, UDP_GRO, no metadata requested (the reference)"},
    Row{"LinuxGsoBackend, Metadata::all", "metadata receive", rows_mmsg::by_capacity<ReceiveAll>,
        false, "the same with ECN, local address and timestamps requested (target >= 0.90)"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_metadata

#endif // MMSG_BENCH_ROWS_METADATA_HPP
