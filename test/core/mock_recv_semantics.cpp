// BatchReceiver semantics on MockBackend and on tiny scripted backends: the algorithm,
// deterministically.
#include <mmsg/batch_receiver.hpp>

#include <mmsg/testing/mock_network.hpp>

#include "../support/datagrams.hpp"
#include "../support/loopback.hpp"

#define BOOST_TEST_MODULE core_mock_recv_semantics
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using namespace mmsg;
using mmsg::test::numbered;
using mmsg::test::same_bytes;
using mmsg::test::v4_loopback;
using mmsg::test::v6_loopback;
using Bytes = std::vector<std::byte>;

namespace {

std::error_code err(int e) { return {e, std::system_category()}; }

struct Fixture {
    MockNetwork net;
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    int rx = net.open(v4_loopback());
    Endpoint from{boost::asio::ip::address_v4::loopback(), 4242};
    std::vector<Bytes> sent;

    //! Queues datagrams numbered [first, first + n) of `size` bytes on rx, from `from`.
    void inject(std::size_t n, std::size_t size, std::uint32_t first = 0) {
        for (std::uint32_t i = first; i < first + n; ++i) {
            sent.push_back(numbered(size, i));
            net.inject(rx, from, sent.back());
        }
    }
};

template <std::size_t N>
void check_packets(std::span<const BasicPacket<N>> got, std::span<const Bytes> want, const Endpoint& src) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(same_bytes(got[i].data(), want[i]), "packet " << i << " differs");
        BOOST_TEST(got[i].meta.addr == src);
        BOOST_TEST((got[i].meta.flags == PacketFlags::none));
    }
}

//! A receive backend scripted call by call: each call fills `count` slots with a 1-byte
//! datagram and sets `error`. Once the script is done it reports would-block.
struct ScriptedRecv {
    struct Step {
        std::size_t count;
        std::error_code error{};
    };
    std::vector<Step> steps;
    std::vector<int> fds{}; // the descriptor of every call
    std::size_t recv(int fd, std::span<const RecvSlot> slots, WaitMode, std::error_code& ec) {
        fds.push_back(fd);
        if (fds.size() > steps.size()) {
            ec = std::make_error_code(std::errc::operation_would_block);
            return 0;
        }
        const Step& s = steps[fds.size() - 1];
        for (std::size_t i = 0; i < s.count && i < slots.size(); ++i) {
            slots[i].data[0] = std::byte{static_cast<unsigned char>(fds.size())};
            *slots[i].meta = Meta{1, Endpoint{}, PacketFlags::none};
        }
        ec = s.error;
        return s.count;
    }
};

//! A backend that returns nothing and no error, forever.
struct SilentRecv {
    std::size_t calls = 0;
    std::size_t recv(int, std::span<const RecvSlot>, WaitMode, std::error_code& ec) {
        ++calls;
        ec.clear();
        return 0;
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(an_empty_mock_socket_is_would_block_at_once, Fixture) {
    std::vector<Packet> p(8);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(net.calls() == 1u);
    BOOST_CHECK_THROW(receiver.recv_mmsg(rx, p), std::system_error);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
}

BOOST_FIXTURE_TEST_CASE(an_empty_packet_range_makes_no_call, Fixture) {
    inject(3, 10);
    std::vector<Packet> none;
    std::error_code ec = err(EIO);
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, none, ec) == 0u);
    BOOST_TEST(!ec);
    BOOST_TEST(net.calls() == 0u);
    BOOST_TEST(net.queued(rx) == 3u);
}

BOOST_FIXTURE_TEST_CASE(one_call_takes_everything_queued_up_to_num_rcvmmsgs, Fixture) {
    inject(100, 50);
    std::vector<Packet> p(100);
    BOOST_TEST(receiver.recv_mmsg(rx, p) == num_rcvmmsgs);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(net.queued(rx) == 100 - num_rcvmmsgs);
    BOOST_TEST(receiver.recv_mmsg(rx, std::span(p).subspan(num_rcvmmsgs)) == 100 - num_rcvmmsgs);
    BOOST_TEST(net.calls() == 2u);
    check_packets<packet_data_size>(p, sent, from);
}

BOOST_FIXTURE_TEST_CASE(limit_per_call_applies_to_receives, Fixture) {
    net.limit_per_call(5);
    inject(12, 20);
    std::vector<Packet> p(12);
    BOOST_TEST(receiver.recv_mmsg(rx, p) == 5u);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(p).subspan(5)) == 7u);
    BOOST_TEST(net.calls() == 3u); // 5 + 2
    check_packets<packet_data_size>(p, sent, from);
}

BOOST_FIXTURE_TEST_CASE(recv_mmsg_exact_fills_everything_over_several_calls, Fixture) {
    inject(150, 30);
    std::vector<BasicPacket<64>> p(150);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg_exact(rx, p, ec) == 150u);
    BOOST_TEST(!ec);
    BOOST_TEST(net.calls() == 3u); // 64 + 64 + 22
    check_packets<64>(p, sent, from);

    // Short of data: returns what it got, with the error.
    inject(10, 30, 1000);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, p, ec) == 10u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    check_packets<64>(std::span(p).first(10), std::span(sent).subspan(150), from);
    BOOST_CHECK_THROW(receiver.recv_mmsg_exact(rx, p), std::system_error);
}

