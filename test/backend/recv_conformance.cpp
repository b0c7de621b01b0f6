// The shared receive suite: every test case runs on every real backend (test/support/backends.hpp)
// over loopback sockets. Datagrams are sent with plain sendto(2), so only the receive path of
// the backend under test is exercised.
#include <mmsg/batch_receiver.hpp>

#include "../support/backends.hpp"
#include "../support/datagrams.hpp"
#include "../support/loopback.hpp"

#define BOOST_TEST_MODULE backend_recv_conformance
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include <fcntl.h>

using namespace mmsg;
using mmsg::test::bound_socket;
using mmsg::test::numbered;
using mmsg::test::RealBackends;
using mmsg::test::same_bytes;
using mmsg::test::send_raw;
using mmsg::test::v4_loopback;
using mmsg::test::v6_loopback;
using udp = boost::asio::ip::udp;
using Bytes = std::vector<std::byte>;
using namespace std::chrono_literals;

namespace {

//! A receiver socket (large buffer, 5 s SO_RCVTIMEO) and a sender socket on IPv4 loopback.
template <class Backend>
struct Loopback {
    boost::asio::io_context io;
    udp::socket rx = bound_socket(io, v4_loopback());
    udp::socket tx = bound_socket(io, v4_loopback());
    Endpoint rx_ep = rx.local_endpoint();
    Endpoint tx_ep = tx.local_endpoint();
    BatchReceiver<Backend> receiver;

    Loopback() { mmsg::test::set_rcvbuf(rx, 16 << 20); }

    //! Sends datagrams numbered [first, first + n) of `size` bytes from `from` to rx.
    std::vector<Bytes> send(udp::socket& from, std::size_t n, std::size_t size, std::uint32_t first = 0) {
        std::vector<Bytes> sent;
        for (std::uint32_t i = first; i < first + n; ++i) {
            sent.push_back(numbered(size, i));
            BOOST_TEST_REQUIRE(send_raw(from.native_handle(), rx_ep, sent.back()) == 0);
        }
        return sent;
    }
};

template <std::size_t N>
void check_packets(std::span<const BasicPacket<N>> got, const std::vector<Bytes>& want,
                   const Endpoint& from) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(got[i].meta.size == want[i].size());
        BOOST_TEST(same_bytes(got[i].data(), want[i]), "datagram " << i << " differs");
        BOOST_TEST(got[i].meta.addr == from);
        BOOST_TEST((got[i].meta.flags == PacketFlags::none));
    }
}

//! Packets whose meta holds junk, so a receive that fails to reset it is caught.
template <std::size_t N = packet_data_size>
std::vector<BasicPacket<N>> dirty_packets(std::size_t n) {
    std::vector<BasicPacket<N>> p(n);
    for (auto& x : p) {
        x.buffer.fill(std::byte{0xee});
        x.meta = Meta{N, Endpoint(boost::asio::ip::address_v4::loopback(), 1), PacketFlags::truncated};
    }
    return p;
}

