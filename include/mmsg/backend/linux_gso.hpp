//! Defines mmsg::BasicLinuxGsoBackend and mmsg::LinuxGsoBackend: UDP_SEGMENT trains sent with
//! sendmmsg(2), UDP_GRO coalesced datagrams received with recvmmsg(2) and split in place.
//! (Over 300 lines: the send, train send, split and whole receive of one backend, together.)
#ifndef MMSG_BACKEND_LINUX_GSO_HPP
#define MMSG_BACKEND_LINUX_GSO_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/gro_messages.hpp>
#include <mmsg/detail/gro_split.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/train_messages.hpp>
#include <mmsg/detail/train_send.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/socket_state.hpp>

#if MMSG_HAS_UDP_GSO

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <system_error>
#include <utility>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

namespace detail {

/*! LinuxGsoBackend's system-call layer on the real kernel. A layer provides:
      limits()                     -> GsoLimits   the train limits to use by default
      sendmmsg(fd, v, n, flags, ec) -> int        messages sent, or -1 and ec
      recvmmsg(fd, v, n, flags, ec) -> int        messages filled, or -1 and ec
      enable_gro(fd, ec)           -> bool        turns UDP_GRO on for the socket
      refuse(s)                    -> error_code  why socket `s` cannot be served (see
                                                  detail::refuse_non_datagram), or nothing
    and may provide, instead of sendmmsg, a send with an outcome per message:
      send_each(fd, v, m, linked_from, flags, results)   see detail::send_in_trains
    and a probe (`probe(fd) -> error_code`, see Fallback), which the backend then offers.
    MockGsoOps (<mmsg/testing/mock_gso_ops.hpp>) is the layer on MockNetwork;
    detail::UringGsoOps (<mmsg/backend/io_uring_gso.hpp>) the one on io_uring.
*/
//! The kernel's receive side of a layer (limits, recvmmsg, UDP_GRO, refuse), shared by
//! KernelGsoOps and UringGsoOps, whose receives are the same system calls.
struct KernelGroOps {
    static GsoLimits limits() noexcept { return probed_gso_limits(); }
    static int recvmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return sys_recvmmsg(fd, v, n, flags, ec);
    }
    static bool enable_gro(int fd, std::error_code& ec) noexcept {
        ec = set_int_option(fd, SOL_UDP, UDP_GRO, 1);
        return !ec;
    }
    static std::error_code refuse(SocketRef s) { return refuse_non_datagram(s); }
};

struct KernelGsoOps : KernelGroOps {
    static int sendmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return sys_sendmmsg(fd, v, n, flags, ec);
    }
};

} // namespace detail

/*! Backend on UDP segmentation offload: many datagrams per system call *and* per trip
    through the kernel's network stack.

    Send: consecutive datagrams to the same destination with the same size (the last may be
    shorter) go as one UDP_SEGMENT train, within limits() (probed); several trains and lone
    datagrams share one sendmmsg. Every datagram gets its own outcome. A train refused for
    lack of offload (EIO, EINVAL) or size (EMSGSIZE) is resent as plain datagrams in the
    same call, none lost or sent twice; after an offload failure the socket sends no more
    trains. Receive: UDP_GRO is turned on per socket; a coalesced datagram is split into one
    packet per segment, in place when the segments have the packets' capacity; segments
    beyond the caller's packets are kept for the socket's next receive, never dropped.
    What it remembers per socket (trains off, GRO on, kept segments) is in its SocketState.
    Errors: as LinuxMmsgBackend (EPROTOTYPE for a socket that is not a datagram socket).
    Details and the failure table: doc/gso.adoc. `Ops`: the system-call layer
    (detail::KernelGsoOps, or MockGsoOps on a MockNetwork). Not thread-safe.
*/
template <class Ops = detail::KernelGsoOps>
class BasicLinuxGsoBackend {
public:
    //! Datagrams per send call (sendmmsg's UIO_MAXIOV) and packets per receive call.
    static constexpr std::size_t max_send = max_send_batch;
    static constexpr std::size_t max_recv = num_rcvmmsgs;
    //! Trains of datagrams up to this size that are not already contiguous in memory are
    //! copied into one run before the system call (see doc/gso.adoc for the measurement).
    static constexpr std::size_t stage_max = detail::TrainMessages::stage_max;

    //! Limits come from Ops::limits() (the probe, for the kernel) on first use.
    BasicLinuxGsoBackend() requires std::default_initializable<Ops> = default;
    explicit BasicLinuxGsoBackend(Ops ops) : ops_(std::move(ops)) {}
    //! Uses `limits` instead of probing (GsoLimits::none() turns trains off).
    explicit BasicLinuxGsoBackend(GsoLimits limits) requires std::default_initializable<Ops>
        : limits_(limits), limits_known_(true) {}
    BasicLinuxGsoBackend(Ops ops, GsoLimits limits)
        : ops_(std::move(ops)), limits_(limits), limits_known_(true) {}

