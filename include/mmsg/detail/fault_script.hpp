//! Defines mmsg::detail::FaultScript: the scripted faults (n-th attempt fails, would block
//! after k, EINTR for the next calls, limit per call, unreachable endpoints) shared by
//! MockNetwork and FaultInjecting<Inner>: one place for that logic.
#ifndef MMSG_DETAIL_FAULT_SCRIPT_HPP
#define MMSG_DETAIL_FAULT_SCRIPT_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_train.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace mmsg::detail {

/*! A deterministic fault script for backend calls. Not thread-safe: the owner locks
    (MockNetwork) or is used from one thread at a time (FaultInjecting).

    A send call goes through three steps:
      1. begin_call(): counts the call; returns EINTR while interrupts are scripted (the call
         then attempts nothing);
      2. plan_send(items): without changing any state, how many datagrams from the front pass
         the script, and the fault (if any) the next one meets;
      3. record_send(attempted, accepted): what really happened, so that fail_nth counts
         attempts and would_block_after counts accepted datagrams exactly, whatever the
         transport underneath did.
    A receive call uses begin_call() and call_limit().

    Counting rules (MockNetwork's): fail_nth counts attempted datagrams
    (a call that would block or is interrupted attempts none); would_block_after counts
    accepted datagrams; the would-block check comes first, then fail_nth, then unreachable.
*/
class FaultScript {
public:
    static constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

    //! What plan_send found: `clear` datagrams from the front pass the script. If `fault` is
    //! set, items[clear] meets it: would-block (not attempted) or a scripted error (attempted,
    //! `attempts` is then true). If `fault` is empty and clear < items.size(), the call limit
    //! stopped the plan.
    struct SendPlan {
        std::size_t clear = 0;
        std::error_code fault{};
        bool attempts = false;
    };

    //! Every datagram sent to `dest` from now on fails with `ec`.
    void unreachable(const Endpoint& dest, std::error_code ec) {
        for (auto& [d, e] : unreachable_)
            if (d == dest) {
                e = ec;
                return;
            }
        unreachable_.emplace_back(dest, ec);
    }

    //! The n-th attempted datagram (0-based, counting every attempt since the script was
    //! made) fails with `ec`. May be called for several n.
    void fail_nth(std::size_t n, std::error_code ec) { fail_nth_[n] = ec; }

    //! Each call moves at most `k` datagrams (k >= 1); no_limit lifts it.
    //! Throws std::invalid_argument if k == 0.
    void limit_per_call(std::size_t k) {
        if (k == 0) throw std::invalid_argument("mmsg: limit_per_call: k must be >= 1");
        limit_ = k;
    }

    //! After `k` more accepted datagrams, sends would block until clear_would_block(). A
    //! train that starts within the budget goes whole (see check()).
    void would_block_after(std::size_t k) noexcept { send_budget_ = k; }
    void clear_would_block() noexcept { send_budget_ = no_limit; }

    //! The next `calls` calls (send or receive) fail with EINTR.
    void interrupt_next(std::size_t calls) noexcept { interrupts_ = calls; }

    //! Calls so far (begin_call count).
    std::size_t calls() const noexcept { return calls_; }
    //! Datagrams attempted so far (what fail_nth counts).
    std::size_t attempts() const noexcept { return attempts_; }
    //! Whether a send would block now.
    bool send_blocked() const noexcept { return send_budget_ == 0; }

    //! Counts a call.
    void count_call() noexcept { ++calls_; }
    //! Returns EINTR and consumes one scripted interruption, or returns nothing.
    std::error_code take_interrupt() noexcept {
        if (interrupts_ == 0) return {};
        --interrupts_;
        return errno_code(EINTR);
    }
    //! count_call() then take_interrupt().
    std::error_code begin_call() noexcept {
        count_call();
        return take_interrupt();
    }

    //! How many of `n` slots or datagrams one call may move.
    std::size_t call_limit(std::size_t n) const noexcept { return std::min(n, limit_); }

