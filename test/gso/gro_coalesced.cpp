// Receiving datagrams whole (BatchReceiver::recv_coalesced): a GRO-coalesced datagram in one
// packet with its segment size and a bounds-safe view of its segments; plain datagrams as one
// segment each; segments kept by an earlier split receive first; a backend that never
// coalesces; metadata on the whole; a packet too small for the run.
#include <mmsg/coalesced_packet.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/metadata.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE gso_gro_coalesced
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

using namespace mmsg;
namespace asio = boost::asio;
using Bytes = std::vector<std::byte>;

namespace {

bool gro_works() {
    const GsoCapability& c = gso_capability(asio::ip::udp::v4());
    if (!c.gro() || !c.gso())
        BOOST_TEST_MESSAGE("UDP GSO/GRO does not work here (" << c.error.message() << "): skipped");
    return c.gro() && c.gso();
}

// `n` numbered datagrams of `size` bytes, and the batch that sends them to `to`.
struct Run {
    std::vector<Bytes> d;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    Run(std::size_t n, std::size_t size, const Endpoint& to, std::uint32_t tag) {
        for (std::size_t i = 0; i < n; ++i) d.push_back(testing::numbered(size, tag * 1000 + static_cast<std::uint32_t>(i)));
        for (const Bytes& b : d) batch.emplace_back(b, to);
    }
};

struct Loopback {
    asio::io_context io;
    asio::ip::udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    asio::ip::udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    Endpoint to = rx.local_endpoint();
    BatchSender<LinuxGsoBackend> sender;
    BatchReceiver<LinuxGsoBackend> receiver;
    std::unique_ptr<CoalescedPacket[]> packets = std::make_unique<CoalescedPacket[]>(8);
    std::span<CoalescedPacket> p{packets.get(), 8};
    std::error_code ec;
    Loopback() {
        testing::set_rcvbuf(rx, 8 << 20);
        BOOST_TEST_REQUIRE(receiver.backend().enable_gro(rx)); // before the data arrives
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(segment_views_never_reach_past_the_bytes) {
    Bytes b(10);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::byte(i);
    const SegmentView v(b, 4);
    BOOST_TEST(v.size() == 3u);
    BOOST_TEST(v[0].size() == 4u);
    BOOST_TEST(v[2].size() == 2u); // the last is shorter
    BOOST_TEST((v[2][1] == std::byte{9}));
    std::size_t total = 0;
    for (std::span<const std::byte> seg : v) total += seg.size();
    BOOST_TEST(total == b.size());
    BOOST_TEST(std::ranges::distance(v) == 3);
    BOOST_TEST(SegmentView(std::span<const std::byte>(), 4).empty());
    BOOST_TEST(SegmentView(b, 0).size() == 1u); // no segment size: the whole
}

BOOST_FIXTURE_TEST_CASE(a_coalesced_run_arrives_whole_with_its_segments, Loopback) {
    if (!gro_works()) return;
    const Run r(40, 1232, to, 1);
    BOOST_REQUIRE(sender.batch_send(tx, r.batch).ok()); // one UDP_SEGMENT train
    BOOST_TEST(receiver.recv_coalesced(rx, p.first(1), ec) == 1u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(p[0].segment_size == 1232u);
    BOOST_TEST(p[0].meta.size == 40u * 1232u);
    BOOST_TEST(p[0].meta.addr == tx.local_endpoint());
    BOOST_TEST((p[0].meta.flags == PacketFlags::none));
    const SegmentView seg = p[0].segments();
    BOOST_REQUIRE(seg.size() == 40u);
    for (std::size_t i = 0; i < 40; ++i) BOOST_TEST(testing::same_bytes(seg[i], r.d[i]), "segment " << i);
}

BOOST_FIXTURE_TEST_CASE(plain_datagrams_are_one_segment_each_and_many_come_per_call, Loopback) {
    if (!gro_works()) return;
    for (std::size_t size : {100u, 37u, 0u}) {
        const Run one(1, size, to, 2);
        BOOST_REQUIRE(sender.batch_send(tx, one.batch).ok());
    }
    BOOST_TEST(receiver.recv_coalesced(rx, p, ec) == 3u);
    BOOST_TEST(p[0].segment_size == 100u);
    BOOST_TEST(p[0].segments().size() == 1u);
    BOOST_TEST(p[1].meta.size == 37u);
    BOOST_TEST(p[2].meta.size == 0u);
    BOOST_TEST(p[2].segments().empty());
}

BOOST_FIXTURE_TEST_CASE(segments_kept_by_a_split_receive_come_first_one_each, Loopback) {
    if (!gro_works()) return;
    const Run r(20, 500, to, 3);
    BOOST_REQUIRE(sender.batch_send(tx, r.batch).ok());
    std::vector<Packet> split(8);
    BOOST_TEST(receiver.recv_mmsg(rx, split, ec) == 8u); // 12 kept
    const Run more(5, 300, to, 4);
    BOOST_REQUIRE(sender.batch_send(tx, more.batch).ok());
    std::size_t got = receiver.recv_coalesced(rx, p, ec);
    BOOST_TEST(got == 8u); // eight of the kept ones, each alone
    for (std::size_t i = 0; i < got; ++i) BOOST_TEST(testing::same_bytes(p[i].data(), r.d[8 + i]));
    got = receiver.recv_coalesced(rx, p, ec);
    BOOST_TEST(got == 5u); // the last four kept, then the new run whole
    for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(testing::same_bytes(p[i].data(), r.d[16 + i]));
    BOOST_TEST(p[4].segment_size == 300u);
    BOOST_TEST(p[4].segments().size() == 5u);
}

BOOST_FIXTURE_TEST_CASE(the_run_shares_its_metadata, Loopback) {
    if (!gro_works()) return;
    BOOST_REQUIRE(!request_metadata(rx, Metadata::all));
    const SendOptions ce{Ecn::ce, 0, {}, 0};
    const Bytes d = testing::numbered(200, 5);
    const std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>> batch(10, {d, to, ce});
    BOOST_REQUIRE(sender.batch_send(tx, batch).ok());
    BOOST_TEST(receiver.recv_coalesced(rx, p.first(1), ec) == 1u);
    BOOST_TEST(p[0].segments().size() == 10u);
    BOOST_TEST((p[0].meta.ecn == Ecn::ce));
    BOOST_TEST(p[0].meta.local == asio::ip::make_address_v4("127.0.0.1"));
    BOOST_TEST(p[0].meta.timestamp.count() > 0);
}

BOOST_FIXTURE_TEST_CASE(a_packet_too_small_for_the_run_says_truncated_and_how_long_it_was, Loopback) {
    if (!gro_works()) return;
    const Run r(20, 1000, to, 6);
    BOOST_REQUIRE(sender.batch_send(tx, r.batch).ok());
    std::vector<BasicCoalescedPacket<4096>> small(1);
    BOOST_TEST(receiver.recv_coalesced(rx, small, ec) == 1u);
    BOOST_TEST(has_flags(small[0].meta.flags, PacketFlags::truncated));
    BOOST_TEST(small[0].meta.size == 4096u);
    BOOST_TEST(small[0].meta.wire_size == 20000u);
    BOOST_TEST(small[0].segment_size == 1000u);
    BOOST_TEST(small[0].segments().size() == 5u); // the bytes that fitted: 4 whole, 1 partial
}

BOOST_AUTO_TEST_CASE(a_backend_that_never_coalesces_gives_one_datagram_per_packet) {
    asio::io_context io;
    auto tx = testing::bound_socket(io, testing::v4_loopback());
    auto rx = testing::bound_socket(io, testing::v4_loopback());
    const Run r(3, 64, rx.local_endpoint(), 7);
    BOOST_REQUIRE(batch_send(tx, r.batch).ok());
    BatchReceiver<Counting<LinuxMmsgBackend>> receiver;
    std::vector<BasicCoalescedPacket<2048>> p(4);
    std::error_code ec;
    BOOST_TEST(receiver.recv_coalesced(rx, p, ec) == 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(p[i].segment_size == 64u);
        BOOST_TEST(testing::same_bytes(p[i].data(), r.d[i]));
    }
    BOOST_TEST(receiver.backend().stats().recv_calls == 1u);
}

// Counting counts a coalesced run as its datagrams, as the sender counted them, not as the
// one packet it arrived in.
BOOST_AUTO_TEST_CASE(counting_counts_a_coalesced_run_as_its_datagrams) {
    if (!gro_works()) return;
    asio::io_context io;
    auto tx = testing::bound_socket(io, testing::v4_loopback());
    auto rx = testing::bound_socket(io, testing::v4_loopback());
    testing::set_rcvbuf(rx, 8 << 20);
    BatchReceiver<Counting<LinuxGsoBackend>> receiver;
    BOOST_TEST_REQUIRE(receiver.backend().inner().enable_gro(rx));
    BatchSender<Counting<LinuxGsoBackend>> sender;
    const Run empty(1, 0, rx.local_endpoint(), 9); // an empty datagram: one, no segments
    BOOST_REQUIRE(sender.batch_send(tx, empty.batch).ok());
    Run r(30, 1000, rx.local_endpoint(), 10);
    r.d.push_back(testing::numbered(400, 10030)); // a shorter last: still one run
    r.batch.emplace_back(r.d.back(), rx.local_endpoint());
    BOOST_REQUIRE(sender.batch_send(tx, r.batch).ok());
    auto packets = std::make_unique<CoalescedPacket[]>(8);
    std::span<CoalescedPacket> p{packets.get(), 8};
    std::error_code ec;
    std::size_t got = 0;
    std::size_t bytes = 0;
    // Until the run's last byte is in (GRO may cut the run in several packets), bounded.
    while (bytes < 30400 && got < p.size()) {
        const std::size_t n = receiver.recv_coalesced(rx, p.subspan(got), ec);
        BOOST_REQUIRE_MESSAGE(!ec, ec.message());
        for (std::size_t i = got; i < got + n; ++i) bytes += p[i].meta.size;
        got += n;
    }
    BOOST_REQUIRE(bytes == 30400u);
    BOOST_TEST(p[0].meta.size == 0u);
    BOOST_TEST(p[1].segments().size() > 1u); // it did coalesce, or this test shows nothing
    const CountingStats& st = receiver.backend().stats();
    BOOST_TEST(st.datagrams_received == 32u);
    BOOST_TEST(st.datagrams_received == sender.backend().stats().datagrams_sent);
    BOOST_TEST(st.bytes_received == 30400u);
    BOOST_TEST(st.recv_sizes.calls() == st.recv_calls);
}

// Behind Fallback the GSO backend's coalesced receive is kept (Fallback forwards
// recv_coalesced; a socket served by a backend that never coalesces gets one datagram per
// packet, which the conformance kit checks on Fallbacks of every backend).
BOOST_AUTO_TEST_CASE(behind_fallback_a_coalesced_run_still_arrives_whole) {
    if (!gro_works()) return;
    static_assert(CoalescingRecvBackend<Fallback<LinuxGsoBackend, LinuxMmsgBackend>>);
    asio::io_context io;
    auto tx = testing::bound_socket(io, testing::v4_loopback());
    auto rx = testing::bound_socket(io, testing::v4_loopback());
    testing::set_rcvbuf(rx, 8 << 20);
    BatchReceiver<Fallback<LinuxGsoBackend, LinuxMmsgBackend>> receiver;
    auto packets = std::make_unique<CoalescedPacket[]>(4);
    std::span<CoalescedPacket> p{packets.get(), 4};
    std::error_code ec;
    // The first receive chooses LinuxGsoBackend for the socket, which turns GRO on.
    BOOST_TEST(receiver.try_recv_coalesced(rx, p, ec) == 0u);
    BOOST_TEST(receiver.backend().chosen(rx.native_handle()) == 0u);
    const Run r(30, 1000, rx.local_endpoint(), 8);
    BatchSender<LinuxGsoBackend> sender;
    BOOST_REQUIRE(sender.batch_send(tx, r.batch).ok()); // one UDP_SEGMENT train
    BOOST_TEST(receiver.recv_coalesced(rx, p.first(1), ec) == 1u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(p[0].segment_size == 1000u);
    const SegmentView seg = p[0].segments();
    BOOST_REQUIRE(seg.size() == 30u);
    for (std::size_t i = 0; i < 30; ++i) BOOST_TEST(testing::same_bytes(seg[i], r.d[i]), "segment " << i);
}
