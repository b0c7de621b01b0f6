// Flood a small-buffer receiver from two senders over loopback and account for every
// datagram: sent == received + dropped, where dropped is the kernel's SO_RXQ_OVFL counter
// as LinuxMmsgBackend reports it. Also covers the drop-counter API on its own.
#include <mmsg/backend/linux_mmsg.hpp>

#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>

#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE reliability_flood_drop_accounting
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if MMSG_HAS_MMSG
#include <linux/sock_diag.h>
#include <sys/socket.h>

using namespace mmsg;
using mmsg::testing::v4_loopback;
namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::size_t datagram_size = 64;
constexpr std::uint32_t marker_tag = 0xffffffffu;

// The kernel's own view of the socket: receive-queue memory, its limit and drops.
struct MemInfo {
    std::uint32_t rmem_alloc = 0, rcvbuf = 0, drops = 0;
};
MemInfo meminfo(int fd) {
    std::array<std::uint32_t, SK_MEMINFO_VARS> v{};
    socklen_t len = sizeof v;
    MemInfo m;
    if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, v.data(), &len) == 0) {
        m.rmem_alloc = v[SK_MEMINFO_RMEM_ALLOC];
        m.rcvbuf = v[SK_MEMINFO_RCVBUF];
        m.drops = v[SK_MEMINFO_DROPS];
    }
    return m;
}

// Sum of the per-CPU backlog drops (second column of /proc/net/softnet_stat): loss that
// happens before the socket, reported only to explain a mismatch.
std::uint64_t backlog_drops() {
    std::ifstream f("/proc/net/softnet_stat");
    std::string line;
    std::uint64_t sum = 0;
    while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string processed, dropped;
        if (is >> processed >> dropped) sum += std::stoull(dropped, nullptr, 16);
    }
    return sum;
}

std::array<std::byte, datagram_size> tagged(std::uint32_t tag, std::uint32_t seq) {
    std::array<std::byte, datagram_size> p{};
    std::memcpy(p.data(), &tag, 4);
    std::memcpy(p.data() + 4, &seq, 4);
    return p;
}

using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

// Sends tagged datagrams in batches of 64 until the deadline or `cap`; returns how many the
// kernel accepted (SendResult::sent), the only number the accounting may rely on.
std::uint64_t flood(udp::socket& s, std::uint32_t tag, const Endpoint& to,
                    std::chrono::steady_clock::time_point deadline, std::uint64_t cap) {
    BatchSender<LinuxMmsgBackend> sender;
    std::vector<std::array<std::byte, datagram_size>> bufs(64);
    Batch batch(64);
    std::uint64_t sent = 0;
    std::uint32_t seq = 0;
    while (sent < cap && std::chrono::steady_clock::now() < deadline) {
        for (std::size_t i = 0; i < bufs.size(); ++i) {
            bufs[i] = tagged(tag, seq + static_cast<std::uint32_t>(i));
            batch[i] = {bufs[i], to};
        }
        const SendResult r = sender.batch_send(s, batch);
        // Unsent datagrams (would-block) were never handed over: resend them next round.
        seq += static_cast<std::uint32_t>(r.sent + r.failed);
        sent += r.sent;
        if (r.fatal) break;
    }
    return sent;
}

} // namespace

