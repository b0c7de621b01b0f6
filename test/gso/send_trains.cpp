// LinuxGsoBackend, send side: trains on real loopback sockets (their shape seen by a raw
// UDP_GRO receiver), and on MockNetwork for failures, the offload fallback and accounting.
#include <mmsg/backend/linux_gso.hpp>

#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/gso_capability.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE gso_send_trains
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "../support/counting_new.hpp" // counts every allocation of the program
#include "../support/mock_gso_rig.hpp"
#include "../support/payload_lists.hpp"

using namespace mmsg;
using namespace mmsg::testing; // numbered, same_bytes, Bytes, loopback sockets
using namespace mmsg::test;    // payload lists
namespace asio = boost::asio;

namespace {

// What a raw UDP_GRO receiver saw: one entry per datagram the kernel handed it.
struct Seen {
    std::size_t len;
    std::size_t gro; // UDP_GRO segment size, 0 when absent
    Bytes bytes;
    Endpoint from;
};

void enable_raw_gro(int fd) {
    const int one = 1;
    BOOST_REQUIRE(::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0);
}

// Reads one datagram as the kernel hands it; false on timeout.
bool raw_read_one(int fd, Seen& s) {
    Bytes buf(70000);
    sockaddr_storage ss{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) unsigned char ctl[128];
    msghdr m{};
    m.msg_name = &ss;
    m.msg_namelen = sizeof ss;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    const ssize_t r = ::recvmsg(fd, &m, 0);
    if (r < 0) return false;
    s = Seen{static_cast<std::size_t>(r), 0, Bytes(buf.begin(), buf.begin() + r), {}};
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int g = 0;
            std::memcpy(&g, CMSG_DATA(c), sizeof g);
            s.gro = static_cast<std::size_t>(g);
        }
    std::memcpy(s.from.data(), &ss, m.msg_namelen);
    s.from.resize(m.msg_namelen);
    return true;
}

// Reads until `bytes` payload bytes arrived (bounded by the socket's receive timeout).
std::vector<Seen> raw_receive(int fd, std::size_t bytes) {
    std::vector<Seen> out;
    std::size_t total = 0;
    Seen s;
    while (total < bytes && raw_read_one(fd, s)) {
        total += s.len;
        out.push_back(std::move(s));
    }
    return out;
}

// Reads `n` datagrams (as the kernel hands them).
std::vector<Seen> raw_receive_n(int fd, std::size_t n) {
    std::vector<Seen> out;
    Seen s;
    while (out.size() < n && raw_read_one(fd, s)) out.push_back(std::move(s));
    return out;
}

Bytes concat(const std::vector<Bytes>& parts, std::size_t from, std::size_t to) {
    Bytes all;
    for (std::size_t i = from; i < to; ++i) all.insert(all.end(), parts[i].begin(), parts[i].end());
    return all;
}

bool gso_works() {
    const GsoCapability& c = gso_capability(asio::ip::udp::v4());
    if (!c.gso()) BOOST_TEST_MESSAGE("UDP GSO does not work here (" << c.error.message() << "): skipped");
    return c.gso();
}

struct Loopback : LoopbackPair {
    BatchSender<LinuxGsoBackend> sender;
    Loopback() { enable_raw_gro(rx.native_handle()); }
};


} // namespace

// ---- trains on the real kernel ---------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(a_train_of_one_is_a_plain_datagram, Loopback) {
    if (!gso_works()) return;
    const auto d = sized({700});
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    const auto seen = raw_receive(rx.native_handle(), 700);
    BOOST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].gro == 0u);
    BOOST_TEST(same_bytes(seen[0].bytes, d[0]));
    BOOST_TEST(seen[0].from == tx_ep);
}

BOOST_FIXTURE_TEST_CASE(two_equal_datagrams_go_as_one_train, Loopback) {
    if (!gso_works()) return;
    const auto d = same(2, 1000);
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    const auto seen = raw_receive(rx.native_handle(), 2000);
    BOOST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].gro == 1000u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, 2)));
}

