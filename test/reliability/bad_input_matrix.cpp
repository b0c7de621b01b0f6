// The bad-input matrix: each bad input gives a clear error on exactly the datagram (or call)
// it concerns, and nothing else is affected. Real backends (test/support/backends.hpp) over
// loopback, and MockBackend where the case exists on the mock network.
#include <mmsg/batch_sender.hpp>

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/batch_receiver.hpp>

#include "../support/backends.hpp"
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE reliability_bad_input_matrix
#include <boost/test/unit_test.hpp>

#include <mmsg/testing/contract/support.hpp> // check_send_fails, check_receive_fails (Boost.Test)

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace mmsg;
using mmsg::testing::contract::check_receive_fails;
using mmsg::testing::contract::check_send_fails;
using mmsg::testing::v4_loopback;
using mmsg::testing::v6_loopback;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

bool is(const std::error_code& ec, std::errc e) { return ec == e; }

// Everything queued on `s` now, as (size, flags) pairs; never waits.
template <class Socket>
std::vector<Meta> drain(Socket& s) {
    BatchReceiver<LinuxMmsgBackend> r;
    std::vector<Packet> packets(64);
    std::vector<Meta> out;
    std::error_code ec;
    for (;;) {
        const std::size_t n = r.try_recv_mmsg(s, packets, ec);
        if (ec) break;
        for (std::size_t i = 0; i < n; ++i) out.push_back(packets[i].meta);
    }
    return out;
}

template <class B>
struct Rig {
    asio::io_context io;
    udp::socket rx = mmsg::testing::bound_socket(io, v4_loopback());
    udp::socket tx{io, udp::v4()};
    Endpoint to = rx.local_endpoint();
    BatchSender<B> sender;
    std::vector<std::byte> small = mmsg::testing::numbered(100, 1000);
};

} // namespace

