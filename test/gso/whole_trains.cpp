// BatchSender::send_trains: trains handed over whole (SendTrain). On real loopback sockets
// (what arrives, per-datagram errors) and on MockNetwork (the offload fallback, back-pressure
// and resuming, chunks over max_send_batch, backends that take trains one datagram at a time).
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/send_train.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>

#define BOOST_TEST_MODULE gso_whole_trains
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "../support/counting_new.hpp" // counts every allocation of the program
#include "../support/mock_gso_rig.hpp"
#include "../support/payload_lists.hpp"

using namespace mmsg;
using namespace mmsg::testing;
using namespace mmsg::test; // payload lists
namespace asio = boost::asio;

namespace {

// Datagrams of the given sizes, numbered from `first`, and one buffer holding them back to
// back (what a train's payload is).
struct Laid {
    std::vector<Bytes> datagrams;
    Bytes all;
    Laid(std::size_t n, std::size_t size, std::size_t last, std::uint32_t first) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t s = i + 1 == n ? last : size;
            datagrams.push_back(s == 0 ? Bytes{} : numbered(s, first + static_cast<std::uint32_t>(i)));
            all.insert(all.end(), datagrams.back().begin(), datagrams.back().end());
        }
    }
    SendTrain train(std::size_t segment, const Endpoint* to) const {
        return SendTrain{std::span<const std::byte>(all), segment, to};
    }
};

// Every datagram of `laid`, in order.
std::vector<Bytes> flatten(std::initializer_list<const Laid*> laid) {
    std::vector<Bytes> v;
    for (const Laid* l : laid) v.insert(v.end(), l->datagrams.begin(), l->datagrams.end());
    return v;
}


bool gso_works() {
    const GsoCapability& c = gso_capability(asio::ip::udp::v4());
    if (!c.gso()) BOOST_TEST_MESSAGE("UDP GSO does not work here (" << c.error.message() << "): skipped");
    return c.gso();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_train_counts_its_datagrams_and_slices_by_them) {
    const Bytes b(10);
    const std::span<const std::byte> p(b);
    BOOST_TEST((SendTrain{p, 4}.datagrams()) == 3u); // 4 + 4 + 2
    BOOST_TEST((SendTrain{p, 5}.datagrams()) == 2u);
    BOOST_TEST((SendTrain{p, 0}.datagrams()) == 1u);  // no segment: one datagram
    BOOST_TEST((SendTrain{p, 10}.datagrams()) == 1u);
    BOOST_TEST((SendTrain{p, 64}.datagrams()) == 1u);
    BOOST_TEST((SendTrain{{}, 4}.datagrams()) == 1u); // an empty datagram
    const SendTrain t{p, 4};
    BOOST_TEST(t.datagram(2).size() == 2u);
    BOOST_TEST(t.datagram(2).data() == b.data() + 8);
    const SendTrain s = t.slice(1, 5); // clamped to the two that are left
    BOOST_TEST(s.datagrams() == 2u);
    BOOST_TEST(s.payload.data() == b.data() + 4);
    BOOST_TEST(s.payload.size() == 6u);
    BOOST_TEST(t.slice(0, 1).payload.size() == 4u);
    BOOST_TEST(t.slice(1, static_cast<std::size_t>(-1)).payload.size() == 6u); // no overflow
}

// ---- real loopback -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(trains_arrive_as_their_datagrams_in_order) {
    if (!gso_works()) return;
    LoopbackPair lo;
    const int rx = lo.rx.native_handle();
    const Laid small(100, 64, 64, 0);     // 100 full segments
    const Laid large(10, 1232, 500, 200); // a shorter last segment
    const Laid one(1, 300, 300, 400);     // segment 0: one datagram
    const Laid empty(1, 0, 0, 500);       // one empty datagram
    // tag::send_trains[]
    // Each a buffer of datagrams written back to back, its segment size and destination.
    const std::vector<SendTrain> trains{
        {small.all, 64, &lo.rx_ep},   // 100 datagrams of 64 bytes
        {large.all, 1232, &lo.rx_ep}, // 9 of 1232 and one of 500
        {one.all, 0, &lo.rx_ep},      // segment 0: one datagram of 300
        {empty.all, 64, &lo.rx_ep}};  // one empty datagram
    BatchSender<LinuxGsoBackend> sender;
    std::vector<std::error_code> status(112); // one outcome per datagram
    const SendResult r = sender.send_trains(lo.tx, trains, status);
    // end::send_trains[]
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 112u);
    BOOST_TEST(r.resume_index() == 112u);
    for (const auto& e : status) BOOST_TEST(!e);

    // Received split into packets: every datagram whole, in order.
    const std::vector<Bytes> want = flatten({&small, &large, &one, &empty});
    BatchReceiver<LinuxGsoBackend> receiver;
    std::vector<Packet> packets(64);
    std::vector<Bytes> got;
    timeval tv{5, 0}; // bounds each receive if something is lost
    ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got.size() < want.size()) {
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(rx, packets, ec);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) {
            BOOST_TEST(packets[i].meta.addr == lo.tx_ep);
            got.emplace_back(packets[i].data().begin(), packets[i].data().end());
        }
    }
    BOOST_TEST(same_list(got, want));
}

