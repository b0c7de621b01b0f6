//! Defines mmsg::MockNetwork (an in-memory UDP network with scripted faults) and
//! mmsg::MockBackend (a backend whose "system calls" go to a MockNetwork).
//! (Over 300 lines: the whole simulated network, sends, trains, receives and readiness,
//! is one class so that its rules are read in one place.)
#ifndef MMSG_TESTING_MOCK_NETWORK_HPP
#define MMSG_TESTING_MOCK_NETWORK_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/assign_meta.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/fault_script.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_flags.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace mmsg {

/*! An in-memory UDP network. Mock sockets are opened on it with a local endpoint; a
    datagram sent to an endpoint a mock socket is bound to is queued there with the
    sender's endpoint as source; to any other endpoint it is accepted and dropped, as UDP
    does. Faults are scripted deterministically. Thread-safe: every member locks.

    Counting rules: calls() counts every backend call, send or receive. fail_nth counts
    datagrams the network attempted (a call that would block or is interrupted attempts
    none). would_block_after counts accepted datagrams; a UDP_SEGMENT train that starts
    while any budget is left goes whole, as the kernel takes a whole message while its send
    buffer has room (so the budget may be overshot by one train, and a socket that reports
    writable() never refuses the next message). At most max_send_batch datagrams move per
    call, as with sendmmsg.

    The kernel's own per-datagram refusals are modelled, unscripted: a payload over the UDP
    maximum of the destination's family (65507 bytes for IPv4, 65527 for IPv6; for a
    UDP_SEGMENT train, the whole train) fails with EMSGSIZE, and destination port 0 with
    EINVAL, options that cannot go with the destination (detail::options_error) with
    EINVAL. Such a datagram counts as attempted. Where a scripted fault meets the same
    datagram, the script's wins.

    Metadata (DESIGN §7): no request is needed; every datagram arrives with the ECN it was
    sent with, `local` = the address it was sent to, `addr` = the source option's address
    (if any) with the sending socket's port, interface_index 0 and timestamp zero.
*/
class MockNetwork {
public:
    static constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

    MockNetwork() = default;
    MockNetwork(const MockNetwork&) = delete;
    MockNetwork& operator=(const MockNetwork&) = delete;

    //! Opens a mock socket bound to `local` and returns its handle. Port 0 picks a free
    //! port. Throws std::system_error(address_in_use) if `local` is taken.
    int open(const Endpoint& local) {
        std::lock_guard lock(mu_);
        Endpoint ep = local;
        if (ep.port() == 0) {
            do ep.port(next_port_++);
            while (bound(ep) != nullptr);
        } else if (bound(ep) != nullptr) {
            throw std::system_error(std::make_error_code(std::errc::address_in_use),
                                    "mmsg::MockNetwork::open");
        }
        const int h = next_handle_++;
        sockets_.emplace(h, Socket{ep, {}});
        return h;
    }

    //! Closes a mock socket: later calls on the handle fail with EBADF; queued data is lost.
    void close(int handle) {
        std::lock_guard lock(mu_);
        sockets_.erase(handle);
        notify_locked();
    }

    //! The endpoint a mock socket is bound to. Throws std::system_error(EBADF) if unknown.
    Endpoint local_endpoint(int handle) const {
        std::lock_guard lock(mu_);
        auto it = sockets_.find(handle);
        if (it == sockets_.end())
            throw std::system_error(detail::errno_code(EBADF), "mmsg::MockNetwork::local_endpoint");
        return it->second.local;
    }

    //! Connects a mock socket to `peer`: datagrams it sends without a destination (to
    //! connected_peer) go there; without it they fail with EDESTADDRREQ, as the kernel's.
    //! Throws std::system_error(EBADF) if the handle is unknown.
    void connect(int handle, const Endpoint& peer) {
        std::lock_guard lock(mu_);
        auto it = sockets_.find(handle);
        if (it == sockets_.end())
            throw std::system_error(detail::errno_code(EBADF), "mmsg::MockNetwork::connect");
        it->second.peer = peer;
        it->second.connected = true;
    }

