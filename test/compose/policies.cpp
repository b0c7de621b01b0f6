// Fallback, Counting and FaultInjecting: what each policy adds on top of the backend it
// wraps (the contract itself is proved by conformance.cpp).
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/fault_injecting.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>
#include <mmsg/send_train.hpp>
#if MMSG_HAS_IO_URING
#include <mmsg/backend/io_uring.hpp>
#endif

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE compose_policies
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using namespace mmsg::testing;
namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

struct Net {
    MockNetwork net;
    Endpoint a{asio::ip::address_v4::loopback(), 6000};
    Endpoint b{asio::ip::address_v4::loopback(), 6001};
    int tx = net.open(a);
    int rx = net.open(b);
};

std::vector<std::pair<std::span<const std::byte>, Endpoint>>
batch_of(const std::vector<std::byte>& p, std::size_t n, const Endpoint& to) {
    return {n, {std::span<const std::byte>(p), to}};
}

// A backend that refuses every socket, to prove Fallback moves on.
struct Refusing : MockBackend {
    using MockBackend::MockBackend;
    std::error_code probe(int) { return std::make_error_code(std::errc::operation_not_supported); }
};

// LinuxGsoBackend's code over the mock network, counting the calls that took trains whole:
// a policy that forwards send_trains reaches it, one that does not reaches send() instead.
struct TrainSpy : MockGsoBackend {
    explicit TrainSpy(MockNetwork& n) : MockGsoBackend(MockGsoOps(n)) {}
    std::size_t train_calls = 0;
    std::size_t item_calls = 0;
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> t, std::span<std::error_code> e,
                            WaitMode w) {
        ++train_calls;
        return MockGsoBackend::send_trains(s, t, e, w);
    }
    SendOutcome send(SocketRef s, std::span<const SendItem> i, std::span<std::error_code> e,
                     WaitMode w) {
        ++item_calls;
        return MockGsoBackend::send(s, i, e, w);
    }
};

// Each policy has the optional members of what it wraps, and only those.
static_assert(TrainSendBackend<Counting<LinuxGsoBackend>>);
static_assert(TrainSendBackend<FaultInjecting<LinuxGsoBackend>>);
static_assert(TrainSendBackend<Fallback<LinuxGsoBackend, LinuxMmsgBackend>>);
static_assert(TrainSendBackend<Fallback<LinuxMmsgBackend, LinuxGsoBackend>>);
static_assert(!TrainSendBackend<Counting<LinuxMmsgBackend>>);
static_assert(!TrainSendBackend<FaultInjecting<PortableBackend>>);
static_assert(!TrainSendBackend<Fallback<LinuxMmsgBackend, PortableBackend>>);
static_assert(CoalescingRecvBackend<Counting<LinuxGsoBackend>>);
static_assert(CoalescingRecvBackend<FaultInjecting<LinuxGsoBackend>>);
static_assert(CoalescingRecvBackend<Fallback<LinuxGsoBackend, LinuxMmsgBackend>>);
static_assert(!CoalescingRecvBackend<Fallback<LinuxMmsgBackend, PortableBackend>>);

