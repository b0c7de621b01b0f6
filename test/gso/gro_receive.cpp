// LinuxGsoBackend, receive side: UDP_GRO coalesced datagrams split into packets (in place or
// repacked), kept segments across calls, truncation, control truncation, IPv6, round trips.
// The trains are sent with raw UDP_SEGMENT sendmsg calls, independent of the backend.
#include <mmsg/backend/linux_gso.hpp>

#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/packet_block.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE gso_gro_receive
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ranges>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <linux/net_tstamp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace mmsg;
using namespace mmsg::testing; // numbered, same_bytes, Bytes, loopback sockets
namespace asio = boost::asio;

namespace {


// The datagrams of a train: `n` of `segment` bytes, then one of `tail` bytes if tail > 0.
std::vector<Bytes> train(std::size_t n, std::size_t segment, std::size_t tail, std::uint32_t tag) {
    std::vector<Bytes> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(numbered(segment, tag * 1000 + static_cast<std::uint32_t>(i)));
    if (tail > 0) v.push_back(numbered(tail, tag * 1000 + static_cast<std::uint32_t>(n)));
    return v;
}

// Sends the datagrams as one UDP_SEGMENT train with a raw sendmsg.
void send_train(int fd, const Endpoint& to, const std::vector<Bytes>& d) {
    Bytes all;
    for (const Bytes& x : d) all.insert(all.end(), x.begin(), x.end());
    iovec iov{all.data(), all.size()};
    alignas(cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(std::uint16_t))] = {};
    msghdr m{};
    m.msg_name = const_cast<void*>(static_cast<const void*>(to.data()));
    m.msg_namelen = static_cast<socklen_t>(to.size());
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (d.size() > 1) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto seg = static_cast<std::uint16_t>(d[0].size());
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    BOOST_REQUIRE_MESSAGE(::sendmsg(fd, &m, 0) == static_cast<ssize_t>(all.size()),
                          "raw train send failed: " << std::strerror(errno));
}

bool gro_works(const asio::ip::udp& family = asio::ip::udp::v4()) {
    const GsoCapability& c = gso_capability(family);
    if (!c.gro() || !c.gso())
        BOOST_TEST_MESSAGE("UDP GSO/GRO does not work here (" << c.error.message() << "): skipped");
    return c.gro() && c.gso();
}

// Checks packets [from, from + want.size()) against the datagrams, with their source.
// `p`: a vector of packets or a packet block.
template <class Packets>
void expect(const Packets& p, std::size_t from, const std::vector<Bytes>& want,
            const Endpoint& src, PacketFlags flags = PacketFlags::none) {
    for (std::size_t i = 0; i < want.size(); ++i) {
        const auto& q = p[from + i];
        BOOST_TEST(same_bytes(q.data(), want[i]), "packet " << from + i << " differs");
        BOOST_TEST(q.meta.size == want[i].size());
        BOOST_TEST(q.meta.addr == src);
        BOOST_TEST((q.meta.flags == flags), "packet " << from + i);
    }
}

std::vector<Bytes> cat(std::vector<Bytes> a, const std::vector<Bytes>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

struct Loopback : LoopbackPair {
    BatchReceiver<LinuxGsoBackend> receiver;
    std::error_code ec;
    Loopback() {
        // GRO must be on before the data arrives for it to be coalesced.
        BOOST_TEST_REQUIRE(receiver.backend().enable_gro(rx));
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(coalesced_datagrams_are_split_byte_exact_with_their_source, Loopback) {
    if (!gro_works()) return;
    const auto a = train(40, 1232, 0, 1);
    const auto b = train(40, 1232, 0, 2);
    std::vector<Packet> p(64);
    // The first call lays one message per packet (the coalesced datagram spills and is
    // moved into place); the second, knowing trains come, lays one over all: in place.
    send_train(tx.native_handle(), rx_ep, a);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 40u);
    BOOST_TEST(!ec, ec.message());
    expect(p, 0, a, tx_ep);
    send_train(tx.native_handle(), rx_ep, b);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 40u);
    expect(p, 0, b, tx_ep);
    // Both queued: every queued one is taken (64), the rest is kept for the next call.
    send_train(tx.native_handle(), rx_ep, a);
    send_train(tx.native_handle(), rx_ep, b);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 40u); // one message over all packets
    expect(p, 0, a, tx_ep);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 40u);
    expect(p, 0, b, tx_ep);
    // A plain datagram first: the rest of the queue comes in a second, one-message-per-
    // packet call (the trains spill and are moved), and what does not fit is kept.
    const auto lone = train(1, 10, 0, 3);
    send_train(tx.native_handle(), rx_ep, lone);
    send_train(tx.native_handle(), rx_ep, a);
    send_train(tx.native_handle(), rx_ep, b);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 64u);
    expect(p, 0, cat(cat(lone, a), std::vector<Bytes>(b.begin(), b.begin() + 23)), tx_ep);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 17u);
    BOOST_TEST(!ec, ec.message());
    expect(p, 0, std::vector<Bytes>(b.begin() + 23, b.end()), tx_ep);
    BOOST_TEST(mmsg::testing::nothing_queued(rx.native_handle()));
}

