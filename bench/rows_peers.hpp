//! mmsg-perf rows of peer libraries. Each peer row joins the group of the mmsg rows that do
//! the same work, so it is measured beside them, in the same rounds, as a ratio to the same
//! reference:
//!  - "send": libuv, uv_udp_try_send once per datagram (one sendmsg each).
//!  - "receive": libuv, a UDP handle made with UV_UDP_RECVMMSG, read by uv_run(UV_RUN_ONCE).
//!  - "gso send": quinn-udp, UdpSocketState::send of UDP_SEGMENT transmits.
//!  - "gso receive": quinn-udp, UdpSocketState::recv with GRO, datagrams counted, not split.
//! Built only where bench/Jamfile finds the peer (build/setup-peers.sh installs both):
//! MMSG_BENCH_HAVE_LIBUV (libuv1-dev), MMSG_BENCH_HAVE_QUINN (bench/peers/quinn, built).
#ifndef MMSG_BENCH_ROWS_PEERS_HPP
#define MMSG_BENCH_ROWS_PEERS_HPP

#include "bench_support.hpp"
#include "perf_options.hpp"
#include "perf_rows.hpp"
#include "rows_gso.hpp"

#include <mmsg/config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#if MMSG_BENCH_HAVE_LIBUV
#include <uv.h>
#endif
#if MMSG_BENCH_HAVE_QUINN
#include "peers/quinn/mmsg_quinn_peer.h"
#endif

namespace mmsg::bench::rows_peers {

// The peers set their sockets non-blocking: a row that meets EAGAIN waits here (one
// poll(2), counted as a system call) and gives up after a second.
inline bool wait_for(int fd, short events) noexcept {
    pollfd p{fd, events, 0};
    int r;
    do
        r = ::poll(&p, 1, 1000);
    while (r < 0 && errno == EINTR);
    return r == 1;
}

#if MMSG_BENCH_HAVE_LIBUV

inline std::string uv_text(const char* what, int r) {
    return std::string(what) + ": " + uv_strerror(r);
}

//! A libuv loop with one UDP handle opened on a duplicate of a LoopbackSocket's descriptor
//! (libuv closes the descriptor it was given; the LoopbackSocket closes its own), and a
//! one-second repeating timer that bounds every uv_run(UV_RUN_ONCE).
class UvUdp {
public:
    UvUdp(int fd, unsigned flags) {
        if (const int r = uv_loop_init(&loop_))
            throw std::runtime_error(uv_text("uv_loop_init", r));
        uv_timer_init(&loop_, &timer_);
        timer_.data = this;
        uv_timer_start(
            &timer_, [](uv_timer_t* t) { static_cast<UvUdp*>(t->data)->ticked_ = true; }, 1000,
            1000);
        // AF_UNSPEC: libuv makes no socket of its own; uv_udp_open gives it ours.
        int r = uv_udp_init_ex(&loop_, &udp_, AF_UNSPEC | flags);
        if (r == 0) {
            const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
            r = copy < 0 ? uv_translate_sys_error(errno) : uv_udp_open(&udp_, copy);
            if (r != 0 && copy >= 0) ::close(copy);
        } else {
            udp_closed_ = true;
        }
        if (r != 0) {
            close();
            throw std::runtime_error(uv_text("uv_udp_open", r));
        }
    }
    UvUdp(const UvUdp&) = delete;
    UvUdp& operator=(const UvUdp&) = delete;
    ~UvUdp() { close(); }

    uv_loop_t* loop() noexcept { return &loop_; }
    uv_udp_t* udp() noexcept { return &udp_; }
    //! Whether the timer fired since the last call.
    bool ticked() noexcept { return std::exchange(ticked_, false); }

private:
    void close() noexcept {
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
        if (!udp_closed_) uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT); // finishes the closes: no handle is left active
        uv_loop_close(&loop_);
    }

    uv_loop_t loop_{};
    uv_udp_t udp_{};
    uv_timer_t timer_{};
    bool udp_closed_ = false;
    bool ticked_ = false;
};