    //! The train limits in use (probing them on the first call if none were given).
    GsoLimits limits() {
        if (!limits_known_) {
            limits_ = ops_.limits();
            limits_known_ = true;
        }
        return limits_;
    }
    //! False once a train on the socket with state `state` failed for lack of offload.
    static bool trains_enabled(const SocketState& state) noexcept {
        const detail::TrainsOff* t = state.find<detail::TrainsOff>();
        return t == nullptr || !t->off;
    }
    //! Trains that failed and were resent as plain datagrams, over this backend's life.
    std::size_t fallbacks() const noexcept { return fallbacks_; }
    //! Turns UDP_GRO on for socket `s` now rather than on its first receive, so that
    //! datagrams queued before that receive are coalesced too. Returns whether GRO is on
    //! (false: the kernel refused; datagrams then arrive one by one, which still works).
    template <SocketLike Socket>
    bool enable_gro(Socket&& s) {
        return gro_of(detail::socket_ref(s, implicit_)).on;
    }
    Ops& ops() noexcept { return ops_; }

    //! Whether this backend can serve socket `fd` (see Fallback): the layer's probe, where
    //! it has one.
    std::error_code probe(int fd) requires requires(Ops& o) { o.probe(fd); }
    { return ops_.probe(fd); }

    //! SendBackend: see the class comment and SendOutcome.
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        return send_items(s, items, errors, mode, true);
    }
    //! The same writing only failed datagrams' outcomes (see FailuresOnly).
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode, FailuresOnly) {
        return send_items(s, items, errors, mode, false);
    }

    //! TrainSendBackend: trains given whole (BatchSender::send_trains), cut into messages
    //! within limits() with nothing planned per datagram; at most max_send datagrams a call.
    //! A train the path refuses goes on as in send(), its datagrams plain.
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> trains,
                            std::span<std::error_code> errors, WaitMode mode) {
        return send_whole(s, trains, errors, mode, true);
    }
    //! The same writing only failed datagrams' outcomes (see FailuresOnly).
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> trains,
                            std::span<std::error_code> errors, WaitMode mode, FailuresOnly) {
        return send_whole(s, trains, errors, mode, false);
    }

    //! RecvBackend: see the class comment.
    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        std::size_t n = slots.size();
        GroSocket* const g = open_receive(s, n, ec);
        if (g == nullptr) return 0;
        std::size_t got = 0;
        if (g->kept.pending() > 0) {
            got = g->kept.take(slots.first(n));
            if (got == n) return got;
            mode = WaitMode::never; // then only what is already queued
        }
        const std::size_t more = receive(s.fd, *g, *s.state, slots.subspan(got, n - got), mode, ec);
        if (got > 0 && detail::is_would_block(ec)) ec.clear();
        return got + more;
    }

    //! CoalescingRecvBackend: datagrams whole, as GRO coalesced them (one message per slot,
    //! no split, no copy); segments kept by an earlier split receive come first, one each.
    std::size_t recv_coalesced(SocketRef s, std::span<const CoalescedSlot> slots, WaitMode mode,
                               std::error_code& ec) {
        std::size_t n = slots.size();
        GroSocket* const g = open_receive(s, n, ec);
        if (g == nullptr) return 0;
        std::size_t got = 0;
        for (; got < n && g->kept.pending() > 0; ++got) {
            const RecvSlot one{slots[got].data, slots[got].capacity, slots[got].meta};
            g->kept.take(std::span<const RecvSlot>(&one, 1));
            *slots[got].segment_size = slots[got].meta->size;
        }
        if (got == n) return got;
        if (got > 0) mode = WaitMode::never; // then only what is already queued
        const std::span<const CoalescedSlot> rest = slots.subspan(got, n - got);
        gro_.lay_whole(rest);
        const int r = ops_.recvmmsg(s.fd, gro_.headers(), static_cast<unsigned>(rest.size()),
                                    MSG_WAITFORONE | detail::recv_flags(mode == WaitMode::never), ec);
        if (r <= 0) {
            if (got > 0 && detail::is_would_block(ec)) ec.clear();
            return got;
        }
        gro_.deliver_whole(static_cast<std::size_t>(r), rest, *s.state);
        return got + static_cast<std::size_t>(r);
    }

