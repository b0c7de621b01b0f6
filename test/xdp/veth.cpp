// XdpBackend over a real link: two network namespaces of this test's own joined by a veth
// pair (198.18.0.1/24 and 198.18.0.2/24, inside them only; gone when the test ends), an
// XdpQueue on each side. Datagrams both ways through both rings with their bytes, order,
// sources and metadata; the receive side of the contract the loopback kit cannot reach
// (truncation, would-block, the socket's kernel path beside the ring); the mode matrix
// (native and generic, copy, receiving or transmit only; zero copy refused with its error);
// a transmit ring much smaller than the batch; a missing neighbour; routes and neighbours
// that change; closing and opening a queue again within the kernel's busy window.
#define BOOST_TEST_MODULE xdp_veth // before xdp_world.hpp, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/socket_state.hpp>

#include "xdp_world.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

using namespace mmsg;
using namespace mmsg::test;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

struct Payloads {
    std::vector<std::vector<std::byte>> bytes;
    Batch batch;
    Payloads(std::size_t n, const Endpoint& to, std::size_t base = 40, std::size_t spread = 1200) {
        for (std::size_t i = 0; i < n; ++i) bytes.push_back(testing::numbered(base + (i * 37) % spread, static_cast<std::uint32_t>(i)));
        for (const auto& b : bytes) batch.emplace_back(std::span<const std::byte>(b), to);
    }
};

