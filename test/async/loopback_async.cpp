// The asynchronous layer on real loopback sockets (DefaultBackend): the seeds' nonblocking
// send and receive test lists, and a concurrent sender and receiver moving 100 000
// datagrams on one io_context; trains with LinuxGsoBackend, received whole.
#include <mmsg/asio.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE async_loopback_async
#include <boost/test/unit_test.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

using namespace mmsg;
namespace asio = boost::asio;
using asio::ip::udp;
using error_code = boost::system::error_code;
using mmsg::testing::bound_socket;
using mmsg::testing::v4_loopback;
using mmsg::testing::v6_loopback;

namespace {

// No test may hang: every io_context runs for at most this long, and the test then checks
// that the operations completed.
constexpr auto hang_guard = std::chrono::seconds(60);

struct Sent {
    error_code ec;
    SendResult r;
};
struct Got {
    error_code ec;
    std::size_t n = 0;
};

using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

std::optional<Sent> send_now(asio::io_context& io, udp::socket& s, const Batch& b) {
    std::optional<Sent> out;
    async_batch_send(s, b, [&](error_code ec, SendResult r) { out = Sent{ec, r}; });
    io.restart();
    io.run_for(hang_guard);
    return out;
}

template <class Packets>
std::optional<Got> recv_now(asio::io_context& io, udp::socket& s, Packets& p, bool exact) {
    std::optional<Got> out;
    auto h = [&](error_code ec, std::size_t n) { out = Got{ec, n}; };
    if (exact) async_recv_mmsg_exact(s, p, h);
    else async_recv_mmsg(s, p, h);
    io.restart();
    io.run_for(hang_guard);
    return out;
}

template <class P> // a Packet, or a packet of a block
bool has_payload(const P& p, std::uint32_t tag, std::uint32_t index, std::size_t size) {
    const auto want = mmsg::testing::numbered(size, tag * 1000 + index);
    return p.meta.size == size && std::equal(want.begin(), want.end(), p.data().begin());
}

struct Loopback {
    asio::io_context io;
    udp::socket tx = bound_socket(io, v4_loopback());
    udp::socket rx = bound_socket(io, v4_loopback());
    Endpoint rx_ep = rx.local_endpoint();
    std::vector<std::vector<std::byte>> payloads;

    Batch batch_to(const std::vector<Endpoint>& dests, std::uint32_t tag, std::size_t size = 64) {
        payloads.clear();
        for (std::size_t i = 0; i < dests.size(); ++i)
            payloads.push_back(mmsg::testing::numbered(size, tag * 1000 + static_cast<std::uint32_t>(i)));
        Batch b;
        for (std::size_t i = 0; i < dests.size(); ++i) b.emplace_back(payloads[i], dests[i]);
        return b;
    }
};

// tag::poll_loop[]
// The non-blocking API driven by another event loop (here plain poll(2)): each try_ call
// makes progress without waiting; when the socket is full the rest is `unsent`, and the
// next call starts at resume_index() once the socket is writable again.
template <class Packets>
mmsg::SendResult send_all_with_poll(int fd, const Packets& packets) {
    mmsg::BatchSender<> sender;
    mmsg::SendResult total;
    std::span<const typename Packets::value_type> rest(packets);
    for (;;) {
        const mmsg::SendResult r = sender.try_batch_send(fd, rest);
        total.sent += r.sent;
        total.failed += r.failed;
        if (!total.first_error) total.first_error = r.first_error;
        if (r.fatal || r.unsent == 0) {
            total.fatal = r.fatal;
            return total;
        }
        rest = rest.subspan(r.resume_index()); // [sent + failed, size) were not attempted
        pollfd p{fd, POLLOUT, 0}; // wait until writable (your event loop does this part)
        if (::poll(&p, 1, 10'000) != 1) {
            total.unsent = rest.size(); // still full after 10 s: give up, report the rest
            return total;
        }
    }
}
// end::poll_loop[]

} // namespace

BOOST_AUTO_TEST_SUITE(sending)

BOOST_FIXTURE_TEST_CASE(a_batch_to_one_destination_arrives_whole_and_in_order, Loopback) {
    const Batch b = batch_to(std::vector<Endpoint>(32, rx_ep), 1);
    const auto s = send_now(io, tx, b);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(!s->ec);
    BOOST_TEST(s->r.ok());
    BOOST_TEST(s->r.sent == 32u);
    std::vector<Packet> packets(32);
    const auto g = recv_now(io, rx, packets, true);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->n == 32u);
    for (std::uint32_t i = 0; i < 32; ++i) {
        BOOST_TEST(has_payload(packets[i], 1, i, 64));
        BOOST_TEST(packets[i].meta.addr == tx.local_endpoint());
    }
}

