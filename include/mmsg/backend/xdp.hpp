//! Defines mmsg::XdpBackend: a UDP socket's datagrams sent and received through an AF_XDP
//! queue (XdpQueue) as whole Ethernet frames, everything AF_XDP cannot carry through the
//! socket itself. Needs libxdp and libbpf (MMSG_HAS_XDP; link -lxdp -lbpf); without them
//! this header defines nothing and MMSG_HAS_XDP is 0.
//! (Over 300 lines: the send and the receive path of one backend, kept together.)
#ifndef MMSG_BACKEND_XDP_HPP
#define MMSG_BACKEND_XDP_HPP

#include <mmsg/config.hpp>
#include <mmsg/xdp_options.hpp>

#if MMSG_HAS_XDP

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_frame.hpp>
#include <mmsg/detail/xdp_receive.hpp>
#include <mmsg/detail/xdp_route.hpp>
#include <mmsg/detail/xdp_socket_view.hpp>
#include <mmsg/detail/xdp_transmit.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/socket_state.hpp>
#include <mmsg/xdp_queue.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

namespace mmsg {

/*! A backend for UDP sockets whose datagrams go through an AF_XDP queue: the socket
    argument is an ordinary bound UDP socket (its address and port are the frames' source,
    its options their TTL and TOS); the queue (XdpQueue, on one interface and queue) is the
    backend's, shared by its copies, opened at first use from XdpOptions or given open.

    Send: each datagram becomes one Ethernet/IPv4-or-IPv6/UDP frame (checksums computed) in
    the transmit ring, after the kernel's route and neighbour for it (netlink, cached,
    refreshed on change). Per datagram, as a kernel socket would: no route ENETUNREACH (or
    the route's error), a neighbour not resolved EHOSTUNREACH (and its resolution is
    started: a later datagram goes), broadcast without SO_BROADCAST EACCES, the other family
    EAFNOSUPPORT, port 0 EINVAL; the batch goes on. A full ring or no free frame is
    back-pressure (unsent), never loss. What frames cannot carry goes through the socket
    itself (LinuxMmsgBackend): destinations routed out of another device or local to the
    host, datagrams longer than the MTU (the kernel fragments them), release times (SO_TXTIME).
    A null destination is the socket's connected peer (EDESTADDRREQ, fatal, if it has none).

    Receive: the first socket received on (bound to an address of the interface, or to the
    unspecified one) becomes the queue's receiving socket: the program redirects datagrams
    to its port and address, and they are copied from the receive ring into the slots with
    Meta filled (source, truncation, ECN and local address and interface when the socket
    asked for them; no kernel timestamp). What the program passes to the kernel (IP
    fragments, GSO trains, datagrams from before the first receive) reaches the socket
    itself, which is read as well. Other sockets are received through the kernel.

    Errors: what XdpQueue::open says (an XdpErrc), for every call, when the queue cannot be
    opened; probe() says it for Fallback<XdpBackend, ...>. Not thread-safe per object; one
    thread may send and another receive through copies sharing a queue. No call allocates
    after a socket's first. doc/xdp.adoc has the measurements and what veth cannot show.
*/
class XdpBackend {
public:
    //! The queue is opened from `options` at first use (probe or call), in the network
    //! namespace of the thread that makes that first use.
    explicit XdpBackend(XdpOptions options) : shared_(std::make_shared<Shared>(std::move(options))) {}
    //! Uses an open queue.
    explicit XdpBackend(std::shared_ptr<XdpQueue> queue) : shared_(std::make_shared<Shared>(std::move(queue))) {}

    static constexpr std::size_t max_recv = num_rcvmmsgs;

    /*! The queue, opened now if it was not (null with `ec` when it cannot be). */
    std::shared_ptr<XdpQueue> queue(std::error_code& ec) { return shared_->get(ec); }

    /*! Whether this backend can serve socket `fd` through AF_XDP (for Fallback): the queue
        opens, and `fd` is a UDP socket bound to an address of the queue's interface or to
        the unspecified address. Returns why not: the queue's error (an XdpErrc: permission,
        driver, offloads...), EPROTOTYPE/ENOTSOCK, or XdpErrc::socket_not_on_interface.
    */
    std::error_code probe(int fd) {
        std::error_code ec;
        const std::shared_ptr<XdpQueue> q = shared_->get(ec);
        if (!q) return ec;
        detail::XdpSocketView v;
        if ((ec = detail::inspect_socket(fd, v))) return ec;
        if (!v.any && !q->local_to_device(v.v6 && !v.mapped, v.local)) return XdpErrc::socket_not_on_interface;
        return {};
    }

