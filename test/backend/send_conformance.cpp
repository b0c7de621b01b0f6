// The shared send suite: every test case runs on every real backend (test/support/backends.hpp)
// over loopback sockets. Failures that need no traffic come from the kernel itself:
// 255.255.255.255 without SO_BROADCAST (EACCES), an IPv6 destination on an IPv4 socket
// (EAFNOSUPPORT), a descriptor that is not a socket (ENOTSOCK).
#include <mmsg/batch_sender.hpp>

#include <mmsg/batch_receiver.hpp>

#include "../support/backends.hpp"
#include "../support/datagrams.hpp"
#include "../support/loopback.hpp"

#define BOOST_TEST_MODULE backend_send_conformance
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using mmsg::test::broadcast;
using mmsg::test::bound_socket;
using mmsg::test::numbered;
using mmsg::test::RealBackends;
using mmsg::test::same_bytes;
using mmsg::test::v4_loopback;
using mmsg::test::v6_loopback;
using udp = boost::asio::ip::udp;
using Bytes = std::vector<std::byte>;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

constexpr int big_rcvbuf = 16 << 20; // room for 2500 queued datagrams (we run as root)

//! A sender socket, two receivers and the mmsg objects under test, all on IPv4 loopback.
template <class Backend>
struct Loopback {
    boost::asio::io_context io;
    udp::socket tx = bound_socket(io, v4_loopback());
    udp::socket rx = bound_socket(io, v4_loopback());
    udp::socket rx2 = bound_socket(io, v4_loopback());
    Endpoint tx_ep = tx.local_endpoint();
    Endpoint rx_ep = rx.local_endpoint();
    Endpoint rx2_ep = rx2.local_endpoint();
    BatchSender<Backend> sender;
    BatchReceiver<Backend> receiver;

    Loopback() {
        mmsg::test::set_rcvbuf(rx, big_rcvbuf);
        mmsg::test::set_rcvbuf(rx2, big_rcvbuf);
    }

    //! Receives exactly `n` datagrams on `s` (the test fails if they do not come).
    template <std::size_t N = packet_data_size>
    std::vector<BasicPacket<N>> receive(udp::socket& s, std::size_t n) {
        std::vector<BasicPacket<N>> p(n);
        std::error_code ec;
        const std::size_t got = receiver.recv_mmsg_exact(s, p, ec);
        BOOST_TEST_REQUIRE(got == n, "received " << got << " of " << n << ": " << ec.message());
        return p;
    }
};

//! Checks that packets hold exactly `want` (same order), each sent from `from`.
template <std::size_t N>
void check_packets(const std::vector<BasicPacket<N>>& got, const std::vector<Bytes>& want,
                   const Endpoint& from) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(same_bytes(got[i].data(), want[i]), "datagram " << i << " differs");
        BOOST_TEST(got[i].meta.addr == from);
        BOOST_TEST((got[i].meta.flags == PacketFlags::none));
    }
}

//! One payload per datagram, numbered 0..n-1.
std::vector<Bytes> payloads(std::size_t n, std::size_t size) {
    std::vector<Bytes> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(numbered(size, static_cast<std::uint32_t>(i)));
    return v;
}