    //! Every datagram sent to `dest` from now on fails with `ec`.
    void unreachable(const Endpoint& dest,
                     std::error_code ec = std::make_error_code(std::errc::network_unreachable)) {
        std::lock_guard lock(mu_);
        script_.unreachable(dest, ec);
    }

    //! The n-th datagram attempted on this network (0-based, counting every attempt since
    //! the network was made) fails with `ec`. May be called for several n.
    void fail_nth(std::size_t n, std::error_code ec) {
        std::lock_guard lock(mu_);
        script_.fail_nth(n, ec);
    }

    //! Each call into the network (a MockBackend call, or one of the mock system calls a
    //! MockGsoBackend call makes: a receive may make two) moves at most `k` datagrams
    //! (k >= 1); no_limit lifts it.
    void limit_per_call(std::size_t k) {
        if (k == 0) throw std::invalid_argument("mmsg::MockNetwork::limit_per_call: k must be >= 1");
        std::lock_guard lock(mu_);
        script_.limit_per_call(k);
    }

    //! After `k` more accepted datagrams, sends would block until clear_would_block(); a
    //! train that starts within the budget goes whole (see the class comment).
    void would_block_after(std::size_t k) {
        std::lock_guard lock(mu_);
        script_.would_block_after(k);
        if (k > 0) notify_locked();
    }
    void clear_would_block() {
        std::lock_guard lock(mu_);
        script_.clear_would_block();
        notify_locked();
    }

    //! The next `calls` backend calls (send or receive) fail with EINTR.
    void interrupt_next(std::size_t calls) {
        std::lock_guard lock(mu_);
        script_.interrupt_next(calls);
    }

    //! Backend calls so far: the simulated system calls.
    std::size_t calls() const {
        std::lock_guard lock(mu_);
        return script_.calls();
    }
    //! Datagrams the network attempted so far (what fail_nth counts).
    std::size_t attempts() const {
        std::lock_guard lock(mu_);
        return script_.attempts();
    }
    //! Datagrams waiting on a mock socket (0 for an unknown handle).
    std::size_t queued(int handle) const {
        std::lock_guard lock(mu_);
        auto it = sockets_.find(handle);
        return it == sockets_.end() ? 0 : it->second.queue.size();
    }

    //! Queues a datagram on a mock socket as if `from` had sent it (no fault applies).
    void inject(int handle, const Endpoint& from, std::span<const std::byte> payload) {
        std::lock_guard lock(mu_);
        auto it = sockets_.find(handle);
        if (it == sockets_.end())
            throw std::system_error(detail::errno_code(EBADF), "mmsg::MockNetwork::inject");
        it->second.queue.push_back(datagram(payload, from, it->second.local, SendOptions{}));
        if (it->second.queue.size() == 1) notify_locked();
    }

    //! Readiness hook for asynchronous layers (mmsg::MockSocket in <mmsg/testing/mock_socket.hpp>).
    //! `on_change` is called, with the network locked, whenever a mock socket may have become
    //! readable (a datagram was queued on an empty socket, a socket was closed) or writable
    //! (would_block_after with k > 0, clear_would_block). It must not call into the network:
    //! it should post work that does (and then asks readable() / writable()). Returns an id
    //! for unwatch().
    std::size_t watch(std::function<void()> on_change) {
        std::lock_guard lock(mu_);
        watchers_.emplace(next_watch_, std::move(on_change));
        return next_watch_++;
    }
    //! Removes a readiness hook; it is not called after unwatch returns.
    void unwatch(std::size_t id) {
        std::lock_guard lock(mu_);
        watchers_.erase(id);
    }
    //! Whether a send on `handle` would not block now (true for an unknown handle: the send
    //! fails at once with EBADF).
    bool writable(int handle) const {
        std::lock_guard lock(mu_);
        return !script_.send_blocked() || sockets_.find(handle) == sockets_.end();
    }
    //! Whether a receive on `handle` would not block now: a datagram is queued, or the handle
    //! is unknown (the receive fails at once with EBADF).
    bool readable(int handle) const {
        std::lock_guard lock(mu_);
        auto it = sockets_.find(handle);
        return it == sockets_.end() || !it->second.queue.empty();
    }

