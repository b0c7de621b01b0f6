//! Defines mmsg::BasicLinuxGsoBackend and mmsg::LinuxGsoBackend: UDP_SEGMENT trains sent with
//! sendmmsg(2), UDP_GRO coalesced datagrams received with recvmmsg(2) and split in place.
#ifndef MMSG_BACKEND_LINUX_GSO_HPP
#define MMSG_BACKEND_LINUX_GSO_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/gro_split.hpp>
#include <mmsg/detail/gso_trains.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_segment.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>
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
    MockGsoOps (<mmsg/testing/mock_gso_ops.hpp>) is the other layer, on MockNetwork.
*/
struct KernelGsoOps {
    static GsoLimits limits() noexcept { return probed_gso_limits(); }
    static int sendmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return sys_sendmmsg(fd, v, n, flags, ec);
    }
    static int recvmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
        return sys_recvmmsg(fd, v, n, flags, ec);
    }
    static bool enable_gro(int fd, std::error_code& ec) noexcept {
        ec = set_int_option(fd, SOL_UDP, UDP_GRO, 1);
        return !ec;
    }
    static std::error_code refuse(SocketRef s) { return refuse_non_datagram(s); }
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
    //! Receive room per message: enough for any coalesced datagram (IP total length <= 64 KiB).
    static constexpr std::size_t coalesced_room = 65536;
    //! Control buffer per received message.
    static constexpr std::size_t control_room = detail::recv_control_room;
    //! Trains of datagrams up to this size that are not already contiguous in memory are
    //! copied into one run before the system call (see doc/gso.adoc for the measurement).
    static constexpr std::size_t stage_max = 256;

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
        const TrainsOff* t = state.find<TrainsOff>();
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

    //! SendBackend: see the class comment and SendOutcome.
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        s = implicit_.resolve(s);
        if (std::error_code e = ops_.refuse(s)) return {0, e};
        const std::size_t n = std::min(items.size(), max_send);
        if (n == 0) return {0, {}};
        TrainsOff& off = s.state->get<TrainsOff>();
        const GsoLimits lim = off.off ? GsoLimits::none() : limits();
        std::size_t plain_prefix = 0; // datagrams at the front that must go one per message
        bool offload_suspect = false; // a train failed with EIO/EINVAL; its datagrams go plain
        const int flags = detail::flags_for(mode == WaitMode::never);
        for (;;) {
            std::error_code refused;
            const std::size_t m = build(items.first(n), lim, plain_prefix, refused);
            if (m == 0) return {0, refused}; // the first datagram's options are refused
            SendArrays& a = *send_.get(1);
            std::error_code ec;
            const int r = ops_.sendmmsg(s.fd, a.hdr, static_cast<unsigned>(m), flags, ec);
            if (r > 0) {
                // The first datagram of the failed train went alone: the offload was at
                // fault, not the destination. No more trains on this socket.
                if (offload_suspect) off.off = true;
                const std::size_t done = a.plan[static_cast<std::size_t>(r) - 1].first +
                                         a.plan[static_cast<std::size_t>(r) - 1].count;
                std::fill_n(errors.begin(), done, std::error_code{});
                return {done, {}};
            }
            if (r == 0) return {0, {}};
            const std::size_t k = a.plan[0].count; // datagrams in the message that failed
            // A plain datagram's error is its own (after a suspect train too: then the
            // destination, not the offload, refused it, and trains stay on).
            if (k == 1 || detail::is_interrupted(ec) || detail::is_would_block(ec) ||
                detail::is_fatal(ec))
                return {0, ec};
            // A train failed as a whole: the kernel sent none of it. Resend it as plain
            // datagrams in this same call.
            if (ec == std::errc::io_error || ec == std::errc::invalid_argument ||
                ec == std::errc::message_size) {
                ++fallbacks_;
                plain_prefix = k;
                offload_suspect = ec != std::errc::message_size;
                continue;
            }
            std::fill_n(errors.begin(), k, ec);
            return {k, {}};
        }
    }

    //! RecvBackend: see the class comment.
    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        s = implicit_.resolve(s);
        if ((ec = ops_.refuse(s))) return 0;
        const std::size_t n = std::min(slots.size(), max_recv);
        if (n == 0) return 0;
        GroSocket& g = gro_of(s);
        std::size_t got = 0;
        if (g.kept.pending() > 0) {
            got = g.kept.take(slots.first(n));
            if (got == n) return got;
            mode = WaitMode::never; // then only what is already queued
        }
        const std::size_t more = receive(s.fd, g, *s.state, slots.subspan(got, n - got), mode, ec);
        if (got > 0 && detail::is_would_block(ec)) ec.clear();
        return got + more;
    }

    //! CoalescingRecvBackend: datagrams whole, as GRO coalesced them (one message per slot,
    //! no split, no copy); segments kept by an earlier split receive come first, one each.
    std::size_t recv_coalesced(SocketRef s, std::span<const CoalescedSlot> slots, WaitMode mode,
                               std::error_code& ec) {
        s = implicit_.resolve(s);
        if ((ec = ops_.refuse(s))) return 0;
        const std::size_t n = std::min(slots.size(), max_recv);
        if (n == 0) return 0;
        GroSocket& g = gro_of(s);
        std::size_t got = 0;
        for (; got < n && g.kept.pending() > 0; ++got) {
            const RecvSlot one{slots[got].data, slots[got].capacity, slots[got].meta};
            g.kept.take(std::span<const RecvSlot>(&one, 1));
            *slots[got].segment_size = slots[got].meta->size;
        }
        if (got == n) return got;
        if (got > 0) mode = WaitMode::never; // then only what is already queued
        RecvArrays& a = recv_arrays();
        const std::size_t m = n - got;
        for (std::size_t j = 0; j < m; ++j) {
            const CoalescedSlot& slot = slots[got + j];
            a.pair[j][0] = iovec{slot.data, slot.capacity};
            msghdr& h = a.hdr[j].msg_hdr;
            h.msg_iov = a.pair[j];
            h.msg_iovlen = 1;
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_controllen = control_room;
        }
        const int r = ops_.recvmmsg(s.fd, a.hdr, static_cast<unsigned>(m),
                                    MSG_WAITFORONE | detail::recv_flags(mode == WaitMode::never), ec);
        if (r <= 0) {
            if (got > 0 && detail::is_would_block(ec)) ec.clear();
            return got;
        }
        for (std::size_t j = 0; j < static_cast<std::size_t>(r); ++j) {
            const CoalescedSlot& slot = slots[got + j];
            detail::GroMessage gm;
            detail::decode_gro(a.hdr[j].msg_hdr, a.hdr[j].msg_len, 0, gm, *s.state);
            detail::assign_meta(*slot.meta, gm.len, slot.capacity, gm.addr,
                                gm.flags | (gm.cut ? PacketFlags::truncated : PacketFlags::none),
                                gm.meta);
            *slot.segment_size = gm.count > 1 ? gm.seg : slot.meta->size;
        }
        return got + static_cast<std::size_t>(r);
    }

