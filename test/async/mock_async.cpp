// The asynchronous algorithm on MockBackend + MockSocket: back-pressure, resume, exact
// accounting and cancellation, deterministically (no kernel, no timing); trains resumed
// inside a train, and the coalesced receive.
#include <mmsg/asio.hpp>

#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_socket.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include "../support/counting_allocator.hpp"

#define BOOST_TEST_MODULE async_mock_async
#include <boost/test/unit_test.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

using namespace mmsg;
namespace asio = boost::asio;
using mmsg::testing::v4_loopback;
using mmsg::testing::v6_loopback;
using error_code = boost::system::error_code;

namespace {

// A wait that never completes must fail the test, not hang it.
constexpr auto hang_guard = std::chrono::seconds(30);

struct SendOutcomeSeen {
    error_code ec;
    SendResult r;
};
struct RecvOutcomeSeen {
    error_code ec;
    std::size_t n = 0;
};

struct Fixture {
    // tag::mock_setup[]
    asio::io_context io;
    MockNetwork net;
    BatchSender<MockBackend> sender{MockBackend(net)};     // the algorithm, on the mock
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    MockSocket tx{io.get_executor(), net, v4_loopback()};  // handle + executor + readiness
    MockSocket rx{io.get_executor(), net, v4_loopback()};
    // end::mock_setup[]
    Endpoint rx_ep = rx.local_endpoint();
    std::vector<std::vector<std::byte>> payloads;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    std::optional<SendOutcomeSeen> sent;
    std::optional<RecvOutcomeSeen> got;