//! libuv: one uv_udp_try_send per datagram (one sendmsg(2) each; libuv 1.44 has no
//! batched try-send). On UV_EAGAIN the step waits until the socket is writable.
inline Measurement uv_try_send(const RowContext& ctx) {
    LoopbackSocket tx;
    UvUdp uv(tx.fd(), 0);
    PayloadBatch batch(ctx.size, 1, ctx.sink);
    const uv_buf_t buf =
        uv_buf_init(reinterpret_cast<char*>(batch.data()), static_cast<unsigned>(ctx.size));
    const auto* to = static_cast<const sockaddr*>(ctx.sink.data());
    return timed_send(ctx, [&](std::size_t k) {
        Moved m;
        while (m.datagrams < k) {
            ++m.syscalls;
            const int r = uv_udp_try_send(uv.udp(), &buf, 1, to);
            if (r == UV_EAGAIN) {
                ++m.syscalls;
                if (!wait_for(tx.fd(), POLLOUT)) m.error = "uv_udp_try_send: EAGAIN for 1 s";
                break; // back to the driver, which checks its deadline
            }
            if (r < 0) {
                m.error = uv_text("uv_udp_try_send", r);
                break;
            }
            ++m.datagrams;
        }
        return m;
    });
}

//! What libuv's receive callbacks saw during one uv_run.
struct UvReceiveState {
    std::vector<char> buffer;  // 20 slots of 64 KiB: libuv 1.44's recvmmsg width
    std::size_t datagrams = 0; // callbacks with a sender address (UV_UDP_MMSG_CHUNK)
    std::size_t recvmmsgs = 0; // callbacks without: each closes one recvmmsg(2) call
    int error = 0;
};

//! libuv: a UDP handle made with UV_UDP_RECVMMSG and uv_udp_recv_start; each step is one
//! uv_run(UV_RUN_ONCE): one epoll_wait, then libuv reads with recvmmsg (up to 20 per call,
//! about 32 per wake-up) and calls back once per datagram.
inline Measurement uv_recvmmsg(const RowContext& ctx) {
    LoopbackSocket rx = receiver_socket();
    UvReceiveState state; // outlives the handle whose callbacks use it
    state.buffer.resize(20 * 65536);
    UvUdp uv(rx.fd(), UV_UDP_RECVMMSG);
    if (uv_udp_using_recvmmsg(uv.udp()) != 1) {
        Measurement m;
        m.unavailable = "libuv does not use recvmmsg here";
        return m;
    }
    uv.udp()->data = &state;
    const int started = uv_udp_recv_start(
        uv.udp(),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
            auto& s = *static_cast<UvReceiveState*>(h->data);
            *buf = uv_buf_init(s.buffer.data(), static_cast<unsigned>(s.buffer.size()));
        },
        [](uv_udp_t* h, ssize_t nread, const uv_buf_t*, const sockaddr* addr, unsigned) {
            auto& s = *static_cast<UvReceiveState*>(h->data);
            if (nread < 0) {
                s.error = static_cast<int>(nread);
                ++s.recvmmsgs;
            } else if (addr != nullptr) {
                ++s.datagrams;
            } else {
                ++s.recvmmsgs; // UV_UDP_MMSG_FREE after a batch, or nothing to read
            }
        });
    if (started != 0) throw std::runtime_error(uv_text("uv_udp_recv_start", started));
    return timed_receive(ctx, rx, [&](std::size_t) {
        state.datagrams = state.recvmmsgs = 0;
        uv.ticked();
        uv_run(uv.loop(), UV_RUN_ONCE);
        Moved m{state.datagrams, state.recvmmsgs + 1, {}}; // + 1: the epoll_wait
        if (state.error != 0)
            m.error = uv_text("libuv receive", std::exchange(state.error, 0));
        else if (m.datagrams == 0 && uv.ticked())
            m.error = "libuv: no datagram for 1 s";
        return m;
    });
}

inline const Registration libuv_registration{
    Row{"libuv uv_udp_try_send", "send", uv_try_send, false,
        "libuv: uv_udp_try_send per datagram (one sendmsg each)"},
    Row{"libuv recvmmsg", "receive", uv_recvmmsg, false,
        "libuv: UV_UDP_RECVMMSG handle, uv_run(UV_RUN_ONCE) per step, a callback per datagram"},
};

#endif // MMSG_BENCH_HAVE_LIBUV

