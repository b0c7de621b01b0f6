//! mmsg-perf rows of the transport features (doc/transport.adoc):
//!  - "connected send, sendmmsg": BatchSender<LinuxMmsgBackend> sending addressed
//!    datagrams on an unconnected socket (the reference) against payloads alone on a socket
//!    connected to the sink (no msg_name: the kernel uses the connection's cached route
//!    instead of a route lookup per datagram).
//!  - "connected send, GSO": the same with LinuxGsoBackend (one route lookup per train).
//! Pacing's cost is in rows_metadata.hpp ("pacing send"), beside the other SendOptions.
#ifndef MMSG_BENCH_ROWS_TRANSPORT_HPP
#define MMSG_BENCH_ROWS_TRANSPORT_HPP

#include "bench_support.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/socket_ops.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace mmsg::bench::rows_transport {

#if MMSG_HAS_MMSG

//! BatchSender<B>: addressed datagrams (connected = false) or payloads alone on a socket
//! connected to the sink.
template <class B>
Measurement send(const RowContext& ctx, bool connected) {
    LoopbackSocket tx;
    if (connected)
        if (const std::error_code ec = mmsg::detail::connect_to(tx.fd(), ctx.sink))
            return Measurement{0, 0, 0, {}, "connect: " + ec.message()};
    PayloadBatch payload(ctx.size, ctx.batch, ctx.sink);
    const std::vector<std::span<const std::byte>> alone(ctx.batch, std::span<const std::byte>(payload.data(), ctx.size));
    BatchSender<B> sender;
    return timed_send(ctx, [&](std::size_t k) {
        const SendResult r = connected ? sender.batch_send(tx.fd(), std::span(alone).first(k))
                                       : sender.batch_send(tx.fd(), payload.first(k));
        Moved m{r.sent, 1, {}};
        if (!r.ok()) m.error = "batch_send: " + r.first_error.message();
        return m;
    });
}
inline Measurement mmsg_addressed(const RowContext& c) { return send<LinuxMmsgBackend>(c, false); }
inline Measurement mmsg_connected(const RowContext& c) { return send<LinuxMmsgBackend>(c, true); }

inline const Registration registration{
    Row{"LinuxMmsgBackend, addressed", "connected send, sendmmsg", mmsg_addressed, true,
        "BatchSender<LinuxMmsgBackend>, (payload, destination) on an unconnected socket (the reference)"},
    Row{"LinuxMmsgBackend, connected", "connected send, sendmmsg", mmsg_connected, false,
        "the same payloads alone on a socket connected to the sink (no msg_name)"},
};

#if MMSG_HAS_UDP_GSO
inline Measurement gso_addressed(const RowContext& c) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    return send<LinuxGsoBackend>(c, false);
}
inline Measurement gso_connected(const RowContext& c) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    return send<LinuxGsoBackend>(c, true);
}
inline const Registration gso_registration{
    Row{"LinuxGsoBackend, addressed", "connected send, GSO", gso_addressed, true,
        "BatchSender<LinuxGsoBackend>, (payload, destination) on an unconnected socket (the reference)"},
    Row{"LinuxGsoBackend, connected", "connected send, GSO", gso_connected, false,
        "the same payloads alone on a socket connected to the sink (no msg_name)"},
};
#endif // MMSG_HAS_UDP_GSO

#endif // MMSG_HAS_MMSG

} // namespace mmsg::bench::rows_transport

#endif // MMSG_BENCH_ROWS_TRANSPORT_HPP
