//! Defines the conformance kit's receive checks: the receiving half of the backend contract,
//! written once against a rig (real loopback sockets or a MockNetwork) and run on both. The
//! datagrams are queued with rig.inject(), so only the receive path is under test (except
//! where a check says so).
#ifndef MMSG_TESTING_CONTRACT_RECEIVE_HPP
#define MMSG_TESTING_CONTRACT_RECEIVE_HPP

#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_block.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

namespace mmsg::testing::contract {

//! One call takes every queued datagram up to min(packets, num_rcvmmsgs), the rest comes
//! on the next; sources (two senders in turn) and sizes are right, and the packets after
//! the filled ones are left alone.
template <class Rig>
void a_receive_takes_what_is_queued_up_to_num_rcvmmsgs(Rig& rig) {
    auto& tx = rig.open();
    auto& tx2 = rig.open();
    auto& rx = rig.open();
    const std::vector<Bytes> data = numbered_payloads(100, 200);
    for (std::size_t i = 0; i < data.size(); ++i)
        rig.inject(i % 2 ? tx2 : tx, rx, data[i]);
    auto receiver = rig.receiver();
    auto p = dirty_packets(data.size() + 1);
    const Meta untouched = p.back().meta;
    std::error_code ec;
    const std::size_t first = receiver.recv_mmsg(rx, std::span(p).first(data.size()), ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(first == num_rcvmmsgs);
    BOOST_TEST((p[first].meta == untouched), "a packet after the filled ones was written");
    const std::size_t second =
        receiver.recv_mmsg(rx, std::span(p).subspan(first, data.size() - first), ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(second == data.size() - num_rcvmmsgs);
    BOOST_TEST((p.back().meta == untouched));
    check_received(std::span(p).first(data.size()), data,
                   [&](std::size_t i) { return rig.local(i % 2 ? tx2 : tx); });
    BOOST_TEST(rig.idle(rx));

    const std::vector<Bytes> few = numbered_payloads(32, 50, 1000);
    for (const Bytes& d : few)
        rig.inject(tx, rx, d);
    BOOST_TEST(receiver.recv_mmsg(rx, std::span(p).first(num_rcvmmsgs), ec) == few.size());
    check_received(std::span(p).first(few.size()), few, rig.local(tx));
}

//! recv_mmsg_exact fills every packet over several calls; short of datagrams it returns
//! the count it filled with the error, and the throwing form throws a ReceiveError that
//! carries that count (the packets stay filled).
template <class Rig>
void recv_mmsg_exact_fills_every_packet_or_says_how_many_it_did(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    auto& quiet = rig.open_quiet();
    const Endpoint from = rig.local(tx);
    const std::vector<Bytes> data = numbered_payloads(150, 100);
    for (const Bytes& d : data)
        rig.inject(tx, rx, d);
    auto receiver = rig.receiver();
    auto p = dirty_packets(data.size());
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg_exact(rx, p, ec) == data.size());
    BOOST_TEST(!ec, ec.message());
    check_received(p, data, from);

    const std::vector<Bytes> few = numbered_payloads(3, 10, 1000);
    for (const Bytes& d : few)
        rig.inject(tx, quiet, d);
    auto q = dirty_packets<64>(8);
    BOOST_TEST(receiver.recv_mmsg_exact(quiet, q, ec) == few.size());
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    check_received(std::span(q).first(few.size()), few, from);

    const std::vector<Bytes> more = numbered_payloads(3, 20, 2000);
    for (const Bytes& d : more)
        rig.inject(tx, quiet, d);
    try {
        receiver.recv_mmsg_exact(quiet, q);
        BOOST_ERROR("recv_mmsg_exact filled 8 packets from 3 datagrams");
    } catch (const ReceiveError& e) {
        BOOST_TEST(e.received() == more.size());
        MMSG_CHECK_ERRC(e.code(), std::errc::operation_would_block);
        check_received(std::span(q).first(more.size()), more, from);
    }
}

//! An empty socket is operation_would_block, never a hang: at once for try_recv_mmsg, when
//! the socket's timeout ends (rig.open_quiet()) for the waiting forms; the throwing forms
//! throw std::system_error, recv_mmsg_exact's a ReceiveError with a count of 0.
template <class Rig>
void an_empty_socket_is_would_block_never_a_hang(Rig& rig) {
    auto& quiet = rig.open_quiet();
    auto receiver = rig.receiver();
    check_receive_fails(receiver, quiet, std::errc::operation_would_block);
    std::vector<Packet> p(8);
    try {
        receiver.recv_mmsg(quiet, p);
        BOOST_ERROR("recv_mmsg on an empty socket did not throw");
    } catch (const std::system_error& e) {
        MMSG_CHECK_ERRC(e.code(), std::errc::operation_would_block);
    }
    try {
        receiver.recv_mmsg_exact(quiet, p);
        BOOST_ERROR("recv_mmsg_exact on an empty socket did not throw");
    } catch (const ReceiveError& e) {
        BOOST_TEST(e.received() == 0u);
        MMSG_CHECK_ERRC(e.code(), std::errc::operation_would_block);
    }
}

//! A PacketBlock (its packets' buffers back to back) receives what a range of packets does:
//! every datagram once, in order, with its source and size, over several calls; a view of
//! part of the block is filled there and nowhere else.
template <class Rig>
void a_packet_block_receives_what_packets_receive(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const std::vector<Bytes> data = numbered_payloads(100, 200, 4000);
    for (const Bytes& d : data)
        rig.inject(tx, rx, d);
    auto receiver = rig.receiver();
    PacketBlock block(data.size() + 2);
    for (auto p : block) {
        std::fill(p.buffer.begin(), p.buffer.end(), std::byte{0xee});
        p.meta.size = 77;
    }
    std::error_code ec;
    // Packets [1, 1 + n): the first and the last of the block stay as they were.
    const auto middle = block.view().subspan(1).first(data.size());
    BOOST_TEST(receiver.recv_mmsg_exact(rx, middle, ec) == data.size());
    BOOST_TEST(!ec, ec.message());
    check_received(middle, data, rig.local(tx));
    BOOST_TEST(block[0].meta.size == 77u, "a packet before the view was written");
    BOOST_TEST(block[data.size() + 1].meta.size == 77u, "a packet after the view was written");
    BOOST_TEST(rig.idle(rx));
}

//! An empty packet range receives nothing and takes nothing from the socket: 0 with no
//! error from the error_code forms, try_recv_mmsg and the throwing recv_mmsg_exact (already
//! full); the throwing recv_mmsg refuses it with std::system_error(invalid_argument), as a
//! receive loop over a reserve()d, empty vector would otherwise spin.
template <class Rig>
void an_empty_packet_range_receives_nothing(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const Bytes d = numbered(40, 7);
    rig.inject(tx, rx, d);
    auto receiver = rig.receiver();
    std::vector<Packet> none;
    std::error_code ec = std::make_error_code(std::errc::io_error);
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec, ec.message());
    ec = std::make_error_code(std::errc::io_error);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, none, ec) == 0u);
    BOOST_TEST(!ec, ec.message());
    ec = std::make_error_code(std::errc::io_error);
    BOOST_TEST(receiver.try_recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(receiver.recv_mmsg_exact(rx, none) == 0u);
    try {
        receiver.recv_mmsg(rx, none);
        BOOST_ERROR("the throwing recv_mmsg accepted an empty packet range");
    } catch (const std::system_error& e) {
        MMSG_CHECK_ERRC(e.code(), std::errc::invalid_argument);
    }
    std::vector<Packet> one(1);
    BOOST_TEST(receiver.recv_mmsg(rx, one, ec) == 1u,
               "the datagram is still there: " << ec.message());
    check_received(one, std::vector<Bytes>{d}, rig.local(tx));
}

