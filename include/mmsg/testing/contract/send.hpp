//! Defines the conformance kit's send checks: the sending half of the backend contract,
//! written once against a rig (a transport: real loopback sockets or a MockNetwork, see
//! contract/loopback_rig.hpp and contract/mock_rig.hpp) and run on both.
#ifndef MMSG_TESTING_CONTRACT_SEND_HPP
#define MMSG_TESTING_CONTRACT_SEND_HPP

#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

namespace mmsg::testing::contract {

/*! Checks that `want` arrived on `s`, in order, from `from`. With `complete` false (the host
    refused the receive buffer that holds them all) only what is queued now is checked: an
    in-order selection of `want`, as UDP may drop.
*/
template <class Rig>
void check_arrived(Rig& rig, typename Rig::socket_type& s, const std::vector<Bytes>& want,
                   const Endpoint& from, bool complete) {
    if (complete) {
        check_received(receive_n<64>(rig, s, want.size()), want, from);
        return;
    }
    BOOST_TEST_MESSAGE("receive buffer refused: datagrams dropped by the kernel are not missed");
    auto receiver = rig.receiver();
    std::vector<BasicPacket<64>> p(num_rcvmmsgs);
    std::size_t next = 0, wrong = 0;
    std::error_code ec;
    for (std::size_t n; (n = receiver.try_recv_mmsg(s, p, ec)) > 0;)
        for (std::size_t i = 0; i < n; ++i) {
            while (next < want.size() && !same_bytes(p[i].data(), want[next]))
                ++next;
            if (next == want.size() || p[i].meta.addr != from)
                ++wrong;
            else
                ++next;
        }
    BOOST_TEST(wrong == 0u, wrong << " datagrams arrived out of order, changed or from elsewhere");
}

//! Every datagram of a batch arrives once, in order, byte-exact, from the sender: equal
//! datagrams to one destination (a segmentation-offload backend makes trains of them),
//! then datagrams of every size to two destinations in turn.
template <class Rig>
void every_datagram_arrives_once_in_order(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    auto& rx2 = rig.open();
    const Endpoint to = rig.local(rx), to2 = rig.local(rx2);
    std::vector<Bytes> data = numbered_payloads(48, 1000);
    for (std::uint32_t i = 48; i < 108; ++i)
        data.push_back(numbered(1 + (i * 37) % packet_data_size, i));
    const auto first = [](std::size_t i) { return i < 48 || i % 2 == 0; };
    const Batch batch = batch_of(data, [&](std::size_t i) { return first(i) ? to : to2; });
    auto sender = rig.sender();
    BOOST_TEST(send_batch(sender, tx, batch).r.ok());
    std::vector<Bytes> want, want2;
    for (std::size_t i = 0; i < data.size(); ++i)
        (first(i) ? want : want2).push_back(data[i]);
    check_received(receive_n(rig, rx, want.size()), want, rig.local(tx));
    check_received(receive_n(rig, rx2, want2.size()), want2, rig.local(tx));
    BOOST_TEST(rig.idle(rx));
    BOOST_TEST(rig.idle(rx2));
}

//! A datagram the network rejects (rig.rejecting(): EACCES) fails alone with its own error,
//! wherever it stands, for batch_send and multi_target_send; the rest go, in order. A batch
//! whose every datagram fails is not fatal: the socket serves the next one.
template <class Rig>
void rejected_datagrams_fail_alone_and_the_batch_goes_on(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    auto& rx2 = rig.open();
    const Endpoint to = rig.local(rx), to2 = rig.local(rx2), bad = rig.rejecting(),
                   from = rig.local(tx);
    const std::vector<Bytes> data = numbered_payloads(10, 300);
    auto sender = rig.sender();
    const std::vector<std::vector<std::size_t>> patterns = {
        {0}, {5}, {9}, {0, 1, 2}, {4, 5, 6}, {7, 8, 9}, {0, 3, 4, 9}, {1, 3, 5, 7, 9}};
    for (const auto& pattern : patterns) {
        BOOST_TEST_CONTEXT("rejected: " << pattern.size() << " from #" << pattern.front()) {
            const auto rejected = [&](std::size_t i) {
                return std::find(pattern.begin(), pattern.end(), i) != pattern.end();
            };
            const Batch batch =
                batch_of(data, [&](std::size_t i) { return rejected(i) ? bad : to; });
            check_failed_alone(send_batch(sender, tx, batch), rejected,
                               std::errc::permission_denied);
            std::vector<Bytes> survivors;
            for (std::size_t i = 0; i < data.size(); ++i)
                if (!rejected(i)) survivors.push_back(data[i]);
            check_received(receive_n(rig, rx, survivors.size()), survivors, from);

            // The same for multi_target_send, the survivors going to two sockets in turn.
            std::vector<Endpoint> dests;
            std::size_t to_rx = 0, to_rx2 = 0;
            for (std::size_t i = 0; i < data.size(); ++i)
                dests.push_back(rejected(i) ? bad : (i % 2 ? (++to_rx2, to2) : (++to_rx, to)));
            check_failed_alone(send_to_each(sender, tx, data[0], dests), rejected,
                               std::errc::permission_denied);
            check_received(receive_n(rig, rx, to_rx), std::vector<Bytes>(to_rx, data[0]), from);
            check_received(receive_n(rig, rx2, to_rx2), std::vector<Bytes>(to_rx2, data[0]), from);
            BOOST_TEST(rig.idle(rx));
            BOOST_TEST(rig.idle(rx2));
        }
    }

    const auto all = [](std::size_t) { return true; };
    check_failed_alone(send_to_each(sender, tx, data[0], std::vector<Endpoint>(6, bad)), all,
                       std::errc::permission_denied);
    const SendResult next = sender.batch_send(tx, Batch{{data[1], to}});
    BOOST_TEST(next.ok());
    check_received(receive_n(rig, rx, 1), std::vector<Bytes>{data[1]}, from);
}

//! multi_target_send sends the payload to every destination, a zero-length one too; a
//! zero-length payload in a batch is a zero-length datagram.
template <class Rig>
void empty_payloads_are_empty_datagrams_to_every_destination(Rig& rig) {
    auto& tx = rig.open();
    std::vector<typename Rig::socket_type*> rx;
    std::vector<Endpoint> dests;
    for (int i = 0; i < 4; ++i) {
        rx.push_back(&rig.open());
        dests.push_back(rig.local(*rx.back()));
    }
    auto sender = rig.sender();
    const SendResult r = sender.multi_target_send(tx, std::span<const std::byte>{}, dests);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 4u);
    for (auto* s : rx) {
        check_received(receive_n(rig, *s, 1), std::vector<Bytes>{Bytes{}}, rig.local(tx));
        BOOST_TEST(rig.idle(*s));
    }
    const std::vector<Bytes> mixed{Bytes{}, numbered(100, 1), Bytes{}};
    BOOST_TEST(sender.batch_send(tx, batch_of(mixed, dests[0])).ok());
    check_received(receive_n(rig, *rx[0], 3), mixed, rig.local(tx));
}