BOOST_FIXTURE_TEST_CASE(eintr_is_retried_on_receive, Fixture) {
    inject(3, 10);
    net.interrupt_next(2);
    std::vector<Packet> p(8);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 3u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(net.calls() == 3u);
    check_packets<packet_data_size>(std::span(p).first(3), sent, from);

    // On an empty socket the interruption is retried, then would-block is reported.
    net.interrupt_next(1);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
}

BOOST_FIXTURE_TEST_CASE(meta_is_assigned_anew_with_source_size_and_truncation, Fixture) {
    const Endpoint from6{boost::asio::ip::address_v6::loopback(), 777};
    const Bytes longer = numbered(100, 1), fits = numbered(10, 2);
    net.inject(rx, from6, longer);
    net.inject(rx, from, fits);
    std::array<BasicPacket<16>, 2> p;
    for (auto& x : p) x.meta = Meta{999, v6_loopback(1), PacketFlags::truncated};
    BOOST_TEST(receiver.recv_mmsg(rx, p) == 2u);
    BOOST_TEST(p[0].meta.size == 16u);
    BOOST_TEST(has_flags(p[0].meta.flags, PacketFlags::truncated));
    BOOST_TEST(same_bytes(p[0].data(), std::span(longer).first(16)));
    BOOST_TEST(p[0].meta.addr == from6);
    BOOST_TEST(p[1].meta.size == 10u);
    BOOST_TEST((p[1].meta.flags == PacketFlags::none));
    BOOST_TEST(same_bytes(p[1].data(), fits));
    BOOST_TEST(p[1].meta.addr == from);
}

BOOST_AUTO_TEST_CASE(an_error_after_some_datagrams_is_reported_by_the_next_call) {
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(ECONNREFUSED)}, {2, {}}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 3u);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::connection_refused);
    BOOST_TEST(r.backend().fds.size() == 1u); // reported without a call
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 2u);
    BOOST_TEST(!ec);
    BOOST_TEST(r.backend().fds.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_kept_error_belongs_to_its_socket) {
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(ECONNREFUSED)}, {2, {}}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    int seven = 7, eight = 8;
    SocketState s7, s8;
    BOOST_TEST(r.recv_mmsg(with_state(seven, s7), p, ec) == 3u);
    BOOST_TEST(r.recv_mmsg(with_state(eight, s8), p, ec) == 2u); // another socket: not its error
    BOOST_TEST(!ec);
    BOOST_TEST(r.recv_mmsg(with_state(seven, s7), p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::connection_refused);
}

BOOST_AUTO_TEST_CASE(a_plain_descriptor_keeps_its_error_only_while_the_receiver_stays_on_it) {
    // A plain descriptor carries no state: the receiver keeps one for the socket it served
    // last, so moving to another socket forgets the first one's error (it is never reported
    // to the wrong socket).
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(ECONNREFUSED)}, {2, {}}, {1, {}}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 3u);
    BOOST_TEST(r.recv_mmsg(8, p, ec) == 2u);
    BOOST_TEST(!ec);
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 1u);
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(a_kept_error_dies_with_its_socket_when_the_number_is_reused) {
    // Real sockets (for their SO_COOKIE), scripted receives.
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(ECONNREFUSED)}, {2, {}}, {1, err(EIO)}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    const int first = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(first >= 0);
    BOOST_TEST(r.recv_mmsg(first, p, ec) == 3u); // ECONNREFUSED kept for `first`
    ::close(first);
    const int second = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(second == first); // the lowest free number: the same one
    BOOST_TEST(r.recv_mmsg(second, p, ec) == 2u); // a new socket: not its error
    BOOST_TEST(!ec, ec.message());
    // An error kept for `second` is still reported to `second`.
    BOOST_TEST(r.recv_mmsg(second, p, ec) == 1u);
    BOOST_TEST(r.recv_mmsg(second, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::io_error);
    ::close(second);
}

BOOST_AUTO_TEST_CASE(would_block_or_eintr_after_some_datagrams_is_not_kept) {
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(EAGAIN)}, {2, err(EINTR)}, {1, {}}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 3u);
    BOOST_TEST(!ec);
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 2u);
    BOOST_TEST(!ec);
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 1u);
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(recv_mmsg_exact_stops_at_a_kept_error_with_the_count_so_far) {
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{3, err(ECONNREFUSED)}, {5, {}}}});
    std::vector<BasicPacket<4>> p(8);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg_exact(7, p, ec) == 3u);
    MMSG_CHECK_ERRC(ec, std::errc::connection_refused);
    BOOST_TEST(r.recv_mmsg_exact(7, std::span(p).subspan(3), ec) == 5u);
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(a_backend_that_returns_nothing_and_no_error_does_not_spin) {
    BatchReceiver<SilentRecv> r;
    std::vector<Packet> p(4);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(3, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(r.recv_mmsg_exact(3, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST(r.backend().calls == 2u);
}

BOOST_AUTO_TEST_CASE(a_backend_that_overreports_is_clamped_to_the_slots_given) {
    BatchReceiver<ScriptedRecv> r(ScriptedRecv{{{50, {}}}});
    std::vector<BasicPacket<4>> p(5);
    std::error_code ec;
    BOOST_TEST(r.recv_mmsg(7, p, ec) == 5u);
    BOOST_TEST(!ec);
}