BOOST_AUTO_TEST_CASE(a_refused_destination_fails_each_datagram_of_its_train_alone) {
    if (!gso_works()) return;
    LoopbackPair lo; // tx bound to 127.0.0.1: broadcast without SO_BROADCAST is EACCES
    const Endpoint bcast = broadcast();
    const Laid a(5, 100, 100, 0);
    const Laid b(7, 100, 40, 10);
    const Laid c(3, 100, 100, 20);
    const std::vector<SendTrain> trains{a.train(100, &lo.rx_ep), b.train(100, &bcast),
                                        c.train(100, &lo.rx_ep)};
    BatchSender<LinuxGsoBackend> sender;
    std::vector<std::error_code> status(15);
    const SendResult r = sender.send_trains(lo.tx, trains, status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.failed == 7u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
    for (std::size_t i = 0; i < 15; ++i)
        if (i >= 5 && i < 12) MMSG_CHECK_ERRC(status[i], std::errc::permission_denied);
        else BOOST_TEST(!status[i]);
}

BOOST_AUTO_TEST_CASE(a_descriptor_that_is_not_a_socket_fails_every_datagram) {
    const DevNull bad;
    BOOST_REQUIRE(bad.fd >= 0);
    const Laid a(4, 64, 64, 0);
    const Endpoint to = v4_loopback(9);
    const std::vector<SendTrain> trains{a.train(64, &to)};
    BatchSender<LinuxGsoBackend> sender;
    const SendResult r = sender.send_trains(bad.fd, trains);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.total() == 4u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::not_a_socket);
}

// ---- MockNetwork ---------------------------------------------------------------------------

using Mock = MockGsoRig;

BOOST_FIXTURE_TEST_CASE(trains_are_cut_at_the_limits_and_share_one_call, Mock) {
    const Laid a(20, 100, 100, 0); // 8 + 8 + 4 within the mock's limit of 8 segments
    const Laid b(3, 50, 20, 100);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(50, &rx_ep)};
    const SendResult r = sender.send_trains(tx, trains);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 23u);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(net.trains_sent() == 4u);
    BOOST_TEST(same_list(drain(), flatten({&a, &b})));
}

BOOST_FIXTURE_TEST_CASE(a_train_without_offload_is_resent_plain_and_trains_stop, Mock) {
    net.fail_trains(std::make_error_code(std::errc::io_error), 1);
    const Laid a(6, 100, 100, 0);
    const Laid b(5, 100, 100, 10);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(100, &rx_ep)};
    std::vector<std::error_code> status(11, std::make_error_code(std::errc::io_error));
    const SendResult r = sender.send_trains(tx, trains, status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 11u);
    for (const auto& e : status) BOOST_TEST(!e);
    BOOST_TEST(net.trains_failed() == 1u);
    // The refused train's datagrams went one by one; the next train, in the same round (as
    // batch_send plans it), still as a train: it went through, so nothing more to resend.
    BOOST_TEST(net.trains_sent() == 1u);
    BOOST_TEST(sender.backend().fallbacks() == 1u);
    BOOST_TEST(!sender.backend().trains_enabled(sender.socket_state(tx)));
    BOOST_TEST(same_list(drain(), flatten({&a, &b})));
    // The socket sends no more trains, whole or planned.
    BOOST_TEST(sender.send_trains(tx, trains).ok());
    BOOST_TEST(net.trains_sent() == 1u);
    BOOST_TEST(same_list(drain(), flatten({&a, &b})));
}

