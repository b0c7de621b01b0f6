// LendingReceiver: the conformance kit's lending checks (mmsg/testing/contract/lending.hpp) on
// each engine, with and without GRO; what only io_uring does (exhaustion and re-arming
// counted, datagrams left in the socket while the caller is slow); the asynchronous form.
#define BOOST_TEST_MODULE uring_lending_receiver // before the kit, which includes Boost.Test
#include <mmsg/lending_receiver.hpp>

#include <mmsg/asio/lending_receiver.hpp>
#include <mmsg/config.hpp>
#include <mmsg/io_uring_capability.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/testing/contract/lending.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include <boost/test/unit_test.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

using namespace mmsg;
using namespace mmsg::testing;

#if MMSG_HAS_IO_URING

namespace {

// True (and says why) where io_uring cannot lend here: the io_uring engine's checks skip;
// the recvmmsg engine's run everywhere.
bool ring_refused() {
    if (const std::error_code e = LendingReceiver::available()) {
        BOOST_TEST_MESSAGE("io_uring lending refused here (" << e.message() << "): skipped");
        return true;
    }
    return false;
}

LendingOptions with(LendEngine e, bool gro = false) {
    LendingOptions o;
    o.engine = e;
    o.gro = gro;
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_io_uring_engine_honours_the_lending_contract) {
    if (ring_refused()) return;
    contract::check_lending(with(LendEngine::io_uring));
}

BOOST_AUTO_TEST_CASE(the_io_uring_engine_with_gro_honours_the_lending_contract) {
    if (ring_refused()) return;
    contract::check_lending(with(LendEngine::io_uring, true));
}

BOOST_AUTO_TEST_CASE(the_recvmmsg_engine_honours_the_lending_contract) {
    contract::check_lending(with(LendEngine::recvmmsg));
}

BOOST_AUTO_TEST_CASE(the_recvmmsg_engine_with_gro_honours_the_lending_contract) {
    contract::check_lending(with(LendEngine::recvmmsg, true));
}

BOOST_AUTO_TEST_CASE(the_automatic_engine_is_io_uring_exactly_where_it_may_lend) {
    LoopbackPair p;
    LendingReceiver r(p.rx);
    std::vector<LentPacket> out(4);
    std::error_code ec;
    BOOST_TEST(r.try_receive(out, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(r.uses_io_uring() == !LendingReceiver::available());
    if (!io_uring_capability().lends()) {
        LendingReceiver forced(p.rx, with(LendEngine::io_uring));
        BOOST_TEST(forced.try_receive(out, ec) == 0u);
        BOOST_TEST((ec == LendingReceiver::available()));
    }
}

// ---- io_uring only: the multishot receive and its buffer ring ----------------------------

BOOST_AUTO_TEST_CASE(a_slow_caller_leaves_datagrams_in_the_socket_and_exhaustion_is_counted) {
    if (ring_refused()) return;
    LoopbackPair p;
    // tag::lend[]
    LendingOptions o;
    o.buffers = 16; // at most 16 datagrams received and not yet released
    LendingReceiver receiver(p.rx, o);
    std::vector<LentPacket> packets(64);
    // end::lend[]
    std::vector<Bytes> d = numbered_payloads(100, 64);
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i].resize(64 + i); // no two coalesce
    for (const Bytes& x : d)
        BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, x) == 0);
    // The first receive takes what 16 buffers hold; the multishot receive then ends for lack
    // of buffers (ENOBUFS, counted) and the other 84 stay in the socket.
    // tag::lend[]
    std::error_code ec;
    const std::size_t n = receiver.receive(packets, ec); // views of up to 64 datagrams
    // end::lend[]
    BOOST_TEST(n == 16u);
    BOOST_TEST(receiver.stats().exhausted >= 1u);
    BOOST_TEST(receiver.held() == 16u);
    BOOST_TEST(!nothing_queued(p.rx.native_handle())); // they wait in the socket
    std::vector<Bytes> got;
    for (std::size_t i = 0; i < n; ++i)
        got.emplace_back(packets[i].data().begin(), packets[i].data().end());
    // Each later receive releases the packets of the one before: the buffers go back, the
    // receive is armed again (counted) and the rest arrive in order.
    while (got.size() < d.size()) {
        const std::size_t k = receiver.receive(packets, ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        for (std::size_t i = 0; i < k; ++i)
            got.emplace_back(packets[i].data().begin(), packets[i].data().end());
    }
    BOOST_TEST(contract::same_list(got, d));
    BOOST_TEST(receiver.stats().rearmed >= 1u);
    BOOST_TEST(receiver.stats().rearmed == receiver.stats().exhausted);
}

BOOST_AUTO_TEST_CASE(received_datagrams_wait_in_buffers_and_are_lent_without_a_system_call) {
    if (ring_refused()) return;
    LoopbackPair p;
    LendingReceiver r(p.rx);
    const std::vector<Bytes> d = numbered_payloads(40, 100);
    for (const Bytes& x : d)
        BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, x) == 0);
    std::vector<LentPacket> one(1);
    BOOST_TEST_REQUIRE(r.receive(one) == 1u);
    BOOST_TEST(same_bytes(one[0].data(), d[0]));
    // That call took many from the socket at once (the kernel moves up to 32 per round of a
    // multishot receive, then lets other work run): they wait in buffers and are lent with
    // no system call.
    const std::size_t waiting = r.pending();
    BOOST_TEST(waiting >= 16u);
    BOOST_TEST(waiting <= d.size() - 1);
    const std::uint64_t calls = r.stats().syscalls;
    std::size_t i = 1;
    for (; i <= waiting; ++i) {
        BOOST_TEST_REQUIRE(r.receive(one) == 1u);
        BOOST_TEST(same_bytes(one[0].data(), d[i]));
    }
    BOOST_TEST(r.stats().syscalls == calls);
    BOOST_TEST(r.pending() == 0u);
    for (; i < d.size(); ++i) { // the rest, from the socket, in order
        BOOST_TEST_REQUIRE(r.receive(one) == 1u);
        BOOST_TEST(same_bytes(one[0].data(), d[i]));
    }
    BOOST_TEST(r.stats().lent == d.size());
}

