// The connected fast path: on a connected socket, datagrams without a destination (a
// payload alone, or mmsg::connected_peer, or a null const Endpoint*) go without msg_name
// and reach the peer; they mix with addressed datagrams in one batch, carry their options,
// ride in GSO trains; on a socket that is not connected they fail with EDESTADDRREQ, which
// ends the batch. Every real backend over loopback, and MockNetwork's connect().
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/socket.hpp>
#include <mmsg/testing.hpp>

#include <mmsg/asio.hpp>

#include "../support/backends.hpp"
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE transport_connected
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/v6_only.hpp>

#include <array>
#include <optional>
#include <cstddef>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

using namespace mmsg;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Bytes = std::vector<std::byte>;

namespace {

template <class B>
std::vector<Packet> receive(udp::socket& rx, std::size_t n) {
    BOOST_REQUIRE(!detail::set_timeout(rx.native_handle(), SO_RCVTIMEO, 5'000'000));
    std::vector<Packet> got(n);
    BatchReceiver<B> r;
    std::error_code ec;
    const std::size_t k = r.recv_mmsg_exact(rx, got, ec);
    BOOST_REQUIRE_MESSAGE(k == n, "received " << k << " of " << n << ": " << ec.message());
    return got;
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(payloads_alone_reach_the_connected_peer, B, test::RealBackends) {
    for (const bool v6 : {false, true}) {
        BOOST_TEST_CONTEXT((v6 ? "IPv6" : "IPv4")) {
            asio::io_context io;
            const Endpoint local = v6 ? testing::v6_loopback() : testing::v4_loopback();
            udp::socket rx = testing::bound_socket(io, local);
            udp::socket tx = testing::bound_socket(io, local);
            tx.connect(rx.local_endpoint());
            // Same size: LinuxGsoBackend sends them as trains to the connected peer.
            const std::vector<Bytes> payloads = testing::numbered_payloads(40, 300);
            std::vector<std::span<const std::byte>> batch(payloads.begin(), payloads.end());
            std::vector<std::error_code> status(batch.size());
            BatchSender<B> sender;
            const SendResult r = sender.batch_send(tx, batch, status);
            BOOST_TEST(r.sent == batch.size());
            BOOST_TEST(r.ok());
            const auto got = receive<B>(rx, payloads.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                BOOST_TEST(testing::same_bytes(got[i].data(), payloads[i]), "datagram " << i);
                BOOST_TEST((got[i].meta.addr == tx.local_endpoint()));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(connected_and_addressed_datagrams_mix_in_one_batch, B, test::RealBackends) {
    asio::io_context io;
    udp::socket peer = testing::bound_socket(io, testing::v4_loopback());
    udp::socket other = testing::bound_socket(io, testing::v4_loopback());
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    tx.connect(peer.local_endpoint());
    const Endpoint other_ep = other.local_endpoint();
    // An unconnected receiver's datagrams are not filtered by the sender's connection: the
    // kernel sends an addressed datagram where it says, even on a connected socket.
    const std::vector<Bytes> payloads = testing::numbered_payloads(9, 120);
    SendOptions ect1;
    ect1.ecn = Ecn::ect1;
    BOOST_REQUIRE(!request_metadata(peer, Metadata::ecn));
    std::vector<std::tuple<std::span<const std::byte>, const Endpoint*, const SendOptions*>> batch;
    for (std::size_t i = 0; i < payloads.size(); ++i)
        batch.emplace_back(payloads[i], i % 3 == 2 ? &other_ep : nullptr, i % 3 == 1 ? &ect1 : nullptr);
    std::vector<std::error_code> status(batch.size());
    BatchSender<B> sender;
    const SendResult r = sender.batch_send(tx, batch, status);
    BOOST_TEST(r.sent == batch.size());
    const auto at_peer = receive<B>(peer, 6);
    const auto at_other = receive<B>(other, 3);
    const std::size_t peer_order[] = {0, 1, 3, 4, 6, 7}, other_order[] = {2, 5, 8};
    for (std::size_t i = 0; i < 6; ++i) {
        BOOST_TEST(testing::same_bytes(at_peer[i].data(), payloads[peer_order[i]]));
        BOOST_TEST((at_peer[i].meta.ecn == (peer_order[i] % 3 == 1 ? Ecn::ect1 : Ecn::not_ect)),
                   "datagram " << peer_order[i]);
    }
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(testing::same_bytes(at_other[i].data(), payloads[other_order[i]]));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(connected_peer_with_options_on_a_dual_stack_socket, B, test::RealBackends) {
    // No destination, so both families' control messages go: the IPv4-mapped peer's path
    // reads IP_TOS, and the datagram arrives with its ECN.
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    BOOST_REQUIRE(!request_metadata(rx, Metadata::ecn));
    udp::socket tx(io, udp::v6());
    tx.set_option(asio::ip::v6_only(false));
    tx.bind(udp::endpoint(asio::ip::address_v6::any(), 0));
    tx.connect(udp::endpoint(asio::ip::make_address_v6(asio::ip::v4_mapped, rx.local_endpoint().address().to_v4()),
                             rx.local_endpoint().port()));
    const Bytes payload = testing::numbered(64, 1);
    SendOptions ce;
    ce.ecn = Ecn::ce;
    const std::array batch{std::tuple{std::span<const std::byte>(payload), connected_peer, ce}};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, batch).sent == 1u);
    const auto got = receive<B>(rx, 1);
    BOOST_TEST((got[0].meta.ecn == Ecn::ce));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(without_a_connection_a_payload_alone_fails_with_edestaddrreq, B, test::RealBackends) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const std::vector<Bytes> payloads = testing::numbered_payloads(4, 64);
    const Endpoint to = rx.local_endpoint();
    // The first goes (addressed); the second has no destination: fatal, the rest not tried.
    // IoUringBackend submits every datagram at once and each has its own completion: the
    // later ones went, and only the second failed.
    std::vector<std::pair<std::span<const std::byte>, const Endpoint*>> batch{
        {payloads[0], &to}, {payloads[1], nullptr}, {payloads[2], &to}, {payloads[3], &to}};
    std::vector<std::error_code> status(batch.size());
    BatchSender<B> sender;
    const SendResult r = sender.batch_send(tx, batch, status);
    BOOST_TEST((r.first_error == std::errc::destination_address_required), r.first_error.message());
    BOOST_TEST((status[1] == std::errc::destination_address_required));
#if MMSG_HAS_IO_URING
    constexpr bool own_outcomes = std::same_as<B, IoUringBackend>;
#else
    constexpr bool own_outcomes = false;
#endif
    if constexpr (own_outcomes) {
        BOOST_TEST(r.sent == 3u);
        BOOST_TEST(r.failed == 1u);
        const auto got = receive<B>(rx, 3);
        const std::size_t order[] = {0, 2, 3};
        for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(testing::same_bytes(got[i].data(), payloads[order[i]]));
    } else {
        BOOST_TEST(r.sent == 1u);
        BOOST_TEST(r.failed == 3u);
        BOOST_TEST(r.fatal);
        for (std::size_t i = 2; i < 4; ++i) BOOST_TEST((status[i] == std::errc::destination_address_required));
        BOOST_TEST(testing::same_bytes(receive<B>(rx, 1)[0].data(), payloads[0]));
        BOOST_TEST(testing::nothing_queued(rx.native_handle()));
    }
}

BOOST_AUTO_TEST_CASE(mmsg_socket_connects) {
    Socket rx(testing::v4_loopback());
    Socket tx(testing::v4_loopback());
    tx.connect(rx.local_endpoint());
    const std::vector<Bytes> payloads = testing::numbered_payloads(3, 50);
    BatchSender<> sender;
    BOOST_TEST(sender.batch_send(tx, payloads).sent == 3u);
    std::vector<Packet> got(3);
    BatchReceiver<> r;
    BOOST_REQUIRE(!detail::set_timeout(rx.native_handle(), SO_RCVTIMEO, 5'000'000));
    BOOST_REQUIRE(r.recv_mmsg_exact(rx, got) == 3u);
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(testing::same_bytes(got[i].data(), payloads[i]));
    std::error_code ec;
    Socket closed;
    BOOST_TEST((closed.connect(rx.local_endpoint(), ec) == std::errc::bad_file_descriptor));
}

BOOST_AUTO_TEST_CASE(async_batch_send_of_payloads_alone) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    tx.connect(rx.local_endpoint());
    const std::vector<Bytes> payloads = testing::numbered_payloads(5, 80);
    BatchSender<> sender;
    std::optional<SendResult> done;
    async_batch_send(sender, tx, payloads, [&](std::error_code, SendResult r) { done = r; });
    io.run();
    BOOST_REQUIRE(done.has_value());
    BOOST_TEST(done->sent == 5u);
    const auto got = receive<DefaultBackend>(rx, 5);
    for (std::size_t i = 0; i < 5; ++i) BOOST_TEST(testing::same_bytes(got[i].data(), payloads[i]));
}

BOOST_AUTO_TEST_CASE(mock_network_connect) {
    MockNetwork net;
    const int rx = net.open(testing::v4_loopback(5000));
    const int tx = net.open(testing::v4_loopback(5001));
    const std::vector<Bytes> payloads = testing::numbered_payloads(6, 100);
    BatchSender<MockBackend> sender{MockBackend(net)};
    std::vector<std::error_code> status(6);
    // Not connected: EDESTADDRREQ, fatal.
    SendResult r = sender.batch_send(tx, payloads, status);
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST(r.fatal);
    BOOST_TEST((status[0] == std::errc::destination_address_required));
    net.connect(tx, net.local_endpoint(rx));
    r = sender.batch_send(tx, payloads, status);
    BOOST_TEST(r.sent == 6u);
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    std::vector<Packet> got(6);
    std::error_code ec;
    BOOST_REQUIRE(receiver.recv_mmsg(rx, got, ec) == 6u);
    for (std::size_t i = 0; i < 6; ++i) BOOST_TEST(testing::same_bytes(got[i].data(), payloads[i]));
    // The peer's unreachable rule applies to datagrams without a destination too.
    net.unreachable(net.local_endpoint(rx));
    r = sender.batch_send(tx, payloads, status);
    BOOST_TEST(r.failed == 6u);
    BOOST_TEST((status[0] == std::errc::network_unreachable));
}

#if MMSG_HAS_UDP_GSO
BOOST_AUTO_TEST_CASE(mock_gso_trains_to_the_connected_peer) {
    MockNetwork net;
    const int rx = net.open(testing::v4_loopback(5000));
    const int tx = net.open(testing::v4_loopback(5001));
    net.connect(tx, net.local_endpoint(rx));
    const std::vector<Bytes> payloads = testing::numbered_payloads(10, 200);
    BatchSender<MockGsoBackend> sender{MockGsoBackend(MockGsoOps(net))};
    BOOST_TEST(sender.batch_send(tx, payloads).sent == 10u);
    BOOST_TEST(net.trains_sent() == 1u);
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    std::vector<Packet> got(10);
    std::error_code ec;
    BOOST_REQUIRE(receiver.recv_mmsg(rx, got, ec) == 10u);
    for (std::size_t i = 0; i < 10; ++i) BOOST_TEST(testing::same_bytes(got[i].data(), payloads[i]));
}
#endif
