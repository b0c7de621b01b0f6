// IoUringGsoBackend: LinuxGsoBackend's trains with io_uring as the system-call layer. Its
// contract is the conformance kit's (test/compose/conformance*.cpp, which runs it on loopback
// and, as MockUringGsoBackend, on the mock network with every composition); here what is
// particular to sending each message as its own submission: the train fallback without a
// second round trip for what went before, linked trains, and the real kernel path.
#include <mmsg/backend/io_uring_gso.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/io_uring_capability.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>

#define BOOST_TEST_MODULE uring_io_uring_gso
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/payload_lists.hpp"

using namespace mmsg;
using namespace mmsg::testing;
using namespace mmsg::test; // payload lists

#if MMSG_HAS_IO_URING && MMSG_HAS_UDP_GSO

namespace {


// IoUringGsoBackend's train code on the mock network (one outcome per message, linked
// trains), trains of at most 8.
struct Mock {
    MockNetwork net;
    BatchSender<MockUringGsoBackend> sender{
        MockUringGsoBackend(MockUringGsoOps(net), GsoLimits{8, 65507})};
    int tx = net.open(v4_loopback());
    int rx = net.open(v4_loopback());
    Endpoint rx_ep = net.local_endpoint(rx);

    // Every queued datagram's bytes, in order.
    std::vector<Bytes> drain() { return test::drain(net, rx); }
};

// True (and says why) where this kernel or process cannot run the real io_uring GSO path.
bool ring_gso_unavailable() {
    const IoUringCapability& c = io_uring_capability();
    if (!c.sends()) {
        BOOST_TEST_MESSAGE("io_uring sends refused here (" << (c.ring ? c.ring : c.error).message()
                                                           << "): skipped");
        return true;
    }
    const GsoCapability& g = gso_capability(boost::asio::ip::udp::v4());
    if (!g.gso() || !g.gro()) {
        BOOST_TEST_MESSAGE("UDP GSO/GRO does not work here (" << g.error.message() << "): skipped");
        return true;
    }
    return false;
}

} // namespace

// ---- on the mock network: the io_uring flavour of the train code --------------------------

BOOST_FIXTURE_TEST_CASE(
    a_refused_train_is_resent_plain_in_the_same_call_without_resending_what_went_before, Mock) {
    // tag::fallback[]
    net.fail_trains(std::make_error_code(std::errc::io_error), 1); // no offload on this path
    const std::vector<Bytes> d = sized({50, 70}) + same(6, 100, 2) + sized({30}, 8);
    std::vector<std::error_code> status(d.size(), std::make_error_code(std::errc::io_error));
    const SendResult r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.ok());
    for (const auto& e : status)
        BOOST_TEST(!e);
    BOOST_TEST(sender.backend().fallbacks() == 1u);
    BOOST_TEST(!sender.backend().trains_enabled(sender.socket_state(tx)));
    // end::fallback[]
    // One submission of the linked call: the two plain datagrams went, the train failed and
    // cancelled what came after it; one more submission for the train, plain, and the rest.
    // (sendmmsg needs three: it stops before the train.)
    BOOST_TEST(net.calls() == 2u);
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(same_list(drain(), d)); // nothing lost, nothing twice, in order
}

BOOST_FIXTURE_TEST_CASE(plain_datagrams_fail_alone_and_the_rest_go_in_the_same_call, Mock) {
    const Endpoint dead = v4_loopback(9);
    net.unreachable(dead, std::make_error_code(std::errc::permission_denied));
    const std::vector<Bytes> d = sized({10, 20, 30, 40, 50, 60}); // no train: every size differs
    Batch b = to(d, rx_ep);
    b[1].second = dead;
    b[4].second = dead;
    std::vector<std::error_code> status(d.size());
    const SendResult r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.failed == 2u);
    MMSG_CHECK_ERRC(status[1], std::errc::permission_denied);
    MMSG_CHECK_ERRC(status[4], std::errc::permission_denied);
    BOOST_TEST(net.calls() == 1u); // unlinked: each datagram's outcome is its own
    BOOST_TEST(same_list(drain(), std::vector<Bytes>{d[0], d[2], d[3], d[5]}));
}

BOOST_FIXTURE_TEST_CASE(a_train_that_would_block_stops_the_call_and_nothing_after_it_goes, Mock) {
    // The first train (8) starts within the budget of 3 and goes whole, as the kernel takes
    // a whole message while its send buffer has room; then nothing is left for the rest.
    net.would_block_after(3);
    const std::vector<Bytes> d = same(16, 100) + sized({30}, 16);
    std::vector<std::error_code> status(d.size());
    const SendResult r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.unsent == 9u); // the second train and the lone datagram, in order
    for (std::size_t i = 8; i < d.size(); ++i)
        MMSG_CHECK_ERRC(status[i], std::errc::operation_would_block);
    BOOST_TEST(same_list(drain(), std::vector<Bytes>(d.begin(), d.begin() + 8)));
}

