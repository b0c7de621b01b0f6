// No heap allocation per call in steady state (DESIGN 3): a counting global operator new
// watches BatchSender / BatchReceiver calls on every real backend (test/support/backends.hpp)
// and the free functions, on real loopback sockets, after one warm-up call has allocated the
// reusable arrays; send_trains and recv_coalesced on the GSO backend and its compositions.
#include <mmsg/batch_sender.hpp>

#include <mmsg/batch_receiver.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/send_train.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include "../support/backends.hpp"
#include "../support/counting_new.hpp"

#define BOOST_TEST_MODULE backend_steady_state_allocation
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <span>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

// The counting global operator new (mmsg::test::allocations).
using mmsg::test::allocations;

void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

// ---- the tests -----------------------------------------------------------------------------

using namespace mmsg;
using mmsg::testing::numbered;
using Bytes = std::vector<std::byte>;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

//! Allocations made by f().
template <class F>
std::size_t allocations_in(F&& f) {
    const std::size_t before = allocations.load();
    f();
    return allocations.load() - before;
}

/*! Warms up with two calls of `round` (where the reusable arrays are allocated: two, as a
    backend may set a socket up on its first receive, LinuxGsoBackend turning GRO on, and
    meet what that brings, coalesced datagrams, only later), then checks that five more
    allocate nothing, and that each round's `per_round` datagrams were sent and received.
*/
template <class Round>
void check_steady(Round& round, std::size_t& sent, std::size_t& received, std::size_t per_round) {
    round();
    round();
    BOOST_TEST(received == sent);
    received = sent = 0;
    std::size_t steady = 0;
    for (int i = 0; i < 5; ++i) steady += allocations_in(round);
    BOOST_TEST(steady == 0u);
    BOOST_TEST(sent == 5 * per_round);
    BOOST_TEST(received == sent);
}

struct Loopback : mmsg::testing::LoopbackPair {
    std::vector<Bytes> data;
    Batch batch;             // n datagrams to rx, #3 to broadcast (fails with EACCES)
    std::vector<Endpoint> dests;
    std::vector<std::error_code> status;
    std::vector<BasicPacket<64>> packets;