BOOST_FIXTURE_TEST_CASE(a_batch_to_two_destinations_reaches_each, Loopback) {
    udp::socket rx2 = bound_socket(io, v4_loopback());
    std::vector<Endpoint> dests;
    for (int i = 0; i < 20; ++i) dests.push_back(i % 2 ? rx2.local_endpoint() : rx_ep);
    const Batch b = batch_to(dests, 2);
    const auto s = send_now(io, tx, b);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(s->r.sent == 20u);
    std::vector<Packet> p1(10), p2(10);
    BOOST_TEST(recv_now(io, rx, p1, true)->n == 10u);
    BOOST_TEST(recv_now(io, rx2, p2, true)->n == 10u);
    for (std::uint32_t i = 0; i < 10; ++i) {
        BOOST_TEST(has_payload(p1[i], 2, 2 * i, 64));
        BOOST_TEST(has_payload(p2[i], 2, 2 * i + 1, 64));
    }
}

BOOST_FIXTURE_TEST_CASE(an_empty_payload_multicast_reaches_four_receivers, Loopback) {
    std::vector<udp::socket> readers;
    std::vector<Endpoint> dests;
    for (int i = 0; i < 4; ++i) {
        readers.push_back(bound_socket(io, v4_loopback()));
        dests.push_back(readers.back().local_endpoint());
    }
    const std::vector<std::byte> empty;
    std::optional<Sent> s;
    async_multi_target_send(tx, empty, dests, [&](error_code ec, SendResult r) { s = Sent{ec, r}; });
    io.run_for(hang_guard);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(s->r.sent == 4u);
    BOOST_TEST(s->r.ok());
    for (auto& r : readers) {
        std::array<Packet, 4> p;
        p[0].meta.size = 99;
        const auto g = recv_now(io, r, p, false);
        BOOST_REQUIRE(g.has_value());
        BOOST_TEST(g->n == 1u);
        BOOST_TEST(p[0].meta.size == 0u);
        BOOST_TEST(p[0].meta.addr == tx.local_endpoint());
    }
}

BOOST_FIXTURE_TEST_CASE(an_ipv6_destination_on_an_ipv4_socket_fails_alone, Loopback) {
    // The seeds' "mismatched bind": the sender is bound to IPv4; one destination is IPv6.
    udp::socket rx6 = bound_socket(io, v6_loopback());
    const Batch b = batch_to({rx_ep, rx6.local_endpoint(), rx_ep}, 3);
    const auto s = send_now(io, tx, b);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(!s->ec);
    BOOST_TEST(s->r.sent == 2u);
    BOOST_TEST(s->r.failed == 1u);
    BOOST_TEST((s->r.first_error == std::errc::address_family_not_supported));
    std::vector<Packet> p(2);
    BOOST_TEST(recv_now(io, rx, p, true)->n == 2u);
    BOOST_TEST(has_payload(p[0], 3, 0, 64));
    BOOST_TEST(has_payload(p[1], 3, 2, 64));
}

