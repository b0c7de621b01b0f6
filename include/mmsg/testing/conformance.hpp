//! Defines the backend conformance kit: Boost.Test checks that any backend (a shipped one or
//! a user's own) honours the backend contract through BatchSender / BatchReceiver, over
//! loopback sockets and over MockNetwork.
//!
//! Use, in a Boost.Test program (BOOST_TEST_MODULE defined before including it):
//!   BOOST_AUTO_TEST_CASE(my_backend_honours_the_contract) {
//!       mmsg::testing::check_loopback<MyBackend>();                  // real sockets
//!       mmsg::testing::check_mock<MyBackend<MockBackend>>(          // if it wraps a backend
//!           [](mmsg::MockNetwork& n) { return MyBackend<MockBackend>(MockBackend(n)); });
//!   }
#ifndef MMSG_TESTING_CONFORMANCE_HPP
#define MMSG_TESTING_CONFORMANCE_HPP

#include <mmsg/testing/mock_network.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/send_result.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/core/demangle.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace mmsg::testing {

namespace detail {

namespace asio = boost::asio;
using udp = asio::ip::udp;

inline Endpoint loopback4() { return {asio::ip::address_v4::loopback(), 0}; }

// A bound UDP socket that can never hang a receive (SO_RCVTIMEO).
inline udp::socket bound(asio::io_context& io, const Endpoint& local,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    udp::socket s(io, local.protocol());
    s.bind(local);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

// Payload bytes that encode (index, position): order and integrity are checkable.
inline std::vector<std::byte> bytes_for(std::size_t index, std::size_t size) {
    std::vector<std::byte> p(size);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = static_cast<std::byte>((index * 31 + i * 7 + 1) & 0xff);
    return p;
}

// The accounting invariant, and status[] agreeing with the counts, for every result.
inline void check_accounting(const SendResult& r, std::span<const std::error_code> status,
                             std::size_t n) {
    BOOST_TEST(r.sent + r.failed + r.unsent == n);
    std::size_t ok = 0, blocked = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!status[i])
            ++ok;
        else if (status[i] == std::errc::operation_would_block)
            ++blocked;
    }
    BOOST_TEST(ok == r.sent);
    BOOST_TEST(blocked == r.unsent);
    // The unsent datagrams are the suffix that starts at sent + failed.
    for (std::size_t i = r.sent + r.failed; i < n; ++i)
        BOOST_TEST((status[i] == std::errc::operation_would_block), "datagram " << i << " unsent");
    if (r.failed > 0) BOOST_TEST(static_cast<bool>(r.first_error));
}

template <class B>
std::string name_of() {
    return boost::core::demangle(typeid(B).name());
}

struct Batch {
    std::vector<std::vector<std::byte>> payloads;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> packets;
    void add(std::vector<std::byte> p, const Endpoint& to) {
        payloads.push_back(std::move(p));
        packets.emplace_back(std::span<const std::byte>(payloads.back()), to);
    }
    void seal() { // spans into payloads: rebuild after every add is done
        for (std::size_t i = 0; i < payloads.size(); ++i)
            packets[i].first = std::span<const std::byte>(payloads[i]);
    }
};

} // namespace detail

