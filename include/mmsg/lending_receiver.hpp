//! Defines mmsg::LendingReceiver: receives datagrams into buffers of its own with a multishot
//! io_uring recvmsg over a provided-buffer ring, and lends them out as LentPackets (views,
//! no copy), GRO-coalesced ones split into segments; recvmmsg fills the same buffers where
//! io_uring is refused. (Over 300 lines: the receiver's whole life, set-up to teardown, is
//! one class so that where a datagram is at any moment is read in one place.)
#ifndef MMSG_LENDING_RECEIVER_HPP
#define MMSG_LENDING_RECEIVER_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/lend_pool.hpp>
#include <mmsg/detail/lent_datagrams.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/uring_ops.hpp>
#include <mmsg/io_uring_capability.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <system_error>
#include <type_traits>

#include <liburing.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

//! How a LendingReceiver fills its buffers.
enum class LendEngine : std::uint8_t {
    automatic, //!< io_uring where io_uring_capability().lends(), else recvmmsg
    io_uring,  //!< a multishot recvmsg over a provided-buffer ring (refused where unavailable)
    recvmmsg,  //!< recvmmsg(2) into free buffers, one call per receive
};

//! Set-up choices for LendingReceiver.
struct LendingOptions {
    //! Buffers (a power of two, at most 32768): the most datagrams received and not yet
    //! released at once. 0: 256, or 64 with `gro`.
    unsigned buffers = 0;
    //! Payload bytes per buffer; a longer datagram is cut (PacketFlags::truncated, wire_size
    //! says its length). With `gro` at least 65536, so any coalesced datagram fits.
    std::size_t buffer_size = packet_data_size;
    //! Turns UDP_GRO on for the socket: a buffer then holds many datagrams of one sender,
    //! lent as one packet each (split with no copy).
    bool gro = false;
    LendEngine engine = LendEngine::automatic;
};

//! What a LendingReceiver did so far.
struct LendingStats {
    std::uint64_t lent = 0;      //!< packets lent (a segment of a coalesced datagram is one)
    std::uint64_t filled = 0;    //!< buffers the kernel filled (a coalesced datagram is one)
    std::uint64_t exhausted = 0; //!< times the multishot receive ended with every buffer in
                                 //!< use (ENOBUFS): datagrams waited in the socket meanwhile
    std::uint64_t rearmed = 0;   //!< times it was armed again after the kernel ended it
    std::uint64_t starved = 0;   //!< receives refused with no_buffer_space (all buffers lent)
    std::uint64_t syscalls = 0;  //!< system calls (io_uring_enter, recvmmsg, waits)
};

/*! A receiver that lends: datagrams land in buffers of its own and the caller gets views of
    them (LentPacket: data() and meta(), GRO-coalesced datagrams split into one packet per
    segment), with no copy and no allocation per call. A buffer goes back to the kernel
    when every packet viewing it is released.

    Where a datagram is, at any moment: queued in the socket (the kernel's receive buffer,
    SO_RCVBUF, which drops what does not fit, counted by enable_drop_count); in a buffer,
    received but not yet lent (pending()); or lent (in a LentPacket, until released). With
    io_uring (IORING_SETUP_DEFER_TASKRUN) datagrams move from the socket into buffers only
    inside this receiver's calls, never in the background: a slow caller leaves them in the
    socket. When every buffer is in use the kernel ends the multishot receive (ENOBUFS,
    counted in stats().exhausted); datagrams then wait in the socket, and the receive is
    armed again (stats().rearmed) as soon as a buffer is free. When all of them are lent,
    receive() fails with no_buffer_space (stats().starved): release packets.

    Ending: stop() cancels the multishot receive; receive() then lends what was already
    received and after that fails with operation_aborted; what is still queued stays in the
    socket for the next reader. The destructor stops and drops what was received but not
    lent, counting it in the socket's SocketState (discarded()) when the socket carries one,
    so nothing is lost silently. Lent packets stay valid after the receiver is gone.

    Serves one socket, given at construction (it must outlive the receiver; while the
    multishot is armed io_uring holds the socket open). Set up on the first receive, on the
    calling thread, which it then belongs to (IORING_SETUP_SINGLE_ISSUER). Not thread-safe.
    Movable. Errors: setting up (available(), ENOMEM), the socket's errors; details and
    measurements in doc/io_uring.adoc.
*/
class LendingReceiver {
public:
    template <SocketLike Socket>
    explicit LendingReceiver(Socket& socket, LendingOptions o = {}) : opts_(o) {
        fd_ = detail::native(socket);
        if constexpr (StatefulSocket<Socket>) state_ = &socket.mmsg_state();
        if (opts_.buffers == 0) opts_.buffers = opts_.gro ? 64 : 256;
        if (opts_.gro) {
            opts_.buffer_size = std::max<std::size_t>(opts_.buffer_size, 65536);
            // Now, so that what arrives before the first receive is coalesced too.
            gro_error_ = detail::set_int_option(fd_, SOL_UDP, UDP_GRO, 1);
        }
    }
    LendingReceiver(LendingReceiver&&) noexcept = default;
    LendingReceiver& operator=(LendingReceiver&& o) noexcept {
        if (this != &o) {
            close();
            s_ = std::move(o.s_);
            opts_ = o.opts_;
            fd_ = o.fd_;
            state_ = o.state_;
            gro_error_ = o.gro_error_;
        }
        return *this;
    }
    ~LendingReceiver() { close(); }