    //! The simulated sendmmsg: see SendOutcome. Used by MockBackend.
    SendOutcome send(int handle, std::span<const SendItem> items,
                     std::span<std::error_code> errors) {
        std::lock_guard lock(mu_);
        script_.count_call();
        auto self = sockets_.find(handle);
        if (self == sockets_.end()) return {0, detail::errno_code(EBADF)};
        if (std::error_code e = script_.take_interrupt()) return {0, e};
        const Endpoint* peer = self->second.peer_or_null();
        auto plan = script_.plan_send(items.first(std::min(items.size(), max_send_batch)), peer);
        for (std::size_t i = 0; i < plan.clear; ++i)
            if (const std::error_code e = refused(items[i].dest ? items[i].dest : peer, items[i].size, items[i].options)) {
                plan = {i, e, true};
                break;
            }
        for (std::size_t i = 0; i < plan.clear; ++i) {
            const SendItem& it = items[i];
            const Endpoint& dest = it.dest != nullptr ? *it.dest : *peer;
            if (Socket* to = bound(dest)) {
                to->queue.push_back(datagram({it.data, it.size}, self->second.local, dest,
                                             detail::has_options(it.options) ? *it.options
                                                                             : SendOptions{}));
                if (to->queue.size() == 1) notify_locked();
            }
            errors[i].clear();
        }
        script_.record_send(plan.clear + (plan.attempts ? 1 : 0), plan.clear);
        return {plan.clear, plan.fault};
    }

    //! One message of a simulated sendmmsg(2) with UDP_SEGMENT (see send_messages).
    struct Message {
        const Endpoint* dest = nullptr;  //!< null: the socket's connected peer
        std::span<const std::byte> data; //!< the message's payload, contiguous
        std::size_t segment = 0;         //!< UDP_SEGMENT size; 0 (or >= data.size()): plain
        SendOptions options{};           //!< what its control messages ask for
    };

    //! The next `count` trains (messages of two or more segments sent with send_messages)
    //! fail as a whole with `ec` before any of their datagrams is attempted: what a path
    //! without segmentation offload does (EIO, EINVAL). Plain datagrams are unaffected.
    //! A later call replaces the rule; count 0 lifts it.
    void fail_trains(std::error_code ec, std::size_t count = no_limit) {
        std::lock_guard lock(mu_);
        train_error_ = ec;
        train_failures_ = count;
    }
    //! Trains send_messages delivered / failed so far.
    std::size_t trains_sent() const {
        std::lock_guard lock(mu_);
        return trains_sent_;
    }
    std::size_t trains_failed() const {
        std::lock_guard lock(mu_);
        return trains_failed_;
    }

    //! The simulated sendmmsg(2) of whole messages, for backends that build messages
    //! (MockGsoOps). Returns how many messages were sent, or -1 with `ec` when the first one
    //! failed. A train (segment < data.size()) is cut into datagrams of `segment` bytes (the
    //! last may be shorter), each queued like a datagram of send(), and is atomic: it fails
    //! as a whole, with nothing queued, on fail_trains, on would-block (fewer accepted
    //! datagrams left than it holds), or when any of its datagrams meets a fail_nth or
    //! unreachable rule (every datagram of it counts as attempted). A message that would fail
    //! after the first ends the call before it is attempted: the kernel reports such an error
    //! only when the message comes first in the next call. limit_per_call counts messages.
    int send_messages(int handle, std::span<const Message> msgs, std::error_code& ec) {
        std::lock_guard lock(mu_);
        script_.count_call();
        auto self = sockets_.find(handle);
        if (self == sockets_.end()) {
            ec = detail::errno_code(EBADF);
            return -1;
        }
        if (std::error_code e = script_.take_interrupt()) {
            ec = e;
            return -1;
        }
        const std::size_t n = std::min(script_.call_limit(msgs.size()), max_send_batch);
        for (std::size_t i = 0; i < n; ++i) {
            if (const std::error_code e = send_message_locked(self->second, msgs[i], i == 0)) {
                if (i > 0) return static_cast<int>(i);
                ec = e;
                return -1;
            }
        }
        ec.clear();
        return static_cast<int>(n);
    }