BOOST_FIXTURE_TEST_CASE(segments_of_another_size_are_repacked_and_a_short_last_one_kept_short,
                        Loopback) {
    if (!gro_works()) return;
    const auto a = train(30, 500, 0, 1);
    const auto b = train(20, 100, 37, 2);
    const auto c = train(50, 64, 0, 3);
    const auto d = train(9, 1231, 1000, 4);
    std::vector<Packet> p(64);
    for (const auto* t : {&a, &b, &c, &d}) {
        send_train(tx.native_handle(), rx_ep, *t);
        BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == t->size());
        BOOST_TEST(!ec, ec.message());
        expect(p, 0, *t, tx_ep);
    }
}

BOOST_FIXTURE_TEST_CASE(packets_of_another_capacity_take_segments_of_it_in_place, Loopback) {
    // The layout follows the packets' capacity, not Packet's: 4000-byte segments land in
    // 4000-byte packets in place, shorter ones are moved, a short last one stays short.
    if (!gro_works()) return;
    const auto a = train(16, 4000, 0, 1);
    const auto b = train(15, 3000, 1234, 2);
    const auto c = train(60, 1000, 0, 3);
    std::vector<BasicPacket<4000>> p(64);
    for (const auto* t : {&a, &b, &c, &a}) {
        send_train(tx.native_handle(), rx_ep, *t);
        BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == t->size());
        BOOST_TEST(!ec, ec.message());
        expect(p, 0, *t, tx_ep);
    }
}