//! Where broadcast (failing) datagrams sit in a batch of 10: start, middle, end, and runs.
const std::vector<std::set<std::size_t>> failure_patterns = {
    {0}, {5}, {9}, {0, 1, 2}, {4, 5, 6}, {7, 8, 9}, {0, 3, 4, 9}, {1, 3, 5, 7, 9},
};

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(one_destination_receives_every_datagram_byte_exact_in_order, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const auto data = payloads(32, packet_data_size);
    Batch batch;
    for (const auto& d : data) batch.emplace_back(d, t.rx_ep);

    const SendResult r = t.sender.batch_send(t.tx, batch);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 32u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.first_error);
    BOOST_TEST(!r.fatal);
    check_packets(t.receive(t.rx, 32), data, t.tx_ep);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(two_destinations_each_receive_their_own_datagrams, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const auto data = payloads(32, packet_data_size);
    Batch batch;
    std::vector<Bytes> to_rx, to_rx2;
    for (std::size_t i = 0; i < data.size(); ++i) {
        batch.emplace_back(data[i], i % 2 ? t.rx2_ep : t.rx_ep);
        (i % 2 ? to_rx2 : to_rx).push_back(data[i]);
    }
    // The socket as a native handle this time.
    const SendResult r = t.sender.batch_send(t.tx.native_handle(), batch);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 32u);
    check_packets(t.receive(t.rx, 16), to_rx, t.tx_ep);
    check_packets(t.receive(t.rx2, 16), to_rx2, t.tx_ep);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
    BOOST_TEST(mmsg::test::nothing_queued(t.rx2.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(zero_length_payload_reaches_four_targets, Backend, RealBackends) {
    Loopback<Backend> t;
    udp::socket rx3 = bound_socket(t.io, v4_loopback());
    udp::socket rx4 = bound_socket(t.io, v4_loopback());
    const std::vector<Endpoint> dests{t.rx_ep, t.rx2_ep, rx3.local_endpoint(), rx4.local_endpoint()};

    const SendResult r = t.sender.multi_target_send(t.tx, std::span<const std::byte>{}, dests);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 4u);
    for (udp::socket* s : {&t.rx, &t.rx2, &rx3, &rx4}) {
        const auto p = t.receive(*s, 1);
        BOOST_TEST(p[0].meta.size == 0u);
        BOOST_TEST(p[0].meta.addr == t.tx_ep);
        BOOST_TEST(mmsg::test::nothing_queued(s->native_handle()));
    }
}

// tag::shared_case[]
BOOST_AUTO_TEST_CASE_TEMPLATE(ipv6_destination_on_ipv4_socket_fails_alone, Backend, RealBackends) {
    Loopback<Backend> t;
    const auto data = payloads(5, 100);
    Batch batch;
    for (std::size_t i = 0; i < data.size(); ++i)
        batch.emplace_back(data[i], i == 2 ? v6_loopback(t.rx_ep.port()) : t.rx_ep);
    std::vector<std::error_code> status(batch.size(), std::make_error_code(std::errc::io_error));

    const SendResult r = t.sender.batch_send(t.tx, batch, status);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::address_family_not_supported);
    for (std::size_t i = 0; i < status.size(); ++i) {
        if (i == 2) MMSG_CHECK_ERRC(status[i], std::errc::address_family_not_supported);
        else BOOST_TEST(!status[i], "datagram " << i << ": " << status[i].message());
    }
    check_packets(t.receive(t.rx, 4), {data[0], data[1], data[3], data[4]}, t.tx_ep);
}
// end::shared_case[]

