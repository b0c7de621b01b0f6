//! Defines mmsg::IoUringBackend: a batch of datagrams as io_uring send / recvmsg submissions
//! (one per datagram), submitted and reaped with one io_uring_enter (liburing). (Over 300
//! lines: the send and the receive path of one backend, kept together.)
#ifndef MMSG_BACKEND_IO_URING_HPP
#define MMSG_BACKEND_IO_URING_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/uring_completions.hpp>
#include <mmsg/detail/uring_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/io_uring_capability.hpp>
#include <mmsg/socket_state.hpp>

#if MMSG_HAS_IO_URING

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg {

//! Ring set-up choices for IoUringBackend.
struct IoUringOptions {
    //! Submission-queue entries: the most datagrams one backend call moves (the sender
    //! chunks larger batches). Rounded up to a power of two by the kernel.
    unsigned entries = 256;
    //! Ask for a kernel submission-polling thread (IORING_SETUP_SQPOLL). Off by default: on
    //! a machine with few cores the polling thread competes with the application (see
    //! doc/io_uring.adoc for the measurement). Falls back to a plain ring if refused.
    bool sqpoll = false;
};

/*! Backend on io_uring (liburing): one MSG_DONTWAIT `sendmsg` (or `recvmsg`) submission per
    datagram, the whole batch submitted and its completions reaped with one io_uring_enter.
    Each datagram's outcome is its own completion's: a rejected datagram fails alone within
    the call. Would-block completions at the end are the unsent suffix; one followed by an
    accepted datagram is reported failed with ENOBUFS, so unsent datagrams are always a
    suffix and nothing is sent twice or out of order. Received datagrams land in the slots
    (no copy). When nothing could move and the call may wait, one plain sendmsg/recvmsg
    waits as the socket says (blocking mode, SO_SNDTIMEO / SO_RCVTIMEO).

    Errors: where io_uring is refused, every call fails with the error the ring set-up gave
    (see available(), probe(), Fallback); a socket that is not a datagram socket is refused
    with EPROTOTYPE. The ring is made on the first call and reused; each backend object owns
    its own (copies start without one). Not thread-safe. Why it is built this way, with the
    measurements: doc/io_uring.adoc.
*/
class IoUringBackend {
public:
    IoUringBackend() = default;
    explicit IoUringBackend(IoUringOptions o) noexcept : opts_(o) {}
    IoUringBackend(const IoUringBackend& o) noexcept : opts_(o.opts_) {}
    IoUringBackend(IoUringBackend&&) noexcept = default;
    IoUringBackend& operator=(const IoUringBackend& o) noexcept {
        if (this != &o) {
            opts_ = o.opts_;
            state_.reset();
        }
        return *this;
    }
    IoUringBackend& operator=(IoUringBackend&&) noexcept = default;
    ~IoUringBackend() = default;

    //! Receive slots per call, as recvmmsg.
    static constexpr std::size_t max_recv = num_rcvmmsgs;

    /*! Whether this process can create an io_uring at all: creates and destroys a small
        ring. Returns the error (EPERM, ENOSYS, ...) when it cannot.
    */
    static std::error_code available() noexcept {
        io_uring r;
        const int e = io_uring_queue_init(2, &r, 0);
        if (e < 0) return detail::errno_code(-e);
        io_uring_queue_exit(&r);
        return {};
    }

    //! The most datagrams one call moves (the ring's submission-queue size).
    std::size_t max_send() const noexcept { return opts_.entries; }

    /*! Whether this backend can serve socket `fd`: io_uring is allowed here with the opcodes
        it submits (io_uring_capability()), its ring can be created, and `fd` is a datagram
        socket. Used by Fallback. Returns the reason when it cannot.
    */
    std::error_code probe(int fd) noexcept {
        const IoUringCapability& c = io_uring_capability();
        if (c.ring) return c.ring;
        if (!c.sends() || !c.receives())
            return std::make_error_code(std::errc::function_not_supported);
        if (std::error_code ec = ensure_state()) return ec;
        int type = 0;
        if (std::error_code ec = detail::socket_type(fd, type)) return ec;
        if (type != SOCK_DGRAM) return std::make_error_code(std::errc::wrong_protocol_type);
        return {};
    }

    //! Whether the ring runs with a kernel submission-polling thread (after the first call).
    bool sqpoll_active() const noexcept {
        return state_ && (state_->ring.flags & IORING_SETUP_SQPOLL) != 0;
    }

    //! Sends up to max_send() datagrams: see SendOutcome and the class comment.
    SendOutcome send(SocketRef sock, std::span<const SendItem> items,
                     std::span<std::error_code> errors, WaitMode mode) {
        if (std::error_code ec = ensure_state()) return {0, ec};
        sock = implicit_.resolve(sock);
        if (std::error_code ec = detail::refuse_non_datagram(sock)) return {0, ec};
        const int fd = sock.fd;
        State& s = *state_;
        std::size_t n = std::min<std::size_t>(items.size(), opts_.entries);
        constexpr unsigned flags = MSG_DONTWAIT | MSG_NOSIGNAL;
        for (std::size_t i = 0; i < n; ++i) {
            const SendItem& it = items[i];
            // A datagram without options goes as IORING_OP_SEND with its destination where
            // the kernel takes that (no message header to copy); else as a message.
            const bool plain = s.send_to && !detail::has_options(it.options);
            if (!plain) {
                if (std::error_code e = detail::fill_plain_message(s.send_hdr[i], s.send_iov[i],
                                                                   s.send_ctl[i].bytes, it)) {
                    if (i == 0) return {0, e}; // this datagram is refused
                    n = i;                     // move those before it; the next call reports it
                    break;
                }
            }
            io_uring_sqe* sqe = detail::uring_next_sqe(s.ring);
            if (sqe == nullptr) {
                n = i; // no room now: move what was prepared, the sender calls again
                break;
            }
            if (plain)
                detail::uring_prep_datagram(sqe, fd, it.data, it.size, it.dest, flags);
            else
                io_uring_prep_sendmsg(sqe, fd, &s.send_hdr[i], flags);
            sqe->user_data = i;
        }
        if (n == 0) return {0, detail::errno_code(EAGAIN)};
        if (std::error_code ec = run(s, n)) return {0, ec};
        const SendOutcome out = detail::settle_sends(std::span<const int>(s.res.get(), n), errors);
        if (out.done == n) return out;
        if (out.done == 0 && mode == WaitMode::socket_default) {
            // Let the socket decide whether and how long to wait: one plain sendmsg.
            msghdr& h = s.send_hdr[0];
            if (std::error_code e =
                    detail::fill_plain_message(h, s.send_iov[0], s.send_ctl[0].bytes, items[0]))
                return {0, e};
            std::error_code ec;
            if (detail::sys_sendmsg(fd, &h, 0, ec) < 0) return {0, ec};
            errors[0].clear();
            return {1, {}};
        }
        return out;
    }

    //! Receives up to min(slots.size(), max_recv) datagrams: see RecvBackend and the class
    //! comment. Datagrams land directly in the slots (no copy).
    std::size_t recv(SocketRef sock, std::span<const RecvSlot> slots, WaitMode mode,
                     std::error_code& ec) {
        if ((ec = ensure_state())) return 0;
        sock = implicit_.resolve(sock);
        if ((ec = detail::refuse_non_datagram(sock))) return 0;
        const int fd = sock.fd;
        State& s = *state_;
        std::size_t n = std::min({slots.size(), max_recv, std::size_t{opts_.entries}});
        for (std::size_t i = 0; i < n; ++i) {
            msghdr& h = s.recv_hdr[i];
            s.recv_iov[i].iov_base = slots[i].data;
            s.recv_iov[i].iov_len = slots[i].capacity;
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_controllen = sizeof s.recv_ctrl[i];
            h.msg_flags = 0;
            io_uring_sqe* sqe = detail::uring_next_sqe(s.ring);
            if (sqe == nullptr) {
                n = i;
                break;
            }
            io_uring_prep_recvmsg(sqe, fd, &h, detail::recv_flags(true));
            sqe->user_data = i;
        }
        if (n == 0) {
            ec = detail::errno_code(EAGAIN);
            return 0;
        }
        if ((ec = run(s, n))) return 0;
        const auto [got, stop] =
            detail::settle_receives(std::span<const int>(s.res.get(), n), slots.first(n),
                                    std::span<const msghdr>(s.recv_hdr, n), *sock.state);
        if (got > 0 || stop != 0) {
            // Would-block after datagrams is the normal end of a batch; a real error is
            // reported with the datagrams (BatchReceiver reports it on the next call).
            if (stop != 0)
                ec = detail::errno_code(-stop);
            else
                ec.clear();
            return got;
        }
        const std::error_code e = detail::errno_code(-s.res[0]);
        if (detail::is_would_block(e) && mode == WaitMode::socket_default) {
            // Nothing queued: wait as the socket says (blocking mode, SO_RCVTIMEO).
            msghdr& h = s.recv_hdr[0];
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_controllen = sizeof s.recv_ctrl[0];
            const long r = detail::sys_recvmsg(fd, &h, detail::recv_flags(false), ec);
            if (r < 0) return 0;
            detail::decode_received(h, static_cast<std::size_t>(r), slots[0].capacity,
                                    *slots[0].meta, *sock.state);
            return 1;
        }
        ec = e;
        return 0;
    }

private:
    struct State {
        io_uring ring{};
        std::unique_ptr<msghdr[]> send_hdr;
        struct alignas(cmsghdr) SendControl {
            unsigned char bytes[detail::send_control_room];
        };
        std::unique_ptr<SendControl[]> send_ctl;
        std::unique_ptr<iovec[]> send_iov;
        std::unique_ptr<int[]> res;
        msghdr recv_hdr[max_recv]{};
        iovec recv_iov[max_recv]{};
        sockaddr_storage recv_addr[max_recv];
        struct alignas(cmsghdr) Control {
            unsigned char bytes[detail::recv_control_room];
        } recv_ctrl[max_recv];

        bool live = false;    // the ring exists
        bool send_to = false; // IORING_OP_SEND takes a destination (IoUringCapability)

        State() = default;
        State(const State&) = delete;
        State& operator=(const State&) = delete;
        ~State() {
            if (live) io_uring_queue_exit(&ring);
        }
    };

    std::error_code ensure_state() noexcept {
        if (state_) return {};
        if (init_error_) return init_error_;
        std::unique_ptr<State> s(new (std::nothrow) State);
        if (!s) return std::make_error_code(std::errc::not_enough_memory);
        const unsigned n = opts_.entries;
        s->send_hdr.reset(new (std::nothrow) msghdr[n]{});
        s->send_ctl.reset(new (std::nothrow) State::SendControl[n]);
        s->send_iov.reset(new (std::nothrow) iovec[n]{});
        s->res.reset(new (std::nothrow) int[n]{});
        if (!s->send_hdr || !s->send_ctl || !s->send_iov || !s->res)
            return std::make_error_code(std::errc::not_enough_memory);
        if (const int e = detail::uring_init(s->ring, n, opts_.sqpoll); e < 0) {
            // A refused io_uring does not come back: remember why and fail every call with it.
            init_error_ = detail::errno_code(-e);
            return init_error_;
        }
        s->live = true;
        s->send_to = io_uring_capability().send_to;
        for (unsigned i = 0; i < n; ++i) {
            s->send_hdr[i].msg_iov = &s->send_iov[i];
            s->send_hdr[i].msg_iovlen = 1;
        }
        for (std::size_t i = 0; i < max_recv; ++i) {
            s->recv_hdr[i].msg_iov = &s->recv_iov[i];
            s->recv_hdr[i].msg_iovlen = 1;
            s->recv_hdr[i].msg_name = &s->recv_addr[i];
            s->recv_hdr[i].msg_control = s->recv_ctrl[i].bytes;
        }
        state_ = std::move(s);
        return {};
    }

    // Submits the `n` prepared submissions and reaps their completions into res[].
    std::error_code run(State& s, std::size_t n) noexcept {
        const detail::UringRun r = detail::uring_submit_and_reap(s.ring, n, s.res.get(), opts_.entries);
        if (r.refused) state_.reset(); // nothing in flight: the next call makes a new ring
        return r.refused ? r.refused : r.reap;
    }

    IoUringOptions opts_{};
    std::unique_ptr<State> state_;
    std::error_code init_error_{};
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
};

static_assert(SendBackend<IoUringBackend> && RecvBackend<IoUringBackend>,
              "IoUringBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_IO_URING
#endif // MMSG_BACKEND_IO_URING_HPP