BOOST_FIXTURE_TEST_CASE(segments_longer_than_the_packets_are_truncated_and_flagged, Loopback) {
    if (!gro_works()) return;
    const auto a = train(10, 1232, 0, 1);
    const auto b = train(12, 700, 100, 2);
    std::vector<BasicPacket<512>> p(64);
    for (const auto* t : {&a, &b, &a}) {
        send_train(tx.native_handle(), rx_ep, *t);
        BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == t->size());
        for (std::size_t i = 0; i < t->size(); ++i) {
            const Bytes& want = (*t)[i];
            const std::size_t n = std::min<std::size_t>(want.size(), 512);
            BOOST_TEST(p[i].meta.size == n);
            BOOST_TEST(same_bytes(p[i].data(), std::span(want).first(n)));
            BOOST_TEST(has_flags(p[i].meta.flags, PacketFlags::truncated) == (want.size() > 512));
            BOOST_TEST(p[i].meta.addr == tx_ep);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(segments_beyond_the_packets_are_kept_for_the_next_call, Loopback) {
    if (!gro_works()) return;
    const auto a = train(40, 1232, 0, 1);
    send_train(tx.native_handle(), rx_ep, a);
    std::vector<Packet> p(16);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 16u);
    BOOST_TEST(mmsg::testing::nothing_queued(rx.native_handle())); // the rest is kept, not queued
    expect(p, 0, std::vector<Bytes>(a.begin(), a.begin() + 16), tx_ep);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 16u);
    expect(p, 0, std::vector<Bytes>(a.begin() + 16, a.begin() + 32), tx_ep);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 8u);
    BOOST_TEST(!ec, ec.message());
    expect(p, 0, std::vector<Bytes>(a.begin() + 32, a.end()), tx_ep);

    // More small segments than num_rcvmmsgs in one coalesced datagram.
    const std::size_t max = gso_capability(asio::ip::udp::v4()).limits.max_segments;
    const auto b = train(max, 16, 0, 2);
    send_train(tx.native_handle(), rx_ep, b);
    std::vector<Packet> q(64);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(q).first(std::min<std::size_t>(max, 64))) ==
               std::min<std::size_t>(max, 64));
    std::size_t got = std::min<std::size_t>(max, 64);
    expect(q, 0, std::vector<Bytes>(b.begin(), b.begin() + static_cast<long>(got)), tx_ep);
    while (got < max) {
        const std::size_t n = receiver.recv_mmsg(rx, q, ec);
        BOOST_REQUIRE(n > 0u);
        expect(q, 0, std::vector<Bytes>(b.begin() + static_cast<long>(got), b.begin() + static_cast<long>(got + n)), tx_ep);
        got += n;
    }
    BOOST_TEST(got == max);
    BOOST_TEST(receiver.recv_mmsg(rx, q, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
}

BOOST_FIXTURE_TEST_CASE(kept_segments_wait_for_their_own_socket, Loopback) {
    if (!gro_works()) return;
    // Two sockets served by one receiver, each with its own state.
    auto rx2 = bound_socket(io, v4_loopback());
    SocketState state1, state2;
    auto s1 = with_state(rx, state1);
    auto s2 = with_state(rx2, state2);
    BOOST_TEST_REQUIRE(receiver.backend().enable_gro(s2));
    const auto a = train(40, 1232, 0, 1);
    const auto b = train(10, 1232, 0, 2);
    send_train(tx.native_handle(), rx_ep, a);
    send_train(tx.native_handle(), rx2.local_endpoint(), b);
    std::vector<Packet> p(16);
    BOOST_TEST(receiver.recv_mmsg(s1, p, ec) == 16u);
    BOOST_TEST(state1.pending() == 24u);
    std::vector<Packet> q(64);
    BOOST_TEST(receiver.recv_mmsg(s2, q, ec) == 10u); // not rx's kept segments
    expect(q, 0, b, tx_ep);
    std::vector<Packet> r(64);
    BOOST_TEST(receiver.recv_mmsg(s1, r, ec) == 24u); // kept ones, then nothing else queued
    BOOST_TEST(!ec, ec.message());
    expect(r, 0, std::vector<Bytes>(a.begin() + 16, a.end()), tx_ep);
    BOOST_TEST(receiver.discarded() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_plain_descriptor_loses_its_kept_segments_when_the_receiver_moves_on,
                        Loopback) {
    if (!gro_works()) return;
    // Plain descriptors carry no state: the receiver keeps one for the socket it served last.
    // Moving to another socket forgets what it kept for the first, and counts it; the
    // segments are never handed to the wrong socket.
    auto rx2 = bound_socket(io, v4_loopback());
    const auto a = train(40, 1232, 0, 1);
    send_train(tx.native_handle(), rx_ep, a);
    std::vector<Packet> p(16);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 16u);
    const auto b = train(3, 100, 0, 2);
    send_train(tx.native_handle(), rx2.local_endpoint(), b);
    std::vector<Packet> q(64);
    BOOST_TEST(receiver.recv_mmsg(rx2, q, ec) == 3u);
    expect(q, 0, b, tx_ep);
    BOOST_TEST(receiver.discarded() == 24u);
}

BOOST_AUTO_TEST_CASE(a_reused_descriptor_never_gets_the_segments_kept_for_its_old_socket) {
    if (!gro_works()) return;
    asio::io_context io;
    auto tx = bound_socket(io, v4_loopback());
    BatchReceiver<LinuxGsoBackend> receiver;
    int old_fd = -1;
    {
        auto rx = bound_socket(io, v4_loopback());
        BOOST_TEST_REQUIRE(receiver.backend().enable_gro(rx));
        send_train(tx.native_handle(), rx.local_endpoint(), train(40, 1232, 0, 1));
        std::vector<Packet> p(8);
        BOOST_TEST(receiver.recv_mmsg(rx, p) == 8u); // 32 kept
        old_fd = rx.native_handle();
    } // closed without forget()
    auto fresh = bound_socket(io, v4_loopback(), std::chrono::milliseconds(50));
    if (fresh.native_handle() != old_fd) {
        BOOST_TEST_MESSAGE("the descriptor was not reused: nothing to check");
        return;
    }
    const auto b = train(3, 100, 0, 2);
    send_train(tx.native_handle(), fresh.local_endpoint(), b);
    std::vector<Packet> p(64);
    std::error_code ec;
    std::size_t got = 0;
    for (int i = 0; i < 4 && got < 3; ++i) got += receiver.recv_mmsg(fresh, std::span(p).subspan(got), ec);
    BOOST_TEST(got == 3u);
    expect(p, 0, b, tx.local_endpoint());
    BOOST_TEST(receiver.discarded() == 32u); // counted, never delivered to the new socket
}

BOOST_FIXTURE_TEST_CASE(plain_datagrams_and_trains_queued_together_arrive_in_one_call,
                        Loopback) {
    if (!gro_works()) return;
    const auto lone1 = train(1, 300, 0, 1);
    const auto a = train(20, 1232, 0, 2);
    const auto lone2 = train(1, 10, 0, 3);
    const auto zero = std::vector<Bytes>{Bytes{}};
    for (const auto* t : {&lone1, &a, &lone2, &zero}) send_train(tx.native_handle(), rx_ep, *t);
    std::vector<Packet> p(64);
    // One message per packet: all four messages (23 datagrams) in one call, in order.
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 23u);
    expect(p, 0, cat(cat(cat(lone1, a), lone2), zero), tx_ep);

    // Plain datagrams alone: all ten in one call (two system calls), in place.
    std::vector<Bytes> plain;
    for (std::uint32_t i = 0; i < 10; ++i) {
        plain.push_back(numbered(50 + i, 5000 + i));
        BOOST_TEST(mmsg::testing::send_raw(tx.native_handle(), rx_ep, plain.back()) == 0);
    }
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 10u);
    expect(p, 0, plain, tx_ep);
}

