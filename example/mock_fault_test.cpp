//! How a user tests their own code against faults with MockBackend: no sockets, no
//! timing, every fault scripted. The code under test is a small "gossip" function written
//! once against BatchSender<Backend>; production uses the default backend, the test the mock.
//! Built and run as a test (Boost.Test, header-only variant: no library to link).
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/batch_sender.hpp>

#define BOOST_TEST_MODULE example_mock_fault_test
#include <boost/test/included/unit_test.hpp>

#include <boost/asio/ip/address_v4.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// tag::code_under_test[]
// The user's code: sends `payload` to every peer and forgets the peers the network
// rejected, so that the next round does not waste a datagram on them. Generic in the
// backend, so tests can run it on MockBackend.
template <class Backend>
std::size_t gossip(mmsg::BatchSender<Backend>& sender, int socket,
                   std::span<const std::byte> payload, std::vector<mmsg::Endpoint>& peers) {
    std::vector<std::error_code> status(peers.size());
    const mmsg::SendResult r = sender.multi_target_send(socket, payload, peers, status);
    std::vector<mmsg::Endpoint> kept;
    for (std::size_t i = 0; i < peers.size(); ++i)
        // An unsent datagram (back-pressure) is no reason to forget a peer.
        if (!status[i] || status[i] == std::errc::operation_would_block) kept.push_back(peers[i]);
    peers = std::move(kept);
    return r.sent;
}
// end::code_under_test[]

namespace {
mmsg::Endpoint loopback(unsigned short port) {
    return {boost::asio::ip::address_v4::loopback(), port};
}
constexpr std::string_view text = "hello, peers";
const std::span<const std::byte> payload = std::as_bytes(std::span(text));
} // namespace

// tag::unreachable_peer[]
BOOST_AUTO_TEST_CASE(an_unreachable_peer_is_forgotten_and_the_others_still_hear) {
    mmsg::MockNetwork net;
    mmsg::BatchSender<mmsg::MockBackend> sender{mmsg::MockBackend(net)};
    const int me = net.open(loopback(1000));
    const int a = net.open(loopback(1001)), c = net.open(loopback(1003));
    net.unreachable(loopback(1002)); // the peer between them is gone

    std::vector<mmsg::Endpoint> peers{loopback(1001), loopback(1002), loopback(1003)};
    BOOST_TEST(gossip(sender, me, payload, peers) == 2u);
    BOOST_TEST(peers == (std::vector<mmsg::Endpoint>{loopback(1001), loopback(1003)}));
    BOOST_TEST(net.queued(a) == 1u);
    BOOST_TEST(net.queued(c) == 1u);
    BOOST_TEST(net.calls() == 2u); // the failure costs one more call, not one per datagram
}
// end::unreachable_peer[]

BOOST_AUTO_TEST_CASE(a_one_off_failure_forgets_exactly_that_peer) {
    mmsg::MockNetwork net;
    mmsg::BatchSender<mmsg::MockBackend> sender{mmsg::MockBackend(net)};
    const int me = net.open(loopback(1000));
    std::vector<mmsg::Endpoint> peers;
    for (unsigned short p = 2000; p < 2010; ++p) peers.push_back(loopback(p));
    net.fail_nth(4, std::make_error_code(std::errc::message_size)); // the 5th datagram

    BOOST_TEST(gossip(sender, me, payload, peers) == 9u);
    BOOST_TEST(peers.size() == 9u);
    BOOST_TEST((std::find(peers.begin(), peers.end(), loopback(2004)) == peers.end()));
}

BOOST_AUTO_TEST_CASE(back_pressure_keeps_every_peer) {
    mmsg::MockNetwork net;
    mmsg::BatchSender<mmsg::MockBackend> sender{mmsg::MockBackend(net)};
    const int me = net.open(loopback(1000));
    std::vector<mmsg::Endpoint> peers;
    for (unsigned short p = 3000; p < 3006; ++p) peers.push_back(loopback(p));
    net.would_block_after(2); // the socket "fills up" after two datagrams

    BOOST_TEST(gossip(sender, me, payload, peers) == 2u);
    BOOST_TEST(peers.size() == 6u); // the four unsent peers are still peers
}

BOOST_AUTO_TEST_CASE(interrupted_calls_are_retried_and_lose_nothing) {
    mmsg::MockNetwork net;
    mmsg::BatchSender<mmsg::MockBackend> sender{mmsg::MockBackend(net)};
    const int me = net.open(loopback(1000));
    const int a = net.open(loopback(4000));
    std::vector<mmsg::Endpoint> peers{loopback(4000), loopback(4001)};
    net.interrupt_next(3); // three EINTRs in a row

    BOOST_TEST(gossip(sender, me, payload, peers) == 2u);
    BOOST_TEST(peers.size() == 2u);
    BOOST_TEST(net.queued(a) == 1u);
    BOOST_TEST(net.calls() == 4u);
}
