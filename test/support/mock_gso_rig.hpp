//! Test support: LinuxGsoBackend's own code on a MockNetwork (MockGsoBackend, trains of at
//! most 8 datagrams), a sending and a receiving mock socket, and a drain that checks every
//! datagram's source. One rig for the GSO send tests that each had their own.
//! Include after <boost/test/unit_test.hpp>.
#ifndef MMSG_TEST_SUPPORT_MOCK_GSO_RIG_HPP
#define MMSG_TEST_SUPPORT_MOCK_GSO_RIG_HPP

#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>

#include <vector>

#include "payload_lists.hpp"

namespace mmsg::test {

struct MockGsoRig {
    MockNetwork net;
    BatchSender<MockGsoBackend> sender{MockGsoBackend(MockGsoOps(net), GsoLimits{8, 65507})};
    int tx = net.open(mmsg::testing::v4_loopback());
    int rx = net.open(mmsg::testing::v4_loopback());
    Endpoint rx_ep = net.local_endpoint(rx);
    Endpoint tx_ep = net.local_endpoint(tx);

    //! Every datagram queued on `h` (rx by default), in order; checks that each came from tx.
    std::vector<Bytes> drain(int h = -1) {
        std::vector<Endpoint> from;
        std::vector<Bytes> out = test::drain(net, h < 0 ? rx : h, &from);
        for (const Endpoint& e : from) BOOST_TEST(e == tx_ep);
        return out;
    }
};

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_MOCK_GSO_RIG_HPP