BOOST_FIXTURE_TEST_CASE(control_data_cut_by_the_kernel_is_flagged_and_the_split_still_right,
                        Loopback) {
    if (!gro_works()) return;
    const int one = 1;
    const int fd = rx.native_handle();
    // Timestamps come before UDP_GRO's message, the IP options after: together they overflow
    // the backend's control buffer (room for everything mmsg asks for), but UDP_GRO's
    // message still fits.
    const int stamping = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    BOOST_REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0);
    BOOST_REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof stamping) == 0);
    for (int opt : {IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR, IP_RECVOPTS})
        BOOST_REQUIRE(::setsockopt(fd, IPPROTO_IP, opt, &one, sizeof one) == 0);
    const auto a = train(12, 1232, 0, 1);
    send_train(tx.native_handle(), rx_ep, a);
    std::vector<Packet> p(64);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 12u);
    expect(p, 0, a, tx_ep, PacketFlags::control_truncated);
}

BOOST_FIXTURE_TEST_CASE(a_coalesced_datagram_whose_segment_size_was_cut_is_one_flagged_packet,
                        Loopback) {
    if (!gro_works()) return;
    // Socket-level control messages come before UDP_GRO's: these four fill the backend's
    // control buffer, so the kernel drops the segment size and says MSG_CTRUNC.
    const int fd = rx.native_handle();
    const int one = 1;
    const int stamping = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    bool set = ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0 &&
               ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof stamping) == 0 &&
               ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) == 0;
#ifdef SO_RCVMARK
    set = set && ::setsockopt(fd, SOL_SOCKET, SO_RCVMARK, &one, sizeof one) == 0;
#else
    set = false;
#endif
    if (!set) {
        BOOST_TEST_MESSAGE("cannot fill the control buffer here: skipped");
        return;
    }
    const auto a = train(12, 1232, 0, 1);
    send_train(tx.native_handle(), rx_ep, a);
    std::vector<Packet> p(64);
    const std::size_t n = receiver.recv_mmsg(rx, p, ec);
    BOOST_TEST(!ec, ec.message());
    if (n == 12u) {
        // The backend's buffer has room for everything mmsg asks for; these four socket-level
        // messages may not fill it on this kernel. decode_gro's handling of a cut segment size
        // is checked without a kernel in test/gso/gro_split.cpp.
        BOOST_TEST_MESSAGE("the kernel kept the UDP_GRO message: the split path is checked elsewhere");
        expect(p, 0, a, tx_ep, p[0].meta.flags);
        return;
    }
    // The segments cannot be told apart: one packet, flagged, holding the first bytes.
    BOOST_TEST(n == 1u);
    BOOST_TEST(has_flags(p[0].meta.flags, PacketFlags::control_truncated | PacketFlags::truncated));
    BOOST_TEST(same_bytes(p[0].data(), a[0]));
    BOOST_TEST(p[0].meta.addr == tx_ep);
}

BOOST_AUTO_TEST_CASE(ipv6_coalesced_datagrams_are_split_with_their_source) {
    if (!gro_works(asio::ip::udp::v6())) return;
    asio::io_context io;
    auto tx = bound_socket(io, v6_loopback());
    auto rx = bound_socket(io, v6_loopback());
    BatchReceiver<LinuxGsoBackend> receiver;
    BOOST_TEST_REQUIRE(receiver.backend().enable_gro(rx));
    const auto a = train(30, 1232, 5, 1);
    std::vector<Packet> p(64);
    for (int round = 0; round < 2; ++round) {
        send_train(tx.native_handle(), rx.local_endpoint(), a);
        BOOST_TEST(receiver.recv_mmsg(rx, p) == 31u);
        expect(p, 0, a, tx.local_endpoint());
        BOOST_TEST(p[0].meta.addr.address().is_v6());
    }
}