// ---- the asynchronous form -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(async_receive_waits_for_datagrams_and_lends_them) {
    for (LendEngine e : {LendEngine::io_uring, LendEngine::recvmmsg}) {
        if (e == LendEngine::io_uring && ring_refused()) continue;
        LoopbackPair p;
        LendingReceiver r(p.rx, with(e));
        std::vector<LentPacket> out(16);
        const std::vector<Bytes> d = numbered_payloads(5, 200);
        boost::system::error_code got_ec;
        std::size_t got = 0;
        bool done = false;
        // tag::async_lend[]
        async_receive(r, p.rx, out, [&](boost::system::error_code ec, std::size_t n) {
            got_ec = ec; // out[0, n) are views of the datagrams, valid until released
            got = n;
            done = true;
        });
        // end::async_lend[]
        p.io.poll();
        BOOST_TEST(!done); // nothing queued: it waits
        for (const Bytes& x : d)
            BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, x) == 0);
        p.io.run_for(std::chrono::seconds(5));
        BOOST_TEST_REQUIRE(done);
        BOOST_TEST(!got_ec);
        BOOST_TEST_REQUIRE(got >= 1u);
        std::size_t total = got;
        for (std::size_t i = 0; i < got; ++i)
            BOOST_TEST(same_bytes(out[i].data(), d[i]));
        while (total < d.size()) { // the rest, each completing at once or after a wait
            done = false;
            async_receive(r, p.rx, out, [&](boost::system::error_code ec, std::size_t n) {
                got_ec = ec;
                got = n;
                done = true;
            });
            p.io.restart();
            p.io.run_for(std::chrono::seconds(5));
            BOOST_TEST_REQUIRE(done);
            BOOST_TEST_REQUIRE(!got_ec);
            for (std::size_t i = 0; i < got; ++i)
                BOOST_TEST(same_bytes(out[i].data(), d[total + i]));
            total += got;
        }
    }
}

BOOST_AUTO_TEST_CASE(a_cancelled_async_receive_lends_nothing_and_the_datagrams_stay) {
    for (LendEngine e : {LendEngine::io_uring, LendEngine::recvmmsg}) {
        if (e == LendEngine::io_uring && ring_refused()) continue;
        LoopbackPair p;
        LendingReceiver r(p.rx, with(e));
        std::vector<LentPacket> out(4);
        boost::asio::cancellation_signal cancel;
        boost::system::error_code got_ec;
        bool done = false;
        async_receive(r, p.rx, out,
                      boost::asio::bind_cancellation_slot(
                          cancel.slot(), [&](boost::system::error_code ec, std::size_t n) {
                              got_ec = ec;
                              done = n == 0;
                          }));
        p.io.poll();
        cancel.emit(boost::asio::cancellation_type::terminal);
        p.io.run_for(std::chrono::seconds(5));
        BOOST_TEST(done);
        BOOST_TEST((got_ec == boost::asio::error::operation_aborted));
        const Bytes x = numbered(50, 9);
        BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, x) == 0);
        BOOST_TEST_REQUIRE(r.receive(out) == 1u); // the receiver is still fine
        BOOST_TEST(same_bytes(out[0].data(), x));
    }
}

BOOST_AUTO_TEST_CASE(async_receive_with_every_buffer_lent_fails_at_once_instead_of_waiting) {
    for (LendEngine e : {LendEngine::io_uring, LendEngine::recvmmsg}) {
        if (e == LendEngine::io_uring && ring_refused()) continue;
        LoopbackPair p;
        LendingOptions o = with(e);
        o.buffers = 2;
        LendingReceiver r(p.rx, o);
        for (int i = 0; i < 4; ++i)
            BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, numbered(10 + i, i)) == 0);
        std::vector<LentPacket> held(2);
        BOOST_TEST_REQUIRE(r.receive(held) == 2u);
        std::vector<LentPacket> more(2);
        boost::system::error_code got_ec;
        bool done = false;
        async_receive(r, p.rx, more, [&](boost::system::error_code ec, std::size_t) {
            got_ec = ec;
            done = true;
        });
        p.io.run_for(std::chrono::seconds(5));
        BOOST_TEST(done);
        BOOST_TEST((got_ec == boost::system::errc::no_buffer_space));
    }
}

#else

BOOST_AUTO_TEST_CASE(the_lending_receiver_is_not_built_without_liburing) {
    BOOST_TEST_MESSAGE("liburing headers absent: LendingReceiver not built, nothing to test");
}

#endif
