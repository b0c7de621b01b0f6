//! Defines mmsg::BasicLinuxGsoBackend and mmsg::LinuxGsoBackend: UDP_SEGMENT trains sent with
//! sendmmsg(2), UDP_GRO coalesced datagrams received with recvmmsg(2) and split in place.
#ifndef MMSG_BACKEND_LINUX_GSO_HPP
#define MMSG_BACKEND_LINUX_GSO_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/gso_ops.hpp>
#include <mmsg/detail/native_handle.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>

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
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

/*! Backend on UDP generic segmentation offload (Linux): many datagrams per system call *and*
    per trip through the kernel's network stack.

    Send. Consecutive datagrams to the same destination with the same size (the last of a
    run may be shorter) form a *train*: one message whose iovecs are the datagrams and whose
    UDP_SEGMENT control message tells the kernel where to cut. A train holds at most
    limits().max_segments datagrams and limits().max_bytes bytes (probed, see
    gso_capability()). Several trains, and the datagrams that join none (lone sizes,
    zero-length datagrams), go as the messages of one sendmmsg. Trains of datagrams of up
    to stage_max bytes are first copied into one contiguous run (for small datagrams the
    kernel's walk over one iovec per datagram costs more than the copy). Every datagram gets its own
    outcome; what happens when a train fails depends on the error:

    | error of a train                 | what the backend does                                   |
    |----------------------------------|---------------------------------------------------------|
    | EIO, EINVAL (no offload on the path, checksum offload off, segment too large for the
    |   device, too many segments)     | resends that train's datagrams as plain messages in the same call (none lost, none sent
    |                                  | twice: a failed train sends nothing); if the first of them then goes through, the
    |                                  | offload was at fault and the backend builds no more trains for that socket; if it
    |                                  | fails too (EINVAL for port 0, say), that is its own error and trains stay on |
    | EMSGSIZE                         | resends that train as plain messages (each then succeeds or fails on its own); trains stay on |
    | EAGAIN, ENOBUFS, EINTR           | back-pressure / interruption: nothing of the train was sent; reported at its first datagram |
    | EBADF, ENOTSOCK, ... (fatal)     | reported at the train's first datagram: the socket is unusable |
    | anything else (EACCES, EPERM, ENETUNREACH, EHOSTUNREACH, EAFNOSUPPORT, ECONNREFUSED, ...) |
    |                                  | a destination error: every datagram of the train fails with it, as each would have alone |

    Receive. UDP_GRO is turned on for each socket on its first receive. A coalesced datagram
    (several segments with one UDP_GRO segment size) is split into one packet per segment,
    each with the sender's address. A receive first lays a single message over *all* the
    caller's packets (then a 64 KiB spill area), so the segments of a coalesced datagram of
    exactly the packet capacity land in place with no copy; segments of another size are
    repacked (moved) into their packets. If that message brought one plain datagram, a
    second, non-waiting recvmmsg takes whatever else is queued, one message per remaining
    packet (each followed by its own spill area), so plain traffic also arrives many per
    call and in place. Segments beyond the caller's packets are kept, per socket, and
    returned first by the next call on that socket: nothing
    is dropped. Each packet's meta is assigned completely:
    - PacketFlags::truncated: the segment (or datagram) was longer than the packet, or the
      kernel cut the message (MSG_TRUNC; then the last segment carries the flag);
    - PacketFlags::control_truncated: the kernel cut the control data (MSG_CTRUNC: other
      options enabled on the socket filled the control buffer). The payload is intact as
      long as the UDP_GRO message fitted (the kernel writes it after socket-level messages
      such as timestamps, before IP-level ones); if it did not, a
      coalesced datagram is delivered as one packet (it cannot be split) with this flag.

    Per-socket state (GRO on, trains off after a fallback, kept segments) is keyed by the
    descriptor; kept segments are tied to the socket itself (SO_COOKIE), so a reused number
    never receives another socket's data. Call forget(fd) after closing a socket to drop its
    state. Arrays are built once per backend and reused: no call allocates in steady state
    (the first receive on a socket allocates its state; keeping segments may grow its store).
    The receive spill area is 4 MiB of address space, allocated uninitialised: pages are
    only touched when a datagram overflows its packet.

    `Ops` is the system-call layer: detail::KernelGsoOps for the kernel, MockGsoOps for
    MockNetwork (deterministic tests of the fallback). Not thread-safe, like every backend.
*/
template <class Ops = detail::KernelGsoOps>
class BasicLinuxGsoBackend {
public:
    //! Datagrams per send call (sendmmsg's UIO_MAXIOV) and packets per receive call.
    static constexpr std::size_t max_send = max_send_batch;
    static constexpr std::size_t max_recv = num_rcvmmsgs;
    //! Receive room per message: enough for any coalesced datagram (IP total length <= 64 KiB).
    static constexpr std::size_t coalesced_room = 65536;
    //! Control buffer per received message: UDP_GRO's message and room for a few others.
    static constexpr std::size_t control_room = 128;
    //! Per-socket receive states kept before those with nothing kept are dropped.
    static constexpr std::size_t max_remembered_sockets = 256;
    //! Trains of datagrams up to this size are copied into one contiguous run (one iovec)
    //! before the system call; larger ones are passed one iovec per datagram.
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
    //! False once a train on socket `fd` failed for lack of offload (EIO/EINVAL).
    bool trains_enabled(int fd) const noexcept { return !trains_off(fd); }
    //! Trains that failed and were resent as plain datagrams, over this backend's life.
    std::size_t fallbacks() const noexcept { return fallbacks_; }
    //! Drops everything this backend keeps about descriptor `fd` (trains off, kept segments).
    void forget(int fd) noexcept {
        std::erase(no_trains_, fd);
        std::erase_if(sockets_, [fd](const SocketState& s) { return s.fd == fd; });
    }
    //! Turns UDP_GRO on for socket `fd` now rather than on its first receive, so that
    //! datagrams queued before that receive are coalesced too. Returns whether GRO is on
    //! (false: the kernel refused; datagrams then arrive one by one, which still works).
    //! May allocate (the socket's state), once per socket.
    template <SocketLike Socket>
    bool enable_gro(Socket&& s) {
        return state_for(detail::native(s)).gro;
    }
    Ops& ops() noexcept { return ops_; }

