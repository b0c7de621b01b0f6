//! Defines mmsg::IoUringCapability and the probe that fills it: what of io_uring this process
//! may use (the ring itself, the opcodes mmsg submits, provided-buffer rings, multishot
//! recvmsg, sends with a destination address), found by trying each on loopback.
#ifndef MMSG_IO_URING_CAPABILITY_HPP
#define MMSG_IO_URING_CAPABILITY_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>

#include <cerrno>
#include <system_error>

#if MMSG_HAS_IO_URING
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/uring_buffers.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/ip/address_v4.hpp>

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

namespace mmsg {

/*! What io_uring offers this process, as mmsg uses it. Each feature is true only when the
    probe used it successfully (an opcode the kernel lists is not enough where mmsg relies on
    a flag of it). `ring` is why no ring could be made at all: EPERM where the
    kernel.io_uring_disabled sysctl or a seccomp filter (Docker's default, for one) forbids
    io_uring, ENOSYS where the kernel has none; `error` is the first error a feature probe
    met. Which backend needs what: IoUringBackend sends(), receives();
    IoUringGsoBackend sends(); LendingReceiver lends().
*/
struct IoUringCapability {
    std::error_code ring{};         //!< the ring could not be made: why
    bool sendmsg = false;           //!< IORING_OP_SENDMSG (Linux 5.3)
    bool recvmsg = false;           //!< IORING_OP_RECVMSG (Linux 5.3)
    bool send_to = false;           //!< IORING_OP_SEND with a destination address (6.0)
    bool async_cancel = false;      //!< IORING_OP_ASYNC_CANCEL (5.5)
    bool defer_taskrun = false;     //!< IORING_SETUP_DEFER_TASKRUN (6.1)
    bool buffer_ring = false;       //!< provided-buffer rings (5.19)
    bool multishot_recvmsg = false; //!< multishot recvmsg over a buffer ring (6.0)
    std::error_code error{};        //!< the first error a feature probe met

    //! io_uring sends work: IoUringBackend and IoUringGsoBackend can send.
    bool sends() const noexcept { return !ring && sendmsg; }
    //! io_uring receives work: IoUringBackend can receive.
    bool receives() const noexcept { return !ring && recvmsg; }
    //! Everything LendingReceiver uses works.
    bool lends() const noexcept {
        return !ring && defer_taskrun && buffer_ring && multishot_recvmsg && async_cancel;
    }
    //! Why LendingReceiver cannot be used here, or nothing.
    std::error_code why_not_lending() const noexcept {
        if (ring) return ring;
        if (lends()) return {};
        return error ? error : std::make_error_code(std::errc::function_not_supported);
    }
};

#if MMSG_HAS_IO_URING
namespace detail {

// A ring for the probe, and what the probe registers with it (torn down ring first).
struct ProbeRing {
    BufferRegion buffers;
    io_uring ring{};
    bool live = false;
    ~ProbeRing() {
        if (live) io_uring_queue_exit(&ring);
    }
    // The next completion, waiting at most 500 ms; null when none came.
    io_uring_cqe* next() noexcept {
        __kernel_timespec ts{0, 500'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit(&ring);
        if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) < 0) return nullptr;
        return cqe;
    }
};

} // namespace detail
#endif