BOOST_FIXTURE_TEST_CASE(a_train_too_large_for_the_path_is_resent_plain_and_trains_stay_on, Mock) {
    net.fail_trains(std::make_error_code(std::errc::message_size), 1);
    const std::vector<Bytes> d = same(16, 100); // two trains of 8: the first fails
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(net.trains_sent() == 1u);
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx)));
    BOOST_TEST(same_list(drain(), d));
}

// ---- on the kernel ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(trains_go_through_the_ring_and_arrive_coalesced_and_intact) {
    if (ring_gso_unavailable()) return;
    LoopbackPair p;
    BatchReceiver<LinuxGsoBackend> receiver;
    receiver.backend().enable_gro(p.rx); // before anything is queued
    // 150 datagrams of 1232 bytes, slices of one buffer, then 20 of 64: trains of
    // max_bytes / 1232 and one of 20.
    Bytes buf;
    std::vector<Bytes> d = same(150, 1232) + same(20, 64, 150);
    for (const Bytes& x : d)
        buf.insert(buf.end(), x.begin(), x.end());
    Batch b;
    std::size_t at = 0;
    for (const Bytes& x : d) {
        b.emplace_back(std::span<const std::byte>(buf.data() + at, x.size()), p.rx_ep);
        at += x.size();
    }
    BatchSender<Counting<IoUringGsoBackend>> sender;
    BOOST_TEST(sender.batch_send(p.tx, b).ok());
    BOOST_TEST(sender.backend().stats().send_calls == 1u); // one io_uring_enter for them all
    BOOST_TEST(sender.backend().stats().gso_fallbacks == 0u);

    // Whole, as GRO coalesced them: trains arrive as trains.
    auto packets = std::make_unique<CoalescedPacket[]>(16);
    std::size_t got = 0, coalesced = 0;
    while (got < d.size()) {
        std::error_code ec;
        const std::size_t n = receiver.recv_coalesced(p.rx, std::span(packets.get(), 16), ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        for (std::size_t i = 0; i < n; ++i) {
            if (packets[i].segments().size() > 1) ++coalesced;
            for (auto seg : packets[i].segments()) {
                BOOST_TEST_REQUIRE(got < d.size());
                BOOST_TEST(same_bytes(seg, d[got]), "datagram " << got);
                ++got;
            }
        }
    }
    BOOST_TEST(coalesced >= 2u);
}

BOOST_AUTO_TEST_CASE(whole_trains_go_through_the_ring_with_an_outcome_per_datagram) {
    if (ring_gso_unavailable()) return;
    LoopbackPair p;
    BatchReceiver<LinuxGsoBackend> receiver;
    // 60 datagrams of 1000 bytes and 30 of 64 (the last 10 bytes), each set one buffer.
    const std::vector<Bytes> large = same(60, 1000);
    std::vector<Bytes> small = same(30, 64, 60);
    small.back().resize(10);
    Bytes a, b;
    for (const Bytes& x : large) a.insert(a.end(), x.begin(), x.end());
    for (const Bytes& x : small) b.insert(b.end(), x.begin(), x.end());
    const std::vector<SendTrain> trains{{a, 1000, &p.rx_ep}, {b, 64, &p.rx_ep}};
    BatchSender<IoUringGsoBackend> sender;
    std::vector<std::error_code> status(90, std::make_error_code(std::errc::io_error));
    const SendResult r = sender.send_trains(p.tx, trains, status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 90u);
    for (const auto& e : status) BOOST_TEST(!e);
    BOOST_TEST(sender.backend().fallbacks() == 0u);

    const std::vector<Bytes> d = large + small;
    std::vector<Packet> packets(64);
    std::size_t got = 0;
    while (got < d.size()) {
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(p.rx, packets, ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        for (std::size_t i = 0; i < n; ++i, ++got) {
            BOOST_TEST_REQUIRE(got < d.size());
            BOOST_TEST(same_bytes(packets[i].data(), d[got]), "datagram " << got);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_fallback_prefers_the_ring_where_io_uring_is_allowed) {
    LoopbackPair p;
    Fallback<IoUringGsoBackend, LinuxGsoBackend, LinuxMmsgBackend> f;
    const std::size_t want = io_uring_capability().sends() ? 0 : 1;
    BOOST_TEST(f.chosen(p.tx.native_handle()) == want);
    BOOST_TEST_MESSAGE("io_uring sends here: " << io_uring_capability().sends());
}

#else

BOOST_AUTO_TEST_CASE(io_uring_gso_is_not_built_here) {
    BOOST_TEST_MESSAGE("liburing or UDP GSO headers absent: IoUringGsoBackend not built");
}

#endif