BOOST_FIXTURE_TEST_CASE(many_equal_datagrams_to_one_destination_go_as_one_train, Loopback) {
    if (!gso_works()) return;
    const auto d = same(40, 1232);
    std::vector<std::error_code> status(d.size(), std::make_error_code(std::errc::io_error));
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 40u);
    for (const auto& e : status) BOOST_TEST(!e);
    const auto seen = raw_receive(rx.native_handle(), 40 * 1232);
    BOOST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].gro == 1232u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, 40)));
    BOOST_TEST(seen[0].from == tx_ep);
}

BOOST_FIXTURE_TEST_CASE(a_train_holds_at_most_the_probed_number_of_segments, Loopback) {
    if (!gso_works()) return;
    const std::size_t max = sender.backend().limits().max_segments;
    BOOST_TEST(max >= 2u);
    // max + 1 datagrams: one full train of `max`, then one plain datagram.
    const auto d = same(max + 1, 8);
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    const auto seen = raw_receive(rx.native_handle(), (max + 1) * 8);
    BOOST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].len == max * 8);
    BOOST_TEST(seen[0].gro == 8u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, max)));
    BOOST_TEST(seen[1].len == 8u);
    BOOST_TEST(same_bytes(seen[1].bytes, d[max]));
}

BOOST_FIXTURE_TEST_CASE(a_shorter_datagram_ends_its_train_as_the_last_segment, Loopback) {
    if (!gso_works()) return;
    const auto d = sized({100, 100, 100, 100, 100, 60, 100, 100, 100});
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    const auto seen = raw_receive(rx.native_handle(), total_bytes(d));
    BOOST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].len == 560u);
    BOOST_TEST(seen[0].gro == 100u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, 6)));
    BOOST_TEST(seen[1].len == 300u);
    BOOST_TEST(same_bytes(seen[1].bytes, concat(d, 6, 9)));
}

BOOST_FIXTURE_TEST_CASE(a_longer_datagram_starts_a_new_train, Loopback) {
    if (!gso_works()) return;
    const auto d = sized({100, 100, 200, 200});
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    const auto seen = raw_receive(rx.native_handle(), total_bytes(d));
    BOOST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].gro == 100u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, 2)));
    BOOST_TEST(seen[1].gro == 200u);
    BOOST_TEST(same_bytes(seen[1].bytes, concat(d, 2, 4)));
}

BOOST_FIXTURE_TEST_CASE(zero_length_datagrams_go_as_plain_messages_between_trains, Loopback) {
    if (!gso_works()) return;
    const auto d = sized({0, 300, 300, 0, 0, 300, 300, 300, 0});
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == d.size());
    const auto seen = raw_receive_n(rx.native_handle(), 6);
    BOOST_REQUIRE(seen.size() == 6u);
    BOOST_TEST(seen[0].len == 0u);
    BOOST_TEST(seen[1].gro == 300u);
    BOOST_TEST(same_bytes(seen[1].bytes, concat(d, 1, 3)));
    BOOST_TEST(seen[2].len == 0u);
    BOOST_TEST(seen[3].len == 0u);
    BOOST_TEST(seen[4].gro == 300u);
    BOOST_TEST(same_bytes(seen[4].bytes, concat(d, 5, 8)));
    BOOST_TEST(seen[5].len == 0u);
}

BOOST_FIXTURE_TEST_CASE(more_datagrams_to_one_destination_than_one_train_holds_arrive_intact,
                        Loopback) {
    if (!gso_works()) return;
    // 300 x 1232 B: the byte limit allows 53 per train, so six trains in one call.
    const auto d = same(300, 1232);
    const auto r = sender.batch_send(tx, to(d, rx_ep));
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 300u);
    const auto seen = raw_receive(rx.native_handle(), 300 * 1232);
    const std::size_t per_train = sender.backend().limits().max_bytes / 1232;
    BOOST_TEST(seen.size() == (300 + per_train - 1) / per_train);
    Bytes got;
    for (const Seen& s : seen) {
        BOOST_TEST(s.len <= per_train * 1232);
        got.insert(got.end(), s.bytes.begin(), s.bytes.end());
    }
    BOOST_TEST(same_bytes(got, concat(d, 0, 300)));
}

