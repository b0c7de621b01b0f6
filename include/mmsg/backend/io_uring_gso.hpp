//! Defines mmsg::IoUringGsoBackend: LinuxGsoBackend's trains (UDP_SEGMENT) and GRO receive,
//! with the sends going through io_uring, one submission per train (liburing).
#ifndef MMSG_BACKEND_IO_URING_GSO_HPP
#define MMSG_BACKEND_IO_URING_GSO_HPP

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/kernel_socket.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/uring_ops.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/io_uring_capability.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/socket_state.hpp>

#if MMSG_HAS_IO_URING && MMSG_HAS_UDP_GSO

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <new>
#include <system_error>

#include <liburing.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace mmsg {

namespace detail {

/*! BasicLinuxGsoBackend's system-call layer on io_uring: each message of a send (a train, or
    a plain datagram) is one submission, all of them submitted and reaped with one
    io_uring_enter, and each gets its own outcome (send_each). The messages of a call that
    holds a train are linked (IOSQE_IO_LINK), so that when one fails or would block nothing
    after it goes: a refused train is resent as plain datagrams without reordering or
    duplicating anything, and back-pressure leaves an unsent suffix. A call of plain
    datagrams only is not linked: each fails alone, as with IoUringBackend (linking costs
    about 15 % per datagram, see doc/io_uring.adoc). Receives are recvmmsg(2) with UDP_GRO, as
   LinuxGsoBackend's (the io_uring receive path is LendingReceiver). The ring (max_send_batch
   submissions) is made on the first send and reused; copies start without one.
*/
class UringGsoOps : public KernelGroOps {
public:
    static constexpr unsigned entries = static_cast<unsigned>(max_send_batch);

    UringGsoOps() = default;
    UringGsoOps(const UringGsoOps&) noexcept {}
    UringGsoOps(UringGsoOps&&) noexcept = default;
    UringGsoOps& operator=(const UringGsoOps& o) noexcept {
        if (this != &o) state_.reset();
        return *this;
    }
    UringGsoOps& operator=(UringGsoOps&&) noexcept = default;
    ~UringGsoOps() = default;


    //! io_uring is allowed with IORING_OP_SENDMSG, the ring can be made, `fd` is a datagram
    //! socket; else why not.
    std::error_code probe(int fd) noexcept {
        const IoUringCapability& c = io_uring_capability();
        if (c.ring) return c.ring;
        if (!c.sends()) return std::make_error_code(std::errc::function_not_supported);
        if (std::error_code ec = ensure()) return ec;
        int type = 0;
        if (std::error_code ec = socket_type(fd, type)) return ec;
        if (type != SOCK_DGRAM) return std::make_error_code(std::errc::wrong_protocol_type);
        return {};
    }

    /*! Sends messages v[0, m) (m <= entries) and writes each one's outcome to res[j]
        (detail::send_in_trains's `submit`). Without MSG_DONTWAIT in `flags` the call may
        wait: when nothing could go, one plain sendmsg of the first message waits as the
        socket says (blocking mode, SO_SNDTIMEO).
    */
    void send_each(int fd, mmsghdr* v, std::size_t m, std::size_t linked_from, int flags,
                   std::error_code* res) {
        std::size_t k = 0; // messages submitted
        if (const std::error_code ec = ensure()) {
            res[k++] = ec; // every call fails with the refusal (see probe())
        } else {
            State& s = *state_;
            constexpr unsigned send_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
            for (; k < m; ++k) {
                io_uring_sqe* sqe = uring_next_sqe(s.ring);
                if (sqe == nullptr) break; // the rest are not reached: the sender calls again
                uring_prep_message(sqe, fd, v[k].msg_hdr, send_flags, s.send_to);
                if (k >= linked_from && k + 1 < m) sqe->flags |= IOSQE_IO_LINK;
                sqe->user_data = k;
            }
            const UringRun r = uring_submit_and_reap(s.ring, k, s.res, entries);
            if (r.refused || r.reap) {
                if (r.refused) state_.reset(); // nothing in flight: the next call makes a new ring
                res[0] = r.refused ? r.refused : r.reap;
                k = 1;
            } else {
                for (std::size_t j = 0; j < k; ++j)
                    res[j] = s.res[j] < 0 ? errno_code(-s.res[j]) : std::error_code{};
            }
        }
        for (std::size_t j = k; j < m; ++j)
            res[j] = std::make_error_code(std::errc::operation_canceled);
        if ((flags & MSG_DONTWAIT) == 0 && is_would_block(res[0]) &&
            std::none_of(res, res + m, [](const std::error_code& e) { return !e; })) {
            // Nothing went: let the socket decide whether and how long to wait.
            std::error_code ec;
            sys_sendmsg(fd, &v[0].msg_hdr, 0, ec);
            res[0] = ec;
            for (std::size_t j = 1; j < m; ++j)
                res[j] = std::make_error_code(std::errc::operation_canceled);
        }
    }

private:
    struct State {
        io_uring ring{};
        int res[entries];
        bool live = false;
        bool send_to = false;
        State() = default;
        State(const State&) = delete;
        State& operator=(const State&) = delete;
        ~State() {
            if (live) io_uring_queue_exit(&ring);
        }
    };

    std::error_code ensure() noexcept {
        if (state_) return {};
        if (init_error_) return init_error_;
        std::unique_ptr<State> s(new (std::nothrow) State);
        if (!s) return std::make_error_code(std::errc::not_enough_memory);
        if (const int e = uring_init(s->ring, entries, false); e < 0) {
            init_error_ = errno_code(-e); // a refused io_uring does not come back
            return init_error_;
        }
        s->live = true;
        s->send_to = io_uring_capability().send_to;
        state_ = std::move(s);
        return {};
    }

    std::unique_ptr<State> state_;
    std::error_code init_error_{};
};

} // namespace detail

/*! LinuxGsoBackend with its sends through io_uring: the same train planning, the same
    fallback when a train fails (resent as plain datagrams in the same call, none lost,
    duplicated or reordered; trains off for the socket after an offload failure), the same
    per-datagram outcomes and per-socket state, the same GRO receive (recvmmsg) and
    recv_coalesced; only the system call differs: one io_uring submission per train or lone
    datagram, all of a call submitted and reaped with one io_uring_enter
    (detail::UringGsoOps). probe() says whether io_uring may be used here, for
    `Fallback<IoUringGsoBackend, LinuxGsoBackend, LinuxMmsgBackend>`. Why a layer of
    LinuxGsoBackend rather than an option of IoUringBackend, and the measurements:
    doc/io_uring.adoc. Not thread-safe; the ring belongs to the thread that first sends
    (IORING_SETUP_SINGLE_ISSUER).
*/
using IoUringGsoBackend = BasicLinuxGsoBackend<detail::UringGsoOps>;

static_assert(SendBackend<IoUringGsoBackend> && RecvBackend<IoUringGsoBackend>,
              "IoUringGsoBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_IO_URING && MMSG_HAS_UDP_GSO
#endif // MMSG_BACKEND_IO_URING_GSO_HPP