BOOST_FIXTURE_TEST_CASE(emsgsize_resends_that_train_plain_and_keeps_trains_on, Mock) {
    net.fail_trains(std::make_error_code(std::errc::message_size), 1);
    const Laid a(8, 100, 100, 0);
    const Laid b(8, 100, 100, 10);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(100, &rx_ep)};
    const SendResult r = sender.send_trains(tx, trains);
    BOOST_TEST(r.ok());
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(net.trains_sent() == 1u); // the second went as a train
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx)));
    BOOST_TEST(same_list(drain(), flatten({&a, &b})));
}

BOOST_FIXTURE_TEST_CASE(back_pressure_leaves_an_unsent_suffix_to_resume_by_datagram, Mock) {
    const Laid a(8, 100, 100, 0);
    const Laid b(16, 100, 60, 20);
    std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(100, &rx_ep)};
    net.would_block_after(16); // messages of 8: a and half of b go; the rest would block
    std::vector<std::error_code> status(24);
    const SendResult r = sender.try_send_trains(tx, trains, status);
    BOOST_TEST(r.sent == 16u);
    BOOST_TEST(r.unsent == 8u);
    BOOST_TEST(r.resume_index() == 16u);
    for (std::size_t i = 16; i < 24; ++i) MMSG_CHECK_ERRC(status[i], std::errc::operation_would_block);
    net.clear_would_block();
    // Resume: datagram 16 is datagram 8 of the second train.
    const std::vector<SendTrain> rest{trains[1].slice(8, 8)};
    BOOST_TEST(sender.try_send_trains(tx, rest).ok());
    BOOST_TEST(same_list(drain(), flatten({&a, &b})));
}

BOOST_FIXTURE_TEST_CASE(a_rejected_datagram_inside_a_train_resumes_after_it, Mock) {
    // Without trains every datagram is its own message, and sendmmsg stops at the one the
    // path rejects: the sender goes on from the next one, in the middle of the train.
    sender.backend() = MockGsoBackend(MockGsoOps(net), GsoLimits::none());
    net.fail_nth(5, std::make_error_code(std::errc::network_unreachable));
    const Laid a(12, 100, 70, 0);
    const Laid b(3, 100, 100, 20);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(100, &rx_ep)};
    std::vector<std::error_code> status(15);
    const SendResult r = sender.send_trains(tx, trains, status);
    BOOST_TEST(r.sent == 14u);
    BOOST_TEST(r.failed == 1u);
    for (std::size_t i = 0; i < 15; ++i)
        if (i == 5) MMSG_CHECK_ERRC(status[i], std::errc::network_unreachable);
        else BOOST_TEST(!status[i]);
    std::vector<Bytes> want = flatten({&a, &b});
    want.erase(want.begin() + 5);
    BOOST_TEST(same_list(drain(), want)); // nothing twice
}

BOOST_FIXTURE_TEST_CASE(batches_over_max_send_batch_cut_trains_between_calls, Mock) {
    // 3 x 500 datagrams of 10 bytes: the sender's chunks of 1024 cut the third train.
    std::vector<Laid> laid;
    for (std::uint32_t k = 0; k < 3; ++k) laid.emplace_back(500, 10, 10, 1000 * k);
    std::vector<SendTrain> trains;
    for (const Laid& l : laid) trains.push_back(l.train(10, &rx_ep));
    // A refused destination in the middle of the cut train shows the offsets are right.
    const Endpoint dead = v4_loopback(9);
    net.unreachable(dead, std::make_error_code(std::errc::permission_denied));
    const Laid d(5, 10, 10, 9000);
    trains.insert(trains.begin() + 2, d.train(10, &dead));
    std::vector<std::error_code> status2(1505, std::make_error_code(std::errc::io_error));
    const SendResult r = sender.send_trains(tx, trains, status2);
    BOOST_TEST(r.sent == 1500u);
    BOOST_TEST(r.failed == 5u);
    for (std::size_t i = 0; i < 1505; ++i)
        if (i >= 1000 && i < 1005) MMSG_CHECK_ERRC(status2[i], std::errc::permission_denied);
        else BOOST_TEST(!status2[i]);
    BOOST_TEST(same_list(drain(), flatten({&laid[0], &laid[1], &laid[2]})));
}

BOOST_FIXTURE_TEST_CASE(a_short_status_span_is_refused_before_anything_is_sent, Mock) {
    const Laid a(10, 100, 100, 0);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep)};
    std::vector<std::error_code> status(9);
    BOOST_CHECK_THROW(sender.send_trains(tx, trains, status), std::invalid_argument);
    BOOST_TEST(net.calls() == 0u);
    BOOST_TEST(drain().empty());
}

