// What attaching XdpQueue's receive program costs the interface's other traffic, as
// behaviour (the speed is mmsg-perf's "xdp attach cost" group): GSO trains from the other
// namespace to a socket of A that XDP does not serve, received with UDP GRO. With nothing
// attached, or a transmit-only queue, or the program in generic mode, they arrive coalesced
// (one receive per train); with the program in native mode a veth takes GSO from its peer
// and GRO from its own receive path, so every datagram arrives alone. doc/xdp.adoc reports
// it, so that users choose the mode knowing it.
#define BOOST_TEST_MODULE xdp_attach_cost // before xdp_world.hpp, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/coalesced_packet.hpp>

#include "xdp_world.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using namespace mmsg::test;

namespace {

constexpr std::size_t trains = 40, per_train = 16, size = 1000;

// Datagrams per receive when B sends `trains` GSO trains to a GRO socket of A.
double datagrams_per_receive(testing::VethPair& w) {
    asio::io_context io;
    udp::socket rx = socket_in(w, true, io, on_a());
    udp::socket tx = socket_in(w, false, io, on_b());
    const int big = 8 << 20;
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    BatchReceiver<LinuxGsoBackend> receiver;
    std::vector<CoalescedPacket> got(4);
    std::error_code ec;
    receiver.try_recv_coalesced(rx, got, ec); // turns UDP_GRO on before anything arrives
    const auto payload = testing::numbered(size, 1);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch(trains * per_train, {payload, rx.local_endpoint()});
    BatchSender<LinuxGsoBackend> sender;
    std::size_t sent = 0;
    for (std::size_t t = 0; t < trains; ++t) // one train per call: trains of exactly per_train
        sent += w.in_b([&] { return sender.batch_send(tx, std::span(batch).subspan(t * per_train, per_train)).sent; });
    BOOST_REQUIRE(sent == trains * per_train);
    std::size_t datagrams = 0, receives = 0;
    while (datagrams < sent) {
        const std::size_t n = receiver.recv_coalesced(rx, got, ec);
        BOOST_REQUIRE_MESSAGE(n > 0, "received " << datagrams << " of " << sent << ": " << ec.message());
        for (std::size_t i = 0; i < n; ++i) {
            datagrams += got[i].segments().size();
            for (const auto seg : got[i].segments()) BOOST_TEST(seg.size() == size);
        }
        receives += n;
    }
    BOOST_TEST(datagrams == sent);
    return static_cast<double>(datagrams) / static_cast<double>(receives);
}

} // namespace

BOOST_AUTO_TEST_CASE(native_mode_takes_gro_from_the_interfaces_other_traffic_generic_mode_does_not) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    struct Case {
        const char* what;
        bool queue;
        XdpMode mode;
        bool receive;
        bool coalesced;
    };
    const Case cases[] = {
        {"nothing attached", false, XdpMode::native, false, true},
        {"transmit-only queue", true, XdpMode::native, false, true},
        {"receive program, generic mode", true, XdpMode::generic, true, true},
        {"receive program, native mode", true, XdpMode::native, true, false},
    };
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            std::shared_ptr<XdpQueue> q;
            if (c.queue) {
                XdpOptions o = options_for(true, c.mode);
                o.receive = c.receive;
                o.allow_coalescing_interface = true;
                std::error_code ec;
                q = open_queue(*w, true, o, ec);
                BOOST_REQUIRE_MESSAGE(q, ec.message());
            }
            const double per_receive = datagrams_per_receive(*w);
            BOOST_TEST_MESSAGE(c.what << ": " << per_receive << " datagrams per receive (trains of " << per_train << ")");
            if (c.coalesced)
                BOOST_TEST(per_receive >= 2.0);
            else
                BOOST_TEST(per_receive == 1.0);
        }
    }
}