BOOST_AUTO_TEST_CASE_TEMPLATE(broadcast_without_so_broadcast_fails_alone_in_batch_send, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    const auto data = payloads(10, 300);
    for (const auto& bad : failure_patterns) {
        BOOST_TEST_CONTEXT("broadcast at " << bad.size() << " positions, first " << *bad.begin()) {
            Batch batch;
            std::vector<Bytes> good;
            for (std::size_t i = 0; i < data.size(); ++i) {
                batch.emplace_back(data[i], bad.count(i) ? broadcast() : t.rx_ep);
                if (!bad.count(i)) good.push_back(data[i]);
            }
            std::vector<std::error_code> status(batch.size(), std::make_error_code(std::errc::io_error));
            const SendResult r = t.sender.batch_send(t.tx, batch, status);
            BOOST_TEST(r.sent == good.size());
            BOOST_TEST(r.failed == bad.size());
            BOOST_TEST(r.unsent == 0u);
            BOOST_TEST(!r.fatal);
            BOOST_TEST(!r.ok());
            MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
            for (std::size_t i = 0; i < status.size(); ++i) {
                if (bad.count(i)) MMSG_CHECK_ERRC(status[i], std::errc::permission_denied);
                else BOOST_TEST(!status[i], "datagram " << i << ": " << status[i].message());
            }
            check_packets(t.receive(t.rx, good.size()), good, t.tx_ep);
            BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(broadcast_without_so_broadcast_fails_alone_in_multi_target_send,
                              Backend, RealBackends) {
    Loopback<Backend> t;
    const Bytes data = numbered(500, 77);
    for (const auto& bad : failure_patterns) {
        BOOST_TEST_CONTEXT("broadcast at " << bad.size() << " positions, first " << *bad.begin()) {
            std::vector<Endpoint> dests;
            std::size_t to_rx = 0, to_rx2 = 0;
            for (std::size_t i = 0; i < 10; ++i) {
                if (bad.count(i)) dests.push_back(broadcast());
                else dests.push_back((i % 2 ? ++to_rx2 : ++to_rx, i % 2 ? t.rx2_ep : t.rx_ep));
            }
            std::vector<std::error_code> status(dests.size(), std::make_error_code(std::errc::io_error));
            const SendResult r =
                t.sender.multi_target_send(t.tx, std::span<const std::byte>(data), dests, status);
            BOOST_TEST(r.sent == 10 - bad.size());
            BOOST_TEST(r.failed == bad.size());
            BOOST_TEST(r.unsent == 0u);
            BOOST_TEST(!r.fatal);
            MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
            for (std::size_t i = 0; i < status.size(); ++i) {
                if (bad.count(i)) MMSG_CHECK_ERRC(status[i], std::errc::permission_denied);
                else BOOST_TEST(!status[i], "datagram " << i << ": " << status[i].message());
            }
            check_packets(t.receive(t.rx, to_rx), std::vector<Bytes>(to_rx, data), t.tx_ep);
            check_packets(t.receive(t.rx2, to_rx2), std::vector<Bytes>(to_rx2, data), t.tx_ep);
            BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
            BOOST_TEST(mmsg::test::nothing_queued(t.rx2.native_handle()));
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(all_destinations_failing_is_not_fatal, Backend, RealBackends) {
    Loopback<Backend> t;
    const Bytes data = numbered(64, 1);
    const std::vector<Endpoint> dests(6, broadcast());
    std::vector<std::error_code> status(dests.size());

    const SendResult r = t.sender.multi_target_send(t.tx, std::span<const std::byte>(data), dests, status);
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST(r.failed == 6u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
    for (const auto& e : status) MMSG_CHECK_ERRC(e, std::errc::permission_denied);

    // The socket is still good: the next batch goes through.
    const SendResult next = t.sender.batch_send(t.tx, Batch{{data, t.rx_ep}});
    BOOST_TEST(next.ok());
    check_packets(t.receive(t.rx, 1), {data}, t.tx_ep);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_descriptor_that_is_not_a_socket_is_fatal, Backend, RealBackends) {
    Loopback<Backend> t;
    mmsg::test::DevNull devnull;
    BOOST_TEST_REQUIRE(devnull.fd >= 0);
    const auto data = payloads(5, 10);
    Batch batch;
    for (const auto& d : data) batch.emplace_back(d, t.rx_ep);
    std::vector<std::error_code> status(batch.size());

    const SendResult r = t.sender.batch_send(devnull.fd, batch, status);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST(r.failed == 5u);
    BOOST_TEST(r.unsent == 0u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::not_a_socket);
    for (const auto& e : status) MMSG_CHECK_ERRC(e, std::errc::not_a_socket);

    const std::vector<Endpoint> dests(3, t.rx_ep);
    const SendResult m = t.sender.multi_target_send(devnull.fd, std::span<const std::byte>(data[0]), dests);
    BOOST_TEST(m.fatal);
    BOOST_TEST(m.failed == 3u);
    MMSG_CHECK_ERRC(m.first_error, std::errc::not_a_socket);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_empty_batch_is_ok, Backend, RealBackends) {
    Loopback<Backend> t;
    const SendResult r = t.sender.batch_send(t.tx, Batch{});
    BOOST_TEST(r.ok());
    BOOST_TEST(r.total() == 0u);
    BOOST_TEST(!r.first_error);
    const SendResult m = t.sender.multi_target_send(t.tx, std::span<const std::byte>{}, std::vector<Endpoint>{});
    BOOST_TEST(m.ok());
    BOOST_TEST(m.total() == 0u);
    // Even on a descriptor that is not a socket: no system call, so no error.
    mmsg::test::DevNull devnull;
    BOOST_TEST(t.sender.batch_send(devnull.fd, Batch{}).ok());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(more_than_1024_datagrams_with_failures_in_several_chunks, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    constexpr std::size_t n = 2500;
    const std::set<std::size_t> bad{0, 700, 1022, 1023, 1024, 1500, 2047, 2048, 2049, 2499};
    const auto data = payloads(n, 8);
    Batch batch;
    std::vector<Bytes> good;
    for (std::size_t i = 0; i < n; ++i) {
        batch.emplace_back(data[i], bad.count(i) ? broadcast() : t.rx_ep);
        if (!bad.count(i)) good.push_back(data[i]);
    }
    std::vector<std::error_code> status(n, std::make_error_code(std::errc::io_error));

    const SendResult r = t.sender.batch_send(t.tx, batch, status);
    BOOST_TEST(r.sent == n - bad.size());
    BOOST_TEST(r.failed == bad.size());
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (bad.count(i) ? status[i] != std::errc::permission_denied : bool(status[i])) ++wrong;
    BOOST_TEST(wrong == 0u);
    check_packets(t.template receive<64>(t.rx, good.size()), good, t.tx_ep);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(more_than_1024_targets_with_failures_in_several_chunks, Backend,
                              RealBackends) {
    Loopback<Backend> t;
    constexpr std::size_t n = 2100;
    const std::set<std::size_t> bad{1, 1023, 1024, 2048, 2099};
    const Bytes data = numbered(16, 5);
    std::vector<Endpoint> dests;
    for (std::size_t i = 0; i < n; ++i) dests.push_back(bad.count(i) ? broadcast() : t.rx_ep);
    std::vector<std::error_code> status(n);

    const SendResult r = t.sender.multi_target_send(t.tx, std::span<const std::byte>(data), dests, status);
    BOOST_TEST(r.sent == n - bad.size());
    BOOST_TEST(r.failed == bad.size());
    BOOST_TEST(!r.fatal);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (bad.count(i) ? status[i] != std::errc::permission_denied : bool(status[i])) ++wrong;
    BOOST_TEST(wrong == 0u);
    const auto got = t.template receive<64>(t.rx, n - bad.size());
    std::size_t differ = 0;
    for (const auto& p : got) differ += !same_bytes(p.data(), data);
    BOOST_TEST(differ == 0u);
    BOOST_TEST(mmsg::test::nothing_queued(t.rx.native_handle()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ipv6_payloads_arrive_intact_and_in_order, Backend, RealBackends) {
    Loopback<Backend> t;
    udp::socket tx6 = bound_socket(t.io, v6_loopback());
    udp::socket rx6 = bound_socket(t.io, v6_loopback());
    mmsg::test::set_rcvbuf(rx6, big_rcvbuf);
    const auto data = payloads(32, packet_data_size);
    Batch batch;
    for (const auto& d : data) batch.emplace_back(d, rx6.local_endpoint());

    const SendResult r = t.sender.batch_send(tx6, batch);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 32u);
    const auto got = t.receive(rx6, 32);
    check_packets(got, data, tx6.local_endpoint());
    BOOST_TEST(got[0].meta.addr.address().is_v6());
}

// The free functions run on DefaultBackend with the payload type deduced.
BOOST_AUTO_TEST_CASE(free_functions_send_and_report_like_the_sender) {
    boost::asio::io_context io;
    udp::socket tx = bound_socket(io, v4_loopback());
    udp::socket rx = bound_socket(io, v4_loopback());
    const Endpoint rx_ep = rx.local_endpoint();
    const Bytes a = numbered(40, 1), b = numbered(41, 2);

    const Batch batch{{a, rx_ep}, {b, broadcast()}, {b, rx_ep}};
    std::vector<std::error_code> status(batch.size());
    const SendResult r = mmsg::batch_send(tx, batch, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 1u);
    MMSG_CHECK_ERRC(status[1], std::errc::permission_denied);
    BOOST_TEST(mmsg::batch_send(tx.native_handle(), Batch{{a, rx_ep}}).ok());

    const std::string text = "hello, targets";
    const std::vector<Endpoint> dests{rx_ep, broadcast(), rx_ep};
    const SendResult m = mmsg::multi_target_send(tx.native_handle(), text, dests);
    BOOST_TEST(m.sent == 2u);
    BOOST_TEST(m.failed == 1u);
    MMSG_CHECK_ERRC(m.first_error, std::errc::permission_denied);
    std::vector<std::error_code> mstatus(dests.size());
    BOOST_TEST(mmsg::multi_target_send(tx, text, std::vector<Endpoint>{rx_ep}, mstatus).ok());

    std::vector<Packet> p(6);
    std::error_code ec;
    BOOST_TEST_REQUIRE(mmsg::recv_mmsg_exact(rx, p, ec) == 6u, ec.message());
    const auto text_bytes = std::as_bytes(std::span(text));
    BOOST_TEST(same_bytes(p[0].data(), a));
    BOOST_TEST(same_bytes(p[1].data(), b));
    BOOST_TEST(same_bytes(p[2].data(), a));
    for (std::size_t i = 3; i < 6; ++i) BOOST_TEST(same_bytes(p[i].data(), text_bytes));
}