// The seeds' unreachable patterns, with destinations the kernel rejects locally:
// broadcast without SO_BROADCAST (EACCES) and IPv6 on an IPv4 socket (EAFNOSUPPORT).
BOOST_FIXTURE_TEST_CASE(every_unreachable_pattern_counts_exactly_the_rejected_ones, Loopback) {
    const std::vector<std::vector<bool>> patterns = {
        {false}, {false, false, false}, {true, false, true},
        {true, false, false}, {false, true, true}, {false, true, false},
    };
    const std::vector<std::pair<Endpoint, std::errc>> rejected = {
        {mmsg::testing::broadcast(), std::errc::permission_denied},
        {v6_loopback(9), std::errc::address_family_not_supported},
    };
    std::size_t expected_arrivals = 0;
    for (const auto& [bad, why] : rejected) {
        for (const auto& pattern : patterns) {
            std::vector<Endpoint> dests;
            std::size_t good = 0;
            for (bool ok : pattern) {
                dests.push_back(ok ? rx_ep : bad);
                good += ok;
            }
            const std::vector<std::byte> payload(8, std::byte{5});
            std::optional<Sent> s;
            async_multi_target_send(tx, payload, dests, [&](error_code ec, SendResult r) { s = Sent{ec, r}; });
            io.restart();
            io.run_for(hang_guard);
            BOOST_REQUIRE(s.has_value());
            BOOST_TEST(!s->ec);
            BOOST_TEST(!s->r.fatal);
            BOOST_TEST(s->r.sent == good);
            BOOST_TEST(s->r.failed == pattern.size() - good);
            BOOST_TEST(s->r.unsent == 0u);
            BOOST_TEST((s->r.first_error == why));
            expected_arrivals += good;
        }
    }
    std::vector<Packet> p(expected_arrivals);
    const auto g = recv_now(io, rx, p, true);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->n == expected_arrivals);
}

BOOST_FIXTURE_TEST_CASE(a_send_on_a_non_socket_completes_with_the_socket_error, Loopback) {
    mmsg::testing::DevNull null;
    udp::socket fake(io);
    fake.assign(udp::v4(), ::dup(null.fd));
    const Batch b = batch_to({rx_ep, rx_ep}, 4);
    const auto s = send_now(io, fake, b);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST((s->ec == std::errc::not_a_socket));
    BOOST_TEST(s->r.fatal);
    BOOST_TEST(s->r.failed == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(receiving)

BOOST_FIXTURE_TEST_CASE(one_receive_takes_every_queued_datagram, Loopback) {
    const Batch b = batch_to(std::vector<Endpoint>(32, rx_ep), 5);
    BOOST_TEST(mmsg::batch_send(tx, b).ok()); // all queued before the receive starts
    std::vector<Packet> p(64);
    const auto g = recv_now(io, rx, p, false);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(!g->ec);
    BOOST_TEST(g->n == 32u);
    for (std::uint32_t i = 0; i < 32; ++i) BOOST_TEST(has_payload(p[i], 5, i, 64));
}

BOOST_FIXTURE_TEST_CASE(an_exact_receive_takes_several_iterations_beyond_num_rcvmmsgs, Loopback) {
    const std::size_t n = num_rcvmmsgs * 3 + 7;
    const Batch b = batch_to(std::vector<Endpoint>(n, rx_ep), 6);
    BOOST_TEST(mmsg::batch_send(tx, b).ok());
    std::vector<Packet> p(n);
    const auto g = recv_now(io, rx, p, true);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->n == n);
    for (std::uint32_t i = 0; i < n; ++i) BOOST_TEST(has_payload(p[i], 6, i, 64));
}

BOOST_FIXTURE_TEST_CASE(an_exact_receive_then_a_plain_one_takes_the_rest_without_hanging, Loopback) {
    const Batch b = batch_to(std::vector<Endpoint>(80, rx_ep), 7);
    BOOST_TEST(mmsg::batch_send(tx, b).ok());
    std::vector<Packet> p(70);
    BOOST_TEST(recv_now(io, rx, p, true)->n == 70u);
    std::vector<Packet> rest(64);
    const auto g = recv_now(io, rx, rest, false);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->n == 10u);
    for (std::uint32_t i = 0; i < 10; ++i) BOOST_TEST(has_payload(rest[i], 7, 70 + i, 64));
}