/*! Probes io_uring by using it: makes a ring (with DEFER_TASKRUN if the kernel has it),
    reads the kernel's opcode list, then on two loopback sockets sends a datagram with
    IORING_OP_SEND and a destination address, registers a two-buffer ring and receives
    that datagram with a multishot recvmsg into it, and cancels the multishot. Uncached:
    a few dozen system calls, at most about a second of waiting when something is broken.
    Never throws; sends only to 127.0.0.1.
*/
inline IoUringCapability probe_io_uring() noexcept {
    IoUringCapability c;
#if !MMSG_HAS_IO_URING
    c.ring = std::make_error_code(std::errc::function_not_supported);
    return c;
#else
    using detail::errno_code;
    auto note = [&c](std::error_code e) {
        if (!c.error) c.error = e;
    };
    detail::ProbeRing r;
    int e = io_uring_queue_init(8, &r.ring,
                                IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                                    IORING_SETUP_DEFER_TASKRUN);
    if (e == 0)
        c.defer_taskrun = true;
    else if (e == -EINVAL)
        e = io_uring_queue_init(8, &r.ring, 0); // an older kernel
    if (e < 0) {
        c.ring = errno_code(-e);
        return c;
    }
    r.live = true;
    if (!c.defer_taskrun) note(errno_code(EINVAL));

    // The opcodes (the list itself is Linux 5.6; before it mmsg uses no io_uring).
    io_uring_probe* ops = io_uring_get_probe_ring(&r.ring);
    if (ops == nullptr) {
        note(std::make_error_code(std::errc::function_not_supported));
        return c;
    }
    c.sendmsg = io_uring_opcode_supported(ops, IORING_OP_SENDMSG) != 0;
    c.recvmsg = io_uring_opcode_supported(ops, IORING_OP_RECVMSG) != 0;
    c.async_cancel = io_uring_opcode_supported(ops, IORING_OP_ASYNC_CANCEL) != 0;
    const bool send = io_uring_opcode_supported(ops, IORING_OP_SEND) != 0;
    io_uring_free_probe(ops);

    // Two sockets on loopback.
    std::error_code ec;
    detail::UniqueFd rx(detail::open_udp(AF_INET, ec));
    detail::UniqueFd tx(ec ? -1 : detail::open_udp(AF_INET, ec));
    Endpoint to(boost::asio::ip::address_v4::loopback(), 0);
    if (ec || (ec = detail::bind_to(rx.get(), to)) ||
        (ec = detail::local_endpoint_of(rx.get(), to))) {
        note(ec);
        return c;
    }

    // A send with a destination address: rejected with EINVAL before Linux 6.0.
    const unsigned char byte = 42;
    if (send) {
        io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
        io_uring_prep_send(sqe, tx.get(), &byte, 1, MSG_DONTWAIT);
        io_uring_prep_send_set_addr(sqe, static_cast<const sockaddr*>(to.data()),
                                    static_cast<unsigned short>(to.size()));
        sqe->user_data = 1;
        if (io_uring_cqe* cqe = r.next()) {
            c.send_to = cqe->res == 1;
            if (cqe->res < 0) note(errno_code(-cqe->res));
            io_uring_cqe_seen(&r.ring, cqe);
        }
    }
    if (!c.send_to &&
        ::sendto(tx.get(), &byte, 1, MSG_DONTWAIT, static_cast<const sockaddr*>(to.data()),
                 static_cast<socklen_t>(to.size())) != 1) {
        note(errno_code(errno));
        return c;
    }

    // A buffer ring, and a multishot recvmsg that takes the datagram into it.
    if ((ec = r.buffers.map(2, 256)) || (ec = r.buffers.register_with(r.ring, 0))) {
        note(ec);
        return c;
    }
    c.buffer_ring = true;
    if (!c.recvmsg) return c;
    msghdr h{};
    h.msg_namelen = sizeof(sockaddr_storage);
    io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
    io_uring_prep_recvmsg_multishot(sqe, rx.get(), &h, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    sqe->user_data = 2;
    if (io_uring_cqe* cqe = r.next()) {
        c.multishot_recvmsg = cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0 &&
                              (cqe->flags & IORING_CQE_F_MORE) != 0;
        if (cqe->res < 0) note(errno_code(-cqe->res));
        const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
        io_uring_cqe_seen(&r.ring, cqe);
        if (more && c.async_cancel) {
            // Cancel it, and see both the cancel's and the multishot's last completion.
            io_uring_sqe* cancel = io_uring_get_sqe(&r.ring);
            io_uring_prep_cancel64(cancel, 2, 0);
            cancel->user_data = 3;
            for (int seen = 0; seen < 2;) {
                io_uring_cqe* done = r.next();
                if (done == nullptr) break;
                if (done->user_data == 3 || (done->flags & IORING_CQE_F_MORE) == 0) ++seen;
                io_uring_cqe_seen(&r.ring, done);
            }
        }
    } else {
        note(std::make_error_code(std::errc::timed_out));
    }
    if (!c.multishot_recvmsg) note(std::make_error_code(std::errc::function_not_supported));
    return c;
#endif
}

/*! The probe's result, probed once per process (the first call pays for probe_io_uring; later
    calls return the cached result). Thread-safe.
*/
inline const IoUringCapability& io_uring_capability() noexcept {
    static const IoUringCapability c = probe_io_uring();
    return c;
}

} // namespace mmsg

#endif // MMSG_IO_URING_CAPABILITY_HPP
