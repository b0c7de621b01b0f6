//! Defines mmsg::MockSocket: an Asio I/O object over a MockNetwork handle, so that the
//! asynchronous layer (<mmsg/asio.hpp>) runs deterministically on MockBackend.
#ifndef MMSG_TESTING_MOCK_SOCKET_HPP
#define MMSG_TESTING_MOCK_SOCKET_HPP

#include <mmsg/testing/mock_network.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <list>
#include <memory>
#include <new>
#include <mutex>
#include <utility>
#include <vector>

namespace mmsg {

namespace detail {

// A pending MockSocket::async_wait, its handler type erased. Allocated with the handler's
// associated allocator; complete() frees it.
struct MockWaitOp {
    boost::asio::socket_base::wait_type what;
    explicit MockWaitOp(boost::asio::socket_base::wait_type w) noexcept : what(w) {}
    // Frees the op, then posts the handler with `ec`; the op must be out of the wait list.
    virtual void complete(boost::system::error_code ec) = 0;

protected:
    ~MockWaitOp() = default;
};

// State shared by a MockSocket, its network hook and its cancellation-slot handlers.
struct MockSocketState : std::enable_shared_from_this<MockSocketState> {
    boost::asio::any_io_executor ex;
    MockNetwork* net;
    int handle;
    std::size_t watch_id = 0;
    std::mutex mu;
    std::list<MockWaitOp*> waits;

    MockSocketState(boost::asio::any_io_executor e, MockNetwork& n, int h)
        : ex(std::move(e)), net(&n), handle(h) {}

    bool ready(boost::asio::socket_base::wait_type w) const {
        switch (w) {
        case boost::asio::socket_base::wait_read: return net->readable(handle);
        case boost::asio::socket_base::wait_write: return net->writable(handle);
        default: return false; // the mock has no error conditions to wait for
        }
    }