BOOST_FIXTURE_TEST_CASE(mixed_sizes_and_destinations_in_one_batch_arrive_intact_in_order,
                        Loopback) {
    if (!gso_works()) return;
    auto rx2 = bound_socket(io, v4_loopback());
    mmsg::testing::set_rcvbuf(rx2, 4 << 20);
    const Endpoint rx2_ep = rx2.local_endpoint();
    // Runs to alternating destinations, lone sizes, a run cut by another destination.
    std::vector<Bytes> d;
    std::vector<Endpoint> dest;
    std::uint32_t k = 0;
    auto add = [&](std::size_t n, std::size_t size, const Endpoint& ep) {
        for (std::size_t i = 0; i < n; ++i) {
            d.push_back(numbered(size, k++));
            dest.push_back(ep);
        }
    };
    add(5, 500, rx_ep);
    add(1, 77, rx2_ep);
    add(3, 500, rx_ep);
    add(7, 1232, rx2_ep);
    add(1, 1, rx_ep);
    add(2, 64, rx_ep);
    add(4, 900, rx2_ep);
    add(1, 899, rx2_ep);
    Batch b;
    for (std::size_t i = 0; i < d.size(); ++i) b.emplace_back(d[i], dest[i]);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == d.size());

    // Read both back as plain datagrams with the backend under test, and compare each.
    BatchReceiver<LinuxGsoBackend> receiver;
    for (auto* sock : {&rx, &rx2}) {
        const Endpoint ep = sock->local_endpoint();
        std::vector<Bytes> want;
        for (std::size_t i = 0; i < d.size(); ++i)
            if (dest[i] == ep) want.push_back(d[i]);
        std::vector<Packet> p(want.size());
        BOOST_TEST(receiver.recv_mmsg_exact(*sock, p) == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            BOOST_TEST(same_bytes(p[i].data(), want[i]), "datagram " << i << " differs");
            BOOST_TEST(p[i].meta.addr == tx_ep);
            BOOST_TEST((p[i].meta.flags == PacketFlags::none));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(a_destination_error_fails_every_datagram_of_its_train_and_no_other,
                        Loopback) {
    if (!gso_works()) return;
    const auto d = same(10, 200);
    Batch b = to(d, rx_ep);
    for (std::size_t i = 3; i < 7; ++i) b[i].second = mmsg::testing::broadcast(); // EACCES
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 6u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i >= 3 && i < 7) MMSG_CHECK_ERRC(status[i], std::errc::permission_denied);
        else BOOST_TEST(!status[i], "datagram " << i << ": " << status[i].message());
    }
    const auto seen = raw_receive(rx.native_handle(), 6 * 200);
    Bytes got;
    for (const Seen& s : seen) got.insert(got.end(), s.bytes.begin(), s.bytes.end());
    Bytes want = concat(d, 0, 3);
    const Bytes tail = concat(d, 7, 10);
    want.insert(want.end(), tail.begin(), tail.end());
    BOOST_TEST(same_bytes(got, want));
    // The offload itself worked: trains stay on.
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx.native_handle())));
}

BOOST_FIXTURE_TEST_CASE(a_train_to_port_zero_fails_per_datagram_and_trains_stay_on, Loopback) {
    if (!gso_works()) return;
    // Port 0 is EINVAL alone and as a train: a destination error, not an offload failure.
    const auto d = same(10, 300);
    Batch b = to(d, rx_ep);
    for (std::size_t i = 0; i < 5; ++i) b[i].second = v4_loopback(0);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 5u);
    BOOST_TEST(r.failed == 5u);
    for (std::size_t i = 0; i < 5; ++i) MMSG_CHECK_ERRC(status[i], std::errc::invalid_argument);
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx.native_handle())));
    const auto seen = raw_receive(rx.native_handle(), 5 * 300);
    BOOST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].gro == 300u); // still a train
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 5, 10)));
}

