// Once an operation's result can be observed, the operation touches neither its socket's
// executor nor its io_context again, whatever the completion token: the regression test of
// a use_future receive whose io_context work was released from Asio's system thread after
// the future was ready (so `f.get()` followed by destroying the io_context, the natural
// order, touched freed memory).
//
// The sockets run on a TrackingExecutor, which records every tracked copy of the executor
// that dies on a thread not running the io_context. Asio's own operations release the I/O
// executor's work on an I/O thread; so must ours. The check is deterministic: a release
// from the wrong thread is counted whenever it happens, not only when it loses a race.
#include <mmsg/asio.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include "../support/tracking_executor.hpp"

#include <mmsg/testing/mock_socket.hpp>

#define BOOST_TEST_MODULE async_operation_lifetime
#include <boost/test/unit_test.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstddef>
#include <future>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::udp;
using error_code = boost::system::error_code;

namespace {

constexpr auto hang_guard = std::chrono::seconds(30);

using Tracking = mmsg::test::TrackingExecutor<asio::io_context::executor_type>;
using TrackedSocket = asio::basic_datagram_socket<udp, Tracking>;

// Two contexts, each run by a thread of its own: `io` serves the sockets, `other` is where
// handlers bound to another executor run.
struct World {
    mmsg::test::WorkLedger ledger;
    asio::io_context io;
    asio::io_context other;
    Tracking ex = mmsg::test::tracking_executor(io, ledger);
    TrackedSocket tx{ex, udp::endpoint(asio::ip::address_v4::loopback(), 0)};
    TrackedSocket rx{ex, udp::endpoint(asio::ip::address_v4::loopback(), 0)};
    std::vector<std::byte> data = mmsg::testing::numbered(64, 1000);
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch =
        decltype(batch)(4, {data, rx.local_endpoint()});
    std::vector<mmsg::Packet> packets = std::vector<mmsg::Packet>(8);

    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> io_work{
        io.get_executor()};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> other_work{
        other.get_executor()};
    std::thread io_thread{[this] { io.run_for(hang_guard); }};
    std::thread other_thread{[this] { other.run_for(hang_guard); }};

    // Queues one datagram on rx, from a plain socket (not through the executor).
    void feed() {
        udp::socket s(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
        s.send_to(asio::buffer(data), rx.local_endpoint());
    }

    // Lets both contexts run out, joins their threads, waits until every tracked copy of
    // the sockets' executor is gone, and checks where they went. An operation that waited
    // for readiness tracked work (the wait's); one that completed at once may track none.
    void check_lifetime(bool waited = false) {
        io_work.reset();
        other_work.reset();
        io.stop();
        other.stop();
        io_thread.join();
        other_thread.join();
        // A copy released late (from Asio's system thread, say) is still counted: wait for it.
        BOOST_TEST(ledger.wait_idle(std::chrono::seconds(10)));
        if (waited) BOOST_TEST(ledger.started.load() > 0); // the check saw the wait's work
        BOOST_TEST(ledger.finished_outside.load() == 0);
    }
};

// A completion handler bound to `ex` that records the result and whether `ex` ran it
// (assertions are made on the test's thread: Boost.Test is not thread-safe).
template <class T>
struct Done {
    struct Value {
        error_code ec;
        T value{};
        bool on_its_executor = false;
    };
    std::promise<Value> promise;
    std::future<Value> future = promise.get_future();

    template <class Executor>
    auto handler(Executor ex) {
        return asio::bind_executor(ex, [this, ex](error_code ec, T v) {
            promise.set_value({ec, v, ex.running_in_this_thread()});
        });
    }
};

template <class T>
T get(std::future<T>& f) {
    BOOST_REQUIRE(f.wait_for(hang_guard) == std::future_status::ready);
    return f.get();
}

} // namespace

BOOST_AUTO_TEST_SUITE(receives)

BOOST_FIXTURE_TEST_CASE(use_future_completing_at_once_releases_work_on_the_io_thread, World) {
    feed();
    std::future<std::size_t> f = mmsg::async_recv_mmsg(rx, packets, asio::use_future);
    BOOST_TEST(get(f) == 1u);
    check_lifetime();
}

BOOST_FIXTURE_TEST_CASE(use_future_completing_after_a_wait_releases_work_on_the_io_thread,
                        World) {
    std::future<std::size_t> f = mmsg::async_recv_mmsg(rx, packets, asio::use_future);
    feed();
    BOOST_TEST(get(f) == 1u);
    check_lifetime(true);
}

BOOST_FIXTURE_TEST_CASE(handler_bound_to_another_context_at_once, World) {
    feed();
    Done<std::size_t> done;
    mmsg::async_recv_mmsg(rx, packets, done.handler(other.get_executor()));
    const auto r = get(done.future);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.value == 1u);
    BOOST_TEST(r.on_its_executor);
    check_lifetime();
}