    //! Why this process cannot lend with io_uring (then LendEngine::automatic uses recvmmsg).
    static std::error_code available() noexcept { return io_uring_capability().why_not_lending(); }

    /*! Releases what `out` holds, then waits as the socket says (blocking mode, SO_RCVTIMEO)
        until a datagram is there and lends out[0, n) every datagram received, up to
        out.size(). Returns n; 0 with `ec` set: operation_would_block (timeout, non-blocking
        socket), no_buffer_space (every buffer lent), operation_aborted (after stop(), once
        nothing received is left), or the socket's or set-up's error. An error met after
        datagrams is reported by the next call.
    */
    std::size_t receive(std::span<LentPacket> out, std::error_code& ec) noexcept {
        return run(out, true, ec);
    }
    //! Same; throws std::system_error.
    std::size_t receive(std::span<LentPacket> out) {
        std::error_code ec;
        const std::size_t n = receive(out, ec);
        if (ec) throw std::system_error(ec, "mmsg::LendingReceiver::receive");
        return n;
    }
    //! Never waits (even on a blocking socket): operation_would_block when nothing is there.
    std::size_t try_receive(std::span<LentPacket> out, std::error_code& ec) noexcept {
        return run(out, false, ec);
    }

    //! Stops receiving (see the class comment). Idempotent.
    void stop() noexcept {
        if (!s_) return;
        State& s = *s_;
        if (s.ring_live && s.armed && !s.stopping) {
            if (io_uring_sqe* sqe = io_uring_get_sqe(&s.ring)) {
                io_uring_prep_cancel64(sqe, recv_tag, 0);
                sqe->user_data = cancel_tag;
                io_uring_submit(&s.ring);
            }
            s.stopping = true;
        }
        if (!s.armed) s.stopped = true;
    }

    //! Datagrams (buffers) received and not yet lent, without asking the kernel.
    std::size_t pending() const noexcept {
        if (!s_) return 0;
        const State& s = *s_;
        std::size_t n = (s.has_current ? 1 : 0) + s.ready_count - s.ready_next;
        if (s.ring_live) { // completions that carry a buffer (not the one ending the receive)
            io_uring& r = const_cast<io_uring&>(s.ring); // liburing's walk takes no const
            unsigned head = 0;
            io_uring_cqe* cqe = nullptr;
            io_uring_for_each_cqe(&r, head, cqe) {
                if (cqe->user_data == recv_tag && (cqe->flags & IORING_CQE_F_BUFFER) != 0 &&
                    cqe->res >= 0)
                    ++n;
            }
        }
        return n;
    }
    //! Buffers held by lent packets (and the receiver's current one).
    std::size_t held() const noexcept { return s_ && s_->pool ? s_->pool->held() : 0; }
    const LendingStats& stats() const noexcept {
        static const LendingStats none{};
        return s_ ? s_->stats : none;
    }
    //! Whether buffers are filled with io_uring (after the first receive).
    bool uses_io_uring() const noexcept { return s_ && s_->ring_live; }
    int native_handle() const noexcept { return fd_; }

private:
    static constexpr std::uint64_t recv_tag = 1;
    static constexpr std::uint64_t cancel_tag = 2;
    static constexpr unsigned group = 0;