BOOST_FIXTURE_TEST_CASE(an_ipv6_train_on_an_ipv4_socket_fails_per_datagram_with_eafnosupport,
                        Loopback) {
    if (!gso_works()) return;
    const auto d = same(4, 100);
    Batch b = to(d, rx_ep);
    b[1].second = b[2].second = v6_loopback(9);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 2u);
    MMSG_CHECK_ERRC(status[1], std::errc::address_family_not_supported);
    MMSG_CHECK_ERRC(status[2], std::errc::address_family_not_supported);
    BOOST_TEST(!status[0]);
    BOOST_TEST(!status[3]);
}

BOOST_AUTO_TEST_CASE(ipv6_trains_arrive_intact_with_their_source) {
    const GsoCapability& c = gso_capability(asio::ip::udp::v6());
    if (!c.gso()) {
        BOOST_TEST_MESSAGE("UDP GSO over IPv6 does not work here (" << c.error.message() << "): skipped");
        return;
    }
    asio::io_context io;
    auto tx = bound_socket(io, v6_loopback());
    auto rx = bound_socket(io, v6_loopback());
    enable_raw_gro(rx.native_handle());
    const auto d = same(20, 1200);
    BatchSender<LinuxGsoBackend> sender;
    BOOST_TEST(sender.batch_send(tx, to(d, rx.local_endpoint())).ok());
    const auto seen = raw_receive(rx.native_handle(), 20 * 1200);
    BOOST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].gro == 1200u);
    BOOST_TEST(same_bytes(seen[0].bytes, concat(d, 0, 20)));
    BOOST_TEST(seen[0].from == tx.local_endpoint());
}

BOOST_FIXTURE_TEST_CASE(multi_target_send_to_alternating_destinations_builds_no_train, Loopback) {
    if (!gso_works()) return;
    auto rx2 = bound_socket(io, v4_loopback());
    const Endpoint rx2_ep = rx2.local_endpoint();
    const std::vector<Endpoint> dests{rx_ep, rx2_ep, rx_ep, rx2_ep};
    const Bytes payload = numbered(300, 9);
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>(payload), dests).ok());
    const auto seen = raw_receive_n(rx.native_handle(), 2);
    BOOST_REQUIRE(seen.size() == 2u);
    for (const Seen& s : seen) {
        BOOST_TEST(s.gro == 0u);
        BOOST_TEST(same_bytes(s.bytes, payload));
    }
}

// ---- the capability probe ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_probe_gives_a_typed_cached_result) {
    // tag::probe[]
    const GsoCapability& a = gso_capability(asio::ip::udp::v4()); // probed once, then cached
    const GsoCapability& b = gso_capability(asio::ip::udp::v4());
    BOOST_TEST(&a == &b); // cached
    if (!a.gso()) {
        BOOST_TEST_MESSAGE("UDP GSO does not work here: " << a.error.message());
        BOOST_TEST((a.limits == GsoLimits::none()));
        return;
    }
    // end::probe[]
    BOOST_TEST(!a.error, a.error.message());
    // The kernel's segment limit is a power of two (64 or 128 so far), the byte limit the
    // largest IPv4 UDP payload.
    BOOST_TEST(a.limits.max_segments >= 2u);
    BOOST_TEST((a.limits.max_segments & (a.limits.max_segments - 1)) == 0u);
    BOOST_TEST(a.limits.max_bytes == 65507u);
    BOOST_TEST((probed_gso_limits() == a.limits));
    // The socket form reads the family from the socket.
    asio::io_context io;
    auto s6 = bound_socket(io, v6_loopback());
    BOOST_TEST(&gso_capability(s6) == &gso_capability(asio::ip::udp::v6()));
    auto s4 = bound_socket(io, v4_loopback());
    BOOST_TEST(&gso_capability(s4) == &a);
    // A fresh probe agrees with the cached one.
    const GsoCapability again = probe_gso(asio::ip::udp::v4());
    BOOST_TEST((again.limits == a.limits));
    BOOST_TEST((again.receive == a.receive));
}