/*! Runs the loopback conformance checks on backend B, made by `make()` (one fresh backend
    per check). Real UDP sockets on 127.0.0.1 (and ::1 when the host has IPv6); nothing is
    sent anywhere else. Checks, each under a BOOST_TEST_CONTEXT naming B:
      - order and integrity: 200 datagrams arrive in order, byte-exact, with the sender's
        address, and sent + failed + unsent == n with status agreeing;
      - rejected datagrams (EACCES broadcast, EAFNOSUPPORT IPv6 destination) fail alone,
        each with its own error, and the batch goes on;
      - a batch larger than one call's limit (1500) is sent whole;
      - truncation sets PacketFlags::truncated and keeps the buffer's worth;
      - an empty socket reports operation_would_block (never waits with WaitMode::never,
        returns on SO_RCVTIMEO otherwise);
      - a descriptor that is not a socket is fatal: every datagram failed, ENOTSOCK;
      - would-block from FaultInjecting<B> leaves exactly the suffix unsent, and the send
        resumes from it;
      - IPv6 loopback round trip.
*/
template <class B, class Make>
void check_loopback(Make make) {
    namespace asio = boost::asio;
    using detail::udp;
    BOOST_TEST_CONTEXT("backend " << detail::name_of<B>() << " on loopback") {
        asio::io_context io;

        { // order, integrity, source address, accounting
            udp::socket tx = detail::bound(io, detail::loopback4());
            udp::socket rx = detail::bound(io, detail::loopback4());
            const Endpoint to = rx.local_endpoint();
            detail::Batch b;
            constexpr std::size_t n = 200;
            for (std::size_t i = 0; i < n; ++i)
                b.add(detail::bytes_for(i, 64 + i % 100), to);
            b.seal();
            BatchSender<B> sender(make());
            std::vector<std::error_code> status(n);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            BOOST_TEST(r.ok());
            detail::check_accounting(r, status, n);
            BatchReceiver<B> receiver(make());
            std::vector<BasicPacket<256>> got(n);
            std::error_code ec;
            const std::size_t m = receiver.recv_mmsg_exact(rx, got, ec);
            BOOST_TEST(m == n);
            BOOST_TEST(!ec);
            for (std::size_t i = 0; i < m; ++i) {
                const auto want = detail::bytes_for(i, 64 + i % 100);
                BOOST_TEST(got[i].meta.size == want.size(), "datagram " << i);
                const auto d = got[i].data();
                BOOST_TEST((std::vector<std::byte>(d.begin(), d.end()) == want),
                           "datagram " << i << " in order");
                BOOST_TEST((got[i].meta.addr == tx.local_endpoint()),
                           "datagram " << i << " source");
                BOOST_TEST((got[i].meta.flags == PacketFlags::none));
            }
        }

        { // rejected datagrams fail alone
            udp::socket tx = detail::bound(io, detail::loopback4());
            udp::socket rx = detail::bound(io, detail::loopback4());
            const Endpoint to = rx.local_endpoint();
            const Endpoint bcast{asio::ip::address_v4::broadcast(), 9};
            const Endpoint v6{asio::ip::address_v6::loopback(), to.port()};
            detail::Batch b;
            b.add(detail::bytes_for(0, 40), to);
            b.add(detail::bytes_for(1, 40), bcast);
            b.add(detail::bytes_for(2, 40), to);
            b.add(detail::bytes_for(3, 40), v6);
            b.add(detail::bytes_for(4, 40), to);
            b.seal();
            BatchSender<B> sender(make());
            std::vector<std::error_code> status(5);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 5);
            BOOST_TEST(r.sent == 3u);
            BOOST_TEST(r.failed == 2u);
            BOOST_TEST(!r.fatal);
            BOOST_TEST((status[1] == std::errc::permission_denied));
            BOOST_TEST((status[3] == std::errc::address_family_not_supported));
            BOOST_TEST((r.first_error == std::errc::permission_denied));
            BatchReceiver<B> receiver(make());
            std::array<BasicPacket<64>, 3> got{};
            std::error_code ec;
            BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 3u);
            const std::size_t expect[] = {0, 2, 4};
            for (std::size_t i = 0; i < 3; ++i) {
                const auto want = detail::bytes_for(expect[i], 40);
                const auto d = got[i].data();
                BOOST_TEST((std::vector<std::byte>(d.begin(), d.end()) == want), "survivor " << i);
            }
        }

        { // larger than any one call: chunked, every datagram accounted for
            udp::socket tx = detail::bound(io, detail::loopback4());
            udp::socket sink = detail::bound(io, detail::loopback4());
            constexpr std::size_t n = 1500;
            const std::vector<std::byte> small(16, std::byte{7});
            std::vector<std::pair<std::span<const std::byte>, Endpoint>> packets(
                n, {std::span<const std::byte>(small), sink.local_endpoint()});
            BatchSender<B> sender(make());
            std::vector<std::error_code> status(n);
            const SendResult r = sender.batch_send(tx, packets, status);
            detail::check_accounting(r, status, n);
            BOOST_TEST(r.sent == n); // loopback accepts; the sink may drop, UDP does
        }

        { // truncation
            udp::socket tx = detail::bound(io, detail::loopback4());
            udp::socket rx = detail::bound(io, detail::loopback4());
            detail::Batch b;
            b.add(detail::bytes_for(0, 300), rx.local_endpoint());
            b.add(detail::bytes_for(1, 50), rx.local_endpoint());
            b.seal();
            BatchSender<B> sender(make());
            BOOST_TEST(sender.batch_send(tx, b.packets).ok());
            BatchReceiver<B> receiver(make());
            std::array<BasicPacket<100>, 2> got{};
            std::error_code ec;
            BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 2u);
            BOOST_TEST(got[0].meta.size == 100u);
            BOOST_TEST(has_flags(got[0].meta.flags, PacketFlags::truncated));
            const auto want = detail::bytes_for(0, 300);
            BOOST_TEST((std::vector<std::byte>(got[0].data().begin(), got[0].data().end()) ==
                        std::vector<std::byte>(want.begin(), want.begin() + 100)));
            BOOST_TEST(got[1].meta.size == 50u);
            BOOST_TEST(!has_flags(got[1].meta.flags, PacketFlags::truncated));
        }

        { // an empty socket: would-block, never a hang
            udp::socket rx = detail::bound(io, detail::loopback4(), std::chrono::milliseconds(50));
            BatchReceiver<B> receiver(make());
            std::array<BasicPacket<64>, 4> got{};
            std::error_code ec;
            BOOST_TEST(receiver.try_recv_mmsg(rx, got, ec) == 0u);
            BOOST_TEST((ec == std::errc::operation_would_block));
            ec.clear();
            BOOST_TEST(receiver.recv_mmsg(rx, got, ec) == 0u); // SO_RCVTIMEO ends the wait
            BOOST_TEST((ec == std::errc::operation_would_block));
        }

        { // not a socket: fatal, every datagram failed with ENOTSOCK
            const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
            BOOST_TEST_REQUIRE(devnull >= 0);
            const std::vector<std::byte> p(8, std::byte{1});
            const Endpoint to{asio::ip::address_v4::loopback(), 9};
            std::vector<std::pair<std::span<const std::byte>, Endpoint>> packets(
                3, {std::span<const std::byte>(p), to});
            BatchSender<B> sender(make());
            std::vector<std::error_code> status(3);
            const SendResult r = sender.batch_send(devnull, packets, status);
            detail::check_accounting(r, status, 3);
            BOOST_TEST(r.fatal);
            BOOST_TEST(r.failed == 3u);
            BOOST_TEST((r.first_error == std::errc::not_a_socket));
            BatchReceiver<B> receiver(make());
            std::array<BasicPacket<64>, 2> got{};
            std::error_code ec;
            BOOST_TEST(receiver.try_recv_mmsg(devnull, got, ec) == 0u);
            BOOST_TEST((ec == std::errc::not_a_socket));
            ::close(devnull);
        }

        { // would-block (scripted on top of B) leaves the suffix unsent; resume sends it
            udp::socket tx = detail::bound(io, detail::loopback4());
            udp::socket rx = detail::bound(io, detail::loopback4());
            detail::Batch b;
            for (std::size_t i = 0; i < 10; ++i)
                b.add(detail::bytes_for(i, 32), rx.local_endpoint());
            b.seal();
            BatchSender<FaultInjecting<B>> sender{FaultInjecting<B>{make()}};
            sender.backend().would_block_after(6);
            std::vector<std::error_code> status(10);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 10);
            BOOST_TEST(r.sent == 6u);
            BOOST_TEST(r.unsent == 4u);
            sender.backend().clear_would_block();
            const std::span<const std::pair<std::span<const std::byte>, Endpoint>> rest(
                b.packets.data() + r.sent + r.failed, r.unsent);
            BOOST_TEST(sender.batch_send(tx, rest).ok());
            BatchReceiver<B> receiver(make());
            std::array<BasicPacket<64>, 10> got{};
            std::error_code ec;
            BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 10u);
            for (std::size_t i = 0; i < 10; ++i) {
                const auto want = detail::bytes_for(i, 32);
                BOOST_TEST(
                    (std::vector<std::byte>(got[i].data().begin(), got[i].data().end()) == want),
                    "datagram " << i);
            }
        }

        { // IPv6 loopback
            boost::system::error_code bec;
            udp::socket probe(io);
            probe.open(udp::v6(), bec);
            if (!bec) probe.bind({asio::ip::address_v6::loopback(), 0}, bec);
            if (bec) {
                BOOST_TEST_MESSAGE("no IPv6 loopback here: IPv6 check skipped");
            } else {
                udp::socket tx = detail::bound(io, {asio::ip::address_v6::loopback(), 0});
                udp::socket rx = detail::bound(io, {asio::ip::address_v6::loopback(), 0});
                detail::Batch b;
                for (std::size_t i = 0; i < 5; ++i)
                    b.add(detail::bytes_for(i, 80), rx.local_endpoint());
                b.seal();
                BatchSender<B> sender(make());
                BOOST_TEST(sender.batch_send(tx, b.packets).ok());
                BatchReceiver<B> receiver(make());
                std::array<BasicPacket<128>, 5> got{};
                std::error_code ec;
                BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 5u);
                for (std::size_t i = 0; i < 5; ++i)
                    BOOST_TEST((got[i].meta.addr == tx.local_endpoint()), "datagram " << i);
            }
        }
    }
}