    //! Sends up to max_send_batch datagrams: see SendOutcome and the class comment.
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors, WaitMode mode) {
        s = implicit_.resolve(s);
        std::error_code ec;
        const std::shared_ptr<XdpQueue> q = shared_->get(ec);
        if (!q) return {0, ec};
        Part* part = part_of(s, *q, ec);
        if (part == nullptr) return {0, ec};
        if (!part->served) return through_kernel(*q, s, items, errors, mode);
        if (part->view.port == 0 && (ec = bind_any(s.fd, *part))) return {0, ec};
        XdpQueue& queue = *q;
        queue.hops_.refresh();
        if (queue.hops_.take_link_change()) queue.link_changed();
        items = items.first(std::min(items.size(), max_send_batch));
        detail::XdpSendCall call{};
        detail::UdpFrameHeader h;
        auto route_of = [&](std::size_t i, std::error_code& e) {
            const detail::FrameRoute r =
                detail::route_datagram(queue.hops_, queue.xsk_.frame_size(), s.fd, part->view, items[i], call, h);
            e = call.error;
            return r;
        };
        auto write = [&](std::size_t i, std::byte* frame) {
            const SendItem& it = items[i];
            if (it.data != call.sum_data || it.size != call.sum_size) { // the same payload: summed once
                call.sum = detail::checksum_add(0, it.data, it.size);
                call.sum_data = it.data;
                call.sum_size = it.size;
            }
            return detail::write_udp_frame(frame, h, it.data, it.size, call.sum);
        };
        auto wait = [&](std::uint32_t& at) { return wait_for_room(s.fd, mode, queue.xsk_, at); };
        const detail::Placed p = detail::place_frames(queue.xsk_, items, errors, route_of, write,
                                                      mode == WaitMode::socket_default, wait);
        queue.frames_sent_.fetch_add(p.frames, std::memory_order_relaxed);
        if (p.kernel_next && p.out.done == 0) {
            // The first datagrams are the kernel's: hand it all of them that are (their
            // routes are in the cache now).
            std::size_t run = 1;
            std::error_code e;
            while (run < items.size() && route_of(run, e) == detail::FrameRoute::kernel) ++run;
            return through_kernel(queue, s, items.first(run), errors, mode);
        }
        return p.out;
    }

    //! Receives up to min(slots.size(), max_recv) datagrams: see RecvBackend and the class
    //! comment.
    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        s = implicit_.resolve(s);
        const std::shared_ptr<XdpQueue> q = shared_->get(ec);
        if (!q) return 0;
        Part* part = part_of(s, *q, ec);
        if (part == nullptr) return 0;
        // The queue's receive, when no other socket holds it (an atomic load per call).
        if (!part->receiving && part->may_receive && q->receiving_port() == 0) claim(*q, *part);
        if (!part->receiving) return kernel_.recv(s, slots, mode, ec);
        const std::size_t n = std::min(slots.size(), max_recv);
        std::int64_t since = -1; // when this call began to wait
        for (;;) {
            const detail::Taken t = detail::take_frames(q->xsk_, part->view, q->interface_index(), slots.first(n));
            q->frames_received_.fetch_add(t.got, std::memory_order_relaxed);
            if (t.stray > 0) q->stray_.fetch_add(t.stray, std::memory_order_relaxed);
            std::size_t got = t.got;
            // The socket itself: what the program passed on (fragments, trains, datagrams
            // from before the first receive), whenever the ring runs short, and every 16th
            // call while it does not, so that neither path waits on the other for long.
            if (got < n || ++part->calls_since_kernel >= 16) {
                part->calls_since_kernel = 0;
                std::error_code kec;
                got += kernel_.recv(s, slots.subspan(got, n - got), WaitMode::never, kec);
                if (kec && !detail::is_would_block(kec)) {
                    ec = kec; // after `got` datagrams: BatchReceiver reports it on the next call
                    return got;
                }
            }
            if (got > 0) {
                ec.clear();
                return got;
            }
            if (since < 0) since = detail::coarse_now_ns();
            if ((ec = wait_readable(s.fd, q->native_handle(), mode, since))) return 0;
        }
    }