BOOST_AUTO_TEST_CASE(a_gso_sender_and_a_gro_receiver_move_many_datagrams_intact) {
    if (!gro_works()) return;
    asio::io_context io;
    auto tx = bound_socket(io, v4_loopback());
    auto rx = bound_socket(io, v4_loopback());
    mmsg::testing::set_rcvbuf(rx, 4 << 20);
    // tag::round_trip_setup[]
    BatchSender<LinuxGsoBackend> sender;      // builds UDP_SEGMENT trains
    BatchReceiver<LinuxGsoBackend> receiver;  // splits UDP_GRO datagrams into packets
    // Turn GRO on before traffic arrives, so that it is coalesced from the first datagram.
    BOOST_TEST_REQUIRE(receiver.backend().enable_gro(rx));
    // end::round_trip_setup[]
    constexpr std::size_t total = 3000, slice = 500;
    std::vector<Bytes> d;
    for (std::uint32_t i = 0; i < total; ++i)
        d.push_back(numbered(i % 97 == 0 ? 700 : 1232, i)); // some trains cut short
    std::vector<Packet> p(total);
    std::size_t got = 0;
    for (std::size_t base = 0; base < total; base += slice) { // in slices: loopback has no flow control
        std::vector<std::pair<std::span<const std::byte>, Endpoint>> b;
        for (std::size_t i = base; i < base + slice; ++i) b.emplace_back(d[i], rx.local_endpoint());
        // tag::round_trip[]
        BOOST_TEST(sender.batch_send(tx, b).ok());
        got += receiver.recv_mmsg_exact(rx, std::span(p).subspan(got, slice));
        // end::round_trip[]
    }
    BOOST_TEST(got == total);
    expect(p, 0, d, tx.local_endpoint());
}

// ---- packet blocks: buffers back to back, one kernel copy per coalesced datagram ----------