// tag::dead_socket[] (shown in doc/testing.adoc)
//! A dead socket (rig.dead_socket(): not a socket on loopback, closed on the mock) is fatal:
//! every datagram fails with its error; a receive reports it at once. An empty batch makes
//! no call, so it is ok even there.
template <class Rig>
void a_dead_socket_is_fatal_for_every_datagram(Rig& rig) {
    auto& rx = rig.open();
    const Endpoint to = rig.local(rx);
    const int dead = rig.dead_socket();
    auto sender = rig.sender();
    check_send_fails(sender, dead, to, Rig::dead_error);
    BOOST_TEST(rig.idle(rx));

    const SendResult empty = sender.batch_send(dead, Batch{});
    BOOST_TEST(empty.ok());
    BOOST_TEST(empty.total() == 0u);
    BOOST_TEST(
        sender.multi_target_send(dead, std::span<const std::byte>{}, std::vector<Endpoint>{}).ok());

    auto receiver = rig.receiver();
    check_receive_fails(receiver, dead, Rig::dead_error);
}
// end::dead_socket[]

//! A batch larger than one call takes (sendmmsg: 1024) is chunked: rejections at the start,
//! the end and across chunk edges fail alone, every chunk goes, and what arrives is the rest
//! in order; for batch_send (2500 datagrams) and multi_target_send (2100 destinations).
template <class Rig>
void large_batches_are_chunked_and_a_failure_stops_no_chunk(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const bool room = rig.make_room(rx, 32 << 20);
    const Endpoint to = rig.local(rx), bad = rig.rejecting(), from = rig.local(tx);
    auto sender = rig.sender();
    const auto among = [](std::vector<std::size_t> v) {
        return [v](std::size_t i) { return std::binary_search(v.begin(), v.end(), i); };
    };
    const auto rejected = among({0, 700, 1022, 1023, 1024, 1500, 2047, 2048, 2049, 2499});
    const std::vector<Bytes> data = numbered_payloads(2500, 8);
    const Batch batch = batch_of(data, [&](std::size_t i) { return rejected(i) ? bad : to; });
    check_failed_alone(send_batch(sender, tx, batch), rejected, std::errc::permission_denied);
    std::vector<Bytes> want;
    for (std::size_t i = 0; i < data.size(); ++i)
        if (!rejected(i)) want.push_back(data[i]);
    check_arrived(rig, rx, want, from, room);

    const auto rejected2 = among({1, 1023, 1024, 2048, 2099});
    std::vector<Endpoint> dests;
    for (std::size_t i = 0; i < 2100; ++i)
        dests.push_back(rejected2(i) ? bad : to);
    const Bytes payload = numbered(16, 5);
    check_failed_alone(send_to_each(sender, tx, payload, dests), rejected2,
                       std::errc::permission_denied);
    check_arrived(rig, rx, std::vector<Bytes>(dests.size() - 5, payload), from, room);
}

