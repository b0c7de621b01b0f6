// Per-datagram metadata through the layers above the backends: the mock network (which needs
// no request), MockGsoBackend's trains (grouped by options), the policies Counting,
// FaultInjecting and Fallback, and the asynchronous layer.
#include <mmsg/asio.hpp>

#include <mmsg/backend/io_uring.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/testing.hpp>

#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE metadata_layers_metadata
#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstddef>
#include <future>
#include <span>
#include <tuple>
#include <vector>

#include <net/if.h>

using namespace mmsg;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Bytes = std::vector<std::byte>;
using Options = std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>>;

namespace {

asio::ip::address v4(const char* a) { return asio::ip::make_address_v4(a); }
const Bytes payload(24, std::byte{7});

} // namespace

BOOST_AUTO_TEST_CASE(the_mock_network_delivers_ecn_local_and_source_unasked) {
    MockNetwork net;
    const int tx = net.open(Endpoint(v4("127.0.0.1"), 4000));
    const int rx = net.open(Endpoint(asio::ip::address_v4::any(), 4001));
    const SendOptions ce_from_2{Ecn::ce, 0, v4("127.0.0.2"), 0};
    BatchSender<MockBackend> sender{MockBackend(net)};
    BOOST_TEST(sender.batch_send(tx, Options{{payload, Endpoint(v4("127.0.0.5"), 4001), ce_from_2},
                                             {payload, Endpoint(v4("127.0.0.6"), 4001), SendOptions{}}})
                   .ok());
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    std::vector<Packet> p(2);
    BOOST_REQUIRE(receiver.recv_mmsg(rx, p) == 2u);
    BOOST_TEST((p[0].meta.ecn == Ecn::ce));
    BOOST_TEST(p[0].meta.local == v4("127.0.0.5"));                 // where it was sent
    BOOST_TEST(p[0].meta.addr == Endpoint(v4("127.0.0.2"), 4000)); // source option, tx's port
    BOOST_TEST(p[0].meta.interface_index == 0u);
    BOOST_TEST(p[0].meta.timestamp.count() == 0);
    BOOST_TEST((p[1].meta.ecn == Ecn::not_ect));
    BOOST_TEST(p[1].meta.local == v4("127.0.0.6"));
    BOOST_TEST(p[1].meta.addr == Endpoint(v4("127.0.0.1"), 4000));
}