    // Runs on the executor after the network changed: completes the waits now satisfied.
    void check() {
        std::vector<MockWaitOp*> done;
        {
            std::lock_guard lock(mu);
            if (handle < 0) return;
            for (auto it = waits.begin(); it != waits.end();) {
                if (ready((*it)->what)) {
                    done.push_back(*it);
                    it = waits.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& op : done) op->complete({});
    }

    // Completes one wait (if still pending) or all of them with operation_aborted.
    void abort(const MockWaitOp* which) {
        std::vector<MockWaitOp*> done;
        {
            std::lock_guard lock(mu);
            for (auto it = waits.begin(); it != waits.end();) {
                if (which == nullptr || *it == which) {
                    done.push_back(*it);
                    it = waits.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& op : done) op->complete(boost::asio::error::operation_aborted);
    }
};

template <class Handler>
class MockWaitOpImpl final : public MockWaitOp {
public:
    MockWaitOpImpl(boost::asio::socket_base::wait_type w, Handler h,
                   const boost::asio::any_io_executor& ex)
        : MockWaitOp(w), handler_(std::move(h)),
          work_(boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked)) {}

    void arm_cancellation(const std::shared_ptr<MockSocketState>& state) {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (!slot.is_connected()) return;
        // Nothing of the socket changes before a wait completes: every kind of cancellation
        // (terminal, partial, total) is honoured.
        slot.assign([w = std::weak_ptr<MockSocketState>(state), self = this](
                        boost::asio::cancellation_type_t) {
            if (auto s = w.lock()) s->abort(self);
        });
    }

    //! Makes an op in memory from the handler's associated allocator.
    static MockWaitOpImpl* make(boost::asio::socket_base::wait_type w, Handler h,
                                const boost::asio::any_io_executor& ex) {
        Alloc alloc(boost::asio::get_associated_allocator(h));
        MockWaitOpImpl* p = std::allocator_traits<Alloc>::allocate(alloc, 1);
        try {
            return ::new (static_cast<void*>(p)) MockWaitOpImpl(w, std::move(h), ex);
        } catch (...) {
            std::allocator_traits<Alloc>::deallocate(alloc, p, 1);
            throw;
        }
    }

    void complete(boost::system::error_code ec) override {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
        // Free the op before the handler runs (Asio's rule), so its memory can be reused.
        Handler h(std::move(handler_));
        boost::asio::any_io_executor work(std::move(work_));
        Alloc alloc(boost::asio::get_associated_allocator(h));
        this->~MockWaitOpImpl();
        std::allocator_traits<Alloc>::deallocate(alloc, this, 1);
        boost::asio::post(work, boost::asio::append(std::move(h), ec));
    }

private:
    using Alloc = typename std::allocator_traits<
        boost::asio::associated_allocator_t<Handler>>::template rebind_alloc<MockWaitOpImpl>;

    ~MockWaitOpImpl() = default;

    Handler handler_;
    boost::asio::any_io_executor work_; // keeps the context busy while the wait is pending
};

} // namespace detail

/*! A mock UDP socket as an Asio I/O object: a MockNetwork handle plus an executor, with
    the readiness waits the asynchronous layer needs. Pass it where <mmsg/asio.hpp> takes
    a socket, together with a BatchSender<MockBackend> / BatchReceiver<MockBackend> on the
    same network.

    - async_wait(wait_write) completes when a send would not block (MockNetwork::writable:
      after clear_would_block(), or would_block_after(k > 0));
      async_wait(wait_read) completes when a datagram is queued (MockNetwork::readable).
      Readiness comes from MockNetwork::watch(), so no polling and no timers are involved.
    - cancel() completes every pending wait with operation_aborted; so does a per-operation
      cancellation slot (any cancellation type) for its own wait; close() cancels, then
      closes the mock handle (later sends and receives fail with EBADF).
    - Thread-safe as far as the network is; use one MockSocket from one strand, as with
      any Asio socket.
*/
class MockSocket {
public:
    using executor_type = boost::asio::any_io_executor;
    using wait_type = boost::asio::socket_base::wait_type;

    //! Opens a mock socket bound to `local` on `net` (see MockNetwork::open); its waits
    //! complete through `ex`. Throws std::system_error(address_in_use) if `local` is taken.
    MockSocket(const executor_type& ex, MockNetwork& net, const Endpoint& local)
        : MockSocket(ex, net, net.open(local)) {}

    //! Adopts a handle already returned by net.open(); the MockSocket closes it.
    MockSocket(const executor_type& ex, MockNetwork& net, int handle)
        : state_(std::make_shared<detail::MockSocketState>(ex, net, handle)) {
        state_->watch_id = net.watch([w = std::weak_ptr<detail::MockSocketState>(state_), ex] {
            boost::asio::post(ex, [w] {
                if (auto s = w.lock()) s->check();
            });
        });
    }

    MockSocket(const MockSocket&) = delete;
    MockSocket& operator=(const MockSocket&) = delete;

    //! Closes the socket (see close()).
    ~MockSocket() { close(); }

    executor_type get_executor() const noexcept { return state_->ex; }
    //! The MockNetwork handle (-1 once closed): what BatchSender<MockBackend> sends on.
    int native_handle() const noexcept { return state_->handle; }
    bool is_open() const noexcept { return state_->handle >= 0; }
    MockNetwork& network() const noexcept { return *state_->net; }
    //! The endpoint the socket is bound to. Throws std::system_error(EBADF) once closed.
    Endpoint local_endpoint() const { return state_->net->local_endpoint(state_->handle); }

    //! Waits until the socket is ready to read or write. Completion signature
    //! void(boost::system::error_code): success, or operation_aborted when cancelled or
    //! closed. A wait that is satisfied at once still completes through the executor.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_wait(wait_type w, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [state = state_](auto handler, wait_type what) {
                using H = std::decay_t<decltype(handler)>;
                auto* op = detail::MockWaitOpImpl<H>::make(what, std::move(handler), state->ex);
                std::unique_lock lock(state->mu);
                if (state->handle < 0) {
                    lock.unlock();
                    op->complete(boost::asio::error::bad_descriptor);
                    return;
                }
                if (state->ready(what)) {
                    lock.unlock();
                    op->complete({});
                    return;
                }
                op->arm_cancellation(state);
                state->waits.push_back(op);
            },
            token, w);
    }

    //! Completes every pending wait with operation_aborted.
    void cancel() { state_->abort(nullptr); }

    //! Cancels pending waits, stops watching the network and closes the mock handle.
    //! Does nothing if already closed.
    void close() {
        if (!state_ || state_->handle < 0) return;
        int h;
        {
            std::lock_guard lock(state_->mu);
            h = std::exchange(state_->handle, -1);
        }
        state_->abort(nullptr);
        state_->net->unwatch(state_->watch_id);
        state_->net->close(h);
    }

private:
    std::shared_ptr<detail::MockSocketState> state_;
};

} // namespace mmsg

#endif // MMSG_TESTING_MOCK_SOCKET_HPP