namespace {

// The kernel's system calls, with the iovec count of every receive's first message noted.
struct IovecsSeen : mmsg::detail::KernelGsoOps {
    std::vector<std::size_t> iovecs;
    int recvmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) {
        iovecs.push_back(v[0].msg_hdr.msg_iovlen);
        return mmsg::detail::KernelGsoOps::recvmmsg(fd, v, n, flags, ec);
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_packet_block_takes_a_coalesced_datagram_through_one_iovec, Loopback) {
    if (!gro_works()) return;
    BatchReceiver<BasicLinuxGsoBackend<IovecsSeen>> seen;
    BOOST_TEST_REQUIRE(seen.backend().enable_gro(rx));
    const auto a = train(40, 1232, 0, 1);
    PacketBlock block(64);
    send_train(tx.native_handle(), rx_ep, a);
    BOOST_TEST(seen.recv_mmsg(rx, block, ec) == 40u);
    BOOST_TEST(!ec, ec.message());
    expect(block, 0, a, tx_ep);
    // The 64 packets as one iovec, then the spill area; separate packets take one each.
    BOOST_TEST_REQUIRE(seen.backend().ops().iovecs.size() == 1u);
    BOOST_TEST(seen.backend().ops().iovecs[0] == 2u);
    std::vector<Packet> p(64);
    send_train(tx.native_handle(), rx_ep, a);
    BOOST_TEST(seen.recv_mmsg(rx, p, ec) == 40u);
    expect(p, 0, a, tx_ep);
    BOOST_TEST(seen.backend().ops().iovecs.back() == 65u);
}

BOOST_FIXTURE_TEST_CASE(a_packet_block_gets_what_separate_packets_get, Loopback) {
    if (!gro_works()) return;
    // Segments of the block's capacity (in place), smaller ones (moved), a short last one,
    // larger ones (truncated), and plain datagrams queued with a train.
    const auto a = train(30, 1232, 0, 1);
    const auto b = train(20, 100, 37, 2);
    const auto c = train(50, 64, 0, 3);
    const auto d = train(9, 1231, 1000, 4);
    PacketBlock block(64);
    for (const auto* t : {&a, &b, &c, &d, &a}) {
        send_train(tx.native_handle(), rx_ep, *t);
        BOOST_TEST(receiver.recv_mmsg(rx, block, ec) == t->size());
        BOOST_TEST(!ec, ec.message());
        expect(block, 0, *t, tx_ep);
    }
    BasicPacketBlock<512> small(64);
    send_train(tx.native_handle(), rx_ep, a);
    BOOST_TEST(receiver.recv_mmsg(rx, small, ec) == 30u);
    for (std::size_t i = 0; i < 30; ++i) {
        BOOST_TEST(small[i].meta.size == 512u);
        BOOST_TEST(small[i].meta.wire_size == 1232u);
        BOOST_TEST(has_flags(small[i].meta.flags, PacketFlags::truncated));
        BOOST_TEST(same_bytes(small[i].data(), std::span(a[i]).first(512)));
    }
    const auto lone = train(1, 10, 0, 5);
    send_train(tx.native_handle(), rx_ep, lone);
    send_train(tx.native_handle(), rx_ep, b);
    BOOST_TEST(receiver.recv_mmsg(rx, block, ec) == 22u);
    expect(block, 0, cat(lone, b), tx_ep);
}

BOOST_FIXTURE_TEST_CASE(a_packet_block_is_filled_exactly_and_what_does_not_fit_is_kept, Loopback) {
    if (!gro_works()) return;
    const auto a = train(40, 1232, 0, 1);
    const auto b = train(40, 1232, 0, 2);
    send_train(tx.native_handle(), rx_ep, a);
    send_train(tx.native_handle(), rx_ep, b);
    // tag::packet_block[]
    PacketBlock block(70); // 70 packets of 1232 bytes, their buffers in one allocation
    BOOST_TEST(receiver.recv_mmsg_exact(rx, block) == 70u);
    for (auto packet : block) BOOST_TEST(packet.meta.addr == tx_ep); // buffer, meta, data()
    // end::packet_block[]
    expect(block, 0, cat(a, std::vector<Bytes>(b.begin(), b.begin() + 30)), tx_ep);
    // The other ten were kept; a view of the block's first packets takes them.
    BOOST_TEST(receiver.recv_mmsg(rx, block.view().first(16), ec) == 10u);
    BOOST_TEST(!ec, ec.message());
    expect(block, 0, std::vector<Bytes>(b.begin() + 30, b.end()), tx_ep);
    BOOST_TEST(mmsg::testing::nothing_queued(rx.native_handle()));
}

BOOST_FIXTURE_TEST_CASE(a_block_view_receives_into_memory_the_caller_owns, Loopback) {
    if (!gro_works()) return;
    std::vector<std::byte> bytes(32 * 1232 + 5);
    std::vector<Meta> metas(32);
    const PacketBlockView view(bytes, metas);
    BOOST_TEST(view.size() == 32u);
    const auto a = train(25, 1232, 0, 1);
    send_train(tx.native_handle(), rx_ep, a);
    BOOST_TEST(receiver.recv_mmsg(rx, view, ec) == 25u);
    expect(view, 0, a, tx_ep);
    BOOST_TEST(std::memcmp(bytes.data() + 24 * 1232, a[24].data(), 1232) == 0); // where it says
    std::size_t seen = 0;
    for (auto q : view.first(25)) seen += q.meta.size == 1232 ? 1 : 0;
    BOOST_TEST(seen == 25u);
    // Too few bytes for the metas: refused at construction, with the figures.
    BOOST_CHECK_THROW(PacketBlockView(std::span(bytes).first(31 * 1232), metas), std::invalid_argument);
}

// A block and its view are forward ranges of packets (their reference a proxy by value).
static_assert(std::ranges::forward_range<PacketBlockView> && std::ranges::sized_range<PacketBlockView>);
static_assert(std::ranges::forward_range<const PacketBlock&>);

BOOST_AUTO_TEST_CASE(an_empty_packet_block_is_refused_as_an_empty_range_is) {
    asio::io_context io;
    auto rx = bound_socket(io, v4_loopback());
    BatchReceiver<LinuxGsoBackend> receiver;
    PacketBlock none(0);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec);
    BOOST_CHECK_THROW(receiver.recv_mmsg(rx, none), std::system_error);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, none) == 0u);
    // A moved-from block is empty too.
    PacketBlock some(4);
    PacketBlock other = std::move(some);
    BOOST_TEST(some.size() == 0u); // NOLINT(bugprone-use-after-move): its state is specified
    BOOST_TEST(other.size() == 4u);
}