BOOST_FIXTURE_TEST_CASE(a_packet_block_and_a_view_of_one_are_received_into_asynchronously, Loopback) {
    const Batch b = batch_to(std::vector<Endpoint>(80, rx_ep), 9);
    BOOST_TEST(mmsg::batch_send(tx, b).ok());
    PacketBlock block(70);
    const auto g = recv_now(io, rx, block, true);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(!g->ec);
    BOOST_TEST(g->n == 70u);
    for (std::uint32_t i = 0; i < 70; ++i) BOOST_TEST(has_payload(block[i], 9, i, 64));
    // A view is passed by value: it refers to the block, which outlives the operation.
    std::optional<Got> rest;
    async_recv_mmsg(rx, block.view().first(16), [&](error_code ec, std::size_t n) { rest = Got{ec, n}; });
    io.restart();
    io.run_for(hang_guard);
    BOOST_REQUIRE(rest.has_value());
    BOOST_TEST(rest->n == 10u);
    for (std::uint32_t i = 0; i < 10; ++i) BOOST_TEST(has_payload(block[i], 9, 70 + i, 64));
}

BOOST_FIXTURE_TEST_CASE(datagrams_of_two_senders_keep_each_senders_order, Loopback) {
    udp::socket tx2 = bound_socket(io, v4_loopback());
    const Batch b1 = batch_to(std::vector<Endpoint>(20, rx_ep), 8);
    const auto keep = payloads;
    BOOST_TEST(mmsg::batch_send(tx, b1).ok());
    const Batch b2 = batch_to(std::vector<Endpoint>(20, rx_ep), 9);
    BOOST_TEST(mmsg::batch_send(tx2, b2).ok());
    std::vector<Packet> p(40);
    BOOST_TEST(recv_now(io, rx, p, true)->n == 40u);
    std::uint32_t next1 = 0, next2 = 0;
    for (const Packet& pk : p) {
        if (pk.meta.addr == tx.local_endpoint()) BOOST_TEST(has_payload(pk, 8, next1++, 64));
        else if (pk.meta.addr == tx2.local_endpoint()) BOOST_TEST(has_payload(pk, 9, next2++, 64));
        else BOOST_FAIL("a datagram from an unknown source");
    }
    BOOST_TEST(next1 == 20u);
    BOOST_TEST(next2 == 20u);
}

