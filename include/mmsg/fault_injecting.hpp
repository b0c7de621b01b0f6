//! Defines mmsg::FaultInjecting<Inner>: MockNetwork's fault script (n-th datagram fails,
//! would block after k, EINTR, limit per call, unreachable endpoints) on top of any backend,
//! so that fault-injection tests run against real sockets.
#ifndef MMSG_FAULT_INJECTING_HPP
#define MMSG_FAULT_INJECTING_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/fault_script.hpp>
#include <mmsg/detail/send_outcome.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

namespace mmsg {

/*! A backend that applies a fault script before handing datagrams to `Inner`.

    The script is the one MockNetwork uses (detail::FaultScript), with the same counting
    rules: fail_nth counts datagrams attempted (by the script or by Inner: a
    datagram the kernel rejected was attempted too), would_block_after counts datagrams
    Inner actually sent, calls() counts this backend's calls (send and receive),
    limit_per_call and interrupt_next apply to receives as well. A scripted fault stops the
    call at that datagram exactly as a kernel error would: the datagrams before it go to
    Inner in one call, the faulty one is reported with the scripted error and never reaches
    the socket (EINTR and would-block: not attempted). The socket does not see a scripted
    would-block: an asynchronous send on a real socket waits for writability, has it at
    once and tries again, until clear_would_block(). Script back-pressure for asynchronous
    code on MockNetwork, whose sockets report it (MockSocket).

    Not thread-safe (like every backend). Copies copy the script. Configure it through the
    sender: `sender.backend().fail_nth(3, make_error_code(std::errc::permission_denied))`.
*/
template <class Inner>
class FaultInjecting {
public:
    static constexpr bool carries_metadata = carries_metadata_v<Inner>;
    FaultInjecting() requires std::default_initializable<Inner>
    = default;
    explicit FaultInjecting(Inner inner) : inner_(std::move(inner)) {}

    Inner& inner() noexcept { return inner_; }
    const Inner& inner() const noexcept { return inner_; }

    //! Every datagram sent to `dest` from now on fails with `ec` (ENETUNREACH by default).
    void unreachable(const Endpoint& dest,
                     std::error_code ec = std::make_error_code(std::errc::network_unreachable)) {
        script_.unreachable(dest, ec);
    }
    //! The n-th datagram attempted through this backend (0-based) fails with `ec`.
    void fail_nth(std::size_t n, std::error_code ec) { script_.fail_nth(n, ec); }
    //! Each call moves at most `k` datagrams (k >= 1). Throws std::invalid_argument if k == 0.
    void limit_per_call(std::size_t k) { script_.limit_per_call(k); }
    //! After `k` more datagrams sent, sends would block until clear_would_block().
    void would_block_after(std::size_t k) noexcept { script_.would_block_after(k); }
    void clear_would_block() noexcept { script_.clear_would_block(); }
    //! The next `calls` calls (send or receive) fail with EINTR without reaching Inner.
    void interrupt_next(std::size_t calls) noexcept { script_.interrupt_next(calls); }
    //! Calls of this backend so far.
    std::size_t calls() const noexcept { return script_.calls(); }
    //! Datagrams attempted so far (what fail_nth counts).
    std::size_t attempts() const noexcept { return script_.attempts(); }

    //! Forwards Inner's probe (see Fallback), if it has one.
    std::error_code probe(int fd) requires requires(Inner& b) { b.probe(fd); }
    { return inner_.probe(fd); }

    //! SendBackend: the script, then Inner for the datagrams that pass it.
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) requires SendBackend<Inner> {
        if (std::error_code e = script_.begin_call()) return {0, e};
        return send_planned(script_.plan_send(items), errors, [&](std::size_t clear) {
            return inner_.send(s, items.first(clear), errors, mode);
        });
    }

    //! TrainSendBackend, when Inner is one: the script over the trains' datagrams, then the
    //! trains that pass it to Inner whole (the last one cut where a fault stops the call).
    //! Allocates only when the script cuts a call short inside the trains (a fault or the
    //! per-call limit: a copy of the trains before the cut), reusing that copy's capacity.
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> trains,
                            std::span<std::error_code> errors, WaitMode mode)
        requires TrainSendBackend<Inner>
    {
        if (std::error_code e = script_.begin_call()) return {0, e};
        return send_planned(script_.plan_send(trains), errors, [&](std::size_t clear) {
            return inner_.send_trains(s, first_datagrams(trains, clear), errors, mode);
        });
    }

    //! RecvBackend: interruptions and the per-call limit, then Inner.
    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode,
                     std::error_code& ec) requires RecvBackend<Inner> {
        if ((ec = script_.begin_call())) return 0;
        return inner_.recv(s, slots.first(script_.call_limit(slots.size())), mode, ec);
    }

    //! CoalescingRecvBackend, when Inner is one: interruptions and the per-call limit, then Inner.
    std::size_t recv_coalesced(SocketRef s, std::span<const CoalescedSlot> slots, WaitMode mode,
                               std::error_code& ec) requires CoalescingRecvBackend<Inner> {
        if ((ec = script_.begin_call())) return 0;
        return inner_.recv_coalesced(s, slots.first(script_.call_limit(slots.size())), mode, ec);
    }

private:
    // The planned call: `send_clear(plan.clear)` sends the datagrams that pass the script,
    // then the fault the next one meets is reported as its outcome.
    template <class SendClear>
    SendOutcome send_planned(const detail::FaultScript::SendPlan& plan,
                             std::span<std::error_code> errors, SendClear send_clear) {
        std::size_t done = 0;
        if (plan.clear > 0) {
            const SendOutcome out = send_clear(plan.clear);
            const detail::SendCall call = detail::read_send(out, errors, plan.clear);
            done = call.done;
            script_.record_send(call.attempted(), call.accepted);
            if (done < plan.clear) return {done, out.error};
            if (call.accepted < done && detail::is_would_block(plan.fault))
                return {done, {}}; // the kernel rejected some: the budget is not spent yet
        }
        if (plan.fault) script_.record_send(plan.attempts ? 1 : 0, 0);
        return {done, plan.fault};
    }

    // The first `n` datagrams of `trains` (n > 0, at most all of them): the trains as they
    // are when n is all, else a copy of the trains up to the one datagram n - 1 is in, that
    // one cut after it.
    std::span<const SendTrain> first_datagrams(std::span<const SendTrain> trains, std::size_t n) {
        auto at = trains.begin(); // the train holding datagram n - 1, `before` datagrams ahead of it
        const std::size_t before = detail::seek_datagram(at, trains.end(), n - 1);
        const std::size_t k = static_cast<std::size_t>(at - trains.begin());
        if (k + 1 == trains.size() && before + trains[k].datagrams() == n) return trains;
        cut_.assign(trains.begin(), trains.begin() + static_cast<std::ptrdiff_t>(k + 1));
        cut_.back() = cut_.back().slice(0, n - before);
        return cut_;
    }

    Inner inner_{};
    detail::FaultScript script_;
    std::vector<SendTrain> cut_; // first_datagrams' copy, kept for its capacity
};

} // namespace mmsg

#endif // MMSG_FAULT_INJECTING_HPP
