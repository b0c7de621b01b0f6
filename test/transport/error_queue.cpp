// The socket's error queue: ICMP errors per destination (a send to a closed port on 127.0.0.1
// and on ::1 is reported sent by the batch, and the error queue then names that destination
// with ECONNREFUSED), batched reads, and path MTU discovery (a datagram over the path MTU
// fails alone with EMSGSIZE and the queue says the MTU). Loopback only; the MTU case runs in
// a network namespace of its own, in a child process (root; skipped with a message where
// namespaces are refused).
#include <mmsg/error_queue.hpp>

#include <mmsg/asio.hpp>

#include <mmsg/batch_sender.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE transport_error_queue
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mmsg;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

// A port nothing listens on: bound once, then closed.
Endpoint closed_port(asio::io_context& io, const Endpoint& local) {
    udp::socket s = testing::bound_socket(io, local);
    const Endpoint ep = s.local_endpoint();
    s.close();
    return ep;
}

// Waits (at most 5 s) until the socket has an error queued; the report is asynchronous.
bool error_queued(int fd) {
    pollfd p{fd, 0, 0}; // POLLERR is always reported
    return ::poll(&p, 1, 5000) == 1 && (p.revents & POLLERR);
}

// Reads until `n` reports arrived (each read waits for POLLERR first), at most 10 reads.
std::vector<DatagramError> read_reports(int fd, std::size_t n) {
    std::vector<DatagramError> all;
    std::array<DatagramError, 16> buf;
    for (int tries = 0; tries < 10 && all.size() < n && error_queued(fd); ++tries) {
        std::error_code ec;
        const std::size_t got = read_error_queue(fd, buf, ec);
        all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(got));
    }
    return all;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_closed_ipv4_port_is_reported_per_destination_after_a_successful_send) {
    asio::io_context io;
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    BOOST_REQUIRE(!enable_error_queue(tx));
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    const Endpoint dead1 = closed_port(io, testing::v4_loopback());
    const Endpoint dead2 = closed_port(io, testing::v4_loopback());
    const std::vector<std::byte> d = testing::numbered(20, 1);
    const SendResult r = batch_send(tx, Batch{{d, dead1}, {d, rx.local_endpoint()}, {d, dead2}});
    BOOST_TEST(r.sent == 3u); // the kernel accepted every one: the error comes later
    const auto reports = read_reports(tx.native_handle(), 2);
    BOOST_REQUIRE(reports.size() == 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        MMSG_CHECK_ERRC(reports[i].error, std::errc::connection_refused);
        BOOST_TEST((reports[i].origin == ErrorOrigin::icmp));
        BOOST_TEST(reports[i].icmp_type == 3u); // destination unreachable
        BOOST_TEST(reports[i].icmp_code == 3u); // port unreachable
        BOOST_TEST(reports[i].offender == asio::ip::make_address_v4("127.0.0.1"));
    }
    BOOST_TEST(reports[0].destination == dead1);
    BOOST_TEST(reports[1].destination == dead2);
    // The queue drained, the socket is clean: the next send and read see no stale error.
    BOOST_TEST(batch_send(tx, Batch{{d, rx.local_endpoint()}}).ok());
    std::array<DatagramError, 4> none;
    std::error_code ec;
    BOOST_TEST(read_error_queue(tx, none, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
}

BOOST_AUTO_TEST_CASE(a_closed_ipv6_port_is_reported_with_icmpv6) {
    asio::io_context io;
    udp::socket tx = testing::bound_socket(io, testing::v6_loopback());
    BOOST_REQUIRE(!enable_error_queue(tx));
    const Endpoint dead = closed_port(io, testing::v6_loopback());
    const std::vector<std::byte> d = testing::numbered(20, 2);
    BOOST_TEST(batch_send(tx, Batch{{d, dead}}).sent == 1u);
    const auto reports = read_reports(tx.native_handle(), 1);
    BOOST_REQUIRE(reports.size() == 1u);
    MMSG_CHECK_ERRC(reports[0].error, std::errc::connection_refused);
    BOOST_TEST((reports[0].origin == ErrorOrigin::icmp6));
    BOOST_TEST(reports[0].icmp_type == 1u); // destination unreachable
    BOOST_TEST(reports[0].icmp_code == 4u); // port unreachable
    BOOST_TEST(reports[0].destination == dead);
}

BOOST_AUTO_TEST_CASE(many_reports_come_in_one_read) {
    asio::io_context io;
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    BOOST_REQUIRE(!enable_error_queue(tx));
    std::vector<Endpoint> dead;
    for (int i = 0; i < 8; ++i) dead.push_back(closed_port(io, testing::v4_loopback()));
    const std::vector<std::byte> d = testing::numbered(8, 3);
    BOOST_TEST(multi_target_send(tx, d, dead).sent == 8u);
    const auto reports = read_reports(tx.native_handle(), 8);
    BOOST_REQUIRE(reports.size() == 8u);
    for (std::size_t i = 0; i < 8; ++i) BOOST_TEST(reports[i].destination == dead[i]);
}

BOOST_AUTO_TEST_CASE(the_asynchronous_form_waits_for_the_report) {
    asio::io_context io;
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    BOOST_REQUIRE(!enable_error_queue(tx));
    const Endpoint dead = closed_port(io, testing::v4_loopback());
    std::array<DatagramError, 4> reports;
    std::optional<std::size_t> got;
    // Started before anything is sent: it waits for the error condition.
    async_read_error_queue(tx, std::span(reports), [&](boost::system::error_code ec, std::size_t n) {
        BOOST_TEST(!ec, ec.message());
        got = n;
    });
    io.poll();
    BOOST_TEST(!got);
    const std::vector<std::byte> d = testing::numbered(20, 4);
    BOOST_TEST(batch_send(tx, Batch{{d, dead}}).sent == 1u);
    io.run_for(std::chrono::seconds(10));
    BOOST_REQUIRE(got);
    BOOST_REQUIRE(*got == 1u);
    BOOST_TEST(reports[0].destination == dead);
    MMSG_CHECK_ERRC(reports[0].error, std::errc::connection_refused);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    testing::DevNull dn;
    MMSG_CHECK_ERRC(enable_error_queue(dn.fd), std::errc::not_a_socket);
    std::array<DatagramError, 2> e;
    std::error_code ec;
    BOOST_TEST(read_error_queue(dn.fd, e, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::not_a_socket);
    asio::io_context io;
    udp::socket s = testing::bound_socket(io, testing::v4_loopback());
    BOOST_TEST(path_mtu(s, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::not_connected); // unconnected: learn it per destination
}

BOOST_AUTO_TEST_CASE(a_connected_socket_knows_its_path_mtu) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    tx.connect(rx.local_endpoint());
    std::error_code ec;
    const std::size_t mtu = path_mtu(tx, ec);
    BOOST_TEST(!ec, ec.message());
    // The device's MTU, but no more than an IP packet can be (65535 on loopback's 65536).
    BOOST_TEST(mtu == std::min<std::size_t>(65535,
                          [] {
                              ifreq r{};
                              std::strcpy(r.ifr_name, "lo");
                              const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                              ::ioctl(fd, SIOCGIFMTU, &r);
                              ::close(fd);
                              return static_cast<std::size_t>(r.ifr_mtu);
                          }()));
}

namespace {
// In a new network namespace (this process only): loopback up with MTU `mtu`.
bool own_loopback_with_mtu(int mtu) {
    if (::unshare(CLONE_NEWNET) != 0) return false;
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq r{};
    std::strcpy(r.ifr_name, "lo");
    r.ifr_mtu = mtu;
    bool ok = ::ioctl(fd, SIOCSIFMTU, &r) == 0;
    ok = ok && ::ioctl(fd, SIOCGIFFLAGS, &r) == 0;
    r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP);
    ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &r) == 0;
    ::close(fd);
    return ok;
}
} // namespace

BOOST_AUTO_TEST_CASE(over_the_path_mtu_with_dont_fragment_fails_alone_and_the_queue_says_the_mtu) {
    // A child process in a network namespace of its own, whose loopback has MTU 1280; exit
    // codes: 0 pass, 77 namespaces refused, others the number of the failed check.
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        if (!own_loopback_with_mtu(1280)) ::_exit(77);
        asio::io_context io;
        udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
        udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
        if (enable_error_queue(tx) || set_path_mtu_discovery(tx, PathMtuDiscovery::on)) ::_exit(1);
        const std::vector<std::byte> small(100, std::byte{1}), big(1400, std::byte{2});
        std::vector<std::error_code> status(3);
        const SendResult r = batch_send(
            tx, Batch{{small, rx.local_endpoint()}, {big, rx.local_endpoint()}, {small, rx.local_endpoint()}},
            status);
        if (r.sent != 2 || r.failed != 1 || !(status[1] == std::errc::message_size)) ::_exit(2);
        // One report per attempt: sendmmsg meets the datagram once after the first one went
        // and once more when BatchSender calls again from it.
        const auto reports = read_reports(tx.native_handle(), 1);
        if (reports.empty()) ::_exit(3);
        if (!(reports[0].error == std::errc::message_size)) ::_exit(4);
        if (reports[0].mtu != 1280) ::_exit(5);
        if (reports[0].origin != ErrorOrigin::local) ::_exit(6);
        // A local report names the destination's address; its port only on a connected socket.
        if (reports[0].destination.address() != rx.local_endpoint().address()) ::_exit(7);
        tx.connect(rx.local_endpoint());
        std::error_code ec;
        if (path_mtu(tx, ec) != 1280) ::_exit(8);
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        BOOST_TEST_MESSAGE("network namespaces are refused here (not root?): skipped");
        return;
    }
    BOOST_TEST(WEXITSTATUS(status) == 0, "the child's check " << WEXITSTATUS(status) << " failed");
}