BOOST_FIXTURE_TEST_CASE(a_pending_receive_is_cancelled_by_socket_cancel, Loopback) {
    std::vector<Packet> p(8);
    std::optional<Got> g;
    async_recv_mmsg(rx, p, [&](error_code ec, std::size_t n) { g = Got{ec, n}; });
    io.poll();
    BOOST_TEST(!g.has_value());
    rx.cancel();
    io.run_for(hang_guard);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST((g->ec == asio::error::operation_aborted));
    BOOST_TEST(g->n == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_pending_exact_receive_reports_its_progress_on_close, Loopback) {
    const Batch b = batch_to(std::vector<Endpoint>(5, rx_ep), 10);
    BOOST_TEST(mmsg::batch_send(tx, b).ok());
    std::vector<Packet> p(8);
    std::optional<Got> g;
    async_recv_mmsg_exact(rx, p, [&](error_code ec, std::size_t n) { g = Got{ec, n}; });
    io.poll();
    BOOST_TEST(!g.has_value());
    rx.close();
    io.run_for(hang_guard);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST((g->ec == asio::error::operation_aborted));
    BOOST_TEST(g->n == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(non_blocking_api)

// try_ forms on a *blocking* socket: they must return at once. A watchdog thread unblocks
// the socket (by sending it a datagram) if a call has not returned after 10 s; the test
// fails if it had to.
BOOST_FIXTURE_TEST_CASE(try_forms_never_block_a_blocking_socket, Loopback) {
    udp::socket blocking = bound_socket(io, v4_loopback(), std::chrono::milliseconds(0));
    BOOST_REQUIRE(!blocking.non_blocking());
    std::mutex mu;
    std::condition_variable cv;
    bool returned = false, watchdog_fired = false;
    std::thread watchdog([&] {
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return returned; })) {
            watchdog_fired = true;
            const std::byte one{1};
            ::sendto(tx.native_handle(), &one, 1, 0, blocking.local_endpoint().data(),
                     blocking.local_endpoint().size());
        }
    });
    BatchReceiver<> receiver;
    std::vector<Packet> p(8);
    std::error_code ec;
    const std::size_t n = receiver.try_recv_mmsg(blocking, p, ec);
    {
        std::lock_guard lock(mu);
        returned = true;
    }
    cv.notify_one();
    watchdog.join();
    BOOST_TEST(!watchdog_fired);
    BOOST_TEST(n == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));

    // A try_ send on a blocking socket sends, reports its progress, and leaves the mode alone.
    BatchSender<> sender;
    const Batch b = batch_to(std::vector<Endpoint>(16, blocking.local_endpoint()), 11);
    const SendResult r = sender.try_batch_send(tx, b);
    BOOST_TEST(r.total() == 16u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.sent + r.unsent == 16u);
    BOOST_TEST(!blocking.non_blocking());
    BOOST_TEST((::fcntl(tx.native_handle(), F_GETFL) & O_NONBLOCK) == 0);
    BOOST_TEST(receiver.try_recv_mmsg(blocking, p, ec) == std::min<std::size_t>(r.sent, 8));
}

BOOST_FIXTURE_TEST_CASE(try_batch_send_driven_by_poll_sends_everything_once, Loopback) {
    mmsg::testing::set_rcvbuf(rx, 8 << 20);
    const std::size_t n = 3000; // more than one sendmmsg chunk
    std::vector<Endpoint> dests(n, rx_ep);
    dests[5] = mmsg::testing::broadcast(); // one rejected datagram does not stop the rest
    const Batch b = batch_to(dests, 12, 32);
    const SendResult r = send_all_with_poll(tx.native_handle(), b);
    BOOST_TEST(r.sent == n - 1);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST((r.first_error == std::errc::permission_denied));
    std::vector<Packet> p(n - 1);
    const auto g = recv_now(io, rx, p, true);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->n == n - 1);
    for (std::uint32_t i = 0; i < n - 1; ++i) BOOST_TEST(has_payload(p[i], 12, i < 5 ? i : i + 1, 32));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(throughput)