    explicit Loopback(std::size_t n) : LoopbackPair(16 << 20) {
        for (std::uint32_t i = 0; i < n; ++i) data.push_back(numbered(32, i));
        for (std::size_t i = 0; i < n; ++i) {
            batch.emplace_back(data[i], i == 3 ? mmsg::testing::broadcast() : rx_ep);
            dests.push_back(i == 3 ? mmsg::testing::broadcast() : rx_ep);
        }
        status.resize(n);
        packets.resize(2 * n);
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(the_counter_sees_allocations) {
    BOOST_TEST(allocations_in([] { delete new int(1); }) == 1u);
    BOOST_TEST(allocations_in([] { Bytes v(100); }) == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sender_and_receiver_calls_do_not_allocate_after_warm_up, Backend,
                              mmsg::test::RealBackends) {
    if (const std::error_code e = mmsg::test::refusal_here<Backend>()) {
        BOOST_TEST_MESSAGE("refused here (" << e.message() << "): skipped");
        return;
    }
    for (std::size_t n : {std::size_t{40}, std::size_t{1500}}) { // one chunk, and two
        BOOST_TEST_CONTEXT("batch of " << n) {
            Loopback t(n);
            BatchSender<Backend> sender;
            BatchReceiver<Backend> receiver;
            std::size_t received = 0, sent = 0;
            auto round = [&] {
                sent += sender.batch_send(t.tx, t.batch).sent;
                sent += sender.batch_send(t.tx, t.batch, t.status).sent;
                sent += sender.multi_target_send(t.tx, std::span<const std::byte>(t.data[0]), t.dests).sent;
                sent += sender.multi_target_send(t.tx.native_handle(), std::span<const std::byte>(t.data[0]),
                                                 t.dests, t.status).sent;
                std::error_code ec;
                for (int k = 0; k < 4; ++k) {
                    received += receiver.recv_mmsg(t.rx, std::span(t.packets).first(1), ec); // a single one
                    received += receiver.recv_mmsg_exact(t.rx, std::span(t.packets).first(n - 3), ec);
                    received += receiver.recv_mmsg(t.rx.native_handle(), std::span(t.packets).first(1), ec);
                }
            };
            check_steady(round, sent, received, 4 * (n - 1));
            BOOST_TEST((t.status[3] == std::errc::permission_denied)); // the failure path ran too
        }
    }
}

BOOST_AUTO_TEST_CASE(free_functions_do_not_allocate_after_warm_up) {
    Loopback t(100);
    std::size_t received = 0, sent = 0;
    auto round = [&] {
        sent += mmsg::batch_send(t.tx, t.batch).sent;
        sent += mmsg::batch_send(t.tx.native_handle(), t.batch, t.status).sent;
        sent += mmsg::multi_target_send(t.tx, t.data[1], t.dests).sent;
        sent += mmsg::multi_target_send(t.tx, t.data[1], t.dests, t.status).sent;
        std::error_code ec;
        received += mmsg::recv_mmsg(t.rx, std::span(t.packets).first(10), ec);
        received += mmsg::recv_mmsg(t.rx, std::span(t.packets).first(10));
        received += mmsg::recv_mmsg_exact(t.rx, std::span(t.packets).first(176), ec);
        received += mmsg::recv_mmsg_exact(t.rx.native_handle(), std::span(t.packets).first(200), ec);
    };
    check_steady(round, sent, received, 4 * 99u);
}

namespace {
//! Backends and compositions that take trains whole or receive coalesced datagrams, and a
//! Fallback that serves the socket with a backend that does neither (its one-by-one forms).
using TrainBackends = std::tuple<LinuxGsoBackend, LinuxMmsgBackend, Counting<LinuxGsoBackend>,
                                 FaultInjecting<LinuxGsoBackend>,
                                 Fallback<LinuxGsoBackend, LinuxMmsgBackend>,
                                 Fallback<LinuxMmsgBackend, LinuxGsoBackend>>;
} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(trains_and_coalesced_receives_do_not_allocate_after_warm_up, Backend,
                              TrainBackends) {
    for (std::size_t n : {std::size_t{40}, std::size_t{1500}}) { // one chunk, and two
        BOOST_TEST_CONTEXT("trains of " << n << " datagrams") {
            mmsg::testing::LoopbackPair t(16 << 20);
            Bytes buffer;
            for (std::uint32_t i = 0; i < n; ++i) {
                const Bytes d = numbered(32, i);
                buffer.insert(buffer.end(), d.begin(), d.end());
            }
            const Endpoint bcast = mmsg::testing::broadcast();
            const SendTrain trains[] = {{buffer, 32, &t.rx_ep, nullptr},
                                        {std::span<const std::byte>(buffer).first(32), 0, &bcast, nullptr}};
            std::vector<std::error_code> status(n + 1);
            auto packets = std::make_unique<CoalescedPacket[]>(8);
            BatchSender<Backend> sender;
            BatchReceiver<Backend> receiver;
            std::size_t received = 0, sent = 0;
            auto round = [&] {
                sent += sender.send_trains(t.tx, trains).sent;
                sent += sender.send_trains(t.tx.native_handle(), trains, status).sent;
                std::error_code ec;
                for (std::size_t k = 0; k < n && received < sent; ++k) { // n calls of 8 packets hold the 2n
                    const std::size_t got =
                        receiver.recv_coalesced(t.rx, std::span(packets.get(), 8), ec);
                    if (got == 0) break; // a timeout: check_steady reports the shortfall
                    for (std::size_t i = 0; i < got; ++i) received += packets[i].segments().size();
                }
            };
            check_steady(round, sent, received, 2 * n);
            BOOST_TEST((status[n] == std::errc::permission_denied)); // the failure path ran too
        }
    }
}
