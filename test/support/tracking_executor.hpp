//! Test support: an io_context executor that records where outstanding work on it ends.
//! Used to prove that no asynchronous operation touches its I/O executor from outside the
//! I/O context's threads once its handler may have run (issue: a use_future operation
//! released its io_context's work from Asio's system thread, after the future was ready).
#ifndef MMSG_TEST_SUPPORT_TRACKING_EXECUTOR_HPP
#define MMSG_TEST_SUPPORT_TRACKING_EXECUTOR_HPP

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <type_traits>
#include <utility>

namespace mmsg::test {

//! What a family of TrackingExecutor copies saw.
struct WorkLedger {
    std::atomic<long> outstanding{0}; //!< tracked copies alive now
    std::atomic<long> started{0};     //!< tracked copies ever made
    //! Tracked copies destroyed on a thread that was not running the executor's context:
    //! work released from outside the I/O threads, where nothing guarantees that the
    //! context is still alive.
    std::atomic<long> finished_outside{0};

    //! Waits until no tracked copy is alive, at most `limit`; returns whether none is.
    bool wait_idle(std::chrono::milliseconds limit) {
        std::unique_lock lock(mu_);
        return idle_.wait_for(lock, limit, [&] { return outstanding.load() == 0; });
    }
    void finished(bool outside) noexcept {
        if (outside) finished_outside.fetch_add(1);
        std::lock_guard lock(mu_);
        outstanding.fetch_sub(1);
        idle_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable idle_;
};

/*! Wraps an io_context executor (any of its blocking/relationship variants) and counts its
    outstanding-work-tracked copies in a WorkLedger. A tracked copy does not keep the
    context running: the tests keep it running with their own guards. Everything else is
    forwarded, so a socket, Asio's reactor and any_io_executor use it like the inner one.
*/
template <class Inner>
class TrackingExecutor {
public:
    TrackingExecutor(Inner inner, WorkLedger& ledger, bool tracked = false) noexcept
        : inner_(std::move(inner)), ledger_(&ledger) {
        if (tracked) start();
    }
    TrackingExecutor(const TrackingExecutor& o) noexcept : inner_(o.inner_), ledger_(o.ledger_) {
        if (o.tracked_) start();
    }
    TrackingExecutor(TrackingExecutor&& o) noexcept
        : inner_(std::move(o.inner_)), ledger_(o.ledger_),
          tracked_(std::exchange(o.tracked_, false)) {}
    TrackingExecutor& operator=(const TrackingExecutor& o) noexcept {
        if (this != &o) {
            finish();
            inner_ = o.inner_;
            ledger_ = o.ledger_;
            if (o.tracked_) start();
        }
        return *this;
    }
    TrackingExecutor& operator=(TrackingExecutor&& o) noexcept {
        if (this != &o) {
            finish();
            inner_ = std::move(o.inner_);
            ledger_ = o.ledger_;
            tracked_ = std::exchange(o.tracked_, false);
        }
        return *this;
    }
    ~TrackingExecutor() { finish(); }

    template <class F>
    void execute(F&& f) const {
        inner_.execute(std::forward<F>(f));
    }

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
        return boost::asio::query(inner_, boost::asio::execution::context);
    }
    auto query(boost::asio::execution::blocking_t) const noexcept {
        return boost::asio::query(inner_, boost::asio::execution::blocking);
    }
    auto query(boost::asio::execution::relationship_t) const noexcept {
        return boost::asio::query(inner_, boost::asio::execution::relationship);
    }
    boost::asio::execution::outstanding_work_t
    query(boost::asio::execution::outstanding_work_t) const noexcept {
        if (tracked_) return boost::asio::execution::outstanding_work.tracked;
        return boost::asio::execution::outstanding_work.untracked;
    }

    template <class P>
    auto require(P p) const noexcept requires(
        std::is_same_v<P, boost::asio::execution::blocking_t::never_t> ||
        std::is_same_v<P, boost::asio::execution::blocking_t::possibly_t> ||
        std::is_same_v<P, boost::asio::execution::relationship_t::fork_t> ||
        std::is_same_v<P, boost::asio::execution::relationship_t::continuation_t>) {
        using R = std::decay_t<decltype(boost::asio::require(inner_, p))>;
        return TrackingExecutor<R>(boost::asio::require(inner_, p), *ledger_, tracked_);
    }
    TrackingExecutor require(boost::asio::execution::outstanding_work_t::tracked_t) const noexcept {
        return TrackingExecutor(inner_, *ledger_, true);
    }
    TrackingExecutor
    require(boost::asio::execution::outstanding_work_t::untracked_t) const noexcept {
        return TrackingExecutor(inner_, *ledger_, false);
    }

    bool running_in_this_thread() const noexcept { return inner_.running_in_this_thread(); }

    friend bool operator==(const TrackingExecutor& a, const TrackingExecutor& b) noexcept {
        return a.inner_ == b.inner_ && a.ledger_ == b.ledger_;
    }
    friend bool operator!=(const TrackingExecutor& a, const TrackingExecutor& b) noexcept {
        return !(a == b);
    }

private:
    template <class>
    friend class TrackingExecutor;

    void start() noexcept {
        tracked_ = true;
        ledger_->outstanding.fetch_add(1);
        ledger_->started.fetch_add(1);
    }
    void finish() noexcept {
        if (!std::exchange(tracked_, false)) return;
        ledger_->finished(!inner_.running_in_this_thread());
    }

    Inner inner_;
    WorkLedger* ledger_;
    bool tracked_ = false;
};

//! A tracking executor for `io`.
inline TrackingExecutor<boost::asio::io_context::executor_type>
tracking_executor(boost::asio::io_context& io, WorkLedger& ledger) {
    return {io.get_executor(), ledger};
}

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_TRACKING_EXECUTOR_HPP