//! A receive assigns every field of each filled packet's meta: a datagram longer than the
//! buffer (the IPv4 maximum, 65,507 bytes) is cut to the buffer, flagged truncated, and its
//! wire_size is its length on the wire; one of exactly the buffer's size, a small one and an
//! empty one are not truncated; the same packets then hold smaller datagrams with nothing
//! of the earlier ones left.
template <class Rig>
void a_receive_assigns_every_field_of_meta(Rig& rig) {
    auto& tx = rig.open();
    auto& tx2 = rig.open();
    auto& rx = rig.open();
    const Bytes huge = numbered(65507, 1), full = numbered(packet_data_size, 2),
                small = numbered(10, 3);
    rig.inject(tx, rx, huge);
    rig.inject(tx, rx, full);
    rig.inject(tx2, rx, small);
    rig.inject(tx2, rx, Bytes{});
    auto receiver = rig.receiver();
    auto p = dirty_packets(4);
    std::error_code ec;
    BOOST_TEST_REQUIRE(receiver.recv_mmsg_exact(rx, p, ec) == 4u, ec.message());
    BOOST_TEST(p[0].meta.size == packet_data_size);
    BOOST_TEST(p[0].meta.wire_size == huge.size());
    BOOST_TEST(has_flags(p[0].meta.flags, PacketFlags::truncated));
    BOOST_TEST(same_bytes(p[0].data(), std::span(huge).first(packet_data_size)));
    BOOST_TEST((p[0].meta.addr == rig.local(tx)));
    BOOST_TEST(difference(p[1], full, rig.local(tx)) == "");
    BOOST_TEST(difference(p[2], small, rig.local(tx2)) == "");
    BOOST_TEST(difference(p[3], Bytes{}, rig.local(tx2)) == "");

    const std::vector<Bytes> smaller = numbered_payloads(4, 5, 10);
    for (const Bytes& d : smaller)
        rig.inject(tx2, rx, d);
    BOOST_TEST_REQUIRE(receiver.recv_mmsg_exact(rx, p, ec) == 4u, ec.message());
    check_received(p, smaller, rig.local(tx2));
}

