// GSO trains into a generic-mode receive program, made safe. Generic XDP hands the program
// a sender's UDP_SEGMENT train whole (a veth keeps trains of the other namespace whole): a
// program without multi-buffer support had every train longer than a page dropped before
// it ran (the issue measured 625,000 of 625,000), and a train redirected to the ring would
// reach the socket as one datagram. XdpQueue's program passes every train longer than the
// MTU to the kernel, which cuts it into its datagrams for the same socket; XdpBackend
// receives them there beside the ring. A train that fits in the MTU cannot be told from one
// datagram, so generic receive on such an interface is refused unless the user says no
// sender uses GSO towards it (XdpErrc::coalescing_interface; doc/xdp.adoc).
#define BOOST_TEST_MODULE xdp_gso_trains // before xdp_world.hpp, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>

#include "xdp_world.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using namespace mmsg::test;

BOOST_AUTO_TEST_CASE(generic_receive_on_a_veth_is_refused_unless_asked_for) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    BOOST_TEST(!open_queue(*w, true, options_for(true, XdpMode::generic), ec));
    BOOST_TEST((ec == XdpErrc::coalescing_interface), ec.message());
    // Transmit only attaches nothing: nothing to refuse.
    XdpOptions o = options_for(true, XdpMode::generic);
    o.receive = false;
    BOOST_TEST(open_queue(*w, true, o, ec), ec.message());
}

BOOST_AUTO_TEST_CASE(gso_trains_reach_a_generic_mode_socket_whole_in_their_datagrams) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    XdpOptions o = options_for(true, XdpMode::generic);
    o.allow_coalescing_interface = true;
    const auto qa = open_queue(*w, true, o, ec);
    BOOST_REQUIRE_MESSAGE(qa, ec.message());
    BOOST_TEST(qa->multi_buffer_program());
    Sides sides(*w);
    udp::socket& sa = sides.sa; // named, not bound: a lambda captures them (clang 14)
    udp::socket& sb = sides.sb;
    const int big = 4 << 20;
    ::setsockopt(sa.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    BatchReceiver<XdpBackend> ra{XdpBackend(qa)};
    std::array<BasicPacket<1500>, 1> none{};
    BOOST_TEST(ra.try_recv_mmsg(sa, none, ec) == 0u); // sa holds A's receive now

    // From B, ten times: a run of 64 x 1232 bytes (trains of up to 64 KiB: several
    // buffers), three trains of 2 x 1000 bytes (over the MTU, within a page) and ten lone
    // datagrams, each followed by one to another port so that no train forms.
    std::vector<std::vector<std::byte>> payloads;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    const Endpoint other = on_a(9);
    std::vector<std::pair<std::size_t, bool>> plan; // (payload index, then one to `other`)
    auto add = [&](std::size_t size, bool then_other) {
        plan.emplace_back(payloads.size(), then_other);
        payloads.push_back(testing::numbered(size, static_cast<std::uint32_t>(payloads.size())));
    };
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 64; ++i) add(1232, i == 63);
        for (int t = 0; t < 3; ++t) add(1000, false), add(1000, true);
        for (int i = 0; i < 10; ++i) add(300, true);
    }
    const auto spacer = testing::numbered(20, 0xffffffffu);
    for (const auto& [i, then_other] : plan) {
        batch.emplace_back(payloads[i], sa.local_endpoint());
        if (then_other) batch.emplace_back(spacer, other);
    }
    BatchSender<LinuxGsoBackend> gso;
    const SendResult r = w->in_b([&] { return gso.batch_send(sb, batch); });
    BOOST_REQUIRE(r.ok());

    // Every datagram arrives once, with its own length and bytes: none dropped, none merged.
    std::vector<BasicPacket<1500>> got(payloads.size());
    BOOST_TEST(ra.recv_mmsg_exact(sa, got, ec) == got.size(), ec.message());
    std::map<std::uint32_t, int> seen;
    for (const auto& p : got) {
        std::uint32_t i = 0;
        BOOST_REQUIRE(p.meta.size >= 4u);
        std::memcpy(&i, p.data().data(), 4);
        BOOST_REQUIRE(i < payloads.size());
        BOOST_TEST((std::vector<std::byte>(p.data().begin(), p.data().end()) == payloads[i]), "datagram " << i);
        BOOST_TEST((p.meta.addr == sb.local_endpoint()));
        ++seen[i];
    }
    BOOST_TEST(seen.size() == payloads.size());
    const XdpStatistics s = qa->statistics();
    BOOST_TEST_MESSAGE("through the ring: " << s.frames_received << " of " << payloads.size());
    BOOST_TEST(s.frames_received == 100u); // the lone ones; every train through the socket
    BOOST_TEST(s.rx_invalid + s.rx_dropped == 0u);
}