#if MMSG_BENCH_HAVE_QUINN && MMSG_HAS_UDP_GSO

struct QuinnFree {
    void operator()(mmsg_quinn_sender* s) const noexcept { mmsg_quinn_sender_free(s); }
    void operator()(mmsg_quinn_receiver* r) const noexcept { mmsg_quinn_receiver_free(r); }
};

//! quinn-udp: UdpSocketState::send of Transmits to the sink, each of as many UDP_SEGMENT
//! segments as quinn-udp's max_gso_segments() allows (64 on Linux) within the largest UDP
//! payload, up to BATCH_SIZE (32) transmits per sendmmsg. Fed ctx.batch datagrams per step,
//! like BatchSender<LinuxGsoBackend>.
inline Measurement quinn_send(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(); !why.empty()) return Measurement{0, 0, 0, why, {}};
    LoopbackSocket tx;
    int e = 0;
    const std::unique_ptr<mmsg_quinn_sender, QuinnFree> sender(mmsg_quinn_sender_new(
        tx.fd(), static_cast<const sockaddr*>(ctx.sink.data()),
        static_cast<socklen_t>(ctx.sink.size()), ctx.size, max_udp_payload / ctx.size, &e));
    if (!sender) return Measurement{0, 0, 0, {}, errno_text("quinn-udp sender", e)};
    if (mmsg_quinn_sender_segments(sender.get()) < 2)
        return Measurement{0, 0, 0, "quinn-udp makes no trains of this size", {}};
    return timed_send(ctx, [&](std::size_t k) {
        const mmsg_quinn_moved r = mmsg_quinn_send(sender.get(), k);
        Moved m{r.datagrams, r.calls, {}};
        if (r.error == EAGAIN || r.error == EWOULDBLOCK) {
            ++m.syscalls;
            if (!wait_for(tx.fd(), POLLOUT)) m.error = "quinn-udp send: EAGAIN for 1 s";
        } else if (r.error != 0) {
            m.error = errno_text("quinn-udp send", r.error);
        }
        return m;
    });
}

//! quinn-udp: UdpSocketState::recv (one recvmmsg of up to BATCH_SIZE 64 KiB buffers) on a
//! socket quinn-udp configured (UDP_GRO on); each RecvMeta counts ceil(len / stride)
//! datagrams, not split, like the "UDP_GRO loop" row. On EAGAIN the step polls.
inline Measurement quinn_recv(const RowContext& ctx) {
    if (auto why = rows_gso::gso_unavailable(true); !why.empty())
        return Measurement{0, 0, 0, why, {}};
    LoopbackSocket rx = receiver_socket();
    int e = 0;
    const std::unique_ptr<mmsg_quinn_receiver, QuinnFree> receiver(
        mmsg_quinn_receiver_new(rx.fd(), &e)); // GRO on before the feeder starts
    if (!receiver) return Measurement{0, 0, 0, {}, errno_text("quinn-udp receiver", e)};
    return timed_receive(ctx, rx, [&](std::size_t k) {
        const mmsg_quinn_moved r = mmsg_quinn_recv(receiver.get(), k);
        Moved m{r.datagrams, r.calls, {}};
        if (r.error == EAGAIN || r.error == EWOULDBLOCK) {
            ++m.syscalls;
            if (!wait_for(rx.fd(), POLLIN)) m.error = "quinn-udp recv: no datagram for 1 s";
        } else if (r.error != 0) {
            m.error = errno_text("quinn-udp recv", r.error);
        }
        return m;
    });
}

inline const Registration quinn_registration{
    Row{"quinn-udp send (GSO)", "gso send", quinn_send, false,
        "quinn-udp: UdpSocketState::send, UDP_SEGMENT transmits, up to 32 per sendmmsg"},
    Row{"quinn-udp recv (GRO, unsplit)", "gso receive", quinn_recv, false,
        "quinn-udp: UdpSocketState::recv, GRO, datagrams counted by stride, not split"},
};

#endif // MMSG_BENCH_HAVE_QUINN && MMSG_HAS_UDP_GSO

} // namespace mmsg::bench::rows_peers

#endif // MMSG_BENCH_ROWS_PEERS_HPP