//! Back-pressure (would-block, here from FaultInjecting<B> on top of the backend) leaves
//! exactly an unsent suffix; resuming from resume_index() sends it, and every datagram
//! arrives once, in order.
template <class Rig>
void back_pressure_leaves_an_unsent_suffix_that_resumes(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const std::vector<Bytes> data = numbered_payloads(10, 32);
    const Batch batch = batch_of(data, rig.local(rx));
    auto sender = rig.faulty_sender();
    sender.would_block_after(6);
    const SendResult r = send_batch(sender, tx, batch).r;
    BOOST_TEST(r.sent == 6u);
    BOOST_TEST(r.unsent == 4u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(r.resume_index() == 6u);
    sender.clear_would_block();
    BOOST_TEST(sender.batch_send(tx, std::span(batch).subspan(r.resume_index())).ok());
    check_received(receive_n(rig, rx, data.size()), data, rig.local(tx));

    sender.would_block_after(0);
    const std::vector<Endpoint> dests(4, rig.local(rx));
    const SendResult m = send_to_each(sender, tx, data[0], dests).r;
    BOOST_TEST(m.unsent == 4u);
    BOOST_TEST(m.resume_index() == 0u);
    BOOST_TEST(rig.idle(rx));
}

/*! send_trains: every datagram of every train arrives once, in order, byte-exact (a last
    datagram shorter than the segment, one-datagram trains with segment 0 and an empty one,
    trains to two destinations), and is accounted for alone: a train to a rejecting
    destination fails datagram by datagram with its error and the rest goes on. Trains
    across max_send_batch's edges are cut there with nothing lost; back-pressure leaves an
    unsent suffix counted in datagrams, which a slice of the train resumes.
*/
template <class Rig>
void trains_arrive_as_their_datagrams_each_accounted(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    auto& rx2 = rig.open();
    const Endpoint to = rig.local(rx), to2 = rig.local(rx2), bad = rig.rejecting(),
                   from = rig.local(tx);
    auto sender = rig.sender();
    {
        TrainSet t;
        t.add(to, 5, 300, 150);
        t.add(bad, 3, 100, 100);
        t.add(to, 1, 0, 40);
        t.add(to, 1, 0, 0);
        t.add(to, 7, 64, 64);
        t.add(to2, 2, 200, 200);
        t.add(bad, 1, 500, 20);
        t.add(to, 2, 500, 10);
        const auto rejected = [&](std::size_t i) { return t.dest_of[i] == bad; };
        check_failed_alone(send_trains(sender, tx, t.trains), rejected, std::errc::permission_denied);
        const std::vector<Bytes> want = t.to(to), want2 = t.to(to2);
        check_received(receive_n(rig, rx, want.size()), want, from);
        check_received(receive_n(rig, rx2, want2.size()), want2, from);
        BOOST_TEST(rig.idle(rx));
        BOOST_TEST(rig.idle(rx2));
    }
    {
        // 1103 datagrams: the second train's rejections and the third train straddle the
        // chunk edge at 1024.
        const bool room = rig.make_room(rx, 32 << 20);
        TrainSet t;
        t.add(to, 1000, 8, 8);
        t.add(bad, 30, 8, 8);
        t.add(to, 73, 8, 5);
        const auto rejected = [&](std::size_t i) { return t.dest_of[i] == bad; };
        check_failed_alone(send_trains(sender, tx, t.trains), rejected, std::errc::permission_denied);
        check_arrived(rig, rx, t.to(to), from, room);
    }
    {
        TrainSet t;
        t.add(to, 4, 32, 32);
        t.add(to, 6, 32, 32);
        auto faulty = rig.faulty_sender();
        faulty.would_block_after(6);
        const SendResult r = send_trains(faulty, tx, t.trains).r;
        BOOST_TEST(r.sent == 6u);
        BOOST_TEST(r.unsent == 4u);
        BOOST_TEST(r.resume_index() == 6u);
        faulty.clear_would_block();
        const SendTrain rest[] = {t.trains[1].slice(2, 4)};
        BOOST_TEST(faulty.send_trains(tx, rest).ok());
        check_received(receive_n(rig, rx, t.datagrams.size()), t.datagrams, from);
        BOOST_TEST(rig.idle(rx));
    }
}

//! IPv6 end to end: datagrams and their IPv6 source (skipped where the host has no IPv6).
template <class Rig>
void ipv6_datagrams_arrive_with_their_ipv6_source(Rig& rig) {
    if (!rig.has_ipv6()) {
        BOOST_TEST_MESSAGE("no IPv6 loopback here: skipped");
        return;
    }
    auto& tx = rig.open(true);
    auto& rx = rig.open(true);
    const std::vector<Bytes> data = numbered_payloads(32, packet_data_size);
    auto sender = rig.sender();
    BOOST_TEST(sender.batch_send(tx, batch_of(data, rig.local(rx))).ok());
    const std::vector<Endpoint> dests(3, rig.local(rx));
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>(data[0]), dests).ok());
    std::vector<Bytes> want = data;
    want.insert(want.end(), 3, data[0]);
    const auto got = receive_n(rig, rx, want.size());
    check_received(got, want, rig.local(tx));
    BOOST_TEST(got[0].meta.addr.address().is_v6());
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_SEND_HPP
