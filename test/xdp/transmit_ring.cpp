// XdpBackend's transmit loop (detail::place_frames) on a ring of the test's own that holds
// its frames until the test completes them. The kernel cannot be made to do that on a veth
// (it completes every frame within the kick), so a full ring and frames in flight, the
// back-pressure they are, and the resume after it are checked here, through BatchSender's
// accounting; the veth tests check the same loop against the kernel.
#include <mmsg/detail/xdp_transmit.hpp>

#include <mmsg/batch_sender.hpp>
#include <mmsg/send_result.hpp>

#define BOOST_TEST_MODULE xdp_transmit_ring
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <set>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using detail::FrameRoute;

namespace {

// `frames` frames of 64 bytes and a ring of `slots` descriptors. kick() takes every
// submitted descriptor ("sent", in order); the frames come back (completion) only when
// the test calls complete().
struct FakeRing {
    std::size_t slots;
    std::vector<std::byte> memory;
    std::vector<std::uint64_t> free;
    std::vector<xdp_desc> ring;
    std::size_t reserved = 0, submitted = 0;
    std::vector<std::vector<std::byte>> sent; // frame bytes in the order the kernel took them
    std::deque<std::uint64_t> in_flight;
    std::vector<std::uint64_t> completed;
    std::error_code kick_error{};
    std::size_t kicks = 0;

    FakeRing(std::size_t frames, std::size_t ring_slots) : slots(ring_slots), memory(frames * 64), ring(ring_slots) {
        for (std::size_t i = 0; i < frames; ++i) free.push_back(i * 64);
    }
    void reclaim() {
        for (std::uint64_t a : completed) free.push_back(a);
        completed.clear();
    }
    bool reserve(std::uint32_t& at) {
        if (free.empty() || reserved - taken() >= slots) return false;
        at = static_cast<std::uint32_t>(reserved++);
        return true;
    }
    std::uint64_t take_frame() {
        const std::uint64_t a = free.back();
        free.pop_back();
        return a;
    }
    xdp_desc& descriptor(std::uint32_t at) { return ring[at % slots]; }
    std::byte* frame(std::uint64_t addr) { return memory.data() + addr; }
    void submit(std::uint32_t n) { submitted += n; }
    std::error_code kick() {
        ++kicks;
        if (kick_error) return kick_error;
        while (taken() < submitted) {
            const xdp_desc& d = ring[taken() % slots];
            sent.emplace_back(memory.begin() + static_cast<long>(d.addr), memory.begin() + static_cast<long>(d.addr + d.len));
            in_flight.push_back(d.addr);
        }
        return {};
    }
    std::size_t taken() const { return sent.size(); }
    void complete(std::size_t n) {
        for (; n > 0 && !in_flight.empty(); --n) {
            completed.push_back(in_flight.front());
            in_flight.pop_front();
        }
    }
};

// A send backend on the fake ring, as XdpBackend drives it: datagram i's frame is its
// payload (at most 64 bytes); routes come from a script (frame unless listed).
struct RingBackend {
    FakeRing* ring;
    std::vector<std::pair<std::size_t, std::error_code>> failing{}; // by the payload's first byte
    std::set<std::size_t> kernel_bound{};                           // by the payload's first byte
    std::size_t waits = 0;
    std::size_t completes_on_wait = 0; // frames the kernel finishes while the sender waits
    std::vector<std::vector<std::byte>> through_kernel{};

    SendOutcome send(int, std::span<const SendItem> items, std::span<std::error_code> errors, WaitMode mode) {
        auto tag = [&](std::size_t i) { return std::to_integer<std::size_t>(items[i].data[0]); };
        auto route = [&](std::size_t i, std::error_code& ec) {
            for (const auto& [t, e] : failing)
                if (t == tag(i)) return ec = e, FrameRoute::failed;
            return kernel_bound.count(tag(i)) ? FrameRoute::kernel : FrameRoute::frame;
        };
        auto write = [&](std::size_t i, std::byte* f) {
            std::memcpy(f, items[i].data, items[i].size);
            return items[i].size;
        };
        auto wait = [&](std::uint32_t& at) {
            if (completes_on_wait == 0) return false;
            ++waits;
            ring->complete(completes_on_wait);
            ring->reclaim();
            return ring->reserve(at);
        };
        const detail::Placed p = detail::place_frames(*ring, items, errors, route, write, mode == WaitMode::socket_default, wait);
        if (p.kernel_next && p.out.done == 0) { // the kernel's run: one at a time here
            through_kernel.emplace_back(items[0].data, items[0].data + items[0].size);
            errors[0].clear();
            return {1, {}};
        }
        return p.out;
    }
};

struct Datagrams {
    std::vector<std::vector<std::byte>> bytes;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    explicit Datagrams(std::size_t n) {
        const Endpoint to(boost::asio::ip::make_address("198.18.0.2"), 9);
        for (std::size_t i = 0; i < n; ++i) {
            std::vector<std::byte> b(8 + i % 50);
            for (std::size_t k = 0; k < b.size(); ++k) b[k] = static_cast<std::byte>(k == 0 ? i : i * 3 + k);
            bytes.push_back(std::move(b));
        }
        for (const auto& b : bytes) batch.emplace_back(std::span<const std::byte>(b), to);
    }
    auto from(std::size_t first) const { return std::span(batch).subspan(first); }
};

} // namespace