    /*! The simulated io_uring batch of sends, one submission per message (MockUringGsoOps):
        one call, in which each message is attempted on its own, in order, and gets its own
        outcome in results[i] (empty: sent), as io_uring completions give them. Messages
        from `linked_from` on are linked: once one of them fails, the rest are not attempted
        (ECANCELED), as io_uring cancels the rest of a chain. A socket-level error (EBADF and
        the others of detail::is_fatal) is what every later message would meet too: they
        get it without being attempted. An interrupted call submits nothing (EINTR for the
        first message); limit_per_call counts messages. Every message not attempted gets
        ECANCELED.
    */
    void send_each(int handle, std::span<const Message> msgs, std::size_t linked_from,
                   std::span<std::error_code> results) {
        std::lock_guard lock(mu_);
        script_.count_call();
        std::fill_n(results.begin(), msgs.size(),
                    std::make_error_code(std::errc::operation_canceled));
        if (msgs.empty()) return;
        auto self = sockets_.find(handle);
        if (std::error_code e = script_.take_interrupt()) {
            results[0] = e;
            return;
        }
        const std::size_t n = std::min(script_.call_limit(msgs.size()), max_send_batch);
        for (std::size_t i = 0; i < n; ++i) {
            const std::error_code e = self == sockets_.end()
                                          ? detail::errno_code(EBADF)
                                          : send_message_locked(self->second, msgs[i], true);
            results[i] = e;
            if (detail::is_fatal(e)) {
                std::fill(results.begin() + static_cast<std::ptrdiff_t>(i),
                          results.begin() + static_cast<std::ptrdiff_t>(n), e);
                break;
            }
            if (e && i >= linked_from) break;
        }
    }

    //! The simulated recvmmsg: see RecvBackend. Used by MockBackend. Never waits.
    std::size_t recv(int handle, std::span<const RecvSlot> slots, std::error_code& ec) {
        std::lock_guard lock(mu_);
        script_.count_call();
        auto self = sockets_.find(handle);
        if (self == sockets_.end()) {
            ec = detail::errno_code(EBADF);
            return 0;
        }
        if (std::error_code e = script_.take_interrupt()) {
            ec = e;
            return 0;
        }
        auto& q = self->second.queue;
        if (q.empty()) {
            ec = detail::would_block_code();
            return 0;
        }
        const std::size_t n = std::min(script_.call_limit(slots.size()), q.size());
        for (std::size_t i = 0; i < n; ++i) {
            const Datagram& d = q.front();
            const RecvSlot& s = slots[i];
            std::copy_n(d.bytes.begin(), std::min(d.bytes.size(), s.capacity), s.data);
            detail::assign_meta(*s.meta, d.bytes.size(), s.capacity, d.source, PacketFlags::none,
                                detail::ReceivedMetadata{d.ecn, d.local, 0, {}});
            q.pop_front();
        }
        ec.clear();
        return n;
    }

private:
    struct Datagram {
        std::vector<std::byte> bytes;
        Endpoint source;
        boost::asio::ip::address local; // the address it was sent to
        Ecn ecn = Ecn::not_ect;
    };

    // A datagram as the receiving mock socket queues it: from `from` (or, when the options
    // name a source, that address with from's port), with the options' ECN, sent to `to`.
    static Datagram datagram(std::span<const std::byte> bytes, const Endpoint& from,
                             const Endpoint& to, const SendOptions& o) {
        Endpoint source = from;
        if (!o.source.is_unspecified()) source.address(o.source);
        return Datagram{{bytes.begin(), bytes.end()}, source, to.address(), o.ecn};
    }
    struct Socket {
        Endpoint local;
        std::deque<Datagram> queue;
        Endpoint peer{};        // where datagrams without a destination go, once connected
        bool connected = false;
        const Endpoint* peer_or_null() const noexcept { return connected ? &peer : nullptr; }
    };

