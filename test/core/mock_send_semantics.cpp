// BatchSender semantics on MockBackend: the algorithm, deterministically.
#include <mmsg/batch_sender.hpp>

#include <mmsg/backend/mock.hpp>

#include "../support/loopback.hpp"

#define BOOST_TEST_MODULE core_mock_send_semantics
#include <boost/test/unit_test.hpp>

#include <array>
#include <utility>
#include <vector>

using namespace mmsg;
using mmsg::test::v4_loopback;

namespace {
struct Fixture {
    MockNetwork net;
    BatchSender<MockBackend> sender{MockBackend(net)};
    int tx = net.open(v4_loopback());
    int rx = net.open(v4_loopback());
    Endpoint rx_ep = net.local_endpoint(rx);
    std::vector<std::byte> data = mmsg::test::payload(100, 1, 0);

    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch(std::size_t n) {
        return std::vector<std::pair<std::span<const std::byte>, Endpoint>>(n, {data, rx_ep});
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(a_batch_is_one_backend_call, Fixture) {
    const auto r = sender.batch_send(tx, batch(32));
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 32u);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(net.queued(rx) == 32u);
}

BOOST_FIXTURE_TEST_CASE(empty_batch_makes_no_call, Fixture) {
    const auto r = sender.batch_send(tx, batch(0));
    BOOST_TEST(r.ok());
    BOOST_TEST(r.total() == 0u);
    BOOST_TEST(net.calls() == 0u);
}