    struct State {
        io_uring ring{};
        bool ring_live = false;
        detail::LendPool* pool = nullptr;
        detail::LendLayout layout{};
        msghdr arm_hdr{}; // what the multishot receive lays out in each buffer
        bool armed = false, stopping = false, stopped = false, armed_once = false;
        bool has_current = false; // a buffer being lent out, segment by segment
        unsigned current_bid = 0;
        std::size_t current_next = 0;
        detail::LentMessage current{};
        std::error_code kept{}; // an error met after datagrams, for the next call
        SocketState own_state;  // for a socket that carries none
        LendingStats stats{};
        // recvmmsg engine: buffers filled by the last call, as (buffer, bytes) completions.
        std::unique_ptr<mmsghdr[]> hdr;
        std::unique_ptr<iovec[]> iov;
        std::unique_ptr<unsigned[]> ready_bid;
        std::unique_ptr<int[]> ready_res;
        std::size_t ready_count = 0, ready_next = 0;
    };

    SocketState& state() noexcept { return state_ ? *state_ : s_->own_state; }

    std::error_code set_up() noexcept {
        std::unique_ptr<State> s(new (std::nothrow) State);
        if (!s) return std::make_error_code(std::errc::not_enough_memory);
        const IoUringCapability& c = io_uring_capability();
        const bool ring = opts_.engine == LendEngine::io_uring ||
                          (opts_.engine == LendEngine::automatic && c.lends());
        if (ring && !c.lends()) return c.why_not_lending();
        if (gro_error_) return gro_error_;
        s->layout.payload_room = opts_.buffer_size;
        std::error_code ec;
        s->pool = detail::LendPool::make(opts_.buffers, s->layout.buffer_size(), ec);
        if (!s->pool) return ec;
        s_ = std::move(s); // from here on, close() tears down what is made
        State& st = *s_;
        if (ring) {
            io_uring_params p{};
            p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                      IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE;
            p.cq_entries = 2 * opts_.buffers + 8; // every buffer's completion, and the ends
            if (const int e = io_uring_queue_init_params(8, &st.ring, &p); e < 0) {
                close();
                return detail::errno_code(-e);
            }
            st.ring_live = true;
            if ((ec = st.pool->region().register_with(st.ring, group))) {
                close();
                return ec;
            }
            st.arm_hdr.msg_namelen = detail::LendLayout::name_room;
            st.arm_hdr.msg_controllen = detail::LendLayout::control_room;
        } else {
            const std::size_t n = num_rcvmmsgs;
            st.hdr.reset(new (std::nothrow) mmsghdr[n]{});
            st.iov.reset(new (std::nothrow) iovec[n]{});
            st.ready_bid.reset(new (std::nothrow) unsigned[n]);
            st.ready_res.reset(new (std::nothrow) int[n]);
            if (!st.hdr || !st.iov || !st.ready_bid || !st.ready_res) {
                close();
                return std::make_error_code(std::errc::not_enough_memory);
            }
        }
        st.pool->start(ring);
        return {};
    }

    // Hands out what is received, from out[0]; no system call. Returns how many.
    std::size_t lend(std::span<LentPacket> out) noexcept {
        State& s = *s_;
        std::size_t i = 0;
        while (i < out.size()) {
            if (s.has_current) {
                const std::size_t k =
                    detail::lend_segments(s.current, s.current_next, out.subspan(i));
                for (std::size_t j = i; j < i + k; ++j) {
                    s.pool->hold(s.current_bid);
                    detail::LentAccess::lend(out[j], s.pool, s.current_bid);
                }
                i += k;
                s.stats.lent += k;
                s.current_next += k;
                if (s.current_next >= std::max<std::size_t>(s.current.m.count, 1)) {
                    s.has_current = false;
                    s.pool->release(s.current_bid); // the receiver's own hold
                }
                continue;
            }
            unsigned bid = 0;
            int res = 0;
            if (s.ready_next < s.ready_count) { // recvmmsg engine
                bid = s.ready_bid[s.ready_next];
                res = s.ready_res[s.ready_next++];
            } else if (!next_completion(bid, res)) {
                break;
            }
            ++s.stats.filled;
            if (detail::read_lent(s.pool->buffer(bid), res, s.layout, s.current, state())) {
                s.has_current = true;
                s.current_bid = bid;
                s.current_next = 0;
            } else {
                s.pool->release(bid); // nothing readable in it (never from the kernel)
            }
        }
        return i;
    }

