// BatchReceiver's algorithm, deterministically: backend calls counted on MockBackend, and
// kept errors, clamping and silence on tiny scripted backends the mock cannot express. (What
// any backend must do on receive is the conformance kit's, test/compose/conformance*.cpp.)
#include <mmsg/batch_receiver.hpp>
#include <mmsg/packet_block.hpp>

#include <mmsg/testing/mock_network.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

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
using mmsg::testing::numbered;
using mmsg::testing::v4_loopback;

namespace {

std::error_code err(int e) { return {e, std::system_category()}; }

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

BOOST_AUTO_TEST_CASE(a_receive_is_one_backend_call_and_recv_mmsg_exact_loops_over_them) {
    MockNetwork net;
    const int rx = net.open(v4_loopback());
    const Endpoint from = v4_loopback(4242);
    for (std::uint32_t i = 0; i < 150; ++i) net.inject(rx, from, numbered(30, i));
    BatchReceiver<MockBackend> receiver{MockBackend(net)};
    std::vector<BasicPacket<64>> p(150);
    BOOST_TEST(receiver.recv_mmsg(rx, p) == num_rcvmmsgs);
    BOOST_TEST(net.calls() == 1u);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(p).subspan(num_rcvmmsgs)) == 150 - num_rcvmmsgs);
    BOOST_TEST(net.calls() == 3u); // 64, then 64 + 22
    std::vector<Packet> none;
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(net.calls() == 3u); // an empty range: no call
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

namespace {
//! A receive backend that records the slots of its last call.
struct SlotsSeen {
    std::vector<RecvSlot> last;
    std::size_t recv(int, std::span<const RecvSlot> slots, WaitMode, std::error_code&) {
        last.assign(slots.begin(), slots.end());
        return 1;
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(every_receive_hands_the_backend_the_slots_of_its_own_packets) {
    // The receiver lays slots anew only when the packets differ from the last call's: other
    // packets, fewer of them, a block or a view of part of one must each get their own.
    BatchReceiver<SlotsSeen> r;
    std::vector<Packet> a(8), b(8);
    BasicPacketBlock<1232> block(8);
    std::vector<BasicPacket<512>> small(8);
    std::error_code ec;
    auto expect_packets = [&](auto& packets, std::size_t n) {
        BOOST_TEST_REQUIRE(r.backend().last.size() == n);
        for (std::size_t i = 0; i < n; ++i) {
            BOOST_TEST(r.backend().last[i].data == packets[i].buffer.data());
            BOOST_TEST(r.backend().last[i].meta == &packets[i].meta);
            BOOST_TEST(r.backend().last[i].capacity == packets[i].buffer.size());
        }
    };
    r.recv_mmsg(3, a, ec);
    expect_packets(a, 8);
    r.recv_mmsg(3, b, ec);
    expect_packets(b, 8);
    r.recv_mmsg(3, a, ec);
    expect_packets(a, 8);
    r.recv_mmsg(3, std::span(a).first(5), ec);
    expect_packets(a, 5);
    r.recv_mmsg(3, std::span(a).subspan(2), ec);
    BOOST_TEST(r.backend().last[0].data == a[2].buffer.data());
    r.recv_mmsg(3, block, ec);
    expect_packets(block, 8);
    r.recv_mmsg(3, block.view().subspan(3), ec);
    BOOST_TEST_REQUIRE(r.backend().last.size() == 5u);
    BOOST_TEST(r.backend().last[0].data == block[3].buffer.data());
    BOOST_TEST(r.backend().last[4].meta == &block[7].meta);
    r.recv_mmsg(3, small, ec);
    expect_packets(small, 8);
}