BOOST_FIXTURE_TEST_CASE(handler_bound_to_another_context_after_a_wait, World) {
    Done<std::size_t> done;
    mmsg::async_recv_mmsg(rx, packets, done.handler(other.get_executor()));
    feed();
    const auto r = get(done.future);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.value == 1u);
    BOOST_TEST(r.on_its_executor);
    check_lifetime(true);
}

BOOST_FIXTURE_TEST_CASE(exact_receive_over_several_waits_on_a_strand, World) {
    auto strand = asio::make_strand(io);
    Done<std::size_t> done;
    mmsg::async_recv_mmsg_exact(rx, std::span(packets).first(3), done.handler(strand));
    for (int i = 0; i < 3; ++i) feed();
    const auto r = get(done.future);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.value == 3u);
    BOOST_TEST(r.on_its_executor);
    check_lifetime(true);
}

BOOST_FIXTURE_TEST_CASE(coroutine_on_another_context_with_use_awaitable, World) {
    std::promise<std::size_t> done;
    asio::co_spawn(
        other,
        [&]() -> asio::awaitable<void> {
            const std::size_t n = co_await mmsg::async_recv_mmsg(rx, packets, asio::use_awaitable);
            done.set_value(n);
        },
        asio::detached);
    // `other` has one thread and runs what is posted to it in order: the receive above is
    // waiting for readiness before this datagram is sent.
    asio::co_spawn(
        other, [&]() -> asio::awaitable<void> { feed(); co_return; }, asio::detached);
    auto f = done.get_future();
    BOOST_TEST(get(f) == 1u);
    check_lifetime(true);
}

BOOST_FIXTURE_TEST_CASE(deferred_then_use_future, World) {
    auto op = mmsg::async_recv_mmsg(rx, packets, asio::deferred);
    std::future<std::size_t> f = std::move(op)(asio::use_future);
    feed();
    BOOST_TEST(get(f) == 1u);
    check_lifetime(true);
}

BOOST_FIXTURE_TEST_CASE(as_tuple_of_a_handler_bound_to_another_context, World) {
    std::promise<std::tuple<error_code, std::size_t>> done;
    mmsg::async_recv_mmsg(rx, packets,
                          asio::as_tuple(asio::bind_executor(
                              other, [&](std::tuple<error_code, std::size_t> r) {
                                  done.set_value(r);
                              })));
    feed();
    auto f = done.get_future();
    const auto [ec, n] = get(f);
    BOOST_TEST(!ec);
    BOOST_TEST(n == 1u);
    check_lifetime(true);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sends)

BOOST_FIXTURE_TEST_CASE(use_future_completing_at_once_releases_work_on_the_io_thread, World) {
    std::future<mmsg::SendResult> f = mmsg::async_batch_send(tx, batch, asio::use_future);
    BOOST_TEST(get(f).sent == 4u);
    check_lifetime();
}

BOOST_FIXTURE_TEST_CASE(handler_bound_to_another_context_at_once, World) {
    Done<mmsg::SendResult> done;
    mmsg::async_batch_send(tx, batch, done.handler(other.get_executor()));
    const auto r = get(done.future);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.value.sent == 4u);
    BOOST_TEST(r.on_its_executor);
    check_lifetime();
}

// A loopback send never waits; the mock network makes it wait for writability.
struct MockWorld : World {
    mmsg::MockNetwork net;
    mmsg::MockSocket mtx{asio::any_io_executor(ex), net, mmsg::testing::v4_loopback()};
    mmsg::MockSocket mrx{asio::any_io_executor(ex), net, mmsg::testing::v4_loopback()};
    mmsg::BatchSender<mmsg::MockBackend> sender{mmsg::MockBackend(net)};
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> mock_batch =
        decltype(mock_batch)(4, {data, mrx.local_endpoint()});

    // Closes the mock sockets (their watch posts) before the contexts stop.
    void close_and_check() {
        std::promise<void> closed;
        asio::post(ex, [&] {
            mtx.close();
            mrx.close();
            closed.set_value();
        });
        closed.get_future().wait();
        check_lifetime(true);
    }
};

BOOST_FIXTURE_TEST_CASE(use_future_completing_after_a_wait_releases_work_on_the_io_thread,
                        MockWorld) {
    net.would_block_after(0);
    std::future<mmsg::SendResult> f =
        mmsg::async_batch_send(sender, mtx, mock_batch, asio::use_future);
    net.clear_would_block();
    BOOST_TEST(get(f).sent == 4u);
    close_and_check();
}

BOOST_FIXTURE_TEST_CASE(handler_bound_to_another_context_after_a_wait, MockWorld) {
    net.would_block_after(0);
    Done<mmsg::SendResult> done;
    mmsg::async_batch_send(sender, mtx, mock_batch, done.handler(other.get_executor()));
    net.clear_would_block();
    const auto r = get(done.future);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.value.sent == 4u);
    BOOST_TEST(r.on_its_executor);
    close_and_check();
}

BOOST_AUTO_TEST_SUITE_END()