bool is_non_blocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(everything_queued_arrives_in_one_call, Backend, RealBackends) {
    Loopback<Backend> t;
    const auto sent = t.send(t.tx, 32, packet_data_size);
    auto p = dirty_packets(num_rcvmmsgs);
    std::error_code ec;
    const std::size_t n = t.receiver.recv_mmsg(t.rx, p, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(n == 32u);
    check_packets<packet_data_size>(std::span(p).first(n), sent, t.tx_ep);
    // The packets after the filled ones are untouched.
    BOOST_TEST(p[n].meta.size == packet_data_size);
    BOOST_TEST(!is_non_blocking(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recv_mmsg_returns_at_most_num_rcvmmsgs_and_the_rest_next_time, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const auto sent = t.send(t.tx, 100, 200);
    std::vector<Packet> p(100);
    std::error_code ec;
    // The socket given as a native handle.
    const std::size_t first = t.receiver.recv_mmsg(t.rx.native_handle(), p, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(first == num_rcvmmsgs);
    const std::size_t second = t.receiver.recv_mmsg(t.rx.native_handle(), std::span(p).subspan(first), ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(second == 100 - num_rcvmmsgs);
    check_packets<packet_data_size>(p, sent, t.tx_ep);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recv_mmsg_exact_fills_every_packet_across_several_calls, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const auto sent = t.send(t.tx, 150, packet_data_size);
    auto p = dirty_packets(150);
    std::error_code ec;
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p, ec) == 150u);
    BOOST_TEST(!ec, ec.message());
    check_packets<packet_data_size>(p, sent, t.tx_ep);

    // The throwing overload, on a std::array.
    const auto more = t.send(t.tx, 70, 33, 1000);
    std::array<BasicPacket<64>, 70> q;
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, q) == 70u);
    check_packets<64>(q, more, t.tx_ep);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_receive_timeout_is_would_block_not_a_hang, Backend, RealBackends) {
    Loopback<Backend> t;
    udp::socket quiet = bound_socket(t.io, v4_loopback(), 30ms);
    std::vector<Packet> p(8);
    std::error_code ec;
    BOOST_TEST(t.receiver.recv_mmsg(quiet, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);

    BOOST_TEST(t.receiver.recv_mmsg_exact(quiet, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);

    // recv_mmsg_exact returns what it got before the timeout.
    udp::socket tx = bound_socket(t.io, v4_loopback());
    const Bytes d = numbered(10, 1);
    for (int i = 0; i < 3; ++i) BOOST_TEST_REQUIRE(send_raw(tx.native_handle(), quiet.local_endpoint(), d) == 0);
    BOOST_TEST(t.receiver.recv_mmsg_exact(quiet, p, ec) == 3u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(same_bytes(p[2].data(), d));

    // The throwing overloads throw std::system_error with the same code.
    try {
        t.receiver.recv_mmsg(quiet, p);
        BOOST_ERROR("recv_mmsg did not throw");
    } catch (const std::system_error& e) {
        MMSG_CHECK_ERRC(e.code(), std::errc::operation_would_block);
    }
    BOOST_CHECK_THROW(t.receiver.recv_mmsg_exact(quiet, p), std::system_error);
    BOOST_TEST(!is_non_blocking(quiet.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_non_blocking_empty_socket_is_would_block_at_once, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    t.rx.non_blocking(true);
    std::vector<Packet> p(8);
    std::error_code ec;
    BOOST_TEST(t.receiver.recv_mmsg(t.rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(is_non_blocking(t.rx.native_handle()));

    // Data queued on a non-blocking socket is taken; the mode stays as it was.
    const auto sent = t.send(t.tx, 5, 50);
    BOOST_TEST(t.receiver.recv_mmsg(t.rx, p, ec) == 5u);
    BOOST_TEST(!ec, ec.message());
    check_packets<packet_data_size>(std::span(p).first(5), sent, t.tx_ep);
    BOOST_TEST(is_non_blocking(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_empty_packet_range_returns_zero_at_once, Backend, RealBackends) {
    Loopback<Backend> t;
    std::vector<Packet> none;
    std::error_code ec = std::make_error_code(std::errc::io_error);
    // Nothing is queued and the socket blocks for 5 s: a system call would time out with an error.
    BOOST_TEST(t.receiver.recv_mmsg(t.rx, none, ec) == 0u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, none, ec) == 0u);
    BOOST_TEST(!ec, ec.message());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(two_senders_arrive_in_order_with_their_sources, Backend, RealBackends) {
    Loopback<Backend> t;
    udp::socket tx2 = bound_socket(t.io, v4_loopback());
    const auto from1 = t.send(t.tx, 20, 300);
    const auto from2 = t.send(tx2, 20, 301, 100);
    std::vector<Packet> p(40);
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p) == 40u);
    check_packets<packet_data_size>(std::span(p).first(20), from1, t.tx_ep);
    check_packets<packet_data_size>(std::span(p).subspan(20), from2, tx2.local_endpoint());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(reused_packets_hold_exact_sizes_and_bytes, Backend, RealBackends) {
    Loopback<Backend> t;
    auto p = dirty_packets(16);
    const auto big = t.send(t.tx, 16, packet_data_size);
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p) == 16u);
    check_packets<packet_data_size>(p, big, t.tx_ep);

    // Small datagrams from another sender into the same packets: nothing stale may show.
    udp::socket tx2 = bound_socket(t.io, v4_loopback());
    const auto small = t.send(tx2, 16, 10, 500);
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p) == 16u);
    check_packets<packet_data_size>(p, small, tx2.local_endpoint());

    // And an empty datagram after them.
    const auto empty = t.send(t.tx, 1, 0);
    BOOST_TEST(t.receiver.recv_mmsg(t.rx, std::span(p).first(1)) == 1u);
    BOOST_TEST(p[0].meta.size == 0u);
    BOOST_TEST(p[0].data().empty());
    BOOST_TEST(p[0].meta.addr == t.tx_ep);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(truncation_is_flagged_and_the_next_packet_is_unaffected, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const Bytes longer = numbered(100, 1), fits = numbered(10, 2), exact = numbered(16, 3);
    for (const Bytes* d : {&longer, &fits, &exact, &longer})
        BOOST_TEST_REQUIRE(send_raw(t.tx.native_handle(), t.rx_ep, *d) == 0);
    std::vector<BasicPacket<16>> p(4);
    BOOST_TEST(t.receiver.recv_mmsg_exact(t.rx, p) == 4u);

    for (std::size_t i : {0u, 3u}) {
        BOOST_TEST(has_flags(p[i].meta.flags, PacketFlags::truncated));
        BOOST_TEST(p[i].meta.size == 16u);
        BOOST_TEST(same_bytes(p[i].data(), std::span(longer).first(16)));
        BOOST_TEST(p[i].meta.addr == t.tx_ep);
    }
    BOOST_TEST((p[1].meta.flags == PacketFlags::none));
    BOOST_TEST(same_bytes(p[1].data(), fits));
    BOOST_TEST((p[2].meta.flags == PacketFlags::none));
    BOOST_TEST(same_bytes(p[2].data(), exact));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ipv6_datagrams_arrive_intact_in_order_with_their_source, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    udp::socket rx6 = bound_socket(t.io, v6_loopback());
    udp::socket tx6 = bound_socket(t.io, v6_loopback());
    mmsg::test::set_rcvbuf(rx6, 16 << 20);
    std::vector<Bytes> sent;
    for (std::uint32_t i = 0; i < 40; ++i) {
        sent.push_back(numbered(packet_data_size, i));
        BOOST_TEST_REQUIRE(send_raw(tx6.native_handle(), rx6.local_endpoint(), sent.back()) == 0);
    }
    auto p = dirty_packets(40);
    BOOST_TEST(t.receiver.recv_mmsg_exact(rx6, p) == 40u);
    check_packets<packet_data_size>(p, sent, tx6.local_endpoint());
    BOOST_TEST(p[0].meta.addr.address().is_v6());
    BOOST_TEST(p[0].meta.addr.port() == tx6.local_endpoint().port());
}

// The free functions run on DefaultBackend.
BOOST_AUTO_TEST_CASE(free_functions_receive_like_the_receiver) {
    boost::asio::io_context io;
    udp::socket rx = bound_socket(io, v4_loopback(), 30ms);
    udp::socket tx = bound_socket(io, v4_loopback());
    std::vector<Bytes> sent;
    for (std::uint32_t i = 0; i < 80; ++i) {
        sent.push_back(numbered(64, i));
        BOOST_TEST_REQUIRE(send_raw(tx.native_handle(), rx.local_endpoint(), sent.back()) == 0);
    }
    std::vector<Packet> p(80);
    std::error_code ec;
    const std::size_t first = mmsg::recv_mmsg(rx, p, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(first == num_rcvmmsgs);
    const std::size_t rest = mmsg::recv_mmsg(rx.native_handle(), std::span(p).subspan(first));
    BOOST_TEST(first + rest == 80u);
    check_packets<packet_data_size>(p, sent, tx.local_endpoint());

    BOOST_TEST(mmsg::recv_mmsg(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_CHECK_THROW(mmsg::recv_mmsg(rx, p), std::system_error);
    BOOST_TEST(mmsg::recv_mmsg_exact(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_CHECK_THROW(mmsg::recv_mmsg_exact(rx, p), std::system_error);

    for (std::uint32_t i = 0; i < 3; ++i)
        BOOST_TEST_REQUIRE(send_raw(tx.native_handle(), rx.local_endpoint(), sent[i]) == 0);
    std::array<Packet, 3> q;
    BOOST_TEST(mmsg::recv_mmsg_exact(rx, q) == 3u);
    check_packets<packet_data_size>(q, {sent[0], sent[1], sent[2]}, tx.local_endpoint());
}