// Receives exactly want.size() datagrams on `rx` and checks each one's bytes, order and source.
template <class B>
void expect_received(BatchReceiver<B>& receiver, udp::socket& rx, const Payloads& want, const Endpoint& from) {
    std::vector<BasicPacket<1500>> got(want.bytes.size());
    std::error_code ec;
    const std::size_t n = receiver.recv_mmsg_exact(rx, got, ec);
    BOOST_TEST(n == got.size(), ec.message());
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST((got[i].meta.addr == from), "datagram " << i << " from " << got[i].meta.addr);
        const auto d = got[i].data();
        BOOST_TEST((std::vector<std::byte>(d.begin(), d.end()) == want.bytes[i]), "datagram " << i);
        BOOST_TEST((got[i].meta.flags == PacketFlags::none));
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(datagrams_cross_both_ways_through_both_rings_with_bytes_and_sources) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qa = require_queue(*w, true);
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    BatchReceiver<XdpBackend> ra{XdpBackend(qa)}, rb{XdpBackend(qb)};
    std::array<Packet, 4> none{};
    // A first receive makes each socket its queue's receiving socket (nothing is queued yet).
    BOOST_TEST(ra.try_recv_mmsg(sa, none, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
    BOOST_TEST(rb.try_recv_mmsg(sb, none, ec) == 0u);
    BOOST_TEST(qa->receiving_port() == sa.local_endpoint().port());
    BOOST_TEST(qb->receiving_port() == sb.local_endpoint().port());

    BatchSender<XdpBackend> ta{XdpBackend(qa)}, tb{XdpBackend(qb)};
    const Payloads ab(300, sb.local_endpoint());
    std::vector<std::error_code> status(300);
    const SendResult r1 = ta.batch_send(sa, ab.batch, status);
    BOOST_TEST(r1.ok(), r1.first_error.message());
    BOOST_TEST(r1.sent == 300u);
    expect_received(rb, sb, ab, sa.local_endpoint());

    const Payloads ba(200, sa.local_endpoint(), 1, 1472);
    const SendResult r2 = tb.batch_send(sb, ba.batch);
    BOOST_TEST(r2.ok(), r2.first_error.message());
    expect_received(ra, sa, ba, sb.local_endpoint());

    // The same payload to many destinations: 50 to B's socket among 50 to an address that
    // routes out of the veth to a port nobody has (B drops those; all count as sent).
    const auto one = testing::numbered(1232, 7);
    std::vector<Endpoint> dests;
    for (int i = 0; i < 100; ++i) dests.push_back(i % 2 == 0 ? sb.local_endpoint() : on_b(9));
    BatchSender<XdpBackend, std::vector<std::byte>> multi{XdpBackend(qa)};
    BOOST_TEST(multi.multi_target_send(sa, one, dests).sent == 100u);
    std::vector<Packet> got(50);
    BOOST_TEST(rb.recv_mmsg_exact(sb, got, ec) == 50u);
    for (const Packet& p : got) BOOST_TEST((std::vector<std::byte>(p.data().begin(), p.data().end()) == one));

    // Every one of them went as a frame and came back through the other side's ring.
    const XdpStatistics sa_stats = qa->statistics(), sb_stats = qb->statistics();
    BOOST_TEST(sa_stats.frames_sent == 400u);
    BOOST_TEST(sb_stats.frames_sent == 200u);
    BOOST_TEST(sb_stats.frames_received == 350u);
    BOOST_TEST(sa_stats.frames_received == 200u);
    BOOST_TEST(sa_stats.through_kernel + sb_stats.through_kernel == 0u);
    BOOST_TEST(sa_stats.rx_dropped + sb_stats.rx_dropped + sa_stats.stray + sb_stats.stray == 0u);
}

BOOST_AUTO_TEST_CASE(received_datagrams_carry_metadata_truncation_and_would_block) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qa = require_queue(*w, true);
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    BOOST_REQUIRE(!request_metadata(sb, Metadata::ecn | Metadata::local_address));
    BatchReceiver<XdpBackend> rb{XdpBackend(qb)};
    std::array<BasicPacket<100>, 4> got{};
    // Empty: would-block at once with WaitMode::never, and after SO_RCVTIMEO otherwise.
    BOOST_TEST(rb.try_recv_mmsg(sb, got, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
    const timeval short_wait{0, 50'000};
    ::setsockopt(sb.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait);
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(rb.recv_mmsg(sb, got, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
    // The wait is the socket's own 50 ms (rounded to the ms); a loaded machine may add to it.
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    BOOST_TEST(waited.count() >= 49);
    const timeval long_wait{5, 0};
    ::setsockopt(sb.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &long_wait, sizeof long_wait);

    using Opts = std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>>;
    const auto big = testing::numbered(300, 1), small = testing::numbered(50, 2);
    SendOptions ce;
    ce.ecn = Ecn::ce;
    ce.dscp = 46;
    SendOptions ect1;
    ect1.ecn = Ecn::ect1;
    const Opts batch{{big, sb.local_endpoint(), ce}, {small, sb.local_endpoint(), ect1}};
    BatchSender<XdpBackend> ta{XdpBackend(qa)};
    BOOST_TEST(ta.batch_send(sa, batch).ok());
    BOOST_TEST(rb.recv_mmsg_exact(sb, std::span(got).first(2), ec) == 2u);
    BOOST_TEST(got[0].meta.size == 100u);
    BOOST_TEST(got[0].meta.wire_size == 300u);
    BOOST_TEST(has_flags(got[0].meta.flags, PacketFlags::truncated));
    BOOST_TEST((std::vector<std::byte>(got[0].data().begin(), got[0].data().end()) ==
                std::vector<std::byte>(big.begin(), big.begin() + 100)));
    BOOST_TEST((got[0].meta.ecn == Ecn::ce));
    BOOST_TEST(got[1].meta.size == 50u);
    BOOST_TEST(!has_flags(got[1].meta.flags, PacketFlags::truncated));
    BOOST_TEST((got[1].meta.ecn == Ecn::ect1));
    for (std::size_t i = 0; i < 2; ++i) {
        BOOST_TEST((got[i].meta.local == testing::VethPair::b_address()));
        BOOST_TEST(got[i].meta.interface_index == w->in_b([] { return if_nametoindex(testing::VethPair::b_name); }));
        BOOST_TEST((got[i].meta.addr == sa.local_endpoint()));
    }
    BOOST_TEST(qb->statistics().frames_received == 2u);
}

BOOST_AUTO_TEST_CASE(the_socket_itself_is_read_beside_the_ring) {
    // Datagrams that reach the receiving socket through the kernel (sent before its first
    // receive, or by a plain kernel socket while the ring is busy) are received too.
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    const Payloads early(20, sb.local_endpoint());
    BatchSender<LinuxMmsgBackend> kernel;
    BOOST_TEST(kernel.batch_send(sa, early.batch).ok());
    BatchReceiver<XdpBackend> rb{XdpBackend(qb)};
    expect_received(rb, sb, early, sa.local_endpoint()); // its first receive: the socket has them
    const Payloads late(20, sb.local_endpoint());
    BOOST_TEST(kernel.batch_send(sa, late.batch).ok()); // now through the ring
    expect_received(rb, sb, late, sa.local_endpoint());
    BOOST_TEST(qb->statistics().frames_received == 20u);
}

BOOST_AUTO_TEST_CASE(the_mode_matrix_native_and_generic_copy_and_zero_copy_refused) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    // Zero copy: veth has no driver support for it; refused cleanly, in both modes.
    for (const XdpMode mode : {XdpMode::native, XdpMode::generic}) {
        XdpOptions o = options_for(true, mode);
        o.zero_copy = true;
        o.allow_coalescing_interface = true;
        BOOST_TEST(!open_queue(*w, true, o, ec));
        BOOST_TEST((ec == XdpErrc::zero_copy_refused), ec.message());
        BOOST_TEST((ec == std::errc::operation_not_supported));
    }
    // Generic receive on a veth is refused unless asked for (a GSO train of the other side
    // that fits in the MTU would look like one datagram: gso_trains.cpp).
    BOOST_TEST(!open_queue(*w, true, options_for(true, XdpMode::generic), ec));
    BOOST_TEST((ec == XdpErrc::coalescing_interface), ec.message());

    for (const XdpMode mode_a : {XdpMode::native, XdpMode::generic}) {
        for (const bool receive : {true, false}) {
            BOOST_TEST_CONTEXT("A: " << (mode_a == XdpMode::native ? "native" : "generic") << ", copy, "
                                     << (receive ? "receive" : "transmit only")) {
                XdpOptions o = options_for(true, mode_a);
                o.allow_coalescing_interface = true;
                o.receive = receive;
                const auto qa = open_queue(*w, true, o, ec);
                BOOST_REQUIRE_MESSAGE(qa, ec.message());
                BOOST_TEST(qa->receives() == receive);
                if (mode_a == XdpMode::generic && receive) BOOST_TEST(qa->multi_buffer_program());
                const auto qb = require_queue(*w, false);
                Sides sides(*w);
                auto& [io, sa, sb] = sides;
                BatchReceiver<XdpBackend> ra{XdpBackend(qa)}, rb{XdpBackend(qb)};
                std::array<Packet, 1> none{};
                ra.try_recv_mmsg(sa, none, ec);
                rb.try_recv_mmsg(sb, none, ec);
                const Payloads ab(100, sb.local_endpoint()), ba(100, sa.local_endpoint());
                BatchSender<XdpBackend> ta{XdpBackend(qa)}, tb{XdpBackend(qb)};
                BOOST_TEST(ta.batch_send(sa, ab.batch).ok());
                expect_received(rb, sb, ab, sa.local_endpoint());
                BOOST_TEST(tb.batch_send(sb, ba.batch).ok());
                expect_received(ra, sa, ba, sb.local_endpoint());
                BOOST_TEST(qa->statistics().frames_sent == 100u);
                // Received through A's ring when it receives, else through the socket.
                BOOST_TEST(qa->statistics().frames_received == (receive ? 100u : 0u));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_missing_neighbour_fails_those_datagrams_alone_and_gets_resolved) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qa = require_queue(*w, true);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    // B's entry goes; 198.18.0.99 (on the link, no host) never had one.
    BOOST_REQUIRE(w->run_a(std::string("ip neigh del 198.18.0.2 dev ") + testing::VethPair::a_name));
    const Endpoint absent(testing::VethPair::absent_address(), 9);
    const auto p = testing::numbered(100, 1);
    const Batch batch{{p, sb.local_endpoint()}, {p, absent}, {p, sb.local_endpoint()}, {p, absent}, {p, sb.local_endpoint()}};
    BatchSender<XdpBackend> ta{XdpBackend(qa)};
    std::vector<std::error_code> status(5);
    SendResult r = ta.batch_send(sa, batch, status);
    // Every datagram has its outcome; none is lost without one.
    BOOST_TEST(r.sent + r.failed == 5u);
    BOOST_TEST(!r.fatal);
    for (std::size_t i : {1u, 3u}) BOOST_TEST((status[i] == std::errc::host_unreachable), status[i].message());
    std::size_t to_b = 0;
    for (std::size_t i : {0u, 2u, 4u}) {
        BOOST_TEST((!status[i] || status[i] == std::errc::host_unreachable), status[i].message());
        to_b += !status[i];
    }
    // XdpBackend asked the kernel to resolve them: B's resolves (on the kernel's notice).
    BOOST_TEST(w->wait_neighbour(true, testing::VethPair::b_address().to_v4(), std::chrono::seconds(5)));
    r = ta.batch_send(sa, batch, status);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 2u);
    for (std::size_t i : {0u, 2u, 4u}) BOOST_TEST(!status[i], status[i].message());
    for (std::size_t i : {1u, 3u}) BOOST_TEST((status[i] == std::errc::host_unreachable));
    // B gets exactly the datagrams reported sent.
    std::vector<Packet> got(to_b + 3);
    BatchReceiver<LinuxMmsgBackend> rb;
    BOOST_TEST(rb.recv_mmsg_exact(sb, got, ec) == got.size(), ec.message());
    std::array<Packet, 1> extra{};
    BOOST_TEST(rb.try_recv_mmsg(sb, extra, ec) == 0u);
}

BOOST_AUTO_TEST_CASE(a_queue_closed_and_opened_again_waits_out_the_kernels_busy_window) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    XdpOptions o = options_for(true);
    auto qa = open_queue(*w, true, o, ec);
    BOOST_REQUIRE_MESSAGE(qa, ec.message());
    // A second socket on a queue that is held: busy, at once without retry, after the retry
    // time with it (bounded: 50 ms asked, a loaded machine may add to it).
    o.busy_retry = std::chrono::milliseconds(0);
    BOOST_TEST(!open_queue(*w, true, o, ec));
    BOOST_TEST((ec == XdpErrc::queue_busy), ec.message());
    o.busy_retry = std::chrono::milliseconds(50);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(!open_queue(*w, true, o, ec));
    BOOST_TEST((ec == XdpErrc::queue_busy));
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() >= 50);
    // Closed and opened again at once: the kernel frees the queue some milliseconds after
    // the close; open() tries again until it is free (busy_retry, 500 ms by default).
    for (int round = 0; round < 5; ++round) {
        BOOST_TEST_CONTEXT("round " << round) {
            BatchSender<XdpBackend> ta{XdpBackend(qa)};
            const auto p = testing::numbered(200, static_cast<std::uint32_t>(round));
            const Batch one{{p, sb.local_endpoint()}};
            BOOST_TEST(ta.batch_send(sa, one).ok());
            std::array<Packet, 1> got{};
            BatchReceiver<LinuxMmsgBackend> rb;
            BOOST_TEST(rb.recv_mmsg(sb, got, ec) == 1u, ec.message());
            BOOST_TEST((std::vector<std::byte>(got[0].data().begin(), got[0].data().end()) == p));
            qa.reset(); // XdpBackend copies still hold it: they are gone with the sender
            ta = BatchSender<XdpBackend>{XdpBackend(XdpOptions{})};
            t0 = std::chrono::steady_clock::now();
            qa = open_queue(*w, true, options_for(true), ec);
            BOOST_REQUIRE_MESSAGE(qa, ec.message());
            BOOST_TEST_MESSAGE("opened again after "
                               << std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()
                               << " us");
        }
    }
}

// A batch 30 times the transmit ring, sent without waiting: every datagram is sent or
// unsent (a suffix, sent on the next call), none is lost, every frame is used again after
// its completion. (On a veth the kernel completes frames within the kick, so the ring does
// not stay full here; frames held in flight are checked in transmit_ring.cpp.)
BOOST_AUTO_TEST_CASE(a_ring_smaller_than_the_batch_reuses_its_frames_and_loses_nothing) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    XdpOptions o = options_for(true);
    o.frames = 64; // 32 transmit frames
    o.ring_size = 32;
    const auto qa = open_queue(*w, true, o, ec);
    BOOST_REQUIRE_MESSAGE(qa, ec.message());
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    BatchReceiver<XdpBackend> rb{XdpBackend(qb)};
    std::array<Packet, 1> none{};
    rb.try_recv_mmsg(sb, none, ec);
    constexpr std::size_t n = 1000;
    const Payloads all(n, sb.local_endpoint(), 100, 1000);
    BatchSender<XdpBackend> ta{XdpBackend(qa)};
    std::size_t next = 0, calls = 0, pressured = 0;
    std::vector<std::error_code> status(n);
    while (next < n && calls < 10000) {
        const std::span<const std::pair<std::span<const std::byte>, Endpoint>> rest(all.batch.data() + next, n - next);
        const SendResult r = ta.try_batch_send(sa, rest, std::span(status).first(rest.size()));
        ++calls;
        BOOST_REQUIRE(r.failed == 0u);
        BOOST_REQUIRE(r.sent + r.unsent == rest.size());
        for (std::size_t i = r.sent; i < rest.size(); ++i)
            BOOST_REQUIRE((status[i] == std::errc::operation_would_block));
        pressured += r.unsent > 0;
        next += r.sent;
    }
    BOOST_TEST_MESSAGE(calls << " calls, " << pressured << " of them stopped by back-pressure");
    BOOST_TEST(next == n);
    expect_received(rb, sb, all, sa.local_endpoint());
}

BOOST_AUTO_TEST_CASE(routes_and_neighbours_are_followed_when_they_change) {
    // XdpBackend caches routes and neighbours; the kernel's change notifications keep them
    // true. No sleep: every change is made before the send that must see it, and "nothing
    // arrived" is checked by a datagram sent after, which a veth delivers in order.
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qa = require_queue(*w, true);
    asio::io_context io;
    udp::socket sa = socket_in(*w, true, io, on_a());
    // B takes 198.19.0.0/16 as its own (inside its namespace only); a socket of any address.
    BOOST_REQUIRE(w->run_b("ip route add local 198.19.0.0/16 dev lo"));
    udp::socket sb = socket_in(*w, false, io, Endpoint(asio::ip::address_v4::any(), 0));
    const Endpoint far(asio::ip::make_address("198.19.0.5"), sb.local_endpoint().port());
    const Endpoint near = on_b(sb.local_endpoint().port());
    const auto p = testing::numbered(64, 1);
    BatchSender<XdpBackend> ta{XdpBackend(qa)};
    BatchReceiver<LinuxMmsgBackend> rb;
    std::array<Packet, 2> got{};
    std::vector<std::error_code> status(1);
    auto send_to = [&](const Endpoint& to) {
        const Batch one{{p, to}};
        ta.batch_send(sa, one, status);
        return status[0];
    };
    BOOST_TEST((send_to(far) == std::errc::network_unreachable)); // no route yet (cached now)
    BOOST_REQUIRE(w->run_a("ip route add 198.19.0.0/16 via 198.18.0.2"));
    BOOST_TEST(!send_to(far), status[0].message());
    BOOST_TEST(rb.recv_mmsg(sb, std::span(got).first(1), ec) == 1u, ec.message());
    BOOST_TEST((got[0].meta.addr == sa.local_endpoint()));
    BOOST_REQUIRE(w->run_a("ip route del 198.19.0.0/16 via 198.18.0.2"));
    BOOST_TEST((send_to(far) == std::errc::network_unreachable));

    // B's link-layer address as A knows it: a wrong one, then the right one again.
    const std::string b_mac = w->in_b([] {
        char buf[64] = {};
        std::FILE* f = ::popen("ip -o link show mmsg-xb", "r");
        std::string line;
        if (f != nullptr) {
            while (std::fgets(buf, sizeof buf, f) != nullptr) line += buf;
            ::pclose(f);
        }
        const auto at = line.find("link/ether ");
        return at == std::string::npos ? std::string() : line.substr(at + 11, 17);
    });
    BOOST_REQUIRE_MESSAGE(b_mac.size() == 17u, "B's address: '" << b_mac << "'");
    const std::string neigh = std::string(" dev ") + testing::VethPair::a_name + " nud permanent";
    BOOST_REQUIRE(w->run_a("ip neigh replace 198.18.0.2 lladdr 02:00:5e:00:00:99" + neigh));
    BOOST_TEST(!send_to(near)); // sent, to an address B does not answer to: B drops it
    BOOST_REQUIRE(w->run_a("ip neigh replace 198.18.0.2 lladdr " + b_mac + neigh));
    const auto sentinel = testing::numbered(80, 2);
    const Batch last{{sentinel, near}};
    BOOST_TEST(ta.batch_send(sa, last).ok());
    BOOST_TEST(rb.recv_mmsg(sb, std::span(got).first(1), ec) == 1u, ec.message());
    BOOST_TEST(got[0].meta.size == 80u); // the sentinel came first: the misaddressed one never did
    w->run_a("ip neigh replace 198.18.0.2 lladdr " + b_mac + " dev " + testing::VethPair::a_name + " nud reachable");
    w->run_b("ip route del local 198.19.0.0/16 dev lo");
}

BOOST_AUTO_TEST_CASE(one_socket_at_a_time_receives_through_the_ring_the_others_through_the_kernel) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qb = require_queue(*w, false);
    asio::io_context io;
    udp::socket sa = socket_in(*w, true, io, on_a());
    udp::socket first = socket_in(*w, false, io, on_b());
    udp::socket second = socket_in(*w, false, io, on_b());
    auto state1 = std::make_unique<SocketState>();
    SocketState state2;
    BatchReceiver<XdpBackend> rb{XdpBackend(qb)};
    std::array<Packet, 10> got{};
    BOOST_TEST(rb.try_recv_mmsg(with_state(first, *state1), got, ec) == 0u);
    BOOST_TEST(rb.try_recv_mmsg(with_state(second, state2), got, ec) == 0u);
    BOOST_TEST(qb->receiving_port() == first.local_endpoint().port()); // the first holds it
    BatchSender<LinuxMmsgBackend> kernel;
    const Payloads to_first(10, first.local_endpoint()), to_second(10, second.local_endpoint());
    auto both = [&] {
        BOOST_TEST(kernel.batch_send(sa, to_first.batch).ok());
        BOOST_TEST(kernel.batch_send(sa, to_second.batch).ok());
        BOOST_TEST(rb.recv_mmsg_exact(with_state(second, state2), got, ec) == 10u, ec.message());
    };
    both();
    BOOST_TEST(rb.recv_mmsg_exact(with_state(first, *state1), got, ec) == 10u, ec.message());
    BOOST_TEST(qb->statistics().frames_received == 10u); // the first's, through the ring
    state1.reset(); // the first socket's state goes: the queue receives for no one
    BOOST_TEST(qb->receiving_port() == 0u);
    BOOST_TEST(kernel.batch_send(sa, to_second.batch).ok());
    BOOST_TEST(rb.recv_mmsg_exact(with_state(second, state2), got, ec) == 10u, ec.message()); // through the kernel
    BOOST_TEST(qb->receiving_port() == second.local_endpoint().port()); // and it holds the receive now
    BOOST_TEST(kernel.batch_send(sa, to_second.batch).ok());
    BOOST_TEST(rb.recv_mmsg_exact(with_state(second, state2), got, ec) == 10u, ec.message());
    BOOST_TEST(qb->statistics().frames_received == 20u);
    BOOST_TEST(qb->statistics().stray == 0u);
}