//! check_loopback for a default-constructible backend.
template <class B>
void check_loopback() {
    check_loopback<B>([] { return B{}; });
}

/*! Runs the MockNetwork conformance checks on B, made by `make(net)` for a MockNetwork
    `net` (B sends through it: MockBackend, or a backend that wraps one). Checks that B
    passes the network's faults through faithfully, so that BatchSender's accounting holds
    (datagrams of different sizes, so that a segmentation-offload backend sends them one by
    one and each scripted fault hits exactly one datagram):
      - a scripted failure (fail_nth) and an unreachable endpoint fail alone;
      - a per-call limit still sends everything, in more calls;
      - would-block leaves exactly the suffix unsent;
      - EINTR is retried, never a failure;
      - a closed socket is fatal (EBADF) for every datagram;
      - receive: truncation, order, source, and would-block on an empty socket.
*/
template <class B, class Make>
void check_mock(Make make) {
    BOOST_TEST_CONTEXT("backend " << detail::name_of<B>() << " on MockNetwork") {
        const Endpoint a{boost::asio::ip::address_v4::loopback(), 5000};
        const Endpoint c{boost::asio::ip::address_v4::loopback(), 5001};
        const Endpoint dead{boost::asio::ip::address_v4::loopback(), 5002};

        { // fail_nth and unreachable
            MockNetwork net;
            const int tx = net.open(a);
            const int rx = net.open(c);
            net.fail_nth(1, std::make_error_code(std::errc::permission_denied));
            net.unreachable(dead);
            detail::Batch b;
            b.add(detail::bytes_for(0, 10 + 0), c);
            b.add(detail::bytes_for(1, 10 + 1), c);    // fail_nth(1)
            b.add(detail::bytes_for(2, 10 + 2), dead); // unreachable
            b.add(detail::bytes_for(3, 10 + 3), c);
            b.seal();
            BatchSender<B> sender(make(net));
            std::vector<std::error_code> status(4);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 4);
            BOOST_TEST(r.sent == 2u);
            BOOST_TEST(r.failed == 2u);
            BOOST_TEST((status[1] == std::errc::permission_denied));
            BOOST_TEST((status[2] == std::errc::network_unreachable));
            BOOST_TEST(net.queued(rx) == 2u);
        }

        { // limit per call, EINTR
            MockNetwork net;
            const int tx = net.open(a);
            const int rx = net.open(c);
            net.limit_per_call(3);
            net.interrupt_next(2);
            detail::Batch b;
            for (std::size_t i = 0; i < 10; ++i)
                b.add(detail::bytes_for(i, 10 + i), c);
            b.seal();
            BatchSender<B> sender(make(net));
            std::vector<std::error_code> status(10);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 10);
            BOOST_TEST(r.ok());
            BOOST_TEST(net.queued(rx) == 10u);
            BOOST_TEST(net.calls() >= 6u); // 2 interrupted + at least 4 of 3
        }

        { // would-block: unsent suffix
            MockNetwork net;
            const int tx = net.open(a);
            net.open(c);
            net.would_block_after(4);
            detail::Batch b;
            for (std::size_t i = 0; i < 9; ++i)
                b.add(detail::bytes_for(i, 10 + i), c);
            b.seal();
            BatchSender<B> sender(make(net));
            std::vector<std::error_code> status(9);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 9);
            BOOST_TEST(r.sent == 4u);
            BOOST_TEST(r.unsent == 5u);
            BOOST_TEST(!r.fatal);
        }

        { // fatal: a closed socket
            MockNetwork net;
            const int tx = net.open(a);
            net.close(tx);
            detail::Batch b;
            for (std::size_t i = 0; i < 3; ++i)
                b.add(detail::bytes_for(i, 10 + i), c);
            b.seal();
            BatchSender<B> sender(make(net));
            std::vector<std::error_code> status(3);
            const SendResult r = sender.batch_send(tx, b.packets, status);
            detail::check_accounting(r, status, 3);
            BOOST_TEST(r.fatal);
            BOOST_TEST(r.failed == 3u);
            BOOST_TEST((r.first_error == std::errc::bad_file_descriptor));
        }

        { // receive: order, source, truncation, would-block
            MockNetwork net;
            const int tx = net.open(a);
            const int rx = net.open(c);
            detail::Batch b;
            b.add(detail::bytes_for(0, 20), c);
            b.add(detail::bytes_for(1, 90), c);
            b.add(detail::bytes_for(2, 30), c);
            b.seal();
            BatchSender<B> sender(make(net));
            BOOST_TEST(sender.batch_send(tx, b.packets).ok());
            BatchReceiver<B> receiver(make(net));
            std::array<BasicPacket<64>, 8> got{};
            std::error_code ec;
            BOOST_TEST(receiver.recv_mmsg(rx, got, ec) == 3u);
            BOOST_TEST(!ec);
            BOOST_TEST(got[0].meta.size == 20u);
            BOOST_TEST(got[1].meta.size == 64u);
            BOOST_TEST(has_flags(got[1].meta.flags, PacketFlags::truncated));
            BOOST_TEST(got[2].meta.size == 30u);
            BOOST_TEST((got[2].meta.addr == a));
            BOOST_TEST(receiver.recv_mmsg(rx, got, ec) == 0u);
            BOOST_TEST((ec == std::errc::operation_would_block));
        }
    }
}

} // namespace mmsg::testing

#endif // MMSG_TESTING_CONFORMANCE_HPP