// ---- real backends ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(payload_over_the_udp_maximum_fails_alone_with_emsgsize, B,
                              mmsg::test::RealBackends) {
    Rig<B> t;
    const std::vector<std::byte> big(65508); // IPv4: 65535 - 20 - 8 = 65507 at most
    std::vector<std::error_code> status(3);
    const auto r = t.sender.batch_send(t.tx, Batch{{t.small, t.to}, {big, t.to}, {t.small, t.to}}, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(is(r.first_error, std::errc::message_size), r.first_error.message());
    BOOST_TEST(!status[0]);
    BOOST_TEST(is(status[1], std::errc::message_size), status[1].message());
    BOOST_TEST(!status[2]);
    const auto got = drain(t.rx);
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].size == 100u);
    BOOST_TEST(got[1].size == 100u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(short_status_span_is_rejected_and_nothing_is_sent, B,
                              mmsg::test::RealBackends) {
    Rig<B> t;
    std::vector<std::error_code> status(2);
    try {
        t.sender.batch_send(t.tx, Batch{{t.small, t.to}, {t.small, t.to}, {t.small, t.to}}, status);
        BOOST_FAIL("a status span shorter than the batch was accepted");
    } catch (const std::invalid_argument& e) {
        BOOST_TEST(std::string(e.what()).find("nothing was sent") != std::string::npos, e.what());
    }
    const std::vector<Endpoint> dests(3, t.to);
    BOOST_CHECK_THROW(t.sender.multi_target_send(t.tx, std::span<const std::byte>(t.small), dests, status),
                      std::invalid_argument);
    BOOST_TEST(drain(t.rx).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_payloads_are_sent_as_empty_datagrams, B, mmsg::test::RealBackends) {
    Rig<B> t;
    const std::span<const std::byte> none;
    const auto r = t.sender.batch_send(t.tx, Batch{{none, t.to}, {t.small, t.to}, {none, t.to}});
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 3u);
    const auto got = drain(t.rx);
    BOOST_TEST_REQUIRE(got.size() == 3u);
    BOOST_TEST(got[0].size == 0u);
    BOOST_TEST(got[1].size == 100u);
    BOOST_TEST(got[2].size == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(unspecified_endpoint_and_port_zero_fail_alone_with_einval, B,
                              mmsg::test::RealBackends) {
    // A default-constructed Endpoint is 0.0.0.0 port 0; an AF_UNSPEC sockaddr is taken by
    // Linux as IPv4 with port 0. Either names no destination: EINVAL on that datagram only.
    Rig<B> t;
    Endpoint unspec;
    sockaddr_storage ss{};
    ss.ss_family = AF_UNSPEC;
    std::memcpy(unspec.data(), &ss, sizeof(sockaddr_in));
    const Endpoint port0(asio::ip::address_v4::loopback(), 0);
    std::vector<std::error_code> status(5);
    const auto r = t.sender.batch_send(
        t.tx, Batch{{t.small, t.to}, {t.small, Endpoint{}}, {t.small, unspec}, {t.small, port0}, {t.small, t.to}},
        status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 3u);
    BOOST_TEST(!r.fatal);
    for (std::size_t i : {1u, 2u, 3u}) BOOST_TEST(is(status[i], std::errc::invalid_argument), status[i].message());
    BOOST_TEST(drain(t.rx).size() == 2u);
}

// A connected TCP socket (its stream left untouched) is the conformance kit's check.
BOOST_AUTO_TEST_CASE_TEMPLATE(closed_and_tcp_sockets_are_fatal_for_the_batch_and_an_error_for_a_receive, B,
                              mmsg::test::RealBackends) {
    Rig<B> t;
    // A closed descriptor number far above the ones in use: new descriptors (an io_uring
    // ring made on first use, say) take the lowest free number, so nothing reuses it.
    const int closed = ::fcntl(t.tx.native_handle(), F_DUPFD_CLOEXEC, 1000);
    BOOST_REQUIRE(closed >= 1000);
    ::close(closed);
    asio::ip::tcp::socket tcp(t.io, asio::ip::tcp::v4());
    const std::pair<int, std::errc> cases[] = {{closed, std::errc::bad_file_descriptor},
                                               {tcp.native_handle(), std::errc::wrong_protocol_type}};
    for (const auto& [fd, why] : cases) {
        BOOST_TEST_CONTEXT("descriptor " << fd) {
            check_send_fails(t.sender, fd, t.to, why);
            BatchReceiver<B> receiver;
            check_receive_fails(receiver, fd, why);
        }
    }
    BOOST_TEST(drain(t.rx).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ipv4_mapped_destinations_work_on_dual_stack_and_fail_alone_on_v6_only, B,
                              mmsg::test::RealBackends) {
    Rig<B> t;
    const Endpoint mapped(asio::ip::make_address_v6(asio::ip::v4_mapped, t.to.address().to_v4()),
                          t.to.port());
    udp::socket rx6 = mmsg::testing::bound_socket(t.io, v6_loopback());
    const Endpoint to6 = rx6.local_endpoint();

    udp::socket dual(t.io, udp::v6());
    dual.set_option(asio::ip::v6_only(false));
    auto r = t.sender.batch_send(dual, Batch{{t.small, mapped}, {t.small, to6}});
    BOOST_TEST(r.ok());
    auto got = drain(t.rx);
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST(got[0].addr.address().is_v4()); // the v4 receiver sees a plain IPv4 source
    BOOST_TEST(drain(rx6).size() == 1u);

    udp::socket only6(t.io, udp::v6());
    only6.set_option(asio::ip::v6_only(true));
    std::vector<std::error_code> status(2);
    r = t.sender.batch_send(only6, Batch{{t.small, mapped}, {t.small, to6}}, status);
    BOOST_TEST(r.sent == 1u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(is(status[0], std::errc::network_unreachable), status[0].message());
    BOOST_TEST(drain(t.rx).empty());
    BOOST_TEST(drain(rx6).size() == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(dual_stack_receiver_reports_ipv4_senders_as_mapped_addresses, B,
                              mmsg::test::RealBackends) {
    asio::io_context io;
    udp::socket rx(io, udp::v6());
    rx.set_option(asio::ip::v6_only(false));
    const auto mapped_lo = asio::ip::make_address_v6(asio::ip::v4_mapped, asio::ip::address_v4::loopback());
    rx.bind(Endpoint(mapped_lo, 0));
    udp::socket tx = mmsg::testing::bound_socket(io, v4_loopback());
    const std::vector<std::byte> p = mmsg::testing::numbered(10, 2000);
    BOOST_REQUIRE(BatchSender<B>().batch_send(tx, Batch{{p, v4_loopback(rx.local_endpoint().port())}}).ok());
    BatchReceiver<B> receiver;
    std::vector<Packet> packets(4);
    BOOST_TEST_REQUIRE(receiver.recv_mmsg(rx, packets) == 1u);
    BOOST_TEST(packets[0].meta.addr.address().is_v6());
    BOOST_TEST(packets[0].meta.addr.address().to_v6().is_v4_mapped());
    BOOST_TEST(packets[0].meta.addr.port() == tx.local_endpoint().port());
    BOOST_TEST(packets[0].meta.size == 10u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_arrays_make_no_system_call_and_lose_nothing, B, mmsg::test::RealBackends) {
    Rig<B> t;
    BOOST_TEST(t.sender.batch_send(t.tx, Batch{}).ok());
    BOOST_TEST(t.sender.batch_send(t.tx, Batch{{t.small, t.to}}).ok());
    BatchReceiver<B> receiver;
    std::vector<Packet> none;
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(t.rx, none, ec) == 0u); // would block forever if it waited
    BOOST_TEST(!ec);
    std::vector<Packet> one(1);
    BOOST_TEST(receiver.recv_mmsg(t.rx, one, ec) == 1u); // the datagram is still there
    BOOST_TEST(one[0].meta.size == 100u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_batch_of_100000_tiny_datagrams_is_accounted_for_exactly, B,
                              mmsg::test::RealBackends) {
    // Loopback cannot hold 100 000 datagrams: the receiver drops what does not fit and
    // counts it (SO_RXQ_OVFL), so sent == received + dropped, datagram for datagram.
    Rig<B> t;
    BatchReceiver<LinuxMmsgBackend> receiver;
    BOOST_REQUIRE(!mmsg::enable_drop_count(t.rx));
    constexpr std::size_t n = 100'000;
    const std::byte one[1] = {std::byte{7}};
    const std::vector<Endpoint> dests(n, t.to);
    std::vector<std::error_code> status(n, std::make_error_code(std::errc::io_error));
    const auto r = t.sender.multi_target_send(t.tx, std::span<const std::byte>(one), dests, status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == n);
    BOOST_TEST(std::count(status.begin(), status.end(), std::error_code{}) == static_cast<long>(n));

    std::vector<Packet> packets(64);
    std::size_t received = 0;
    std::error_code ec;
    for (;;) {
        const std::size_t k = receiver.try_recv_mmsg(t.rx, packets, ec);
        if (ec) break;
        received += k;
    }
    // The drop counter arrives with a datagram: one more into the drained queue.
    BOOST_REQUIRE(t.sender.batch_send(t.tx, Batch{{t.small, t.to}}).ok());
    BOOST_TEST_REQUIRE(receiver.recv_mmsg(t.rx, packets) == 1u);
    BOOST_TEST_MESSAGE("100000 datagrams: received " << received << ", dropped "
                                                     << receiver.socket_state(t.rx).dropped());
    BOOST_TEST(received + receiver.socket_state(t.rx).dropped() == n);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(one_byte_packets_truncate_and_say_so, B, mmsg::test::RealBackends) {
    Rig<B> t;
    const std::span<const std::byte> none;
    const std::vector<std::byte> two = mmsg::testing::numbered(2, 3000);
    const std::vector<std::byte> full = mmsg::testing::numbered(packet_data_size, 3001);
    const std::vector<std::byte> single(two.begin(), two.begin() + 1);
    BOOST_REQUIRE(t.sender.batch_send(t.tx, Batch{{none, t.to}, {single, t.to}, {two, t.to}, {full, t.to}}).ok());
    BatchReceiver<B> receiver;
    std::vector<BasicPacket<1>> packets(4);
    std::error_code ec;
    BOOST_TEST_REQUIRE(receiver.recv_mmsg_exact(t.rx, packets, ec) == 4u, ec.message());
    const std::size_t sizes[] = {0, 1, 1, 1};
    const PacketFlags flags[] = {PacketFlags::none, PacketFlags::none, PacketFlags::truncated,
                                 PacketFlags::truncated};
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST(packets[i].meta.size == sizes[i]);
        BOOST_TEST((packets[i].meta.flags == flags[i]));
        BOOST_TEST(packets[i].meta.addr == v4_loopback(t.tx.local_endpoint().port()));
    }
    BOOST_TEST((packets[1].buffer[0] == single[0]));
    BOOST_TEST((packets[2].buffer[0] == two[0]));
    BOOST_TEST((packets[3].buffer[0] == full[0]));
}

// ---- MockBackend --------------------------------------------------------------------------

namespace {
struct MockRig {
    MockNetwork net;
    BatchSender<MockBackend> sender{MockBackend(net)};
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    int tx = net.open(v4_loopback());
    int rx = net.open(v4_loopback());
    Endpoint to = net.local_endpoint(rx);
    std::vector<std::byte> small = mmsg::testing::numbered(100, 1000);
};
} // namespace

BOOST_FIXTURE_TEST_CASE(mock_short_status_span_is_rejected_with_no_call, MockRig) {
    std::vector<std::error_code> status(1);
    BOOST_CHECK_THROW(sender.batch_send(tx, Batch{{small, to}, {small, to}}, status), std::invalid_argument);
    BOOST_TEST(net.calls() == 0u);
    BOOST_TEST(net.queued(rx) == 0u);
}

BOOST_FIXTURE_TEST_CASE(mock_payload_over_the_udp_maximum_fails_alone_with_emsgsize, MockRig) {
    // The mock refuses what the kernel refuses: 65507 bytes fit IPv4, 65508 do not.
    const std::vector<std::byte> max(65507), big(65508);
    std::vector<std::error_code> status(4);
    const auto r = sender.batch_send(tx, Batch{{small, to}, {big, to}, {max, to}, {small, to}}, status);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(is(status[1], std::errc::message_size), status[1].message());
    BOOST_TEST(!status[0]);
    BOOST_TEST(!status[2]);
    BOOST_TEST(!status[3]);
    std::vector<BasicPacket<65536>> packets(4);
    BOOST_TEST_REQUIRE(receiver.recv_mmsg(rx, packets) == 3u);
    BOOST_TEST(packets[0].meta.size == 100u);
    BOOST_TEST(packets[1].meta.size == 65507u);
    BOOST_TEST(packets[2].meta.size == 100u);
}

BOOST_FIXTURE_TEST_CASE(mock_unspecified_endpoint_and_port_zero_fail_alone_with_einval, MockRig) {
    const Endpoint port0(asio::ip::address_v4::loopback(), 0);
    std::vector<std::error_code> status(4);
    const auto r =
        sender.batch_send(tx, Batch{{small, to}, {small, Endpoint{}}, {small, port0}, {small, to}}, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST(is(status[1], std::errc::invalid_argument), status[1].message());
    BOOST_TEST(is(status[2], std::errc::invalid_argument), status[2].message());
    BOOST_TEST(net.queued(rx) == 2u);
}

#if MMSG_HAS_UDP_GSO
BOOST_FIXTURE_TEST_CASE(mock_gso_backend_port_zero_and_oversize_fail_alone, MockRig) {
    // LinuxGsoBackend's own code on the mock: a train to port 0 is refused (EINVAL, which it
    // takes for "no offload here" and resends as plain datagrams, each refused in turn), and
    // an oversize datagram fails alone; the trains around them go.
    BatchSender<MockGsoBackend> gso{MockGsoBackend(MockGsoOps(net))};
    const Endpoint port0(asio::ip::address_v4::loopback(), 0);
    const std::vector<std::byte> big(65508);
    Batch b;
    for (int i = 0; i < 4; ++i) b.emplace_back(small, to);
    for (int i = 0; i < 3; ++i) b.emplace_back(small, port0);
    b.emplace_back(big, to);
    for (int i = 0; i < 4; ++i) b.emplace_back(small, to);
    std::vector<std::error_code> status(b.size());
    const auto r = gso.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(!r.fatal);
    for (std::size_t i : {4u, 5u, 6u}) BOOST_TEST(is(status[i], std::errc::invalid_argument), status[i].message());
    BOOST_TEST(is(status[7], std::errc::message_size), status[7].message());
    BOOST_TEST(net.queued(rx) == 8u);
}
#endif

BOOST_FIXTURE_TEST_CASE(mock_empty_payloads_are_delivered_empty, MockRig) {
    const std::span<const std::byte> none;
    BOOST_TEST(sender.batch_send(tx, Batch{{none, to}, {small, to}, {none, to}}).ok());
    std::vector<Packet> packets(4);
    BOOST_TEST_REQUIRE(receiver.recv_mmsg(rx, packets) == 3u);
    BOOST_TEST(packets[0].meta.size == 0u);
    BOOST_TEST(packets[1].meta.size == 100u);
    BOOST_TEST(packets[2].meta.size == 0u);
}

BOOST_FIXTURE_TEST_CASE(mock_closed_socket_is_fatal_and_a_receive_error, MockRig) {
    net.close(tx);
    std::vector<std::error_code> status(2);
    const auto r = sender.batch_send(tx, Batch{{small, to}, {small, to}}, status);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST(is(status[1], std::errc::bad_file_descriptor));
    net.close(rx);
    std::vector<Packet> packets(2);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, packets, ec) == 0u);
    BOOST_TEST(is(ec, std::errc::bad_file_descriptor), ec.message());
}

BOOST_FIXTURE_TEST_CASE(mock_empty_arrays_make_no_call, MockRig) {
    BOOST_TEST(sender.batch_send(tx, Batch{}).ok());
    std::vector<Packet> none;
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec);
    BOOST_TEST(net.calls() == 0u);
}

BOOST_FIXTURE_TEST_CASE(mock_batch_of_100000_is_chunked_and_delivered_in_order, MockRig) {
    constexpr std::size_t n = 100'000;
    std::vector<std::array<std::byte, 4>> payloads(n);
    Batch batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto v = static_cast<std::uint32_t>(i);
        std::memcpy(payloads[i].data(), &v, 4);
        batch.emplace_back(payloads[i], to);
    }
    std::vector<std::error_code> status(n);
    const auto r = sender.batch_send(tx, batch, status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == n);
    BOOST_TEST(net.calls() == (n + max_send_batch - 1) / max_send_batch);
    BOOST_TEST(net.queued(rx) == n);
    std::vector<Packet> packets(64);
    std::size_t next = 0;
    bool in_order = true;
    while (next < n) {
        std::error_code ec;
        const std::size_t k = receiver.try_recv_mmsg(rx, packets, ec);
        if (ec) break;
        for (std::size_t i = 0; i < k; ++i, ++next) {
            std::uint32_t v;
            std::memcpy(&v, packets[i].buffer.data(), 4);
            in_order = in_order && v == next;
        }
    }
    BOOST_TEST(next == n);
    BOOST_TEST(in_order);
}

BOOST_FIXTURE_TEST_CASE(mock_one_byte_packets_truncate_and_say_so, MockRig) {
    const std::span<const std::byte> none;
    const std::vector<std::byte> two = mmsg::testing::numbered(2, 3000);
    BOOST_TEST(sender.batch_send(tx, Batch{{none, to}, {two, to}}).ok());
    std::vector<BasicPacket<1>> packets(2);
    BOOST_TEST_REQUIRE(receiver.recv_mmsg(rx, packets) == 2u);
    BOOST_TEST(packets[0].meta.size == 0u);
    BOOST_TEST((packets[0].meta.flags == PacketFlags::none));
    BOOST_TEST(packets[1].meta.size == 1u);
    BOOST_TEST((packets[1].meta.flags == PacketFlags::truncated));
    BOOST_TEST((packets[1].buffer[0] == two[0]));
}