    // The next completion of the ring that carries a buffer (its id and result, the
    // receiver then holding the buffer); handles those that end the multishot receive.
    bool next_completion(unsigned& bid, int& res) noexcept {
        State& s = *s_;
        if (!s.ring_live) return false;
        io_uring_cqe* cqe = nullptr;
        // (liburing's own peek, without the system call io_uring_peek_cqe may add)
        while (__io_uring_peek_cqe(&s.ring, &cqe, nullptr) == 0 && cqe != nullptr) {
            const std::uint64_t tag = cqe->user_data;
            const unsigned flags = cqe->flags;
            res = cqe->res;
            io_uring_cqe_seen(&s.ring, cqe);
            if (tag != recv_tag) continue; // the cancel's own completion
            if ((flags & IORING_CQE_F_MORE) == 0) {
                s.armed = false;
                if (res == -ENOBUFS) ++s.stats.exhausted;
                // Ended while stopping, whatever the reason (cancelled, or out of buffers
                // before the cancel was seen): it is not armed again.
                if (s.stopping)
                    s.stopped = true;
                else if (res < 0 && res != -ENOBUFS)
                    s.kept = detail::errno_code(-res);
            }
            if ((flags & IORING_CQE_F_BUFFER) != 0) {
                bid = flags >> IORING_CQE_BUFFER_SHIFT;
                s.pool->from_kernel(bid);
                if (res >= 0) return true;
                s.pool->release(bid);
            }
        }
        return false;
    }

    // Lets the kernel move what is queued into buffers: arms the multishot receive if it is
    // not (a buffer is free), else runs the work queued for it. One system call.
    void pull() noexcept {
        State& s = *s_;
        s.pool->publish();
        if (!s.armed && !s.stopping && !s.stopped && s.pool->in_kernel() > 0) {
            if (io_uring_sqe* sqe = io_uring_get_sqe(&s.ring)) {
                io_uring_prep_recvmsg_multishot(sqe, fd_, &s.arm_hdr, MSG_TRUNC);
                sqe->flags |= IOSQE_BUFFER_SELECT;
                sqe->buf_group = group;
                sqe->user_data = recv_tag;
                s.armed = true;
                if (s.armed_once) ++s.stats.rearmed;
                s.armed_once = true;
            }
            io_uring_submit(&s.ring); // issued at once: takes what is queued
        } else {
            io_uring_get_events(&s.ring);
        }
        ++s.stats.syscalls;
    }

    // The recvmmsg engine: one call into free buffers, laid out as the ring lays them.
    void fill(std::size_t want, bool may_wait, std::error_code& ec) noexcept {
        State& s = *s_;
        const std::size_t n = std::min({std::size_t{s.pool->free_count()}, num_rcvmmsgs, want});
        for (std::size_t j = 0; j < n; ++j) {
            const unsigned bid = s.pool->take_free();
            std::byte* b = s.pool->buffer(bid);
            msghdr& h = s.hdr[j].msg_hdr;
            h.msg_name = b + detail::LendLayout::header;
            h.msg_namelen = detail::LendLayout::name_room;
            h.msg_control = b + detail::LendLayout::header + detail::LendLayout::name_room;
            h.msg_controllen = detail::LendLayout::control_room;
            s.iov[j] = iovec{b + detail::LendLayout::payload_offset, s.layout.payload_room};
            h.msg_iov = &s.iov[j];
            h.msg_iovlen = 1;
            s.ready_bid[j] = bid;
        }
        ++s.stats.syscalls;
        const int r = detail::sys_recvmmsg(fd_, s.hdr.get(), static_cast<unsigned>(n),
                                           MSG_WAITFORONE | detail::recv_flags(!may_wait), ec);
        const std::size_t got = r > 0 ? static_cast<std::size_t>(r) : 0;
        for (std::size_t j = 0; j < got; ++j) { // the header a multishot recvmsg writes
            const msghdr& h = s.hdr[j].msg_hdr;
            const io_uring_recvmsg_out o{static_cast<std::uint32_t>(h.msg_namelen),
                                         static_cast<std::uint32_t>(h.msg_controllen),
                                         s.hdr[j].msg_len, static_cast<std::uint32_t>(h.msg_flags)};
            std::memcpy(s.pool->buffer(s.ready_bid[j]), &o, sizeof o);
            s.ready_res[j] =
                static_cast<int>(detail::LendLayout::payload_offset +
                                 std::min<std::size_t>(s.hdr[j].msg_len, s.layout.payload_room));
        }
        for (std::size_t j = got; j < n; ++j)
            s.pool->release(s.ready_bid[j]);
        s.ready_count = got;
        s.ready_next = 0;
        if (got > 0) ec.clear();
    }