private:
    // The queue, opened once by whichever copy needs it first.
    struct Shared {
        explicit Shared(XdpOptions o) : options(std::move(o)) {}
        explicit Shared(std::shared_ptr<XdpQueue> q) : queue(std::move(q)), opened(true) {}
        std::shared_ptr<XdpQueue> get(std::error_code& ec) {
            if (opened.load(std::memory_order_acquire)) {
                ec = error;
                return queue;
            }
            const std::lock_guard<std::mutex> lock(mutex);
            if (!opened.load(std::memory_order_relaxed)) {
                queue = XdpQueue::open(options, error);
                opened.store(true, std::memory_order_release);
            }
            ec = error;
            return queue;
        }
        XdpOptions options;
        std::mutex mutex;
        std::shared_ptr<XdpQueue> queue;
        std::error_code error;
        std::atomic<bool> opened{false};
    };

    // XdpBackend's part of a socket's SocketState: the socket as read at its first use, and
    // the queue's receive while it holds it (given back when the socket's state goes).
    struct Part {
        bool ready = false;
        bool served = false; // bound to an address of the queue's device, or to any
        detail::XdpSocketView view{};
        bool may_receive = false; // it can be the queue's receiving socket (set at first use)
        std::shared_ptr<XdpQueue> receiving;
        std::uint64_t token = 0;
        unsigned calls_since_kernel = 0;

        Part() = default;
        Part(Part&& o) noexcept = default;
        Part& operator=(Part&&) = delete;
        ~Part() {
            if (receiving) receiving->release(reinterpret_cast<const void*>(token));
        }
    };

    Part* part_of(SocketRef s, XdpQueue& q, std::error_code& ec) {
        Part& p = s.state->get<Part>();
        if (!p.ready) {
            if ((ec = detail::inspect_socket(s.fd, p.view))) return nullptr;
            p.served = p.view.any || q.local_to_device(p.view.v6 && !p.view.mapped, p.view.local);
            // Generic mode and UDP_GRO: GRO could coalesce the socket's datagrams before the
            // program sees them; its kernel path keeps them apart.
            p.may_receive = p.served && q.receives() && !(q.options().mode == XdpMode::generic && p.view.gro);
            p.ready = true;
        }
        return &p;
    }

    // A socket not bound yet: bound now to any address and port of its family, as the
    // kernel does at a first send.
    static std::error_code bind_any(int fd, Part& p) {
        const Endpoint any(p.view.v6 ? boost::asio::ip::address(boost::asio::ip::address_v6::any())
                                     : boost::asio::ip::address(boost::asio::ip::address_v4::any()), 0);
        if (std::error_code ec = detail::bind_to(fd, any)) return ec;
        return detail::inspect_socket(fd, p.view);
    }

    SendOutcome through_kernel(XdpQueue& q, SocketRef s, std::span<const SendItem> items,
                               std::span<std::error_code> errors, WaitMode mode) {
        const SendOutcome out = kernel_.send(s, items, errors, mode);
        q.through_kernel_.fetch_add(out.done, std::memory_order_relaxed);
        return out;
    }

    // No room (descriptor and frame) and the call may wait: wait as a blocking socket would
    // (its SO_SNDTIMEO) for the kernel to finish sending frames, and reserve one. The kernel
    // says nothing when it finishes, so this looks again every 100 µs.
    static bool wait_for_room(int fd, WaitMode mode, detail::XskSocket& xsk, std::uint32_t& at) {
        if (mode == WaitMode::never || (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) return false;
        const std::int64_t timeout = detail::socket_timeout_ns(fd, SO_SNDTIMEO);
        const std::int64_t since = detail::coarse_now_ns();
        for (;;) {
            xsk.kick();
            xsk.reclaim();
            if (xsk.reserve(at)) return true;
            if (timeout > 0 && detail::coarse_now_ns() - since >= timeout) return false;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }

    // Waits until the ring or the socket has a datagram, as the socket's mode and
    // SO_RCVTIMEO say, the timeout counted from `since` (a signal spends it, never restarts
    // it, as for the kernel backends); would-block when it is spent, or none to look again.
    static std::error_code wait_readable(int fd, int xsk_fd, WaitMode mode, std::int64_t since) {
        if (mode == WaitMode::never || (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) return detail::would_block_code();
        const std::int64_t timeout = detail::socket_timeout_ns(fd, SO_RCVTIMEO);
        for (;;) {
            int ms = -1;
            if (timeout > 0) {
                const std::int64_t rest = timeout - (detail::coarse_now_ns() - since);
                if (rest <= 0) return detail::would_block_code();
                ms = static_cast<int>(std::max<std::int64_t>(1, rest / 1'000'000));
            }
            pollfd p[2] = {{xsk_fd, POLLIN, 0}, {fd, POLLIN, 0}};
            const int k = ::poll(p, 2, ms);
            if (k > 0) return {};
            if (k == 0) return detail::would_block_code();
            if (errno != EINTR) return detail::errno_code(errno);
        }
    }

    // Makes the socket the queue's receiving socket, if no other holds it.
    void claim(XdpQueue& q, Part& p) {
        if (p.view.port == 0) return; // not bound: nothing can be sent to it
        static std::atomic<std::uint64_t> tokens{1};
        const std::uint64_t token = tokens.fetch_add(1, std::memory_order_relaxed);
        detail::XdpProgramConfig c{};
        const std::uint16_t port = p.view.port;
        c.port = static_cast<std::uint16_t>(port >> 8 | (port & 0xff) << 8);
        c.families = p.view.v6 ? (p.view.v6only ? 2 : (p.view.any ? 3 : (p.view.mapped ? 1 : 2))) : 1;
        if (!p.view.any) {
            if (c.families == 1) std::memcpy(&c.v4, p.view.local.data(), 4);
            else std::memcpy(c.v6, p.view.local.data(), 16);
        }
        if (!q.claim(reinterpret_cast<const void*>(token), c, port)) return;
        p.token = token;
        p.receiving = std::shared_ptr<XdpQueue>(shared_->queue);
    }

    std::shared_ptr<Shared> shared_;
    LinuxMmsgBackend kernel_; // the socket's own path
    detail::ImplicitState implicit_;
};

static_assert(SendBackend<XdpBackend> && RecvBackend<XdpBackend>,
              "XdpBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_HAS_XDP
#endif // MMSG_BACKEND_XDP_HPP