BOOST_AUTO_TEST_CASE(steady_state_train_sends_do_not_allocate) {
    if (!gso_works()) return;
    LoopbackPair lo;
    const Laid a(40, 100, 30, 0);
    const std::vector<SendTrain> trains{a.train(100, &lo.rx_ep), a.train(100, &lo.rx_ep)};
    std::vector<std::error_code> status(80);
    BatchSender<LinuxGsoBackend> sender;
    BatchReceiver<LinuxGsoBackend> receiver;
    std::vector<Packet> p(64);
    std::error_code ec;
    auto round = [&](bool with_status) {
        const SendResult r = with_status ? sender.send_trains(lo.tx, trains, status)
                                         : sender.send_trains(lo.tx, trains);
        std::size_t got = 0;
        while (got < 80 && !ec) got += receiver.recv_mmsg(lo.rx, p, ec);
        return r.ok() && got == 80;
    };
    BOOST_TEST(round(true)); // warm-up: arrays and per-socket state are made here
    const std::size_t before = mmsg::test::allocations.load();
    const bool ok = round(true) && round(false);
    const std::size_t after = mmsg::test::allocations.load();
    BOOST_TEST(ok);
    BOOST_TEST(after == before);
}

BOOST_AUTO_TEST_CASE(a_backend_without_trains_gets_the_same_datagrams_one_by_one) {
    static_assert(!TrainSendBackend<MockBackend>);
    MockNetwork net;
    BatchSender<MockBackend> sender{MockBackend(net)};
    const int tx = net.open(v4_loopback());
    const int rx = net.open(v4_loopback());
    const Endpoint rx_ep = net.local_endpoint(rx);
    const Endpoint dead = v4_loopback(9);
    net.unreachable(dead, std::make_error_code(std::errc::permission_denied));
    const Laid a(7, 100, 33, 0);
    const Laid b(2, 100, 100, 10);
    const Laid c(1, 0, 0, 20);
    const std::vector<SendTrain> trains{a.train(100, &rx_ep), b.train(100, &dead), c.train(0, &rx_ep)};
    std::vector<std::error_code> status(10);
    const SendResult r = sender.send_trains(tx, trains, status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.failed == 2u);
    MMSG_CHECK_ERRC(status[7], std::errc::permission_denied);
    MMSG_CHECK_ERRC(status[8], std::errc::permission_denied);
    BOOST_TEST(!status[9]);
    BOOST_TEST(same_list(drain(net, rx), flatten({&a, &c})));
}

// ---- batch_send gathers back-to-back runs into trains: the same outcomes as planning -------

namespace {

// The backend's send alone: BatchSender then hands it one SendItem per datagram, which
// plan_trains groups, the way batch_send worked before it gathered runs into trains.
template <class B>
struct ItemsOnly {
    B inner;
    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode w) {
        return inner.send(s, items, errors, w);
    }
};

using Element = std::pair<std::span<const std::byte>, const Endpoint*>;
using WithOptions = std::tuple<std::span<const std::byte>, const Endpoint*, const SendOptions*>;

// One side of the comparison: a network with its faults and a sender on it.
template <class Backend>
struct Side {
    MockNetwork net;
    BatchSender<Backend> sender;
    int tx, rx, rx2;
    Endpoint dests[3];
    explicit Side(GsoLimits lim)
        : sender(make(net, lim)), tx(net.open(v4_loopback())), rx(net.open(v4_loopback())),
          rx2(net.open(v4_loopback())),
          dests{net.local_endpoint(rx), net.local_endpoint(rx2), v4_loopback(9)} {}
    static Backend make(MockNetwork& n, GsoLimits lim) {
        if constexpr (std::same_as<Backend, MockGsoBackend>) return MockGsoBackend(MockGsoOps(n), lim);
        else return Backend{MockGsoBackend(MockGsoOps(n), lim)};
    }
    std::vector<Bytes> drain(int h) { return test::drain(net, h); }
};

} // namespace