    //! The fault a group of `k` datagrams to `dest` meets (a plain datagram is k == 1; a
    //! segmentation-offload train is k > 1 and fails or passes as a whole) when `ahead`
    //! earlier datagrams of the same call pass before it. `attempts` says whether the group
    //! counts as attempted (every datagram of it does). Changes nothing.
    //! A group would block only when no send budget is left before it: a kernel takes a
    //! whole message while its send buffer has any room, so a train that starts within the
    //! budget goes whole (and may overshoot it), and a writable socket never refuses.
    struct Verdict {
        std::error_code fault{};
        bool attempts = false;
    };
    //! (`dest` null: the connected peer, which no unreachable rule names unless given as
    //! `peer`.)
    Verdict check(const Endpoint* dest, std::size_t k = 1, std::size_t ahead = 0) const {
        if (send_budget_ != no_limit && send_budget_ <= ahead) return {would_block_code(), false};
        // The first scripted failure at or after this group's first attempt, if it falls
        // within the group.
        if (auto f = fail_nth_.lower_bound(attempts_ + ahead);
            f != fail_nth_.end() && f->first < attempts_ + ahead + k)
            return {f->second, true};
        if (dest != nullptr)
            if (const std::error_code* u = unreachable_error(*dest)) return {*u, true};
        return {};
    }

    //! Plans one send call over `items` (see SendPlan). Changes nothing.
    //! Datagrams without a destination go to `peer` (may be null).
    SendPlan plan_send(std::span<const SendItem> items, const Endpoint* peer = nullptr) const {
        return plan_datagrams(items, items.size(), [](const SendItem&) { return std::size_t{1}; }, peer);
    }
    //! The same over the datagrams of `trains`, counted across them, each datagram on its
    //! own (a scripted fault may fall inside a train).
    SendPlan plan_send(std::span<const SendTrain> trains, const Endpoint* peer = nullptr) const {
        std::size_t total = 0;
        for (const SendTrain& t : trains) total += t.datagrams();
        return plan_datagrams(trains, total, [](const SendTrain& t) { return t.datagrams(); }, peer);
    }

    //! Records that a call attempted `attempted` datagrams, `accepted` of which went out.
    void record_send(std::size_t attempted, std::size_t accepted) noexcept {
        attempts_ += attempted;
        if (send_budget_ != no_limit) send_budget_ -= std::min(send_budget_, accepted);
    }

private:
    // plan_send over `groups` (SendItems or SendTrains), `count(g)` datagrams each to g.dest,
    // `total` in all: each datagram checked alone, every one before it passing.
    template <class Groups, class Count>
    SendPlan plan_datagrams(const Groups& groups, std::size_t total, Count count,
                            const Endpoint* peer) const {
        const std::size_t n = call_limit(total);
        std::size_t i = 0;
        for (const auto& g : groups) {
            const Endpoint* dest = g.dest != nullptr ? g.dest : peer;
            for (std::size_t j = 0, d = count(g); j < d && i < n; ++j, ++i)
                if (const Verdict v = check(dest, 1, i); v.fault) return {i, v.fault, v.attempts};
            if (i == n) break;
        }
        return {n, {}, false};
    }

    const std::error_code* unreachable_error(const Endpoint& dest) const noexcept {
        for (const auto& [d, e] : unreachable_)
            if (d == dest) return &e;
        return nullptr;
    }

    // Few entries in practice: a linear search beats a tree of endpoints.
    std::vector<std::pair<Endpoint, std::error_code>> unreachable_;
    std::map<std::size_t, std::error_code> fail_nth_;
    std::size_t limit_ = no_limit;
    std::size_t send_budget_ = no_limit;
    std::size_t interrupts_ = 0;
    std::size_t calls_ = 0;
    std::size_t attempts_ = 0;
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_FAULT_SCRIPT_HPP