BOOST_AUTO_TEST_CASE(a_concurrent_sender_and_receiver_move_100000_datagrams_none_lost_in_order) {
    constexpr std::size_t total = 100'000;
    constexpr std::size_t batch = 64;
    asio::io_context io;
    udp::socket tx = bound_socket(io, v4_loopback());
    udp::socket rx = bound_socket(io, v4_loopback());
    mmsg::testing::set_rcvbuf(rx, 32 << 20);
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    ::getsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
    // Loopback has no flow control: the sender stays at most `window` datagrams ahead of
    // the receiver, which fits the receive buffer (a small datagram costs ~0.8 KB queued).
    const std::size_t window = std::clamp<std::size_t>(static_cast<std::size_t>(rcvbuf) / 2048, batch, 8192);
    BOOST_TEST_MESSAGE("SO_RCVBUF " << rcvbuf << ", window " << window);

    std::size_t received = 0;
    std::size_t sent = 0;
    bool in_order = true;
    bool send_failed = false;
    asio::steady_timer progress(io); // the receiver cancels it to wake a waiting sender

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        std::vector<std::array<std::byte, 8>> payloads(batch);
        Batch b;
        for (auto& p : payloads) b.emplace_back(p, rx.local_endpoint());
        while (sent < total) {
            while (sent - received + batch > window) {
                progress.expires_at(asio::steady_timer::time_point::max());
                co_await progress.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            const std::size_t n = std::min(batch, total - sent);
            b.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t index = sent + i;
                std::memcpy(payloads[i].data(), &index, sizeof index);
            }
            auto [ec, r] = co_await async_batch_send(tx, b, asio::as_tuple(asio::use_awaitable));
            if (ec || !r.ok()) {
                send_failed = true;
                co_return;
            }
            sent += r.sent;
        }
    }, asio::detached);

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        std::vector<Packet> packets(num_rcvmmsgs);
        while (received < total) {
            auto [ec, n] = co_await async_recv_mmsg(rx, packets, asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            for (std::size_t i = 0; i < n; ++i) {
                std::uint64_t index = 0;
                if (packets[i].meta.size == sizeof index)
                    std::memcpy(&index, packets[i].buffer.data(), sizeof index);
                if (index != received || packets[i].meta.size != sizeof index) in_order = false;
                ++received;
            }
            progress.cancel();
        }
    }, asio::detached);

    io.run_for(hang_guard);
    BOOST_TEST(!send_failed);
    BOOST_TEST(sent == total);
    BOOST_TEST(received == total);
    BOOST_TEST(in_order);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(segmentation_offload)

// async_send_trains with LinuxGsoBackend (trains whole, as UDP_SEGMENT messages) and
// async_recv_coalesced taking the train back whole with UDP GRO; without GSO/GRO here, the
// same datagrams one by one.
BOOST_FIXTURE_TEST_CASE(a_train_sent_asynchronously_arrives_whole_or_in_order, Loopback) {
    mmsg::testing::set_rcvbuf(rx, 8 << 20);
    BatchSender<LinuxGsoBackend> sender;
    BatchReceiver<LinuxGsoBackend> receiver;
    const bool gro = receiver.backend().enable_gro(rx);
    std::vector<std::byte> buffer;
    for (std::uint32_t i = 0; i < 20; ++i) {
        const auto d = mmsg::testing::numbered(1000, 9000 + i);
        buffer.insert(buffer.end(), d.begin(), d.end());
    }
    const std::array<SendTrain, 2> trains{SendTrain{std::span(buffer).first(12000), 1000, &rx_ep, nullptr},
                                          SendTrain{std::span(buffer).subspan(12000), 1000, &rx_ep, nullptr}};
    std::optional<Sent> sent;
    async_send_trains(sender, tx, trains, [&](error_code ec, SendResult r) { sent = Sent{ec, r}; });
    io.run_for(hang_guard);
    BOOST_REQUIRE(sent.has_value());
    BOOST_TEST(!sent->ec);
    BOOST_TEST(sent->r.sent == 20u);

    auto packets = std::make_unique<CoalescedPacket[]>(20);
    std::span<CoalescedPacket> p(packets.get(), 20);
    std::size_t next = 0;
    for (int round = 0; round < 20 && next < 20; ++round) {
        std::optional<Got> got;
        async_recv_coalesced(receiver, rx, p, [&](error_code ec, std::size_t n) { got = Got{ec, n}; });
        io.restart();
        io.run_for(hang_guard);
        BOOST_REQUIRE(got.has_value());
        BOOST_REQUIRE(!got->ec);
        for (std::size_t i = 0; i < got->n; ++i)
            for (std::span<const std::byte> seg : p[i].segments()) {
                const auto want = mmsg::testing::numbered(1000, 9000 + static_cast<std::uint32_t>(next++));
                BOOST_TEST(std::ranges::equal(seg, want));
            }
        if (gro && round == 0) BOOST_TEST(p[0].segments().size() > 1u); // coalesced
    }
    BOOST_TEST(next == 20u);
}

BOOST_AUTO_TEST_SUITE_END()