BOOST_AUTO_TEST_CASE(frames_in_flight_are_back_pressure_the_rest_unsent_and_resumed) {
    FakeRing ring(8, 16);
    BatchSender<RingBackend> sender{RingBackend{&ring}};
    const Datagrams d(20);
    std::vector<std::error_code> status(20);
    // Non-blocking: 8 frames, then none comes back: the rest is unsent, a suffix.
    SendResult r = sender.try_batch_send(0, d.batch, status);
    BOOST_TEST(r.sent == 8u);
    BOOST_TEST(r.unsent == 12u);
    BOOST_TEST(r.failed == 0u);
    for (std::size_t i = 0; i < 20; ++i)
        BOOST_TEST((i < 8 ? !status[i] : status[i] == std::errc::operation_would_block), "datagram " << i);
    BOOST_TEST(ring.taken() == 8u); // every frame reported sent was given to the kernel
    // Frames come back; the sender resumes from the first unsent and nothing is sent twice.
    std::size_t next = r.sent;
    while (next < 20) {
        ring.complete(5);
        r = sender.try_batch_send(0, d.from(next), std::span(status).subspan(next));
        BOOST_TEST(r.sent > 0u);
        BOOST_TEST(r.sent + r.unsent == 20 - next);
        next += r.sent;
    }
    BOOST_REQUIRE(ring.taken() == 20u);
    for (std::size_t i = 0; i < 20; ++i) BOOST_TEST((ring.sent[i] == d.bytes[i]), "frame " << i);
}

BOOST_AUTO_TEST_CASE(a_blocking_send_waits_for_frames_instead_of_leaving_datagrams_unsent) {
    FakeRing ring(8, 8);
    BatchSender<RingBackend> sender{RingBackend{&ring}};
    sender.backend().completes_on_wait = 3;
    const Datagrams d(50);
    const SendResult r = sender.batch_send(0, d.batch);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 50u);
    BOOST_TEST(sender.backend().waits >= 14u); // 42 datagrams past the first 8 frames, 3 per wait
    BOOST_REQUIRE(ring.taken() == 50u);
    for (std::size_t i = 0; i < 50; ++i) BOOST_TEST((ring.sent[i] == d.bytes[i]), "frame " << i);
    // A wait that gets nothing (the socket's timeout): the rest is unsent, as for a kernel socket.
    FakeRing stuck(4, 8);
    BatchSender<RingBackend> blocked{RingBackend{&stuck}};
    const SendResult s = blocked.batch_send(0, d.batch);
    BOOST_TEST(s.sent == 4u);
    BOOST_TEST(s.unsent == 46u);
}

BOOST_AUTO_TEST_CASE(a_failed_datagram_takes_no_frame_and_the_batch_goes_on) {
    FakeRing ring(4, 4);
    BatchSender<RingBackend> sender{RingBackend{&ring}};
    sender.backend().failing = {{1, std::make_error_code(std::errc::host_unreachable)},
                                {2, std::make_error_code(std::errc::network_unreachable)},
                                {3, std::make_error_code(std::errc::host_unreachable)}};
    const Datagrams d(7);
    std::vector<std::error_code> status(7);
    const SendResult r = sender.try_batch_send(0, d.batch, status);
    // 0, 4, 5, 6 take the four frames; 1..3 failed alone, without one.
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.failed == 3u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST((status[1] == std::errc::host_unreachable));
    BOOST_TEST((status[2] == std::errc::network_unreachable));
    BOOST_TEST((r.first_error == std::errc::host_unreachable));
    BOOST_REQUIRE(ring.taken() == 4u);
    BOOST_TEST((ring.sent[1] == d.bytes[4]));
}

BOOST_AUTO_TEST_CASE(a_fatal_error_stops_after_its_datagram_and_a_dead_socket_fails_its_frames) {
    FakeRing ring(16, 16);
    BatchSender<RingBackend> sender{RingBackend{&ring}};
    sender.backend().failing = {{2, std::make_error_code(std::errc::destination_address_required)}};
    const Datagrams d(6);
    std::vector<std::error_code> status(6);
    SendResult r = sender.try_batch_send(0, d.batch, status);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(ring.taken() == 2u);
    // The kick fails (ENXIO: the device went away): what was placed was not sent.
    FakeRing dead(16, 16);
    dead.kick_error = std::make_error_code(std::errc::no_such_device_or_address);
    BatchSender<RingBackend> s2{RingBackend{&dead}};
    r = s2.try_batch_send(0, d.batch, status);
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST(r.failed == 6u);
    for (const auto& e : status) BOOST_TEST((e == std::errc::no_such_device_or_address));
}

BOOST_AUTO_TEST_CASE(datagrams_for_the_kernel_path_keep_their_place_in_the_order) {
    FakeRing ring(16, 16);
    BatchSender<RingBackend> sender{RingBackend{&ring}};
    sender.backend().kernel_bound = {2, 3, 5};
    const Datagrams d(7);
    const SendResult r = sender.try_batch_send(0, d.batch);
    BOOST_TEST(r.sent == 7u);
    BOOST_REQUIRE(ring.taken() == 4u);
    BOOST_REQUIRE(sender.backend().through_kernel.size() == 3u);
    BOOST_TEST((ring.sent[2] == d.bytes[4]));
    BOOST_TEST((sender.backend().through_kernel[2] == d.bytes[5]));
    // Frames before a kernel datagram were kicked before it went.
    BOOST_TEST(ring.kicks >= 3u);
}
