// Every completion token works with every asynchronous operation, a program written only
// from DESIGN §6 behaves as written there, and the operations are safe with an io_context
// run by several threads.
#include <mmsg/asio.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include "../support/counting_allocator.hpp"

#define BOOST_TEST_MODULE async_completion_tokens
#include <boost/test/unit_test.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::udp;
using error_code = boost::system::error_code;
using mmsg::testing::bound_socket;
using mmsg::testing::v4_loopback;

namespace {

constexpr auto hang_guard = std::chrono::seconds(60);

struct Pair {
    asio::io_context io;
    udp::socket tx = bound_socket(io, v4_loopback());
    udp::socket rx = bound_socket(io, v4_loopback());
    std::vector<std::byte> data = mmsg::testing::numbered(100, 3000);
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch =
        decltype(batch)(10, {data, rx.local_endpoint()});
    std::vector<mmsg::Endpoint> dests = decltype(dests)(4, rx.local_endpoint());
    std::vector<mmsg::Packet> packets = std::vector<mmsg::Packet>(14);
};

} // namespace

BOOST_AUTO_TEST_SUITE(tokens)

BOOST_FIXTURE_TEST_CASE(callbacks_complete_every_operation, Pair) {
    std::optional<mmsg::SendResult> a, b;
    std::optional<std::size_t> n;
    mmsg::async_batch_send(tx, batch, [&](error_code ec, mmsg::SendResult r) {
        BOOST_TEST(!ec);
        a = r;
    });
    mmsg::async_multi_target_send(tx, data, dests, [&](error_code ec, mmsg::SendResult r) {
        BOOST_TEST(!ec);
        b = r;
    });
    mmsg::async_recv_mmsg_exact(rx, packets, [&](error_code ec, std::size_t got) {
        BOOST_TEST(!ec);
        n = got;
    });
    io.run_for(hang_guard);
    BOOST_REQUIRE(a && b && n);
    BOOST_TEST(a->sent == 10u);
    BOOST_TEST(b->sent == 4u);
    BOOST_TEST(*n == 14u);
}

BOOST_FIXTURE_TEST_CASE(use_awaitable_works_in_a_coroutine, Pair) {
    bool done = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        const mmsg::SendResult r = co_await mmsg::async_batch_send(tx, batch, asio::use_awaitable);
        BOOST_TEST(r.sent == 10u);
        const mmsg::SendResult m =
            co_await mmsg::async_multi_target_send(tx, data, dests, asio::use_awaitable);
        BOOST_TEST(m.sent == 4u);
        const std::size_t n = co_await mmsg::async_recv_mmsg(rx, packets, asio::use_awaitable);
        BOOST_TEST(n >= 1u);
        const std::size_t rest = co_await mmsg::async_recv_mmsg_exact(
            rx, std::span(packets).subspan(n), asio::use_awaitable);
        BOOST_TEST(n + rest == 14u);
        done = true;
    }, asio::detached);
    io.run_for(hang_guard);
    BOOST_TEST(done);
}

BOOST_FIXTURE_TEST_CASE(an_error_becomes_an_exception_with_use_awaitable, Pair) {
    bool threw = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        try {
            co_await mmsg::async_recv_mmsg(rx, packets, asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            threw = e.code() == asio::error::operation_aborted;
        }
    }, asio::detached);
    io.poll();
    rx.cancel();
    io.run_for(hang_guard);
    BOOST_TEST(threw);
}

BOOST_FIXTURE_TEST_CASE(use_future_works_with_the_context_on_another_thread, Pair) {
    auto guard = asio::make_work_guard(io);
    std::thread runner([&] { io.run_for(hang_guard); });
    std::future<mmsg::SendResult> s = mmsg::async_batch_send(tx, batch, asio::use_future);
    std::future<std::size_t> r = mmsg::async_recv_mmsg_exact(rx, std::span(packets).first(10), asio::use_future);
    const bool ready = s.wait_for(hang_guard) == std::future_status::ready &&
                       r.wait_for(hang_guard) == std::future_status::ready;
    guard.reset();
    io.stop();
    runner.join();
    BOOST_REQUIRE(ready);
    BOOST_TEST(s.get().sent == 10u);
    BOOST_TEST(r.get() == 10u);
}

