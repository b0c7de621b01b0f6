//! Defines the backend conformance kit: Boost.Test checks that any backend (a shipped one or
//! a user's own) honours the backend contract through BatchSender / BatchReceiver, over
//! loopback sockets and over MockNetwork. It is the test of the contract: mmsg runs it on
//! every backend it ships and every composition of them (test/compose/conformance*.cpp).
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
#include <mmsg/testing/contract/metadata.hpp>
#include <mmsg/testing/contract/mock_rig.hpp>
#include <mmsg/testing/contract/receive.hpp>
#include <mmsg/testing/contract/send.hpp>
#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/mock_network.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace mmsg::testing {

namespace contract {

/*! Every check of the backend contract that applies to Rig, each on a fresh rig with the
    backend `make` gives it (named `backend` in messages): the send and receive checks on
    both rigs, then those only a kernel socket (LoopbackRig) or only the scripted network
    (MockRig) can make. Compiled once per Rig, not per backend (see contract/handles.hpp).
*/
template <class Rig>
void run_checks(const std::string& backend, const UseBackend<Rig>& make) {
    BOOST_TEST_CONTEXT("backend " << backend << Rig::where) {
        run_check<Rig>("every datagram arrives once, in order, from the sender", make,
                       every_datagram_arrives_once_in_order<Rig>);
        run_check<Rig>("rejected datagrams fail alone and the batch goes on", make,
                       rejected_datagrams_fail_alone_and_the_batch_goes_on<Rig>);
        run_check<Rig>("empty payloads are empty datagrams, to every destination", make,
                       empty_payloads_are_empty_datagrams_to_every_destination<Rig>);
        run_check<Rig>("a dead socket is fatal for every datagram", make,
                       a_dead_socket_is_fatal_for_every_datagram<Rig>);
        run_check<Rig>("large batches are chunked and a failure stops no chunk", make,
                       large_batches_are_chunked_and_a_failure_stops_no_chunk<Rig>);
        run_check<Rig>("back-pressure leaves an unsent suffix that resumes", make,
                       back_pressure_leaves_an_unsent_suffix_that_resumes<Rig>);
        run_check<Rig>("trains arrive as their datagrams, each accounted for", make,
                       trains_arrive_as_their_datagrams_each_accounted<Rig>);
        run_check<Rig>("a coalesced receive gives every datagram, whole or in segments", make,
                       a_coalesced_receive_gives_every_datagram<Rig>);
        run_check<Rig>("IPv6 datagrams arrive with their IPv6 source", make,
                       ipv6_datagrams_arrive_with_their_ipv6_source<Rig>);
        run_check<Rig>("a receive takes what is queued, up to num_rcvmmsgs", make,
                       a_receive_takes_what_is_queued_up_to_num_rcvmmsgs<Rig>);
        run_check<Rig>("recv_mmsg_exact fills every packet or says how many it did", make,
                       recv_mmsg_exact_fills_every_packet_or_says_how_many_it_did<Rig>);
        run_check<Rig>("an empty socket is would-block, never a hang", make,
                       an_empty_socket_is_would_block_never_a_hang<Rig>);
        run_check<Rig>("a packet block receives what packets receive", make,
                       a_packet_block_receives_what_packets_receive<Rig>);
        run_check<Rig>("an empty packet range receives nothing", make,
                       an_empty_packet_range_receives_nothing<Rig>);
        run_check<Rig>("a receive assigns every field of meta", make,
                       a_receive_assigns_every_field_of_meta<Rig>);
        run_check<Rig>("sockets with their own state are served apart", make,
                       sockets_with_their_own_state_are_served_apart<Rig>);
        run_check<Rig>("options and metadata make the round trip", make,
                       options_and_metadata_make_the_round_trip<Rig>);
        if constexpr (Rig::kernel) {
            run_check<Rig>("a stream socket is refused", make, a_stream_socket_is_refused<Rig>);
            run_check<Rig>("the socket's blocking mode is never changed", make,
                           the_sockets_blocking_mode_is_never_changed<Rig>);
            run_check<Rig>("an IPv6 destination on an IPv4 socket fails alone", make,
                           an_ipv6_destination_on_an_ipv4_socket_fails_alone<Rig>);
        } else {
            run_check<Rig>("the network's failures fail one datagram each", make,
                           the_networks_failures_fail_one_datagram_each<Rig>);
            run_check<Rig>("a per-call limit costs calls, not datagrams", make,
                           a_per_call_limit_costs_calls_not_datagrams<Rig>);
            run_check<Rig>("interrupted calls are retried", make,
                           interrupted_calls_are_retried<Rig>);
            run_check<Rig>("the network's back-pressure leaves an unsent suffix", make,
                           the_networks_back_pressure_leaves_an_unsent_suffix<Rig>);
            run_check<Rig>("a fatal error mid-batch fails the rest and keeps the first error", make,
                           a_fatal_error_mid_batch_fails_the_rest_and_keeps_the_first_error<Rig>);
        }
    }
}

} // namespace contract

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
    FaultInjecting<B>) leaves an unsent suffix that resumes; IPv6. send_trains: every
    datagram of every train arrives and is accounted for alone (a train to a rejecting
    destination fails datagram by datagram), across chunk edges and under back-pressure.
    Receive (contract/receive.hpp): one call takes what is queued up to num_rcvmmsgs;
    recv_mmsg_exact fills every packet or says how many it did (ReceiveError::received());
    an empty socket is would-block, never a hang; a PacketBlock (and a view of part of one)
    receives what a range of packets does; an empty packet range takes nothing (the
    throwing recv_mmsg refuses it with invalid_argument); every field of Meta is assigned,
    wire_size the length on the wire of a truncated datagram; two sockets with their own
    SocketState (with_state) are served apart by one receiver; recv_coalesced gives every
    datagram of sent trains, in order, as one packet each or as segments of coalesced ones.
    Loopback only (contract/loopback_rig.hpp): a TCP socket is refused with EPROTOTYPE and
    its stream left alone; the socket's blocking mode is never changed; an IPv6 destination
    on an IPv4 socket fails alone (EAFNOSUPPORT).
*/
template <class B, class Make>
void check_loopback(Make make) {
    using Socket = contract::LoopbackRig::socket_type;
    contract::run_checks<contract::LoopbackRig>(
        contract::name_of<B>(),
        [make](contract::LoopbackRig&) { return contract::backend_under_test<Socket, B>(make); });
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
    contract::run_checks<contract::MockRig>(contract::name_of<B>(), [make](contract::MockRig& rig) {
        MockNetwork& network = rig.network();
        return contract::backend_under_test<int, B>(
            [make, &network]() mutable { return make(network); });
    });
}

} // namespace mmsg::testing

#endif // MMSG_TESTING_CONFORMANCE_HPP