// ---- MockNetwork: failures, the offload fallback, exact accounting -----------------------

using Mock = MockGsoRig;

BOOST_FIXTURE_TEST_CASE(several_trains_and_lone_datagrams_go_in_one_call, Mock) {
    std::vector<Bytes> d = same(20, 100);            // trains of 8, 8, 4
    const auto lone = sized({33, 0, 44}, 100);        // three plain messages
    d.insert(d.end(), lone.begin(), lone.end());
    const auto r = sender.batch_send(tx, to(d, rx_ep));
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 23u);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(net.trains_sent() == 3u);
    BOOST_TEST(same_list(drain(), d));
}

BOOST_FIXTURE_TEST_CASE(the_byte_limit_cuts_trains_too, Mock) {
    sender.backend() = MockGsoBackend(MockGsoOps(net), GsoLimits{64, 1000});
    const auto d = same(10, 300); // 3 + 3 + 3 + 1
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    BOOST_TEST(net.trains_sent() == 3u);
    BOOST_TEST(same_list(drain(), d));
}

BOOST_FIXTURE_TEST_CASE(no_limits_means_no_trains, Mock) {
    sender.backend() = MockGsoBackend(MockGsoOps(net), GsoLimits::none());
    const auto d = same(10, 300);
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    BOOST_TEST(net.trains_sent() == 0u);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(same_list(drain(), d));
}

BOOST_FIXTURE_TEST_CASE(a_train_without_offload_is_resent_as_plain_datagrams_exactly_once, Mock) {
    // tag::fallback[]
    // (the fixture: BatchSender<MockGsoBackend> sender{MockGsoBackend(MockGsoOps(net), ...)})
    net.fail_trains(std::make_error_code(std::errc::io_error), 1); // no offload on this path
    std::vector<Bytes> d = sized({50, 70}, 200);     // two plain messages first
    const auto run = same(6, 100);                   // then a train that fails with EIO
    d.insert(d.end(), run.begin(), run.end());
    std::vector<std::error_code> status(d.size(), std::make_error_code(std::errc::io_error));
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == d.size());
    BOOST_TEST(r.failed == 0u);
    for (const auto& e : status) BOOST_TEST(!e);
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(net.trains_sent() == 0u);
    BOOST_TEST(sender.backend().fallbacks() == 1u);
    BOOST_TEST(!sender.backend().trains_enabled(sender.socket_state(tx)));
    // end::fallback[]
    // sendmmsg stops before the failing train (2 sent), the train fails alone (EIO) and is
    // resent plain in the same backend call: 3 simulated system calls.
    BOOST_TEST(net.calls() == 3u);
    // Nothing lost, nothing twice, in order.
    BOOST_TEST(same_list(drain(), d));

    // Later batches on that socket build no trains at all; another socket still does.
    const auto more = same(8, 100, 50);
    BOOST_TEST(sender.batch_send(tx, to(more, rx_ep)).ok());
    BOOST_TEST(net.trains_sent() == 0u);
    BOOST_TEST(same_list(drain(), more));
    const int tx2 = net.open(v4_loopback());
    BOOST_TEST(sender.batch_send(tx2, to(more, rx_ep)).ok());
    BOOST_TEST(net.trains_sent() == 1u);
}