BOOST_FIXTURE_TEST_CASE(deferred_operations_start_only_when_launched, Pair) {
    auto send = mmsg::async_batch_send(tx, batch, asio::deferred);
    auto recv = mmsg::async_recv_mmsg_exact(rx, std::span(packets).first(10), asio::deferred);
    io.poll();
    std::error_code ec;
    mmsg::BatchReceiver<> probe;
    BOOST_TEST(probe.try_recv_mmsg(rx, packets, ec) == 0u); // nothing was sent yet
    std::optional<mmsg::SendResult> s;
    std::optional<std::size_t> n;
    std::move(send)([&](error_code, mmsg::SendResult r) { s = r; });
    std::move(recv)([&](error_code, std::size_t got) { n = got; });
    io.restart();
    io.run_for(hang_guard);
    BOOST_REQUIRE(s && n);
    BOOST_TEST(s->sent == 10u);
    BOOST_TEST(*n == 10u);
}

BOOST_FIXTURE_TEST_CASE(as_tuple_delivers_the_error_and_the_result_together, Pair) {
    bool done = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto [ec, r] = co_await mmsg::async_multi_target_send(tx, data, dests,
                                                              asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec);
        BOOST_TEST(r.sent == 4u);
        auto [ec2, n] = co_await mmsg::async_recv_mmsg_exact(rx, std::span(packets).first(4),
                                                             asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec2);
        BOOST_TEST(n == 4u);
        done = true;
    }, asio::detached);
    // as_tuple with a plain callback and with deferred, too.
    std::optional<std::tuple<error_code, mmsg::SendResult>> t;
    mmsg::async_batch_send(tx, batch, asio::deferred)(asio::as_tuple([&](auto tuple) { t = tuple; }));
    io.run_for(hang_guard);
    BOOST_TEST(done);
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(std::get<1>(*t).sent == 10u);
}

using mmsg::test::CountingAllocator;

BOOST_FIXTURE_TEST_CASE(the_handlers_associated_allocator_and_executor_are_used, Pair) {
    std::size_t allocations = 0;
    auto strand = asio::make_strand(io);
    bool on_strand = false;
    std::optional<std::size_t> n;
    // The receive has to wait (nothing is queued yet): Asio allocates its wait with our
    // allocator, and the handler runs on our strand.
    mmsg::async_recv_mmsg(
        rx, packets,
        asio::bind_executor(strand, asio::bind_allocator(CountingAllocator<void>(&allocations),
                                                         [&](error_code ec, std::size_t got) {
                                                             BOOST_TEST(!ec);
                                                             on_strand = strand.running_in_this_thread();
                                                             n = got;
                                                         })));
    io.poll();
    BOOST_TEST(!n.has_value());
    BOOST_TEST(allocations > 0u);
    mmsg::BatchSender<>().batch_send(tx, batch);
    io.run_for(hang_guard);
    BOOST_REQUIRE(n.has_value());
    BOOST_TEST(*n == 10u);
    BOOST_TEST(on_strand);
}

BOOST_AUTO_TEST_SUITE_END()