// Trains of `sizes`-byte datagrams cut from one buffer of numbered bytes: {count, segment,
// last} each, all to `to`.
struct Trains {
    std::vector<std::byte> buffer;
    std::vector<SendTrain> trains;
    Trains(std::initializer_list<std::array<std::size_t, 3>> shape, const Endpoint& to) {
        std::size_t total = 0;
        for (const auto& [count, segment, last] : shape) total += (count - 1) * segment + last;
        buffer.resize(total);
        for (std::size_t i = 0; i < total; ++i) buffer[i] = std::byte(i * 7 + 1);
        std::size_t at = 0;
        for (const auto& [count, segment, last] : shape) {
            const std::size_t bytes = (count - 1) * segment + last;
            trains.push_back({std::span<const std::byte>(buffer).subspan(at, bytes), segment, &to, nullptr});
            at += bytes;
        }
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(counting_counts_calls_datagrams_bytes_errors_and_would_block) {
    Net n;
    n.net.fail_nth(2, std::make_error_code(std::errc::permission_denied));
    n.net.limit_per_call(4);
    const std::vector<std::byte> p(100, std::byte{1});
    BatchSender<Counting<MockBackend>> s{Counting<MockBackend>(MockBackend(n.net))};
    const SendResult r = s.batch_send(n.tx, batch_of(p, 10, n.b));
    BOOST_TEST(r.sent == 9u);
    const CountingStats& st = s.backend().stats();
    BOOST_TEST(st.send_calls == n.net.calls());
    BOOST_TEST(st.datagrams_sent == 9u);
    BOOST_TEST(st.datagrams_failed == 1u);
    BOOST_TEST(st.bytes_sent == 900u);
    BOOST_TEST(st.errors[EACCES] == 1u);
    BOOST_TEST(st.send_sizes.calls() == st.send_calls);

    n.net.would_block_after(0);
    const SendResult blocked = s.batch_send(n.tx, batch_of(p, 3, n.b));
    BOOST_TEST(blocked.unsent == 3u);
    BOOST_TEST(s.backend().stats().would_block == 1u);
    BOOST_TEST(s.backend().stats().send_sizes.buckets[0] == 1u); // a call that moved none
}

BOOST_AUTO_TEST_CASE(counting_counts_received_datagrams_bytes_and_truncations) {
    Net n;
    const std::vector<std::byte> big(80, std::byte{2}), small(20, std::byte{3});
    BatchSender<MockBackend> s{MockBackend(n.net)};
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> b{{big, n.b}, {small, n.b}};
    BOOST_TEST(s.batch_send(n.tx, b).ok());
    BatchReceiver<Counting<MockBackend>> r{Counting<MockBackend>(MockBackend(n.net))};
    std::array<BasicPacket<64>, 4> got{};
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(n.rx, got, ec) == 2u);
    const CountingStats& st = r.backend().stats();
    BOOST_TEST(st.recv_calls == 1u);
    BOOST_TEST(st.datagrams_received == 2u);
    BOOST_TEST(st.bytes_received == 64u + 20u);
    BOOST_TEST(st.truncations == 1u);
    BOOST_TEST(st.recv_sizes.buckets[2] == 1u); // 2 datagrams: bucket [2, 4)
}

BOOST_AUTO_TEST_CASE(counting_stats_start_at_zero_however_made) {
    // Default-initialised on a dirtied stack: the members' own initialisers still apply.
    {
        volatile unsigned char junk[sizeof(CountingStats)];
        for (auto& b : junk) b = 0xab;
    }
    CountingStats st;
    const std::string j = to_json(st);
    BOOST_TEST(j.find_first_of("123456789") == std::string::npos, j);
    BOOST_TEST(st.send_calls == 0u);
    BOOST_TEST(st.errors[EACCES] == 0u);
    BOOST_TEST(st.recv_sizes.calls() == 0u);
}

BOOST_AUTO_TEST_CASE(counting_stats_print_as_json_with_every_member_named) {
    CountingStats st;
    st.send_calls = 3;
    st.bytes_sent = 4096;
    st.errors.add(std::make_error_code(std::errc::permission_denied));
    st.send_sizes.add(5);
    const std::string j = to_json(st);
    BOOST_TEST(j.front() == '{');
    BOOST_TEST(j.back() == '}');
    BOOST_TEST(j.find("\"send_calls\":3") != std::string::npos);
    BOOST_TEST(j.find("\"bytes_sent\":4096") != std::string::npos);
    BOOST_TEST(j.find("\"gso_fallbacks\":0") != std::string::npos);
    BOOST_TEST(j.find("\"errors\":{\"" + std::to_string(EACCES) + "\":1}") != std::string::npos);
    BOOST_TEST(j.find("\"send_sizes\":[0,0,0,1,0,0,0,0,0,0,0,0]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(counting_follows_the_inner_backends_gso_fallbacks) {
    struct WithFallbacks : MockBackend {
        using MockBackend::MockBackend;
        std::size_t n = 0;
        std::size_t fallbacks() const noexcept { return n; }
    };
    Net net;
    Counting<WithFallbacks> c{WithFallbacks(net.net)};
    const std::vector<std::byte> p(10, std::byte{1});
    const Endpoint to = net.b;
    const SendItem item{p.data(), p.size(), &to};
    std::array<std::error_code, 1> errs{};
    c.inner().n = 2;
    c.send(net.tx, std::span<const SendItem>(&item, 1), errs, WaitMode::socket_default);
    c.inner().n = 5;
    c.send(net.tx, std::span<const SendItem>(&item, 1), errs, WaitMode::socket_default);
    BOOST_TEST(c.stats().gso_fallbacks == 5u);
}

BOOST_AUTO_TEST_CASE(fallback_uses_the_first_backend_whose_probe_accepts_the_socket) {
    Net n;
    Fallback<Refusing, MockBackend> f{Refusing(n.net), MockBackend(n.net)};
    BOOST_TEST(f.chosen(n.tx) == 1u);
    const std::vector<std::byte> p(10, std::byte{1});
    BatchSender<Fallback<Refusing, MockBackend>> s{std::move(f)};
    BOOST_TEST(s.batch_send(n.tx, batch_of(p, 3, n.b)).ok());
    BOOST_TEST(n.net.queued(n.rx) == 3u);
}

BOOST_AUTO_TEST_CASE(fallback_with_no_accepting_backend_fails_every_datagram_with_the_reason) {
    Net n;
    BatchSender<Fallback<Refusing>> s{Fallback<Refusing>(Refusing(n.net))};
    const std::vector<std::byte> p(10, std::byte{1});
    const SendResult r = s.batch_send(n.tx, batch_of(p, 2, n.b));
    BOOST_TEST(r.failed + r.unsent == 2u);
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST((r.first_error == std::errc::operation_not_supported));
    BOOST_TEST(n.net.calls() == 0u); // the refused backend was never called
}

#if MMSG_HAS_IO_URING
BOOST_AUTO_TEST_CASE(fallback_prefers_io_uring_for_a_udp_socket_and_skips_it_for_a_non_socket) {
    if (const std::error_code e = IoUringBackend::available()) {
        BOOST_TEST_MESSAGE("io_uring unavailable here (" << e.message() << "): skipped");
        return;
    }
    asio::io_context io;
    auto s = bound_socket(io, v4_loopback());
    Fallback<IoUringBackend, LinuxMmsgBackend, PortableBackend> f;
    BOOST_TEST(f.chosen(s.native_handle()) == 0u);
    DevNull dn;
    BOOST_TEST(f.chosen(dn.fd) == 1u); // not a datagram socket: io_uring's probe refuses it
}
#endif

BOOST_AUTO_TEST_CASE(fault_injecting_applies_the_script_to_real_sockets) {
    asio::io_context io;
    auto tx = bound_socket(io, v4_loopback());
    auto rx = bound_socket(io, v4_loopback());
    const Endpoint to = rx.local_endpoint();
    const Endpoint dead{asio::ip::address_v4::loopback(), 9};
    std::vector<std::vector<std::byte>> payloads;
    for (std::uint32_t i = 0; i < 8; ++i)
        payloads.push_back(numbered(50, 1000 + i));
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> b;
    for (std::size_t i = 0; i < 8; ++i)
        b.emplace_back(payloads[i], i == 5 ? dead : to);

    BatchSender<FaultInjecting<LinuxMmsgBackend>> s;
    s.backend().fail_nth(2, std::make_error_code(std::errc::message_size));
    s.backend().unreachable(dead);
    s.backend().interrupt_next(1);
    s.backend().limit_per_call(3);
    std::vector<std::error_code> status(8);
    const SendResult r = s.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 6u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST((status[2] == std::errc::message_size));
    BOOST_TEST((status[5] == std::errc::network_unreachable));
    BOOST_TEST(s.backend().attempts() == 8u);

    // The six that passed the script really crossed the kernel, in order.
    BatchReceiver<LinuxMmsgBackend> recv;
    std::array<Packet, 6> got{};
    std::error_code ec;
    BOOST_TEST(recv.recv_mmsg_exact(rx, got, ec) == 6u);
    const std::size_t expect[] = {0, 1, 3, 4, 6, 7};
    for (std::size_t i = 0; i < 6; ++i) {
        const auto want = numbered(50, 1000 + static_cast<std::uint32_t>(expect[i]));
        BOOST_TEST((std::vector<std::byte>(got[i].data().begin(), got[i].data().end()) == want));
    }
}

BOOST_AUTO_TEST_CASE(fault_injecting_would_block_counts_only_datagrams_the_kernel_accepted) {
    asio::io_context io;
    auto tx = bound_socket(io, v4_loopback());
    auto rx = bound_socket(io, v4_loopback());
    const Endpoint to = rx.local_endpoint();
    const Endpoint bcast = broadcast();
    const std::vector<std::byte> p(20, std::byte{9});
    // The kernel rejects the broadcast (EACCES): it does not spend the budget of 3.
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> b{
        {p, to}, {p, bcast}, {p, to}, {p, to}, {p, to}};
    BatchSender<FaultInjecting<PortableBackend>> s;
    s.backend().would_block_after(3);
    std::vector<std::error_code> status(5);
    const SendResult r = s.batch_send(tx, b, status);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(r.unsent == 1u);
    BOOST_TEST((status[1] == std::errc::permission_denied));
    BOOST_TEST((status[4] == std::errc::operation_would_block));
}

BOOST_AUTO_TEST_CASE(fault_injecting_interrupts_and_limits_receives) {
    Net n;
    const std::vector<std::byte> p(10, std::byte{1});
    BatchSender<MockBackend> s{MockBackend(n.net)};
    BOOST_TEST(s.batch_send(n.tx, batch_of(p, 5, n.b)).ok());
    FaultInjecting<MockBackend> f{MockBackend(n.net)};
    f.interrupt_next(1);
    f.limit_per_call(2);
    BatchReceiver<FaultInjecting<MockBackend>> r{std::move(f)};
    std::array<BasicPacket<16>, 8> got{};
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(n.rx, got, ec) == 2u); // EINTR retried, then at most 2
    BOOST_TEST(!ec);
    BOOST_TEST(r.backend().calls() == 2u);
}

BOOST_AUTO_TEST_CASE(counting_takes_trains_whole_and_counts_them_in_datagrams) {
    Net n;
    const Endpoint bad{asio::ip::address_v4::loopback(), 6002};
    n.net.unreachable(bad, std::make_error_code(std::errc::permission_denied));
    Trains ok({{4, 300, 100}, {1, 0, 0}, {3, 64, 64}}, n.b);
    Trains refused({{2, 50, 50}}, bad);
    const std::vector<SendTrain> trains{ok.trains[0], refused.trains[0], ok.trains[1], ok.trains[2]};
    BatchSender<Counting<TrainSpy>> s{Counting<TrainSpy>(TrainSpy(n.net))};
    std::vector<std::error_code> status(10);
    const SendResult r = s.send_trains(n.tx, trains, status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST((status[4] == std::errc::permission_denied));
    BOOST_TEST((status[5] == std::errc::permission_denied));
    const CountingStats& st = s.backend().stats();
    BOOST_TEST(st.datagrams_sent == 8u);
    BOOST_TEST(st.datagrams_failed == 2u);
    BOOST_TEST(st.bytes_sent == 1000u + 0u + 192u);
    BOOST_TEST(st.errors[EACCES] == 2u);
    BOOST_TEST(st.send_sizes.calls() == st.send_calls);
    BOOST_TEST(s.backend().inner().train_calls == st.send_calls);
    BOOST_TEST(s.backend().inner().item_calls == 0u);
    BOOST_TEST(n.net.queued(n.rx) == 8u);
}

BOOST_AUTO_TEST_CASE(fault_injecting_takes_trains_whole_and_scripts_faults_inside_them) {
    Net n;
    Trains t({{10, 100, 100}}, n.b);
    BatchSender<FaultInjecting<TrainSpy>> s{FaultInjecting<TrainSpy>(TrainSpy(n.net))};
    s.backend().fail_nth(5, std::make_error_code(std::errc::message_size));
    std::vector<std::error_code> status(10);
    const SendResult r = s.send_trains(n.tx, t.trains, status);
    BOOST_TEST(r.sent == 9u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST((status[5] == std::errc::message_size));
    BOOST_TEST(s.backend().attempts() == 10u);
    BOOST_TEST(n.net.queued(n.rx) == 9u);

    s.backend().would_block_after(3);
    const SendResult blocked = s.send_trains(n.tx, t.trains, status);
    BOOST_TEST(blocked.sent == 3u);
    BOOST_TEST(blocked.unsent == 7u);
    BOOST_TEST(blocked.resume_index() == 3u);
    BOOST_TEST(n.net.queued(n.rx) == 12u);
    BOOST_TEST(s.backend().inner().train_calls >= 2u);
    BOOST_TEST(s.backend().inner().item_calls == 0u);
}

BOOST_AUTO_TEST_CASE(fallback_gives_trains_whole_to_a_backend_that_takes_them_and_one_by_one_to_others) {
    Net n;
    Trains t({{5, 40, 40}, {3, 10, 4}}, n.b);
    BatchSender<Fallback<Refusing, TrainSpy>> whole{Fallback<Refusing, TrainSpy>(Refusing(n.net), TrainSpy(n.net))};
    BOOST_TEST(whole.send_trains(n.tx, t.trains).ok());
    BOOST_TEST(whole.backend().get<1>().train_calls == 1u);
    BOOST_TEST(whole.backend().get<1>().item_calls == 0u);
    BOOST_TEST(n.net.queued(n.rx) == 8u);

    // MockBackend serves the socket: the same datagrams as SendItems.
    using F = Fallback<Refusing, MockBackend, TrainSpy>;
    static_assert(TrainSendBackend<F>);
    BatchSender<F> items{F(Refusing(n.net), MockBackend(n.net), TrainSpy(n.net))};
    std::vector<std::error_code> status(8, std::make_error_code(std::errc::io_error));
    BOOST_TEST(items.send_trains(n.tx, t.trains, status).ok());
    BOOST_TEST(items.backend().chosen(n.tx) == 1u);
    BOOST_TEST(items.backend().get<2>().train_calls == 0u);
    BOOST_TEST(n.net.queued(n.rx) == 16u);
    for (const auto& e : status) BOOST_TEST(!e);

    // Called directly with more datagrams than one call of SendItems takes: a prefix.
    const std::vector<std::byte> many(1500, std::byte{3});
    const SendTrain big{many, 1, &n.b, nullptr};
    std::vector<std::error_code> errs(1500);
    const SendOutcome o = items.backend().send_trains(n.tx, std::span(&big, 1), errs, WaitMode::never);
    BOOST_TEST(o.done == max_send_batch);
    BOOST_TEST(!o.error);
}