    void make_batch(std::size_t n) {
        payloads.clear();
        batch.clear();
        for (std::size_t i = 0; i < n; ++i) payloads.push_back(mmsg::testing::numbered(40, 7000 + static_cast<std::uint32_t>(i)));
        for (auto& p : payloads) batch.emplace_back(p, rx_ep);
    }
    auto on_sent() {
        return [this](error_code ec, SendResult r) { sent = SendOutcomeSeen{ec, r}; };
    }
    auto on_got() {
        return [this](error_code ec, std::size_t n) { got = RecvOutcomeSeen{ec, n}; };
    }
    // The payload index carried by a received packet (see test::payload).
    bool matches(const Packet& p, std::size_t index) const {
        const auto want = mmsg::testing::numbered(40, 7000 + static_cast<std::uint32_t>(index));
        return p.meta.size == want.size() &&
               std::equal(want.begin(), want.end(), p.data().begin());
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(back_pressure)

BOOST_FIXTURE_TEST_CASE(would_block_mid_batch_waits_for_writability_then_resumes_exactly, Fixture) {
    make_batch(100);
    // tag::mock_back_pressure[]
    net.would_block_after(30);
    async_batch_send(sender, tx, batch, on_sent());
    io.poll();
    // One round moved 30 and stopped; the operation now waits: no busy loop, no completion.
    BOOST_TEST(!sent.has_value());
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(net.queued(rx.native_handle()) == 30u);
    io.poll();
    BOOST_TEST(net.calls() == 1u);

    net.clear_would_block(); // the socket "becomes writable": the operation resumes
    io.run_for(hang_guard);
    // end::mock_back_pressure[]
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(!sent->ec);
    BOOST_TEST(sent->r.ok());
    BOOST_TEST(sent->r.sent == 100u);
    BOOST_TEST(sent->r.unsent == 0u);
    BOOST_TEST(net.calls() == 2u);
    BOOST_TEST(net.queued(rx.native_handle()) == 100u);

    std::vector<Packet> packets(100);
    BOOST_TEST(receiver.recv_mmsg_exact(rx.native_handle(), packets) == 100u);
    for (std::size_t i = 0; i < packets.size(); ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_FIXTURE_TEST_CASE(failures_before_and_after_back_pressure_are_merged_exactly, Fixture) {
    make_batch(50);
    const Endpoint lost = v4_loopback(9);
    net.unreachable(lost);
    batch[3].second = lost;  // fails in the first round
    batch[40].second = lost; // fails in the second round
    net.would_block_after(20);
    async_batch_send(sender, tx, batch, on_sent());
    io.poll();
    BOOST_TEST(!sent.has_value());
    net.would_block_after(10); // ready again, but only for 10 more: a third round is needed
    io.poll();
    BOOST_TEST(!sent.has_value());
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(!sent->ec);
    BOOST_TEST(sent->r.sent == 48u);
    BOOST_TEST(sent->r.failed == 2u);
    BOOST_TEST(sent->r.unsent == 0u);
    BOOST_TEST((sent->r.first_error == std::errc::network_unreachable));
    BOOST_TEST(!sent->r.fatal);
    BOOST_TEST(net.queued(rx.native_handle()) == 48u);
}

BOOST_FIXTURE_TEST_CASE(multi_target_send_resumes_after_back_pressure, Fixture) {
    const std::vector<std::byte> payload = mmsg::testing::numbered(40, 7000);
    std::vector<Endpoint> dests(10, rx_ep);
    net.would_block_after(4);
    async_multi_target_send(sender, tx, payload, dests, on_sent());
    io.poll();
    BOOST_TEST(!sent.has_value());
    BOOST_TEST(net.queued(rx.native_handle()) == 4u);
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->r.sent == 10u);
    BOOST_TEST(sent->r.ok());
    BOOST_TEST(net.queued(rx.native_handle()) == 10u);
}

BOOST_FIXTURE_TEST_CASE(a_batch_in_a_non_contiguous_container_resumes_at_the_right_element, Fixture) {
    make_batch(12);
    const std::list<std::pair<std::span<const std::byte>, Endpoint>> listed(batch.begin(), batch.end());
    net.would_block_after(5);
    async_batch_send(sender, tx, listed, on_sent());
    io.poll();
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->r.sent == 12u);
    std::vector<Packet> packets(12);
    BOOST_TEST(receiver.recv_mmsg_exact(rx.native_handle(), packets) == 12u);
    for (std::size_t i = 0; i < packets.size(); ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_FIXTURE_TEST_CASE(an_interrupted_round_is_retried_and_never_counted, Fixture) {
    make_batch(8);
    net.interrupt_next(2);
    async_batch_send(sender, tx, batch, on_sent());
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->r.ok());
    BOOST_TEST(sent->r.sent == 8u);
}

BOOST_FIXTURE_TEST_CASE(a_closed_socket_completes_with_the_fatal_error_and_all_failed, Fixture) {
    make_batch(5);
    const int h = tx.native_handle();
    net.close(h); // behind the MockSocket's back: the handle is now unknown -> EBADF
    async_batch_send(sender, tx, batch, on_sent());
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST((sent->ec == asio::error::bad_descriptor));
    BOOST_TEST(sent->r.fatal);
    BOOST_TEST(sent->r.failed == 5u);
    BOOST_TEST(sent->r.unsent == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(unreachable)

// The seeds' five patterns of unreachable destinations (plus a single one), on the mock.
BOOST_FIXTURE_TEST_CASE(every_unreachable_pattern_counts_exactly_the_unreachable_ones, Fixture) {
    const Endpoint bad = v6_loopback(9);
    net.unreachable(bad, std::make_error_code(std::errc::host_unreachable));
    const std::vector<std::byte> payload(16, std::byte{1});
    const std::vector<std::vector<bool>> patterns = {
        {false},                    // a single unreachable destination
        {false, false, false},      // all unreachable
        {true, false, true},        // the middle one
        {true, false, false},       // the last two
        {false, true, true},        // the first
        {false, true, false},       // the first and the last
    };
    for (const auto& pattern : patterns) {
        std::vector<Endpoint> dests;
        std::size_t good = 0;
        for (bool reachable : pattern) {
            dests.push_back(reachable ? rx_ep : bad);
            good += reachable;
        }
        sent.reset();
        net.would_block_after(1); // and a wait in the middle of every pattern
        async_multi_target_send(sender, tx, payload, dests, on_sent());
        io.restart();
        io.poll();
        net.clear_would_block();
        io.restart();
        io.run_for(hang_guard);
        BOOST_REQUIRE(sent.has_value());
        BOOST_TEST(!sent->ec);
        BOOST_TEST(sent->r.sent == good);
        BOOST_TEST(sent->r.failed == pattern.size() - good);
        BOOST_TEST(sent->r.unsent == 0u);
        BOOST_TEST((sent->r.first_error == std::errc::host_unreachable));
    }
    BOOST_TEST(net.queued(rx.native_handle()) == 6u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cancellation)

BOOST_FIXTURE_TEST_CASE(socket_cancel_stops_a_back_pressured_send_and_reports_the_rest_unsent, Fixture) {
    make_batch(100);
    net.would_block_after(30);
    async_batch_send(sender, tx, batch, on_sent());
    io.poll();
    BOOST_TEST(!sent.has_value());
    tx.cancel();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST((sent->ec == asio::error::operation_aborted));
    BOOST_TEST(sent->r.sent == 30u);
    BOOST_TEST(sent->r.unsent == 70u);
    BOOST_TEST(sent->r.resume_index() == 30u);
    BOOST_TEST(net.queued(rx.native_handle()) == 30u);
    // Nothing was attempted after the cancellation.
    net.clear_would_block();
    BOOST_TEST(net.calls() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_partial_cancellation_slot_stops_a_back_pressured_send, Fixture) {
    make_batch(10);
    net.would_block_after(4);
    // tag::cancel_slot[]
    asio::cancellation_signal signal;
    async_batch_send(sender, tx, batch, asio::bind_cancellation_slot(signal.slot(), on_sent()));
    io.poll();
    BOOST_TEST(!sent.has_value());
    signal.emit(asio::cancellation_type::partial);
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST((sent->ec == asio::error::operation_aborted));
    BOOST_TEST(sent->r.sent == 4u);   // these went
    BOOST_TEST(sent->r.unsent == 6u); // these were never attempted: resume from index 4
    // end::cancel_slot[]
    BOOST_TEST(net.queued(rx.native_handle()) == 4u);
}

BOOST_FIXTURE_TEST_CASE(total_cancellation_is_not_honoured_by_a_send_that_has_sent_some, Fixture) {
    // Total cancellation promises "no side effects"; a send that moved datagrams cannot.
    make_batch(10);
    net.would_block_after(4);
    asio::cancellation_signal signal;
    async_batch_send(sender, tx, batch, asio::bind_cancellation_slot(signal.slot(), on_sent()));
    io.poll();
    signal.emit(asio::cancellation_type::total);
    io.poll();
    BOOST_TEST(!sent.has_value());
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(!sent->ec);
    BOOST_TEST(sent->r.sent == 10u);
}

BOOST_FIXTURE_TEST_CASE(close_stops_a_back_pressured_send, Fixture) {
    make_batch(10);
    net.would_block_after(4);
    async_batch_send(sender, tx, batch, on_sent());
    io.poll();
    tx.close();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST((sent->ec == asio::error::operation_aborted));
    BOOST_TEST(sent->r.sent == 4u);
    BOOST_TEST(sent->r.unsent == 6u);
}

BOOST_FIXTURE_TEST_CASE(cancelling_a_pending_receive_consumes_nothing, Fixture) {
    std::vector<Packet> packets(8);
    async_recv_mmsg(receiver, rx, packets, on_got());
    io.poll();
    BOOST_TEST(!got.has_value());
    rx.cancel();
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST((got->ec == asio::error::operation_aborted));
    BOOST_TEST(got->n == 0u);

    // Total cancellation through a slot, then the data is still there for the next receive.
    asio::cancellation_signal signal;
    got.reset();
    async_recv_mmsg(receiver, rx, packets, asio::bind_cancellation_slot(signal.slot(), on_got()));
    io.restart();
    io.poll();
    signal.emit(asio::cancellation_type::total);
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST((got->ec == asio::error::operation_aborted));
    const auto data = mmsg::testing::numbered(40, 7000);
    net.inject(rx.native_handle(), v4_loopback(5), data);
    BOOST_TEST(net.queued(rx.native_handle()) == 1u);
    got.reset();
    async_recv_mmsg(receiver, rx, packets, on_got());
    io.restart();
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!got->ec);
    BOOST_TEST(got->n == 1u);
    BOOST_TEST(matches(packets[0], 0));
}

BOOST_FIXTURE_TEST_CASE(cancelling_an_exact_receive_reports_what_was_filled, Fixture) {
    std::vector<Packet> packets(10);
    for (std::uint32_t i = 0; i < 3; ++i) net.inject(rx.native_handle(), v4_loopback(5), mmsg::testing::numbered(40, 7000 + i));
    asio::cancellation_signal signal;
    async_recv_mmsg_exact(receiver, rx, packets, asio::bind_cancellation_slot(signal.slot(), on_got()));
    io.poll();
    BOOST_TEST(!got.has_value());
    signal.emit(asio::cancellation_type::terminal);
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST((got->ec == asio::error::operation_aborted));
    BOOST_TEST(got->n == 3u);
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(receive)

BOOST_FIXTURE_TEST_CASE(a_receive_waits_until_data_arrives_then_takes_all_queued, Fixture) {
    std::vector<Packet> packets(16);
    async_recv_mmsg(receiver, rx, packets, on_got());
    io.poll();
    BOOST_TEST(!got.has_value());
    const std::size_t calls = net.calls();
    io.poll();
    BOOST_TEST(net.calls() == calls); // waiting, not polling

    make_batch(5);
    BOOST_TEST(sender.batch_send(tx.native_handle(), batch).ok());
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!got->ec);
    BOOST_TEST(got->n == 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        BOOST_TEST(matches(packets[i], i));
        BOOST_TEST(packets[i].meta.addr == tx.local_endpoint());
    }
}

BOOST_FIXTURE_TEST_CASE(an_exact_receive_fills_over_several_arrivals, Fixture) {
    std::vector<Packet> packets(150); // more than num_rcvmmsgs: several calls even when queued
    async_recv_mmsg_exact(receiver, rx, packets, on_got());
    make_batch(150);
    std::span<const std::pair<std::span<const std::byte>, Endpoint>> all(batch);
    for (std::size_t from = 0; from < 150; from += 50) {
        io.poll();
        BOOST_TEST(!got.has_value());
        BOOST_TEST(sender.batch_send(tx.native_handle(), all.subspan(from, 50)).ok());
    }
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!got->ec);
    BOOST_TEST(got->n == 150u);
    for (std::size_t i = 0; i < 150; ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_FIXTURE_TEST_CASE(a_send_and_a_receive_wait_for_each_other_on_one_context, Fixture) {
    make_batch(300);
    net.would_block_after(70);
    net.limit_per_call(25);
    std::vector<Packet> packets(300);
    async_recv_mmsg_exact(receiver, rx, packets, on_got());
    async_batch_send(sender, tx, batch, on_sent());
    io.poll();
    BOOST_TEST(!sent.has_value());
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(sent->r.sent == 300u);
    BOOST_TEST(got->n == 300u);
    for (std::size_t i = 0; i < 300; ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(non_blocking_api)

// The resume contract of the try_ forms, the way any event loop would drive them.
BOOST_FIXTURE_TEST_CASE(try_batch_send_resumed_from_resume_index_sends_each_datagram_once, Fixture) {
    make_batch(40);
    net.would_block_after(15);
    std::span<const std::pair<std::span<const std::byte>, Endpoint>> rest(batch);
    SendResult total;
    std::size_t rounds = 0;
    while (!rest.empty()) {
        const SendResult r = sender.try_batch_send(tx.native_handle(), rest);
        BOOST_TEST(r.total() == rest.size());
        total.sent += r.sent;
        total.failed += r.failed;
        rest = rest.subspan(r.resume_index());
        if (r.unsent > 0) {
            BOOST_TEST(!net.writable(tx.native_handle()));
            net.would_block_after(15); // "the socket became writable"
        }
        BOOST_REQUIRE(++rounds <= 3u);
    }
    BOOST_TEST(total.sent == 40u);
    BOOST_TEST(net.queued(rx.native_handle()) == 40u);
    std::vector<Packet> packets(40);
    BOOST_TEST(receiver.recv_mmsg_exact(rx.native_handle(), packets) == 40u);
    for (std::size_t i = 0; i < 40; ++i) BOOST_TEST(matches(packets[i], i));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(associations)

using mmsg::test::CountingAllocator;

BOOST_FIXTURE_TEST_CASE(the_handlers_associated_allocator_is_used, Fixture) {
    make_batch(10);
    net.would_block_after(4); // a wait and a resume, and then the completion
    std::size_t allocations = 0;
    async_batch_send(sender, tx, batch,
                     asio::bind_allocator(CountingAllocator<void>(&allocations), on_sent()));
    io.poll();
    net.clear_would_block();
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->r.sent == 10u);
    BOOST_TEST(allocations > 0u);
}

// Sender and receiver on strands of a context run by two threads, while a third thread
// keeps toggling back-pressure: readiness notifications cross threads (run under TSan).
BOOST_AUTO_TEST_CASE(mock_operations_on_a_multithreaded_context_are_race_free) {
    constexpr std::size_t total = 5000;
    asio::io_context io;
    MockNetwork net;
    auto tx_strand = asio::make_strand(io);
    auto rx_strand = asio::make_strand(io);
    MockSocket tx{tx_strand, net, v4_loopback()};
    MockSocket rx{rx_strand, net, v4_loopback()};
    BatchSender<MockBackend> sender{MockBackend(net)};
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    net.limit_per_call(7);
    std::vector<std::array<std::byte, 8>> payloads(total);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    for (std::uint64_t i = 0; i < total; ++i) {
        std::memcpy(payloads[i].data(), &i, sizeof i);
        batch.emplace_back(payloads[i], rx.local_endpoint());
    }
    std::vector<Packet> packets(total);
    std::optional<SendOutcomeSeen> sent;
    std::optional<RecvOutcomeSeen> got;
    net.would_block_after(100);
    asio::post(tx_strand, [&] {
        async_batch_send(sender, tx, batch, [&](error_code ec, SendResult r) { sent = SendOutcomeSeen{ec, r}; });
    });
    asio::post(rx_strand, [&] {
        async_recv_mmsg_exact(receiver, rx, packets, [&](error_code ec, std::size_t n) { got = RecvOutcomeSeen{ec, n}; });
    });
    std::thread toggler([&] {
        for (int i = 0; i < 2000; ++i) net.would_block_after(25);
        net.clear_would_block();
    });
    std::thread second([&] { io.run_for(hang_guard); });
    io.run_for(hang_guard);
    second.join();
    toggler.join();
    BOOST_REQUIRE(sent.has_value());
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!sent->ec);
    BOOST_TEST(sent->r.sent == total);
    BOOST_TEST(sent->r.unsent == 0u);
    BOOST_TEST(got->n == total);
    bool in_order = true;
    for (std::uint64_t i = 0; i < total; ++i) {
        std::uint64_t index = 0;
        std::memcpy(&index, packets[i].buffer.data(), sizeof index);
        in_order = in_order && index == i && packets[i].meta.size == sizeof index;
    }
    BOOST_TEST(in_order);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trains)

// 40 numbered datagrams of 40 bytes (as make_batch's) in one buffer, as trains of 10, 25 and 5.
struct TrainFixture : Fixture {
    std::vector<std::byte> buffer;
    std::vector<SendTrain> trains;
    TrainFixture() {
        for (std::uint32_t i = 0; i < 40; ++i) {
            const auto d = mmsg::testing::numbered(40, 7000 + i);
            buffer.insert(buffer.end(), d.begin(), d.end());
        }
        const std::span<const std::byte> all(buffer);
        trains = {{all.subspan(0, 400), 40, &rx_ep, nullptr},
                  {all.subspan(400, 1000), 40, &rx_ep, nullptr},
                  {all.subspan(1400, 200), 40, &rx_ep, nullptr}};
    }
    void check_all_arrived_in_order() {
        std::vector<Packet> packets(40);
        BOOST_TEST(receiver.recv_mmsg_exact(rx.native_handle(), packets) == 40u);
        for (std::size_t i = 0; i < packets.size(); ++i) BOOST_TEST(matches(packets[i], i));
    }
    // Sends the trains through `s` with a would-block budget of `budget`: the operation
    // waits with `queued` datagrams out, then finishes once the socket takes the rest.
    // Returns the network's call count when the send finished.
    template <class Sender>
    std::size_t send_through_back_pressure(Sender& s, std::size_t budget, std::size_t queued) {
        net.would_block_after(budget);
        async_send_trains(s, tx, trains, on_sent());
        io.poll();
        BOOST_TEST(!sent.has_value());
        BOOST_TEST(net.queued(rx.native_handle()) == queued);
        net.clear_would_block();
        io.run_for(hang_guard);
        BOOST_REQUIRE(sent.has_value());
        BOOST_TEST(!sent->ec);
        BOOST_TEST(sent->r.sent == 40u);
        BOOST_TEST(sent->r.unsent == 0u);
        const std::size_t calls = net.calls();
        check_all_arrived_in_order();
        return calls;
    }
};

BOOST_FIXTURE_TEST_CASE(trains_resume_inside_a_train_after_back_pressure, TrainFixture) {
    // 10 of the first train and 7 of the second, then the rest in a second call.
    BOOST_TEST(send_through_back_pressure(sender, 17, 17) == 2u);
}

// With LinuxGsoBackend's code on the mock: the trains go whole (as UDP_SEGMENT messages).
// A train that starts within the budget goes whole, as the kernel takes a whole message
// while its send buffer has room: the first (10) and the second (25) go, the third (5)
// waits until the socket is writable again.
BOOST_FIXTURE_TEST_CASE(trains_taken_whole_are_sent_once_the_socket_is_writable, TrainFixture) {
    BatchSender<MockGsoBackend> gso{MockGsoBackend(MockGsoOps(net))};
    send_through_back_pressure(gso, 17, 35);
    BOOST_TEST(net.trains_sent() == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_train_tail_starts_at_any_datagram, TrainFixture) {
    // What a round after back-pressure sends: the datagrams from `from` on, as trains.
    for (std::size_t from : {0u, 9u, 10u, 11u, 34u, 35u, 39u, 40u}) {
        std::size_t n = 0, first = 0;
        bool first_seen = false;
        for (const SendTrain t : detail::train_tail(trains, from)) {
            if (!first_seen) first = mmsg::testing::number_of(t.datagram(0)) - 7000u;
            first_seen = true;
            n += t.datagrams();
        }
        BOOST_TEST(n == 40u - from, "from " << from);
        if (from < 40) BOOST_TEST(first == from, "from " << from);
    }
}

BOOST_FIXTURE_TEST_CASE(a_coalesced_receive_waits_then_gives_each_datagram_whole, Fixture) {
    std::vector<BasicCoalescedPacket<64>> packets(8);
    async_recv_coalesced(receiver, rx, packets, on_got());
    io.poll();
    BOOST_TEST(!got.has_value());
    make_batch(5);
    BOOST_TEST(sender.batch_send(tx.native_handle(), batch).ok());
    io.run_for(hang_guard);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!got->ec);
    BOOST_TEST(got->n == 5u); // the mock never coalesces: one datagram per packet
    for (std::size_t i = 0; i < 5; ++i) BOOST_TEST(packets[i].segment_size == 40u);
}

BOOST_AUTO_TEST_SUITE_END()