// Written only from DESIGN §6: the signatures and the behaviour it states.
BOOST_AUTO_TEST_CASE(a_program_written_from_design_section_6_behaves_as_written) {
    // tag::design[]
    asio::io_context io;
    udp::socket s(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket r(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    const std::string hello = "hello";
    std::vector<std::pair<std::string, mmsg::Endpoint>> packets(3, {hello, r.local_endpoint()});
    std::vector<mmsg::Endpoint> dests{r.local_endpoint(), r.local_endpoint()};
    std::vector<mmsg::Packet> in(5);

    // Callbacks: void(boost::system::error_code, SendResult) / (error_code, std::size_t).
    mmsg::SendResult cb;
    mmsg::async_batch_send(s, packets, [&](boost::system::error_code ec, mmsg::SendResult res) {
        BOOST_TEST(!ec);
        cb = res;
    });
    // Coroutines: use_awaitable.
    std::size_t got = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        mmsg::SendResult m = co_await mmsg::async_multi_target_send(s, hello, dests, asio::use_awaitable);
        BOOST_TEST(m.ok());
        got = co_await mmsg::async_recv_mmsg_exact(r, in, asio::use_awaitable);
    }, asio::detached);
    io.run_for(hang_guard);
    BOOST_TEST(cb.ok());
    BOOST_TEST(cb.sent == 3u);
    BOOST_TEST(got == 5u);
    for (const mmsg::Packet& p : in) {
        BOOST_TEST(std::string(reinterpret_cast<const char*>(p.data().data()), p.meta.size) == hello);
        BOOST_TEST(p.meta.addr == s.local_endpoint());
    }
    // Futures; and a per-datagram failure is in SendResult, not in the error_code.
    const mmsg::Endpoint v6{asio::ip::address_v6::loopback(), 9};
    std::vector<mmsg::Endpoint> mixed{r.local_endpoint(), v6};
    auto guard = asio::make_work_guard(io);
    io.restart();
    std::thread runner([&] { io.run_for(hang_guard); });
    std::future<mmsg::SendResult> f = mmsg::async_multi_target_send(s, hello, mixed, asio::use_future);
    std::future<std::size_t> one = mmsg::async_recv_mmsg(r, in, asio::use_future);
    const bool ready = f.wait_for(hang_guard) == std::future_status::ready &&
                       one.wait_for(hang_guard) == std::future_status::ready;
    guard.reset();
    io.stop();
    runner.join();
    BOOST_REQUIRE(ready);
    const mmsg::SendResult fr = f.get(); // no exception: the operation itself succeeded
    BOOST_TEST(fr.sent == 1u);
    BOOST_TEST(fr.failed == 1u);
    BOOST_TEST(!fr.ok());
    BOOST_TEST((fr.first_error == std::errc::address_family_not_supported));
    BOOST_TEST(one.get() == 1u);
    // end::design[]
}

// Several threads run the context; the sender and the receiver each live on a strand.
BOOST_AUTO_TEST_CASE(operations_on_strands_of_a_multithreaded_context_are_race_free) {
    constexpr std::size_t total = 20'000;
    constexpr std::size_t batch = 32;
    asio::io_context io;
    auto tx_strand = asio::make_strand(io);
    auto rx_strand = asio::make_strand(io);
    udp::socket tx(tx_strand, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket rx(rx_strand, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    mmsg::testing::set_rcvbuf(rx, 32 << 20); // holds all 20 000 small datagrams if need be
    std::size_t received = 0, sent = 0;
    bool in_order = true;
    asio::co_spawn(tx_strand, [&]() -> asio::awaitable<void> {
        std::vector<std::array<std::byte, 8>> payloads(batch);
        std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> b;
        for (auto& p : payloads) b.emplace_back(p, rx.local_endpoint());
        for (std::size_t base = 0; base < total; base += batch) {
            for (std::size_t i = 0; i < batch; ++i) {
                const std::uint64_t index = base + i;
                std::memcpy(payloads[i].data(), &index, sizeof index);
            }
            const mmsg::SendResult r = co_await mmsg::async_batch_send(tx, b, asio::use_awaitable);
            sent += r.sent;
        }
    }, asio::detached);
    asio::co_spawn(rx_strand, [&]() -> asio::awaitable<void> {
        std::vector<mmsg::Packet> packets(mmsg::num_rcvmmsgs);
        while (received < total) {
            auto [ec, n] = co_await mmsg::async_recv_mmsg(rx, packets, asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            for (std::size_t i = 0; i < n; ++i) {
                std::uint64_t index = 0;
                std::memcpy(&index, packets[i].buffer.data(), sizeof index);
                in_order = in_order && index == received;
                ++received;
            }
        }
    }, asio::detached);
    std::thread second([&] { io.run_for(hang_guard); });
    io.run_for(hang_guard);
    second.join();
    BOOST_TEST(sent == total);
    BOOST_TEST(received == total);
    BOOST_TEST(in_order);
}