    //! SendBackend: see the class comment and SendOutcome.
    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        const std::size_t n = std::min(items.size(), max_send);
        if (n == 0) return {0, {}};
        SendArrays& a = send_arrays();
        const GsoLimits lim = limits();
        const bool trains = lim.trains() && !trains_off(fd);
        std::size_t plain_prefix = 0; // datagrams at the front that must go one per message
        bool offload_suspect = false; // a train failed with EIO/EINVAL; its datagrams go plain
        const int flags = detail::flags_for(mode == WaitMode::never);
        for (;;) {
            const std::size_t m =
                build(items.first(n), a, trains ? lim : GsoLimits::none(), plain_prefix, stage_);
            std::error_code ec;
            const int r = ops_.send_mmsg(fd, a.hdr, static_cast<unsigned>(m), flags, ec);
            if (r > 0) {
                // The first datagram of the failed train went alone: the offload was at
                // fault, not the destination. No more trains on this socket.
                if (offload_suspect) disable_trains(fd);
                const std::size_t done = a.first[static_cast<std::size_t>(r)];
                std::fill_n(errors.begin(), done, std::error_code{});
                return {done, {}};
            }
            if (r == 0) return {0, {}};
            const std::size_t k = a.first[1]; // datagrams in the message that failed
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
    std::size_t recv(int fd, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        ec.clear();
        const std::size_t n = std::min(slots.size(), max_recv);
        if (n == 0) return 0;
        SocketState& s = state_for(fd);
        std::size_t got = 0;
        if (s.carry_next < s.carry.size()) {
            if (const std::uint64_t id = ops_.socket_id(fd); id != s.id) {
                reset(s, id); // another socket got the descriptor: the kept data is not its
            } else {
                got = take_kept(s, slots.first(n));
                if (got == n) return got;
                mode = WaitMode::never; // then only what is already queued
            }
        }
        const std::size_t more = receive(fd, s, slots.subspan(got, n - got), mode, ec);
        if (got > 0 && detail::is_would_block(ec)) ec.clear();
        return got + more;
    }

private:
    // ---- send -----------------------------------------------------------------------------
    struct SendArrays {
        mmsghdr hdr[max_send];
        iovec iov[max_send];
        std::size_t first[max_send + 1]; // first[j]: index of message j's first datagram
        alignas(cmsghdr) unsigned char ctl[max_send][detail::gso_cmsg_space];
    };

    SendArrays& send_arrays() {
        const bool fresh = !send_.allocated();
        SendArrays& a = *send_.get(1);
        if (fresh)
            for (std::size_t j = 0; j < max_send; ++j) {
                detail::write_segment_cmsg(a.ctl[j], 0);
                a.hdr[j].msg_hdr.msg_control = a.ctl[j];
            }
        return a;
    }

    // Groups items into messages (trains and plain datagrams); returns the message count.
    // a.first[j] is where message j starts, a.first[m] == items.size().
    static std::size_t build(std::span<const SendItem> items, SendArrays& a, GsoLimits lim,
                             std::size_t plain_prefix, detail::Scratch<std::byte>& stage) {
        std::byte* staged = nullptr; // contiguous copies of small trains
        std::size_t staged_used = 0;
        const std::size_t n = items.size();
        std::size_t m = 0;
        for (std::size_t i = 0; i < n;) {
            const SendItem& head = items[i];
            std::size_t k = 1;
            const std::size_t seg = head.size;
            if (lim.max_segments > 1 && i >= plain_prefix && seg > 0 && seg <= 0xffff) {
                std::size_t bytes = seg;
                while (i + k < n && k < lim.max_segments) {
                    const SendItem& next = items[i + k];
                    if (next.size == 0 || next.size > seg || bytes + next.size > lim.max_bytes ||
                        !detail::same_destination(*next.dest, *head.dest))
                        break;
                    bytes += next.size;
                    ++k;
                    if (next.size < seg) break; // a shorter datagram ends the train
                }
            }
            msghdr& h = a.hdr[m].msg_hdr;
            h.msg_iov = &a.iov[i];
            if (k > 1 && seg <= stage_max) {
                // Measured: for small datagrams the kernel's walk over one iovec per
                // datagram costs more than copying them here into one run.
                if (staged == nullptr) staged = stage.get(max_send * stage_max);
                std::byte* run = staged + staged_used;
                std::size_t len = 0;
                for (std::size_t j = i; j < i + k; ++j) {
                    std::memcpy(run + len, items[j].data, items[j].size);
                    len += items[j].size;
                }
                staged_used += len;
                a.iov[i] = iovec{run, len};
                h.msg_iovlen = 1;
            } else {
                for (std::size_t j = i; j < i + k; ++j)
                    a.iov[j] = iovec{const_cast<std::byte*>(items[j].data), items[j].size};
                h.msg_iovlen = k;
            }
            h.msg_name = detail::sockaddr_of(*head.dest);
            h.msg_namelen = static_cast<socklen_t>(head.dest->size());
            if (k > 1) {
                // The message was written once (send_arrays); only its size changes.
                detail::set_segment_cmsg(a.ctl[m], static_cast<std::uint16_t>(seg));
                h.msg_controllen = detail::gso_cmsg_space;
            } else {
                h.msg_controllen = 0;
            }
            a.first[m] = i;
            ++m;
            i += k;
        }
        a.first[m] = n;
        return m;
    }

    bool trains_off(int fd) const noexcept {
        return !no_trains_.empty() &&
               std::find(no_trains_.begin(), no_trains_.end(), fd) != no_trains_.end();
    }
    void disable_trains(int fd) {
        if (!trains_off(fd)) no_trains_.push_back(fd);
    }

    // ---- receive --------------------------------------------------------------------------
    struct Kept {
        std::size_t offset;
        std::size_t size;
        Endpoint addr;
        PacketFlags flags;
    };
    struct SocketState {
        int fd = -1;
        std::uint64_t id = 0;
        bool gro = false;         // UDP_GRO is on
        std::vector<std::byte> kept_bytes;
        std::vector<Kept> carry;  // segments the caller had no packet for, in order
        std::size_t carry_next = 0;
    };
    struct MessageInfo {
        std::size_t len;       // bytes the kernel wrote
        std::size_t seg;       // segment size (len for a plain datagram)
        std::size_t count;     // segments
        std::size_t first_out; // packet index of its first segment
        Endpoint addr;
        PacketFlags flags;     // control_truncated
        bool cut;              // MSG_TRUNC
    };
    struct RecvArrays {
        mmsghdr hdr[max_recv];
        iovec pair[max_recv][2];   // one message per packet: the packet, then its spill area
        iovec train[max_recv + 1]; // one message over every packet, then spill area 0
        sockaddr_storage addr[max_recv];
        alignas(cmsghdr) unsigned char ctl[max_recv][control_room];
        MessageInfo info[max_recv];
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

    SocketState& state_for(int fd) {
        for (SocketState& s : sockets_)
            if (s.fd == fd) return s;
        // Many sockets over the backend's life (closed without forget()): drop the states
        // that hold nothing kept; a socket that comes back just turns GRO on again.
        if (sockets_.size() >= max_remembered_sockets)
            std::erase_if(sockets_, [](const SocketState& x) { return x.carry.empty(); });
        SocketState& s = sockets_.emplace_back();
        s.fd = fd;
        reset(s, ops_.socket_id(fd));
        return s;
    }
    // Starts over on the socket s.fd now names: GRO on, nothing kept.
    void reset(SocketState& s, std::uint64_t id) {
        s.id = id;
        s.kept_bytes.clear();
        s.carry.clear();
        s.carry_next = 0;
        std::error_code ignored; // without GRO every datagram simply arrives on its own
        s.gro = ops_.enable_gro(s.fd, ignored);
    }

    std::size_t take_kept(SocketState& s, std::span<const RecvSlot> slots) noexcept {
        std::size_t i = 0;
        for (; i < slots.size() && s.carry_next < s.carry.size(); ++i, ++s.carry_next) {
            const Kept& k = s.carry[s.carry_next];
            const std::size_t c = std::min(k.size, slots[i].capacity);
            if (c > 0) std::memcpy(slots[i].data, s.kept_bytes.data() + k.offset, c);
            Meta& m = *slots[i].meta;
            m.size = c;
            m.addr = k.addr;
            m.flags = k.flags | (k.size > c ? PacketFlags::truncated : PacketFlags::none);
        }
        if (s.carry_next == s.carry.size()) {
            s.carry.clear();
            s.kept_bytes.clear();
            s.carry_next = 0;
        }
        return i;
    }

    // A contiguous piece of a received message: bytes [start, start + len) of it, at ptr.
    struct Region {
        std::size_t start;
        std::size_t len;
        std::byte* ptr;
    };

    // The piece of message j that holds byte `off`.
    Region region(std::size_t j, std::size_t off, bool train_layout,
                  std::span<const RecvSlot> slots) const noexcept {
        if (train_layout) {
            const std::size_t cap = slots[0].capacity;
            const std::size_t in_slots = cap * slots.size();
            if (off < in_slots) {
                const std::size_t k = off / cap;
                return {k * cap, cap, slots[k].data};
            }
            return {in_slots, coalesced_room, spill_.p.get()};
        }
        const std::size_t cap = slots[j].capacity;
        if (off < cap) return {0, cap, slots[j].data};
        return {cap, coalesced_room, spill_.p.get() + j * coalesced_room};
    }

    // Copies bytes [off, off + len) of message j to dst, piece by piece, in the order that is
    // safe when dst lies after (backward) or before (forward) the source in the message.
    void copy_out(std::size_t j, std::size_t off, std::size_t len, std::byte* dst, bool backward,
                  bool train_layout, std::span<const RecvSlot> slots) const noexcept {
        if (backward) {
            for (std::size_t e = off + len; e > off;) {
                const Region r = region(j, e - 1, train_layout, slots);
                const std::size_t b = std::max(r.start, off);
                std::memmove(dst + (b - off), r.ptr + (b - r.start), e - b);
                e = b;
            }
        } else {
            for (std::size_t b = off; b < off + len;) {
                const Region r = region(j, b, train_layout, slots);
                const std::size_t e = std::min(r.start + r.len, off + len);
                std::memmove(dst + (b - off), r.ptr + (b - r.start), e - b);
                b = e;
            }
        }
    }

    // Message 0 over every packet (then spill area 0): a coalesced datagram whose segments
    // have the packets' capacity lands in place.
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
    // One message per packet (then its own spill area): plain datagrams land in place.
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

    // Decodes how many segments each of the `got` messages holds and where they go;
    // returns the total number of segments.
    static std::size_t decode(RecvArrays& a, std::size_t got) noexcept {
        std::size_t total = 0;
        for (std::size_t j = 0; j < got; ++j) {
            const msghdr& h = a.hdr[j].msg_hdr;
            MessageInfo& mi = a.info[j];
            mi.len = a.hdr[j].msg_len;
            const detail::RecvControl c = detail::parse_control(h);
            if (c.gro_segment > 0 && mi.len > c.gro_segment) {
                mi.seg = c.gro_segment;
                mi.count = (mi.len + mi.seg - 1) / mi.seg;
            } else {
                mi.seg = mi.len;
                mi.count = 1;
            }
            mi.first_out = total;
            total += mi.count;
            mi.addr = detail::endpoint_from(a.addr[j], h.msg_namelen);
            mi.flags = c.control_truncated ? PacketFlags::control_truncated : PacketFlags::none;
            mi.cut = (h.msg_flags & MSG_TRUNC) != 0;
        }
        return total;
    }

    static PacketFlags segment_flags(const MessageInfo& mi, std::size_t t, bool too_long) noexcept {
        const bool cut = too_long || (mi.cut && t + 1 == mi.count);
        return mi.flags | (cut ? PacketFlags::truncated : PacketFlags::none);
    }

    // Puts the segments of `got` decoded messages (`total` segments) into the packets and
    // keeps those beyond them; returns how many packets were filled.
    std::size_t deliver(SocketState& s, RecvArrays& a, std::size_t got, std::size_t total,
                        bool train_layout, std::span<const RecvSlot> slots) {
        const std::size_t n = slots.size();
        // Pass 1: segments beyond the caller's packets are kept, in order, before pass 2
        // moves anything.
        if (total > n) {
            std::size_t bytes = 0;
            for (std::size_t j = 0; j < got; ++j) {
                const MessageInfo& mi = a.info[j];
                for (std::size_t t = 0; t < mi.count; ++t)
                    if (mi.first_out + t >= n) bytes += std::min(mi.seg, mi.len - t * mi.seg);
            }
            s.carry.clear();
            s.carry.reserve(total - n);
            s.carry_next = 0;
            if (s.kept_bytes.size() < bytes) s.kept_bytes.resize(bytes);
            std::size_t at = 0;
            for (std::size_t j = 0; j < got; ++j) {
                const MessageInfo& mi = a.info[j];
                for (std::size_t t = 0; t < mi.count; ++t) {
                    if (mi.first_out + t < n) continue;
                    const std::size_t off = t * mi.seg;
                    const std::size_t len = std::min(mi.seg, mi.len - off);
                    copy_out(j, off, len, s.kept_bytes.data() + at, false, train_layout, slots);
                    // Truncation to the packet is decided when it is handed out.
                    s.carry.push_back(Kept{at, len, mi.addr, segment_flags(mi, t, false)});
                    at += len;
                }
            }
        }

        // Pass 2: every other segment into its packet. Packets only ever receive data from
        // the same or an earlier place in the layout (when segments are not larger than
        // packets), so going from the last segment back moves each one before its packet
        // is overwritten; larger segments go front to back for the mirror reason.
        auto place = [&](std::size_t j, std::size_t t, bool backward) {
            const MessageInfo& mi = a.info[j];
            const std::size_t p = mi.first_out + t;
            if (p >= n) return;
            const std::size_t off = t * mi.seg;
            const std::size_t len = std::min(mi.seg, mi.len - off);
            const std::size_t c = std::min(len, slots[p].capacity);
            const Region rg = region(j, off, train_layout, slots);
            if (c > 0 && rg.ptr + (off - rg.start) != slots[p].data)
                copy_out(j, off, c, slots[p].data, backward, train_layout, slots);
            Meta& meta = *slots[p].meta;
            meta.size = c;
            meta.addr = mi.addr;
            meta.flags = segment_flags(mi, t, len > c);
        };
        if (train_layout && a.info[0].seg > slots[0].capacity) {
            for (std::size_t t = 0; t < a.info[0].count; ++t) place(0, t, false);
        } else if (train_layout && a.info[0].seg == slots[0].capacity) {
            // The common case: every segment is already in its packet; only metadata.
            const MessageInfo& mi = a.info[0];
            const std::size_t k = std::min(mi.count, n);
            for (std::size_t t = 0; t < k; ++t) {
                Meta& meta = *slots[t].meta;
                meta.size = std::min(mi.seg, mi.len - t * mi.seg);
                meta.addr = mi.addr;
                meta.flags = segment_flags(mi, t, false);
            }
        } else {
            for (std::size_t j = got; j-- > 0;)
                for (std::size_t t = a.info[j].count; t-- > 0;) place(j, t, true);
        }
        return std::min(total, n);
    }

    // One receive: first a single message over every packet (zero-copy for a coalesced
    // datagram of packet-sized segments). If that brought one plain datagram, a second,
    // non-waiting call takes what else is queued, one message per remaining packet.
    std::size_t receive(int fd, SocketState& s, std::span<const RecvSlot> slots, WaitMode mode,
                        std::error_code& ec) {
        const std::size_t n = slots.size();
        RecvArrays& a = recv_arrays();
        const std::size_t cap = slots[0].capacity;
        bool uniform = cap > 0;
        for (std::size_t i = 1; i < n && uniform; ++i) uniform = slots[i].capacity == cap;
        const int wait = detail::flags_for(mode == WaitMode::never);

        if (!uniform) {
            lay_pairs(a, slots);
            const int r = ops_.recv_mmsg(fd, a.hdr, static_cast<unsigned>(n), MSG_WAITFORONE | wait, ec);
            if (r <= 0) return 0;
            const auto got = static_cast<std::size_t>(r);
            return deliver(s, a, got, decode(a, got), false, slots);
        }

        lay_train(a, slots);
        const int r = ops_.recv_mmsg(fd, a.hdr, 1, wait, ec);
        if (r <= 0) return 0;
        const std::size_t total = decode(a, 1);
        const std::size_t first = deliver(s, a, 1, total, true, slots);
        if (total > 1 || n == 1) return first;

        const auto rest = slots.subspan(1);
        lay_pairs(a, rest);
        std::error_code ec2;
        const int r2 = ops_.recv_mmsg(fd, a.hdr, static_cast<unsigned>(rest.size()),
                                      MSG_WAITFORONE | MSG_DONTWAIT, ec2);
        if (r2 <= 0) {
            if (!detail::is_would_block(ec2) && !detail::is_interrupted(ec2)) ec = ec2;
            return 1;
        }
        const auto got = static_cast<std::size_t>(r2);
        return 1 + deliver(s, a, got, decode(a, got), false, rest);
    }

    Ops ops_{};
    GsoLimits limits_{};
    bool limits_known_ = false;
    std::size_t fallbacks_ = 0;
    std::vector<int> no_trains_;
    std::vector<SocketState> sockets_;
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
};

//! The GSO/GRO backend on the real kernel.
using LinuxGsoBackend = BasicLinuxGsoBackend<>;

static_assert(SendBackend<LinuxGsoBackend> && RecvBackend<LinuxGsoBackend>,
              "LinuxGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_BACKEND_LINUX_GSO_HPP