BOOST_FIXTURE_TEST_CASE(einval_from_offload_falls_back_like_eio, Mock) {
    net.fail_trains(std::make_error_code(std::errc::invalid_argument));
    const auto d = same(30, 100);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 30u);
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(same_list(drain(), d));
    BOOST_TEST(!sender.backend().trains_enabled(sender.socket_state(tx)));
    sender.socket_state(tx).clear(); // the socket starts over
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx)));
}

BOOST_FIXTURE_TEST_CASE(einval_that_each_datagram_also_gets_alone_keeps_trains_on, Mock) {
    // The destination, not the offload, refuses: every datagram fails on its own too.
    const Endpoint dead = v4_loopback(9);
    net.unreachable(dead, std::make_error_code(std::errc::invalid_argument));
    const auto d = same(20, 100);
    Batch b = to(d, rx_ep);
    for (std::size_t i = 0; i < 10; ++i) b[i].second = dead;
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 10u);
    BOOST_TEST(r.failed == 10u);
    BOOST_TEST(!r.fatal);
    for (std::size_t i = 0; i < 10; ++i) MMSG_CHECK_ERRC(status[i], std::errc::invalid_argument);
    for (std::size_t i = 10; i < 20; ++i) BOOST_TEST(!status[i]);
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx)));
    BOOST_TEST(net.trains_sent() >= 1u); // the ten to rx went as trains
    BOOST_TEST(same_list(drain(), std::vector<Bytes>(d.begin() + 10, d.end())));
}

BOOST_FIXTURE_TEST_CASE(emsgsize_resends_that_train_plain_and_keeps_trains_on, Mock) {
    net.fail_trains(std::make_error_code(std::errc::message_size), 1);
    const auto d = same(16, 100); // two trains of 8: the first fails with EMSGSIZE
    const auto r = sender.batch_send(tx, to(d, rx_ep));
    BOOST_TEST(r.ok());
    BOOST_TEST(net.trains_failed() == 1u);
    BOOST_TEST(net.trains_sent() == 1u); // the second train went as a train
    BOOST_TEST(sender.backend().trains_enabled(sender.socket_state(tx)));
    BOOST_TEST(same_list(drain(), d));
}

BOOST_FIXTURE_TEST_CASE(a_destination_error_on_a_train_fails_each_of_its_datagrams, Mock) {
    const Endpoint dead = v4_loopback(9);
    net.unreachable(dead, std::make_error_code(std::errc::permission_denied));
    std::vector<Bytes> d = same(12, 100);
    Batch b = to(d, rx_ep);
    for (std::size_t i = 4; i < 9; ++i) b[i].second = dead;
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 7u);
    BOOST_TEST(r.failed == 5u);
    BOOST_TEST(r.resume_index() == 12u);
    for (std::size_t i = 0; i < d.size(); ++i)
        if (i >= 4 && i < 9) MMSG_CHECK_ERRC(status[i], std::errc::permission_denied);
        else BOOST_TEST(!status[i]);
    BOOST_TEST(sender.backend().fallbacks() == 0u);
    std::vector<Bytes> want(d.begin(), d.begin() + 4);
    want.insert(want.end(), d.begin() + 9, d.end());
    BOOST_TEST(same_list(drain(), want));
}

BOOST_FIXTURE_TEST_CASE(a_failure_inside_a_train_fails_the_whole_train, Mock) {
    // Attempts 0-7 are the first train; attempt 10 is inside the second (8-15).
    net.fail_nth(10, std::make_error_code(std::errc::network_unreachable));
    const auto d = same(20, 100);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(r.sent == 12u);
    BOOST_TEST(r.failed == 8u);
    for (std::size_t i = 8; i < 16; ++i) MMSG_CHECK_ERRC(status[i], std::errc::network_unreachable);
    std::vector<Bytes> want(d.begin(), d.begin() + 8);
    want.insert(want.end(), d.begin() + 16, d.end());
    BOOST_TEST(same_list(drain(), want));
}