BOOST_AUTO_TEST_CASE(batch_send_gathers_runs_into_trains_with_the_outcomes_planning_gives) {
    static_assert(TrainSendBackend<MockGsoBackend> && !TrainSendBackend<ItemsOnly<MockGsoBackend>>);
    const SendOptions ect0{Ecn::ect0, 0, {}, 0};
    const SendOptions ect0_too{Ecn::ect0, 0, {}, 0}; // equal, another object
    const SendOptions ect1{Ecn::ect1, 0, {}, 0};
    const SendOptions* option_choices[] = {nullptr, nullptr, &ect0, &ect0_too, &ect1};
    std::size_t gathered_calls = 0; // batches where gathering made fewer SendItems (sanity)
    for (std::uint32_t seed = 1; seed <= 400; ++seed) {
        std::mt19937 rng(seed);
        auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
        const std::size_t max_segments = 2 + pick(7);
        const GsoLimits lim{max_segments, pick(3) == 0 ? 1000 + pick(500) : 65507};
        Side<MockGsoBackend> gathered(lim);
        Side<ItemsOnly<MockGsoBackend>> planned(lim);

        // Runs of one size, back to back or scattered, to one of three destinations, some
        // with a shorter last datagram; now and then an empty or a lone datagram.
        Bytes buf(1 << 16);
        for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::byte>(rng());
        struct Spec {
            std::size_t at, size, dest, options;
        };
        std::vector<Spec> specs;
        std::size_t at = 0;
        const std::size_t runs = 1 + pick(12);
        for (std::size_t r = 0; r < runs && at < buf.size() - 4096; ++r) {
            const std::size_t size = pick(8) == 0 ? 0 : 1 + pick(300);
            const std::size_t len = 1 + pick(12);
            const bool scattered = pick(6) == 0;
            const std::size_t dest = pick(10) == 0 ? 2 : pick(4) == 0 ? 1 : 0;
            const std::size_t options = pick(5);
            for (std::size_t k = 0; k < len && at + size < buf.size() - 512; ++k) {
                std::size_t sz = size;
                if (k + 1 == len && size > 1 && pick(3) == 0) sz = 1 + pick(size - 1);
                specs.push_back(Spec{scattered ? (at + 97 * k) % (buf.size() - 512) : at, sz, dest,
                                     options});
                if (!scattered) at += sz;
            }
            at += pick(2) * 13; // sometimes a gap between runs
        }
        auto batch_for = [&](auto& side) {
            std::vector<WithOptions> b;
            for (const Spec& sp : specs)
                b.emplace_back(std::span<const std::byte>(buf.data() + sp.at, sp.size),
                               &side.dests[sp.dest], option_choices[sp.options]);
            return b;
        };
        // The same faults on both networks.
        const std::size_t fault = pick(5);
        auto arm = [&](auto& side, std::uint32_t fseed) {
            std::mt19937 f(fseed);
            side.net.unreachable(side.dests[2], std::make_error_code(std::errc::permission_denied));
            if (fault == 1) side.net.fail_nth(f() % (specs.size() + 1), std::make_error_code(std::errc::network_unreachable));
            if (fault == 2) side.net.fail_trains(std::make_error_code(std::errc::io_error), 1);
            if (fault == 3) side.net.fail_trains(std::make_error_code(std::errc::message_size), 1 + f() % 2);
            if (fault == 4) side.net.would_block_after(f() % (specs.size() + 1));
        };
        const std::uint32_t fseed = static_cast<std::uint32_t>(rng());
        arm(gathered, fseed);
        arm(planned, fseed);

        // Every other seed without a status span: the gathering sender then takes the
        // FailuresOnly form (only failures written), the planning one the usual form.
        const bool with_status = seed % 2 == 0;
        std::vector<std::error_code> s1(with_status ? specs.size() : 0), s2(s1.size());
        const SendResult r1 = gathered.sender.try_batch_send(gathered.tx, batch_for(gathered), s1);
        const SendResult r2 = planned.sender.try_batch_send(planned.tx, batch_for(planned), s2);
        BOOST_TEST_CONTEXT("seed " << seed << ", " << specs.size() << " datagrams, fault " << fault) {
            BOOST_TEST((r1 == r2));
            BOOST_TEST((s1 == s2));
            BOOST_TEST(gathered.net.calls() == planned.net.calls());
            BOOST_TEST(gathered.net.trains_sent() == planned.net.trains_sent());
            BOOST_TEST(gathered.net.trains_failed() == planned.net.trains_failed());
            BOOST_TEST(gathered.sender.backend().fallbacks() == planned.sender.backend().inner.fallbacks());
            BOOST_TEST(same_list(gathered.drain(gathered.rx), planned.drain(planned.rx)));
            BOOST_TEST(same_list(gathered.drain(gathered.rx2), planned.drain(planned.rx2)));
        }
        if (gathered.net.trains_sent() > 0) ++gathered_calls;
    }
    BOOST_TEST(gathered_calls > 100u); // the seeds do make trains
}