BOOST_AUTO_TEST_CASE(the_mock_refuses_options_that_do_not_fit_the_destination) {
    MockNetwork net;
    const int tx = net.open(Endpoint(v4("127.0.0.1"), 0));
    const Endpoint to(v4("127.0.0.1"), 4100);
    const SendOptions v6_source{Ecn::not_ect, 0, asio::ip::address_v6::loopback(), 0};
    std::vector<std::error_code> status(3);
    BatchSender<MockBackend> sender{MockBackend(net)};
    const SendResult r = sender.batch_send(
        tx, Options{{payload, to, SendOptions{}}, {payload, to, v6_source}, {payload, to, SendOptions{}}},
        status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST((status[1] == std::errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(mock_gso_trains_group_by_options_and_each_arrives_with_its_own) {
    MockNetwork net;
    const int tx = net.open(Endpoint(v4("127.0.0.1"), 0));
    const int rx = net.open(Endpoint(v4("127.0.0.1"), 4200));
    const SendOptions runs[3] = {{Ecn::ect0, 0, {}, 0}, {Ecn::ce, 0, {}, 0}, {Ecn::ect0, 0, {}, 0}};
    Options batch;
    for (const SendOptions& o : runs)
        for (int i = 0; i < 5; ++i) batch.emplace_back(payload, Endpoint(v4("127.0.0.1"), 4200), o);
    BatchSender<MockGsoBackend> sender{MockGsoBackend(MockGsoOps(net))};
    BOOST_TEST(sender.batch_send(tx, batch).ok());
    BOOST_TEST(net.trains_sent() == 3u); // a new train wherever the options change
    // Received through the mock GSO backend's own receive path too.
    BatchReceiver<MockGsoBackend> receiver{MockGsoBackend(MockGsoOps(net))};
    std::vector<Packet> p(15);
    BOOST_REQUIRE(receiver.recv_mmsg_exact(rx, p) == 15u);
    for (int i = 0; i < 15; ++i) BOOST_TEST((p[i].meta.ecn == runs[i / 5].ecn), "datagram " << i);
    BOOST_TEST(p[0].meta.local == v4("127.0.0.1"));
}

template <class Sender, class Receiver>
void round_trip_through(Sender& sender, Receiver& receiver) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    BOOST_REQUIRE(!request_metadata(rx, Metadata::all));
    udp::socket tx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    const Endpoint to(v4("127.0.0.3"), rx.local_endpoint().port());
    const SendOptions o{Ecn::ce, 0, v4("127.0.0.2"), 0};
    BOOST_TEST(sender.batch_send(tx, Options{{payload, to, o}, {payload, to, SendOptions{}}}).ok());
    std::vector<Packet> p(2);
    BOOST_REQUIRE(receiver.recv_mmsg_exact(rx, p) == 2u);
    BOOST_TEST((p[0].meta.ecn == Ecn::ce));
    BOOST_TEST(p[0].meta.addr.address() == v4("127.0.0.2"));
    BOOST_TEST(p[0].meta.local == v4("127.0.0.3"));
    BOOST_TEST(p[0].meta.interface_index == if_nametoindex("lo"));
    BOOST_TEST(p[0].meta.timestamp.count() > 0);
    BOOST_TEST((p[1].meta.ecn == Ecn::not_ect));
}

BOOST_AUTO_TEST_CASE(counting_passes_options_and_metadata_through) {
    BatchSender<Counting<LinuxMmsgBackend>> sender;
    BatchReceiver<Counting<LinuxMmsgBackend>> receiver;
    round_trip_through(sender, receiver);
    BOOST_TEST(sender.backend().stats().datagrams_sent == 2u);
}

BOOST_AUTO_TEST_CASE(fault_injecting_passes_options_and_metadata_through) {
    BatchSender<FaultInjecting<LinuxGsoBackend>> sender;
    BatchReceiver<FaultInjecting<LinuxGsoBackend>> receiver;
    round_trip_through(sender, receiver);
}

BOOST_AUTO_TEST_CASE(fallback_passes_options_and_metadata_through) {
#if MMSG_HAS_IO_URING
    using F = Fallback<IoUringBackend, LinuxGsoBackend, PortableBackend>;
#else
    using F = Fallback<LinuxGsoBackend, PortableBackend>;
#endif
    BatchSender<F> sender;
    BatchReceiver<F> receiver;
    round_trip_through(sender, receiver);
}

BOOST_AUTO_TEST_CASE(the_asynchronous_layer_carries_options_and_metadata) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    BOOST_REQUIRE(!request_metadata(rx, Metadata::ecn | Metadata::local_address));
    udp::socket tx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    const Endpoint to(v4("127.0.0.3"), rx.local_endpoint().port());
    const SendOptions ect1{Ecn::ect1, 0, v4("127.0.0.2"), 0};
    const Options batch{{payload, to, ect1}};
    const std::vector<Endpoint> dests{to, to};
    const SendOptions ce{Ecn::ce, 0, {}, 0};
    std::vector<Packet> p(3);
    std::future<SendResult> a = async_batch_send(tx, batch, asio::use_future);
    std::future<SendResult> b = async_multi_target_send(tx, payload, dests, ce, asio::use_future);
    std::future<std::size_t> r = async_recv_mmsg_exact(rx, p, asio::use_future);
    io.run_for(std::chrono::seconds(30));
    BOOST_TEST(a.get().sent == 1u);
    BOOST_TEST(b.get().sent == 2u);
    BOOST_REQUIRE(r.get() == 3u);
    BOOST_TEST((p[0].meta.ecn == Ecn::ect1));
    BOOST_TEST(p[0].meta.addr.address() == v4("127.0.0.2"));
    BOOST_TEST(p[0].meta.local == v4("127.0.0.3"));
    BOOST_TEST((p[1].meta.ecn == Ecn::ce));
    BOOST_TEST((p[2].meta.ecn == Ecn::ce));
}