BOOST_FIXTURE_TEST_CASE(a_train_that_would_block_is_unsent_from_its_first_datagram, Mock) {
    // As the kernel takes a whole message while its send buffer has any room, the first
    // train (8) starts within the budget of 3 and goes whole; then none is left.
    net.would_block_after(3);
    BOOST_TEST(net.writable(tx));
    const auto d = same(16, 100);
    std::vector<std::error_code> status(d.size());
    const auto r = sender.batch_send(tx, to(d, rx_ep), status);
    BOOST_TEST(!net.writable(tx)); // and says so: a writable socket never refuses
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.unsent == 8u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.resume_index() == 8u);
    for (std::size_t i = 8; i < 16; ++i)
        MMSG_CHECK_ERRC(status[i], std::errc::operation_would_block);
    net.clear_would_block();
    const Batch all = to(d, rx_ep);
    const Batch rest(all.begin() + 8, all.end());
    BOOST_TEST(sender.batch_send(tx, rest).ok());
    BOOST_TEST(same_list(drain(), d));
}

BOOST_FIXTURE_TEST_CASE(an_interrupted_call_is_retried_and_a_closed_socket_is_fatal, Mock) {
    net.interrupt_next(1);
    const auto d = same(8, 100);
    BOOST_TEST(sender.batch_send(tx, to(d, rx_ep)).ok());
    BOOST_TEST(net.calls() == 2u);
    BOOST_TEST(same_list(drain(), d));
    net.close(tx);
    const auto r = sender.batch_send(tx, to(d, rx_ep));
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.failed == 8u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::bad_file_descriptor);
}

BOOST_FIXTURE_TEST_CASE(the_mock_receive_layer_delivers_plain_datagrams, Mock) {
    const auto d = sized({10, 2000, 0, 1232});
    BatchSender<MockBackend> plain{MockBackend(net)};
    BOOST_TEST(plain.batch_send(tx, to(d, rx_ep)).ok());
    BatchReceiver<MockGsoBackend> receiver{MockGsoBackend(MockGsoOps(net))};
    std::vector<Packet> p(8);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 4u);
    BOOST_TEST(!ec);
    BOOST_TEST(same_bytes(p[0].data(), d[0]));
    BOOST_TEST(has_flags(p[1].meta.flags, PacketFlags::truncated));
    BOOST_TEST(same_bytes(p[1].data(), std::span(d[1]).first(packet_data_size)));
    BOOST_TEST(p[2].meta.size == 0u);
    BOOST_TEST(same_bytes(p[3].data(), d[3]));
    BOOST_TEST(p[3].meta.addr == tx_ep);
}

// ---- no allocation per call --------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(steady_state_sends_and_receives_allocate_nothing, Loopback) {
    if (!gso_works()) return;
    BatchReceiver<LinuxGsoBackend> receiver;
    BOOST_TEST(receiver.backend().enable_gro(rx));
    // Trains, a lone size, a zero-length datagram: every path of the send side.
    std::vector<Bytes> d = same(60, 1232);
    const auto extra = sized({10, 0, 500, 500}, 60);
    d.insert(d.end(), extra.begin(), extra.end());
    const auto small = same(20, 100, 70); // a train small enough to be staged contiguously
    d.insert(d.end(), small.begin(), small.end());
    const Batch b = to(d, rx_ep);
    std::vector<Packet> p(64);
    std::error_code ec;
    auto round = [&] {
        const auto r = sender.batch_send(tx, b);
        std::size_t got = 0;
        while (got < d.size() && !ec) got += receiver.recv_mmsg(rx, p, ec); // mixes both layouts
        return r.ok() && got == d.size();
    };
    BOOST_TEST(round()); // warm-up: arrays and per-socket state are made here
    BOOST_TEST(round());
    const std::size_t before = mmsg::test::allocations.load();
    const bool ok = round() && round();
    const std::size_t after = mmsg::test::allocations.load();
    BOOST_TEST(ok);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(after - before == 0u);
}