private:
    SendOutcome send_items(SocketRef s, std::span<const SendItem> items,
                           std::span<std::error_code> errors, WaitMode mode, bool write_accepted) {
        s = implicit_.resolve(s);
        if (std::error_code e = ops_.refuse(s)) return {0, e};
        const std::size_t n = std::min(items.size(), max_send);
        if (n == 0) return {0, {}};
        detail::TrainsOff& off = s.state->get<detail::TrainsOff>();
        const GsoLimits lim = off.off ? GsoLimits::none() : limits();
        return detail::send_in_trains(trains_, items.first(n), errors, lim, off, fallbacks_,
                                      submitter(s.fd, mode), write_accepted);
    }
    SendOutcome send_whole(SocketRef s, std::span<const SendTrain> trains,
                           std::span<std::error_code> errors, WaitMode mode, bool write_accepted) {
        s = implicit_.resolve(s);
        if (std::error_code e = ops_.refuse(s)) return {0, e};
        if (trains.empty()) return {0, {}};
        detail::TrainsOff& off = s.state->get<detail::TrainsOff>();
        const GsoLimits lim = off.off ? GsoLimits::none() : limits();
        const std::span<SendItem> spill(spill_.get(max_send), max_send);
        return detail::send_whole_trains(trains_, trains, errors, lim, off, fallbacks_, spill,
                                         submitter(s.fd, mode), write_accepted);
    }

    // The `submit` of detail::send_in_trains on socket `fd`: the layer's send_each, else its
    // sendmmsg.
    auto submitter(int fd, WaitMode mode) {
        const int flags = detail::flags_for(mode == WaitMode::never);
        return [this, fd, flags](mmsghdr* v, std::size_t m, std::size_t linked_from,
                                 std::error_code* res) {
            if constexpr (requires { ops_.send_each(fd, v, m, linked_from, flags, res); }) {
                ops_.send_each(fd, v, m, linked_from, flags, res);
            } else {
                detail::submit_as_sendmmsg(
                    [&](mmsghdr* h, unsigned k, std::error_code& ec) {
                        return ops_.sendmmsg(fd, h, k, flags, ec);
                    },
                    v, m, res);
            }
        };
    }

    // ---- per-socket state (and detail::TrainsOff) -----------------------------------------
    //! GRO turned on, and segments kept for the next receive (SocketState part).
    struct GroSocket {
        bool tried = false;
        bool on = false;
        detail::KeptSegments kept;
        std::size_t pending() const noexcept { return kept.pending(); }
    };
    // The opening of both receives: resolves `s`, refuses what cannot be served (`ec`),
    // bounds `n` slots to one call's; null when there is nothing to receive into.
    GroSocket* open_receive(SocketRef& s, std::size_t& n, std::error_code& ec) {
        s = implicit_.resolve(s);
        if ((ec = ops_.refuse(s))) return nullptr;
        n = std::min(n, max_recv);
        return n == 0 ? nullptr : &gro_of(s);
    }

    GroSocket& gro_of(SocketRef s) {
        GroSocket& g = s.state->template get<GroSocket>();
        if (!g.tried) {
            std::error_code ignored; // without GRO every datagram simply arrives on its own
            g.on = ops_.enable_gro(s.fd, ignored);
            g.tried = true;
        }
        return g;
    }

    // One receive: first a single message over every packet (zero-copy for a coalesced
    // datagram of packet-sized segments). If that brought one plain datagram, a second,
    // non-waiting call takes what else is queued, one message per remaining packet.
    std::size_t receive(int fd, GroSocket& g, SocketState& state, std::span<const RecvSlot> slots,
                        WaitMode mode, std::error_code& ec) {
        const std::size_t n = slots.size();
        const std::size_t cap = slots[0].capacity;
        bool uniform = cap > 0;
        for (std::size_t i = 1; i < n && uniform; ++i) uniform = slots[i].capacity == cap;
        const int wait = detail::flags_for(mode == WaitMode::never);

        if (!uniform) {
            gro_.lay_pairs(slots);
            const int r = ops_.recvmmsg(fd, gro_.headers(), static_cast<unsigned>(n),
                                        MSG_WAITFORONE | wait, ec);
            if (r <= 0) return 0;
            return gro_.split(static_cast<std::size_t>(r), slots, false, g.kept, state);
        }

        gro_.lay_train(slots);
        const int r = ops_.recvmmsg(fd, gro_.headers(), 1, wait, ec);
        if (r <= 0) return 0;
        const std::size_t first = gro_.split(1, slots, true, g.kept, state);
        if (gro_.first_count() > 1 || n == 1) return first;

        const auto rest = slots.subspan(1);
        gro_.lay_pairs(rest);
        std::error_code ec2;
        const int r2 = ops_.recvmmsg(fd, gro_.headers(), static_cast<unsigned>(rest.size()),
                                     MSG_WAITFORONE | MSG_DONTWAIT, ec2);
        if (r2 <= 0) {
            if (!detail::is_would_block(ec2) && !detail::is_interrupted(ec2)) ec = ec2;
            return 1;
        }
        return 1 + gro_.split(static_cast<std::size_t>(r2), rest, false, g.kept, state);
    }

    Ops ops_{};
    GsoLimits limits_{};
    bool limits_known_ = false;
    std::size_t fallbacks_ = 0;
    detail::TrainMessages trains_;
    detail::Scratch<SendItem> spill_; // send_trains: a refused train's datagrams, one by one
    detail::GroMessages gro_;
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
};

//! The GSO/GRO backend on the real kernel.
using LinuxGsoBackend = BasicLinuxGsoBackend<>;

static_assert(TrainSendBackend<LinuxGsoBackend> && RecvBackend<LinuxGsoBackend>,
              "LinuxGsoBackend must model mmsg::TrainSendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_BACKEND_LINUX_GSO_HPP