//! Two sockets, each with its own SocketState (with_state), served by one receiver in turn
//! a few datagrams at a time, each get their own datagrams, in order, none lost: what the
//! backend keeps for one socket (GRO segments, say) never reaches the other. The datagrams
//! are sent by the backend itself, equal in size, so a segmentation-offload backend sends
//! trains and its receive may get them coalesced.
template <class Rig>
void sockets_with_their_own_state_are_served_apart(Rig& rig) {
    auto& tx = rig.open();
    auto& rx1 = rig.open();
    auto& rx2 = rig.open();
    SocketState s1, s2;
    auto receiver = rig.receiver();
    BOOST_TEST((&receiver.socket_state(with_state(rx1, s1)) == &s1));
    std::array<Packet, 5> p;
    std::error_code ec;
    // First use of each socket, nothing queued: a backend may set the socket up (GRO on).
    BOOST_TEST(receiver.try_recv_mmsg(with_state(rx1, s1), p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(receiver.try_recv_mmsg(with_state(rx2, s2), p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);

    const std::vector<Bytes> a = numbered_payloads(24, 1000, 0),
                             b = numbered_payloads(24, 1000, 100);
    Batch batch = batch_of(a, rig.local(rx1));
    for (const Bytes& d : b)
        batch.emplace_back(d, rig.local(rx2));
    auto sender = rig.sender();
    BOOST_TEST_REQUIRE(sender.batch_send(tx, batch).ok());

    std::vector<Packet> got1, got2;
    const auto take = [&](auto& socket, SocketState& state, std::vector<Packet>& got,
                          std::size_t want) {
        if (got.size() >= want) return true;
        const std::size_t k = std::min(p.size(), want - got.size());
        const std::size_t n =
            receiver.recv_mmsg(with_state(socket, state), std::span(p).first(k), ec);
        got.insert(got.end(), p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
        return n > 0;
    };
    for (int turn = 0; turn < 50 && (got1.size() < a.size() || got2.size() < b.size()); ++turn)
        BOOST_TEST_REQUIRE((take(rx1, s1, got1, a.size()) && take(rx2, s2, got2, b.size())),
                           "a receive came back empty: " << ec.message());
    check_received(got1, a, rig.local(tx));
    check_received(got2, b, rig.local(tx));
    BOOST_TEST(receiver.discarded() == 0u);
    BOOST_TEST(rig.idle(rx1));
    BOOST_TEST(rig.idle(rx2));
}

/*! recv_coalesced gives every datagram of trains sent to the socket, in order, byte-exact,
    from the sender: each packet one datagram, or (UDP GRO) a run of them as segments of
    segment_size bytes, the last possibly shorter. A first try on the empty socket is
    would-block, and lets a backend that turns GRO on at its first receive do so before
    the trains come, so that a coalescing backend coalesces here.
*/
template <class Rig>
void a_coalesced_receive_gives_every_datagram(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const Endpoint from = rig.local(tx), to = rig.local(rx);
    auto receiver = rig.receiver();
    std::vector<KitCoalescedPacket> p(4);
    std::error_code ec;
    BOOST_TEST(receiver.try_recv_coalesced(rx, std::span(p), ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);

    TrainSet t;
    t.add(to, 10, 1000, 1000);
    t.add(to, 1, 0, 300);
    t.add(to, 5, 100, 60);
    auto sender = rig.sender();
    BOOST_TEST_REQUIRE(sender.send_trains(tx, t.trains).ok());

    std::size_t next = 0, wrong = 0;
    for (int call = 0; call < 20 && next < t.datagrams.size(); ++call) {
        const std::size_t n = receiver.recv_coalesced(rx, std::span(p), ec);
        BOOST_TEST_REQUIRE(n > 0u, "a receive came back empty: " << ec.message());
        for (std::size_t i = 0; i < n; ++i) {
            wrong += p[i].meta.addr != from || p[i].meta.flags != PacketFlags::none ||
                     (p[i].segment_size == 0 && p[i].meta.size > 0);
            for (std::span<const std::byte> segment : p[i].segments())
                wrong += next == t.datagrams.size() || !same_bytes(segment, t.datagrams[next++]);
        }
    }
    BOOST_TEST(next == t.datagrams.size(), "received " << next << " of " << t.datagrams.size());
    BOOST_TEST(wrong == 0u, wrong << " packets or segments are wrong");
    BOOST_TEST(rig.idle(rx));
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_RECEIVE_HPP
