//! mmsg-perf rows of per-datagram metadata (DESIGN §7): what it costs.
//!  - "metadata send": BatchSender<LinuxGsoBackend> without options (the reference) against
//!    the same batches with ECN ECT(0) on every datagram (a SendOptions per element, so
//!    every train carries an IP_TOS message). Target >= 0.95.
//!  - "metadata receive": BatchReceiver<LinuxGsoBackend> on a socket asked for nothing (the
//!    reference) against one asked for Metadata::all (TOS, packet info, timestamp with every
//!    coalesced datagram, given to each of its segments). Target >= 0.90.
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
#include <mmsg/send_options.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace mmsg::bench::rows_metadata {

#if MMSG_HAS_UDP_GSO

//! BatchSender<LinuxGsoBackend> with `options` on every datagram (nullptr: none).
inline Measurement gso_send(const RowContext& ctx, const SendOptions* options) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx;
    PayloadBatch payload(ctx.size, 1, ctx.sink);
    const std::span<const std::byte> bytes(payload.data(), ctx.size);
    std::vector<std::tuple<std::span<const std::byte>, const Endpoint*, const SendOptions*>> batch(
        ctx.batch, {bytes, &payload.dest(), options});
    BatchSender<LinuxGsoBackend> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const SendResult r = sender.batch_send(tx.fd(), std::span(batch).first(k));
        Moved m{r.sent, 1, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}
inline Measurement gso_send_plain(const RowContext& ctx) { return gso_send(ctx, nullptr); }
inline Measurement gso_send_ecn(const RowContext& ctx) {
    static const SendOptions ect0{Ecn::ect0, 0, {}, 0};
    return gso_send(ctx, &ect0);
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
    Row{"LinuxGsoBackend, nothing requested", "metadata receive",
        rows_mmsg::by_capacity<ReceivePlain>, true,
        "BatchReceiver<LinuxGsoBackend>, UDP_GRO, no metadata requested (the reference)"},
    Row{"LinuxGsoBackend, Metadata::all", "metadata receive", rows_mmsg::by_capacity<ReceiveAll>,
        false, "the same with ECN, local address and timestamps requested (target >= 0.90)"},
};

#endif // MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_metadata

#endif // MMSG_BENCH_ROWS_METADATA_HPP