    // The kernel has work queued for the multishot receive (datagrams arrived since the last
    // system call): IORING_SQ_TASKRUN, with IORING_SETUP_TASKRUN_FLAG.
    bool more_queued() const noexcept {
        return (IO_URING_READ_ONCE(*s_->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
    }

    std::size_t run(std::span<LentPacket> out, bool may_wait, std::error_code& ec) noexcept {
        ec.clear();
        for (LentPacket& p : out)
            p.release();
        if (out.empty()) return 0;
        if (!s_)
            if ((ec = set_up())) return 0;
        State& s = *s_;
        std::size_t got = lend(out);
        int rearms = 0;
        while (got < out.size()) {
            // What was received is lent; go on only while the kernel has more queued.
            if (got > 0 && !(s.ring_live && more_queued())) break;
            if (s.kept) {
                if (got == 0) ec = std::exchange(s.kept, {});
                break;
            }
            if (s.stopped || (s.stopping && !s.ring_live)) {
                if (got == 0) ec = std::make_error_code(std::errc::operation_canceled);
                break;
            }
            if (!s.ring_live) { // recvmmsg engine: one call per receive
                if (s.pool->free_count() == 0) return starved(ec);
                fill(out.size(), may_wait, ec);
                got = lend(out);
                if (got > 0)
                    ec.clear();
                else if (!ec)
                    ec = detail::would_block_code();
                if (got == 0 && detail::is_interrupted(ec)) continue;
                break;
            }
            pull();
            const std::size_t more = lend(out.subspan(got));
            got += more;
            if (more > 0 || got > 0) continue;
            if (s.kept || s.stopped) continue;
            if (!s.armed) { // it ended at once: for lack of buffers, or to be armed again
                s.pool->publish();
                if (s.pool->in_kernel() == 0 || ++rearms > 2) return starved(ec);
                continue;
            }
            if (!may_wait) {
                ec = detail::would_block_code();
                break;
            }
            ++s.stats.syscalls;
            if (!detail::sys_wait_readable(fd_, ec)) break;
        }
        return got;
    }

    std::size_t starved(std::error_code& ec) noexcept {
        ++s_->stats.starved;
        ec = std::make_error_code(std::errc::no_buffer_space);
        return 0;
    }

    // Stops, drops (and counts) what was received but not lent, tears down; the pool lives
    // on while packets are lent.
    void close() noexcept {
        if (!s_) return;
        State& s = *s_;
        std::uint64_t dropped = 0;
        // A buffer not lent: its datagrams (segments) are dropped, counted.
        auto drop = [&](unsigned bid, int res) {
            detail::LentMessage m;
            SocketState scratch;
            if (detail::read_lent(s.pool->buffer(bid), res, s.layout, m, scratch))
                dropped += std::max<std::size_t>(m.m.count, 1);
            s.pool->release(bid);
        };
        if (s.has_current) {
            dropped += std::max<std::size_t>(s.current.m.count, 1) - s.current_next;
            s.pool->release(s.current_bid);
            s.has_current = false;
        }
        for (; s.ready_next < s.ready_count; ++s.ready_next)
            drop(s.ready_bid[s.ready_next], s.ready_res[s.ready_next]);
        if (s.ring_live) {
            stop();
            // Reap until the kernel confirms the multishot receive ended (bounded).
            for (int rounds = 0; rounds < 100 && (s.armed || io_uring_cq_ready(&s.ring) > 0);
                 ++rounds) {
                unsigned bid = 0;
                int res = 0;
                while (next_completion(bid, res))
                    drop(bid, res);
                if (s.armed) {
                    __kernel_timespec ts{0, 10'000'000};
                    io_uring_cqe* cqe = nullptr;
                    io_uring_wait_cqe_timeout(&s.ring, &cqe, &ts);
                }
            }
            io_uring_queue_exit(&s.ring);
            s.ring_live = false;
        }
        if (dropped > 0 && state_ != nullptr) state_->note_discarded(dropped);
        if (s.pool) s.pool->detach();
        s_.reset();
    }

    std::unique_ptr<State> s_;
    LendingOptions opts_;
    int fd_ = -1;
    SocketState* state_ = nullptr;
    std::error_code gro_error_{}; // turning UDP_GRO on failed: the first receive says so
};

} // namespace mmsg

#endif // MMSG_HAS_IO_URING
#endif // MMSG_LENDING_RECEIVER_HPP
