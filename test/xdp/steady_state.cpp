// No heap allocation per call in steady state (DESIGN 3) for XdpBackend: a counting global
// operator new watches BatchSender<XdpBackend> and BatchReceiver<XdpBackend> over the veth
// (frames out of one ring, into the other), after a warm-up round has made the per-socket
// state and asked the kernel for the route and neighbour.
#define BOOST_TEST_MODULE xdp_steady_state // before xdp_world.hpp, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>

#include "xdp_world.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

namespace {
std::atomic<std::size_t> allocations{0};
void* counted(std::size_t n) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
} // namespace

// Every global operator new of the program comes here (the aligned forms are not used by
// what is measured; they keep the default).
void* operator new(std::size_t n) {
    if (void* p = counted(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    if (void* p = counted(n)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace mmsg;
using namespace mmsg::test;

BOOST_AUTO_TEST_CASE(sending_and_receiving_through_the_rings_allocates_nothing_after_warm_up) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qa = require_queue(*w, true);
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    udp::socket& sa = sides.sa; // named, not bound: a lambda captures them (clang 14)
    udp::socket& sb = sides.sb;
    std::vector<std::vector<std::byte>> payloads;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    for (std::uint32_t i = 0; i < 200; ++i) payloads.push_back(testing::numbered(64 + i, i));
    for (const auto& p : payloads) batch.emplace_back(p, sb.local_endpoint());
    std::vector<Endpoint> dests(200, sb.local_endpoint());
    std::vector<std::error_code> status(200);
    std::vector<BasicPacket<512>> got(400);
    BatchSender<XdpBackend> sender{XdpBackend(qa)};
    BatchReceiver<XdpBackend> receiver{XdpBackend(qb)};
    BatchSender<XdpBackend> multi{XdpBackend(qa)};
    auto round = [&] {
        bool ok = sender.batch_send(sa, batch, status).ok();
        ok = multi.multi_target_send(sa, std::span<const std::byte>(payloads[7]), dests, status).ok() && ok;
        ok = receiver.recv_mmsg_exact(sb, got, ec) == got.size() && ok;
        return ok;
    };
    receiver.try_recv_mmsg(sb, std::span(got).first(1), ec); // sb receives through the ring
    BOOST_REQUIRE(round());                                  // warm-up
    const std::size_t before = allocations.load();
    bool ok = true;
    for (int i = 0; i < 20; ++i) ok = round() && ok;
    const std::size_t made = allocations.load() - before;
    BOOST_TEST(ok);
    BOOST_TEST(made == 0u, made << " allocations in 20 rounds of 400 datagrams");
    BOOST_TEST(qb->statistics().frames_received == 21u * 400u);
}