    // The kernel's own refusal of one datagram (or train) of `size` bytes to `dest` (null:
    // no destination on a socket that is not connected).
    static std::error_code refused(const Endpoint* dest, std::size_t size,
                                   const SendOptions* options = nullptr) noexcept {
        if (dest == nullptr) return detail::errno_code(EDESTADDRREQ);
        const std::size_t max = dest->address().is_v6() ? 65527 : 65507;
        if (size > max) return detail::errno_code(EMSGSIZE);
        if (dest->port() == 0) return detail::errno_code(EINVAL);
        if (detail::has_options(options)) return detail::options_error(*options, dest);
        return {};
    }

    // The socket a datagram to `dest` reaches: bound exactly, or to the wildcard address
    // of dest's family on dest's port.
    Socket* bound(const Endpoint& dest) {
        for (auto& [h, s] : sockets_)
            if (s.local == dest) return &s;
        for (auto& [h, s] : sockets_)
            if (s.local.port() == dest.port() && s.local.address().is_unspecified() &&
                s.local.protocol() == dest.protocol())
                return &s;
        return nullptr;
    }

    void notify_locked() const {
        for (const auto& [id, f] : watchers_) f();
    }

    // One message of send_messages; `attempt` false: only find out whether it would fail.
    std::error_code send_message_locked(Socket& self, const Message& m, bool attempt) {
        const std::size_t size = m.data.size();
        const std::size_t seg = (m.segment == 0 || m.segment >= size) ? size : m.segment;
        const std::size_t k = size == 0 ? 1 : (size + seg - 1) / seg;
        std::error_code e;
        const Endpoint* dest = m.dest != nullptr ? m.dest : self.peer_or_null();
        const bool train_refused = k > 1 && train_failures_ > 0;
        if (train_refused) e = train_error_;
        else if (const auto v = script_.check(dest, k); v.fault) {
            if (!v.attempts) return v.fault; // would block: nothing attempted
            e = v.fault;
        } else {
            e = refused(dest, size, &m.options);
        }
        if (!attempt && e) return e;
        if (train_refused) {
            if (train_failures_ != no_limit) --train_failures_;
            ++trains_failed_;
            return e; // refused before any datagram was attempted
        }
        script_.record_send(k, e ? 0 : k);
        if (e) {
            if (k > 1) ++trains_failed_;
            return e;
        }
        if (k > 1) ++trains_sent_;
        if (Socket* to = bound(*dest)) {
            const bool was_empty = to->queue.empty();
            for (std::size_t t = 0; t < k; ++t) {
                const std::byte* b = m.data.data() + t * seg;
                to->queue.push_back(
                    datagram({b, std::min(seg, size - t * seg)}, self.local, *dest, m.options));
            }
            if (was_empty) notify_locked();
        }
        return {};
    }

    mutable std::mutex mu_;
    std::map<int, Socket> sockets_;
    std::map<std::size_t, std::function<void()>> watchers_;
    std::size_t next_watch_ = 0;
    detail::FaultScript script_; // every scripted fault and the call/attempt counters
    std::error_code train_error_{};
    std::size_t train_failures_ = 0;
    std::size_t trains_sent_ = 0;
    std::size_t trains_failed_ = 0;
    int next_handle_ = 1 << 20; // far from real descriptors, so a mix-up fails loudly
    std::uint16_t next_port_ = 40000;
};

//! A backend whose system calls go to a MockNetwork. A cheap handle: copies share the network.
class MockBackend {
public:
    explicit MockBackend(MockNetwork& net) noexcept : net_(&net) {}

    MockNetwork& network() const noexcept { return *net_; }

    SendOutcome send(int handle, std::span<const SendItem> items,
                     std::span<std::error_code> errors, WaitMode) {
        return net_->send(handle, items, errors);
    }
    std::size_t recv(int handle, std::span<const RecvSlot> slots, WaitMode, std::error_code& ec) {
        return net_->recv(handle, slots, ec);
    }

private:
    MockNetwork* net_;
};

static_assert(SendBackend<MockBackend> && RecvBackend<MockBackend>,
              "MockBackend must model mmsg::SendBackend and mmsg::RecvBackend");

} // namespace mmsg

#endif // MMSG_TESTING_MOCK_NETWORK_HPP
