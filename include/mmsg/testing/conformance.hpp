//! Defines the backend conformance kit: Boost.Test checks that any backend (a shipped one or
//! a user's own) honours the backend contract through BatchSender / BatchReceiver, over
//! loopback sockets and over MockNetwork. It is the test of the contract: mmsg runs it on
//! every backend it ships and every composition of them (test/compose/conformance.cpp).
//!
//! Use, in a Boost.Test program (BOOST_TEST_MODULE defined before including it):
//!   BOOST_AUTO_TEST_CASE(my_backend_honours_the_contract) {
//!       mmsg::testing::check_loopback<MyBackend>();                  // real sockets
//!       mmsg::testing::check_mock<MyBackend<MockBackend>>(          // if it wraps a backend
//!           [](mmsg::MockNetwork& n) { return MyBackend<MockBackend>(MockBackend(n)); });
//!   }
#ifndef MMSG_TESTING_CONFORMANCE_HPP
#define MMSG_TESTING_CONFORMANCE_HPP

#include <mmsg/testing/contract/loopback_rig.hpp>
#include <mmsg/testing/contract/mock_rig.hpp>
#include <mmsg/testing/contract/receive.hpp>
#include <mmsg/testing/contract/send.hpp>
#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/mock_network.hpp>

#include <boost/test/unit_test.hpp>

#include <utility>

namespace mmsg::testing {

/*! Runs the conformance checks on backend B, made by `make()` (one fresh backend per
    sender or receiver), over real UDP sockets on 127.0.0.1 and ::1 (skipped where the
    host has no IPv6); nothing is sent anywhere else. Each check runs on fresh sockets,
    under a Boost.Test context naming B and the rule it checks; a check that stops early
    fails alone. Every SendResult is held to the accounting invariant (sent + failed +
    unsent == n, the status span agreeing, the unsent datagrams a suffix).

    Send (contract/send.hpp): every datagram arrives once, in order, byte-exact, from the
    sender; rejected datagrams (EACCES) fail alone wherever they stand, for batch_send and
    multi_target_send; empty payloads; a descriptor that is not a socket is fatal (ENOTSOCK)
    and an empty batch makes no call even there; 2500-datagram batches and 2100 destinations
    are chunked with failures across the chunk edges; back-pressure (through
    FaultInjecting<B>) leaves an unsent suffix that resumes; IPv6.
    Receive (contract/receive.hpp): one call takes what is queued up to num_rcvmmsgs;
    recv_mmsg_exact fills every packet or says how many it did (ReceiveError::received());
    an empty socket is would-block, never a hang; an empty packet range takes nothing (the
    throwing recv_mmsg refuses it with invalid_argument); every field of Meta is assigned,
    wire_size the length on the wire of a truncated datagram; two sockets with their own
    SocketState (with_state) are served apart by one receiver.
    Loopback only (contract/loopback_rig.hpp): a TCP socket is refused with EPROTOTYPE and
    its stream left alone; the socket's blocking mode is never changed; an IPv6 destination
    on an IPv4 socket fails alone (EAFNOSUPPORT).
*/
template <class B, class Make>
void check_loopback(Make make) {
    using Rig = contract::LoopbackRig<B, Make>;
    BOOST_TEST_CONTEXT("backend " << contract::name_of<B>() << " on loopback") {
        contract::run_send_checks<Rig>(make);
        contract::run_receive_checks<Rig>(make);
        contract::run_loopback_checks<Rig>(make);
    }
}

//! check_loopback for a default-constructible backend.
template <class B>
void check_loopback() {
    check_loopback<B>([] { return B{}; });
}

/*! Runs the conformance checks on B over a MockNetwork, B made by `make(network)` (B sends
    through the network: MockBackend, a backend that wraps one, or MockGsoBackend); each
    check on a fresh network. The send and receive checks of check_loopback (the mock
    rejects with an unreachable endpoint, and a closed mock socket is the dead one), and
    (contract/mock_rig.hpp) that B passes the network's scripted faults through faithfully:
    the n-th datagram failing and unreachable endpoints fail one datagram each, attempted
    once; a per-call limit costs calls, not datagrams; EINTR is retried; the network's
    back-pressure leaves an unsent suffix; a fatal error mid-batch fails the rest and keeps
    the earlier first_error.
*/
template <class B, class Make>
void check_mock(Make make) {
    using Rig = contract::MockRig<B, Make>;
    BOOST_TEST_CONTEXT("backend " << contract::name_of<B>() << " on MockNetwork") {
        contract::run_send_checks<Rig>(make);
        contract::run_receive_checks<Rig>(make);
        contract::run_mock_checks<Rig>(make);
    }
}

} // namespace mmsg::testing

#endif // MMSG_TESTING_CONFORMANCE_HPP