private:
    // ---- per-socket state ---------------------------------------------------------------
    //! Trains turned off after an offload failure (SocketState part).
    struct TrainsOff {
        bool off = false;
    };
    //! GRO turned on, and segments kept for the next receive (SocketState part).
    struct GroSocket {
        bool tried = false;
        bool on = false;
        detail::KeptSegments kept;
        std::size_t pending() const noexcept { return kept.pending(); }
    };
    GroSocket& gro_of(SocketRef s) {
        GroSocket& g = s.state->template get<GroSocket>();
        if (!g.tried) {
            std::error_code ignored; // without GRO every datagram simply arrives on its own
            g.on = ops_.enable_gro(s.fd, ignored);
            g.tried = true;
        }
        return g;
    }

    // ---- send -----------------------------------------------------------------------------
    // A message's control buffer: the UDP_SEGMENT message (trains), then the options'.
    static constexpr std::size_t send_control = detail::gso_cmsg_space + detail::send_control_room;
    struct SendArrays {
        mmsghdr hdr[max_send];
        iovec iov[max_send];
        detail::PlannedMessage plan[max_send];
        alignas(cmsghdr) unsigned char ctl[max_send][send_control];
    };

    // Plans the messages (detail::plan_trains) and writes their headers; returns how many.
    // A message whose options are refused (detail::options_error) ends the call before it:
    // `refused` is its error, and 0 is returned when it is the first.
    std::size_t build(std::span<const SendItem> items, const GsoLimits& lim,
                      std::size_t plain_prefix, std::error_code& refused) {
        const bool fresh = !send_.allocated();
        SendArrays& a = *send_.get(1);
        if (fresh)
            for (std::size_t j = 0; j < max_send; ++j) {
                detail::write_segment_cmsg(a.ctl[j], 0);
                a.hdr[j].msg_hdr.msg_control = a.ctl[j];
            }
        const std::size_t m = detail::plan_trains(items, lim, plain_prefix, a.plan);
        std::byte* staged = nullptr; // contiguous copies of small trains
        std::size_t staged_used = 0;
        for (std::size_t j = 0; j < m; ++j) {
            const detail::PlannedMessage& p = a.plan[j];
            const std::span<const SendItem> d = items.subspan(p.first, p.count);
            msghdr& h = a.hdr[j].msg_hdr;
            h.msg_iov = &a.iov[p.first];
            h.msg_name = detail::sockaddr_of(*d[0].dest);
            h.msg_namelen = static_cast<socklen_t>(d[0].dest->size());
            // The options' messages go after the UDP_SEGMENT one (which only trains carry).
            std::size_t options_len = 0;
            if (detail::has_options(d[0].options)) {
                if ((refused = detail::options_error(*d[0].options, *d[0].dest))) return j;
                options_len = detail::write_send_control(a.ctl[j] + detail::gso_cmsg_space,
                                                         *d[0].options, *d[0].dest);
            }
            if (p.count == 1) {
                a.iov[p.first] = iovec{const_cast<std::byte*>(d[0].data), d[0].size};
                h.msg_iovlen = 1;
                h.msg_control = a.ctl[j] + detail::gso_cmsg_space;
                h.msg_controllen = options_len;
                continue;
            }
            std::size_t len = 0;
            for (const SendItem& it : d) len += it.size;
            if (detail::contiguous(d)) {
                // Slices of one buffer: the train is already one run.
                a.iov[p.first] = iovec{const_cast<std::byte*>(d[0].data), len};
                h.msg_iovlen = 1;
            } else if (p.segment <= stage_max) {
                // For small datagrams the kernel's walk over one iovec per datagram costs
                // more than copying them here into one run.
                if (staged == nullptr) staged = stage_.get(max_send * stage_max);
                std::byte* run = staged + staged_used;
                std::size_t at = 0;
                for (const SendItem& it : d) {
                    std::memcpy(run + at, it.data, it.size);
                    at += it.size;
                }
                staged_used += len;
                a.iov[p.first] = iovec{run, len};
                h.msg_iovlen = 1;
            } else {
                for (std::size_t i = 0; i < p.count; ++i)
                    a.iov[p.first + i] = iovec{const_cast<std::byte*>(d[i].data), d[i].size};
                h.msg_iovlen = p.count;
            }
            // The control message was written once; only its segment size changes.
            detail::set_segment_cmsg(a.ctl[j], static_cast<std::uint16_t>(p.segment));
            h.msg_control = a.ctl[j];
            h.msg_controllen = detail::gso_cmsg_space + options_len;
        }
        return m;
    }

    // ---- receive --------------------------------------------------------------------------
    struct RecvArrays {
        mmsghdr hdr[max_recv];
        iovec pair[max_recv][2];   // one message per packet: the packet, then its spill area
        iovec train[max_recv + 1]; // one message over every packet, then spill area 0
        sockaddr_storage addr[max_recv];
        alignas(cmsghdr) unsigned char ctl[max_recv][control_room];
        detail::GroMessage info[max_recv];
    };

    RecvArrays& recv_arrays() {
        const bool fresh = !recv_.allocated();
        RecvArrays& a = *recv_.get(1);
        if (fresh) {
            spill_.p = std::make_unique_for_overwrite<std::byte[]>(max_recv * coalesced_room);
            for (std::size_t j = 0; j < max_recv; ++j) {
                a.hdr[j].msg_hdr.msg_name = &a.addr[j];
                a.hdr[j].msg_hdr.msg_control = a.ctl[j];
                a.pair[j][1] = iovec{spill_.p.get() + j * coalesced_room, coalesced_room};
            }
        }
        return a;
    }

    // Message 0 over every packet (then spill area 0).
    void lay_train(RecvArrays& a, std::span<const RecvSlot> slots) noexcept {
        const std::size_t n = slots.size();
        for (std::size_t i = 0; i < n; ++i) a.train[i] = iovec{slots[i].data, slots[i].capacity};
        a.train[n] = iovec{spill_.p.get(), coalesced_room};
        msghdr& h = a.hdr[0].msg_hdr;
        h.msg_iov = a.train;
        h.msg_iovlen = n + 1;
        h.msg_namelen = sizeof(sockaddr_storage);
        h.msg_controllen = control_room;
    }
    // One message per packet (then its own spill area).
    void lay_pairs(RecvArrays& a, std::span<const RecvSlot> slots) noexcept {
        for (std::size_t j = 0; j < slots.size(); ++j) {
            a.pair[j][0] = iovec{slots[j].data, slots[j].capacity};
            msghdr& h = a.hdr[j].msg_hdr;
            h.msg_iov = a.pair[j];
            h.msg_iovlen = 2;
            // The kernel writes the address and control data and shrinks their lengths.
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_controllen = control_room;
        }
    }

    // Decodes `got` messages and splits them into `slots` (the layout they were laid out in).
    std::size_t split(RecvArrays& a, std::size_t got, std::span<const RecvSlot> slots, bool train,
                      GroSocket& g, SocketState& state) {
        std::size_t total = 0;
        for (std::size_t j = 0; j < got; ++j)
            total += detail::decode_gro(a.hdr[j].msg_hdr, a.hdr[j].msg_len, total, a.info[j], state);
        const detail::GroLayout layout{slots, spill_.p.get(), coalesced_room, train};
        return detail::split_gro(layout, std::span<const detail::GroMessage>(a.info, got), total,
                                 g.kept);
    }

    // One receive: first a single message over every packet (zero-copy for a coalesced
    // datagram of packet-sized segments). If that brought one plain datagram, a second,
    // non-waiting call takes what else is queued, one message per remaining packet.
    std::size_t receive(int fd, GroSocket& g, SocketState& state, std::span<const RecvSlot> slots,
                        WaitMode mode, std::error_code& ec) {
        const std::size_t n = slots.size();
        RecvArrays& a = recv_arrays();
        const std::size_t cap = slots[0].capacity;
        bool uniform = cap > 0;
        for (std::size_t i = 1; i < n && uniform; ++i) uniform = slots[i].capacity == cap;
        const int wait = detail::flags_for(mode == WaitMode::never);

        if (!uniform) {
            lay_pairs(a, slots);
            const int r = ops_.recvmmsg(fd, a.hdr, static_cast<unsigned>(n), MSG_WAITFORONE | wait, ec);
            if (r <= 0) return 0;
            return split(a, static_cast<std::size_t>(r), slots, false, g, state);
        }

        lay_train(a, slots);
        const int r = ops_.recvmmsg(fd, a.hdr, 1, wait, ec);
        if (r <= 0) return 0;
        const std::size_t first = split(a, 1, slots, true, g, state);
        if (a.info[0].count > 1 || n == 1) return first;

        const auto rest = slots.subspan(1);
        lay_pairs(a, rest);
        std::error_code ec2;
        const int r2 = ops_.recvmmsg(fd, a.hdr, static_cast<unsigned>(rest.size()),
                                     MSG_WAITFORONE | MSG_DONTWAIT, ec2);
        if (r2 <= 0) {
            if (!detail::is_would_block(ec2) && !detail::is_interrupted(ec2)) ec = ec2;
            return 1;
        }
        return 1 + split(a, static_cast<std::size_t>(r2), rest, false, g, state);
    }

    Ops ops_{};
    GsoLimits limits_{};
    bool limits_known_ = false;
    std::size_t fallbacks_ = 0;
    detail::Scratch<SendArrays> send_;
    detail::Scratch<std::byte> stage_;
    detail::Scratch<RecvArrays> recv_;
    // Uninitialised (never zeroed, so untouched pages cost nothing); a copy starts empty,
    // like the Scratch arrays it goes with.
    struct Spill {
        Spill() = default;
        Spill(const Spill&) noexcept {}
        Spill(Spill&&) noexcept = default;
        Spill& operator=(const Spill&) noexcept { return *this; }
        Spill& operator=(Spill&&) noexcept = default;
        std::unique_ptr<std::byte[]> p;
    };
    Spill spill_;
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
};

//! The GSO/GRO backend on the real kernel.
using LinuxGsoBackend = BasicLinuxGsoBackend<>;

static_assert(SendBackend<LinuxGsoBackend> && RecvBackend<LinuxGsoBackend>,
              "LinuxGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_BACKEND_LINUX_GSO_HPP