BOOST_AUTO_TEST_CASE(drop_counter_is_zero_until_enabled_and_a_datagram_arrives) {
    asio::io_context io;
    auto rx = mmsg::testing::bound_socket(io, v4_loopback());
    BatchReceiver<LinuxMmsgBackend> receiver;
    BOOST_TEST(receiver.socket_state(rx).dropped() == 0u);
    BOOST_TEST(!mmsg::enable_drop_count(rx));
    BOOST_TEST(receiver.socket_state(rx).dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(enabling_drop_count_on_a_non_socket_fails_clearly) {
    mmsg::testing::DevNull dn;
    const std::error_code ec = mmsg::enable_drop_count(dn.fd);
    BOOST_TEST((ec == std::errc::not_a_socket), ec.message());
}

BOOST_AUTO_TEST_CASE(overflowing_a_small_buffer_is_counted_exactly) {
    // Deterministic: nobody reads while 200 datagrams go to a buffer that holds a few.
    asio::io_context io;
    auto rx = mmsg::testing::bound_socket(io, v4_loopback());
    const int small = 2048; // the kernel doubles it, and its minimum applies
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // tag::enable[]
    BatchReceiver<LinuxMmsgBackend> receiver;
    // Ask the kernel for the socket's drop counter with every datagram (SO_RXQ_OVFL).
    BOOST_REQUIRE(!mmsg::enable_drop_count(rx));
    // end::enable[]
    udp::socket tx(io, udp::v4());
    const Endpoint to = rx.local_endpoint();

    BatchSender<LinuxMmsgBackend> sender;
    std::vector<std::array<std::byte, datagram_size>> bufs(200);
    Batch batch;
    for (std::uint32_t i = 0; i < bufs.size(); ++i) {
        bufs[i] = tagged(1, i);
        batch.emplace_back(bufs[i], to);
    }
    const SendResult r = sender.batch_send(tx, batch);
    BOOST_REQUIRE(r.ok());

    std::vector<BasicPacket<128>> packets(64);
    std::size_t received = 0;
    std::error_code ec;
    while (true) {
        const std::size_t n = receiver.try_recv_mmsg(rx, packets, ec);
        if (ec) break;
        received += n;
    }
    BOOST_TEST((ec == std::errc::operation_would_block), ec.message());
    // The counter arrives with a datagram: one more, now that the queue has room.
    const auto marker = tagged(marker_tag, 0);
    BOOST_REQUIRE(sender.batch_send(tx, Batch{{marker, to}}).ok());
    BOOST_REQUIRE(receiver.recv_mmsg(rx, packets) == 1u);

    BOOST_TEST(received > 0u);
    BOOST_TEST(received < 200u);
    // tag::check[]
    // Every datagram is accounted for: received, or dropped by the kernel and counted.
    BOOST_TEST(receiver.socket_state(rx).dropped() == 200u - received);
    // end::check[]
    BOOST_TEST(receiver.socket_state(rx).dropped() == meminfo(rx.native_handle()).drops);
}

BOOST_AUTO_TEST_CASE(two_senders_flooding_a_small_buffer_lose_nothing_unaccounted) {
    using clock = std::chrono::steady_clock;
    asio::io_context io;
    auto rx = mmsg::testing::bound_socket(io, v4_loopback(), std::chrono::milliseconds(100));
    const int small = 16384;
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    BatchReceiver<LinuxMmsgBackend> receiver;
    BOOST_REQUIRE(!mmsg::enable_drop_count(rx));
    const Endpoint to = rx.local_endpoint();
    udp::socket a(io, udp::v4()), b(io, udp::v4()), m(io, udp::v4());

    const std::uint64_t backlog_before = backlog_drops();
    const auto deadline = clock::now() + std::chrono::milliseconds(1500);
    constexpr std::uint64_t cap = 3'000'000; // per sender; the deadline usually ends it first
    std::atomic<std::uint64_t> sent_a{0}, sent_b{0};
    std::atomic<int> running{2};
    std::thread ta([&] { sent_a = flood(a, 1, to, deadline, cap); --running; });
    std::thread tb([&] { sent_b = flood(b, 2, to, deadline, cap); --running; });

    // Receive while they flood. Memory stays bounded: fixed packets here, and the kernel
    // queue never grows past its (small) limit, which is the point of dropping.
    std::vector<BasicPacket<128>> packets(64);
    std::array<std::uint64_t, 3> got{};      // per tag 1, 2 (index 0: anything else)
    std::array<std::uint32_t, 3> next_seq{}; // per tag: the next sequence number expected
    // Which sequence numbers arrived, per sender: allocated once, bounded by the cap.
    std::array<std::vector<bool>, 3> seen{std::vector<bool>(), std::vector<bool>(cap),
                                          std::vector<bool>(cap)};
    std::uint64_t duplicates = 0, reordered = 0, bad = 0, max_rmem = 0, rcvbuf = 0;
    auto take = [&](std::size_t n, bool& marker_seen) {
        for (std::size_t i = 0; i < n; ++i) {
            const auto d = packets[i].data();
            std::uint32_t tag = 0, seq = 0;
            if (d.size() != datagram_size || packets[i].meta.flags != PacketFlags::none) {
                ++bad;
                continue;
            }
            std::memcpy(&tag, d.data(), 4);
            std::memcpy(&seq, d.data() + 4, 4);
            if (tag == marker_tag) {
                marker_seen = true;
                continue;
            }
            if ((tag != 1 && tag != 2) || seq >= cap) {
                ++bad;
                continue;
            }
            ++got[tag];
            // Each sender's datagrams arrive at most once and in order; drops leave gaps.
            // Each datagram arrives at most once. Order per sender is kept by loopback unless
            // the kernel defers delivery to another CPU's backlog: counted, not required.
            if (seen[tag][seq]) ++duplicates;
            seen[tag][seq] = true;
            if (seq < next_seq[tag]) ++reordered;
            next_seq[tag] = std::max(next_seq[tag], seq + 1);
        }
    };
    std::error_code ec;
    bool marker_seen = false;
    while (running.load() > 0) {
        const std::size_t n = receiver.recv_mmsg(rx, packets, ec);
        take(n, marker_seen);
        const MemInfo mi = meminfo(rx.native_handle());
        max_rmem = std::max<std::uint64_t>(max_rmem, mi.rmem_alloc);
        rcvbuf = mi.rcvbuf;
    }
    ta.join();
    tb.join();

    // End of stream: drain what is queued, then send a marker into the now-empty queue; the
    // marker carries the final drop count. Datagrams still in flight are taken on the way.
    BatchSender<LinuxMmsgBackend> marker_sender;
    for (std::uint32_t round = 0; round < 50 && !marker_seen; ++round) {
        for (;;) {
            const std::size_t n = receiver.try_recv_mmsg(rx, packets, ec);
            if (ec) break;
            take(n, marker_seen);
        }
        const auto marker = tagged(marker_tag, round);
        BOOST_REQUIRE(marker_sender.batch_send(m, Batch{{marker, to}}).ok());
        for (int tries = 0; tries < 20 && !marker_seen; ++tries)
            take(receiver.recv_mmsg(rx, packets, ec), marker_seen);
    }
    BOOST_REQUIRE(marker_seen);

    const std::uint64_t sent = sent_a + sent_b;
    const std::uint64_t received = got[1] + got[2];
    const std::uint64_t dropped = receiver.socket_state(rx).dropped();
    const std::uint64_t backlog = backlog_drops() - backlog_before;
    BOOST_TEST_MESSAGE("flood: sent " << sent << " (" << sent_a << " + " << sent_b << "), received "
                                      << received << ", dropped " << dropped
                                      << ", backlog drops " << backlog << ", reordered " << reordered
                                      << ", max queue memory "
                                      << max_rmem << " of rcvbuf " << rcvbuf);
    std::printf("flood: sent %llu received %llu dropped %llu\n",
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(dropped));
    BOOST_TEST(bad == 0u);
    BOOST_TEST(duplicates == 0u);
    BOOST_TEST(sent > 0u);
    BOOST_TEST(dropped > 0u);
    BOOST_TEST(dropped == meminfo(rx.native_handle()).drops);
    BOOST_TEST(sent == received + dropped);
    // Bounded memory: the queue never held more than its limit plus one datagram's worth.
    BOOST_TEST(max_rmem <= rcvbuf + 4096u);
}

#else
BOOST_AUTO_TEST_CASE(drop_accounting_needs_recvmmsg) {
    BOOST_TEST_MESSAGE("no recvmmsg on this system: LinuxMmsgBackend drop accounting skipped");
    BOOST_TEST(true);
}
#endif
