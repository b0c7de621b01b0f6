// LinuxGsoBackend's pure parts, without a kernel: which datagrams of a send form UDP_SEGMENT
// trains (detail::plan_trains), and how a received coalesced datagram is split into packets,
// with the segments beyond them kept (detail::decode_gro, split_gro, KeptSegments).
#include <mmsg/detail/gro_split.hpp>

#include <mmsg/detail/gso_trains.hpp>

#define BOOST_TEST_MODULE gso_planning_and_split
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/address_v4.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <random>
#include <span>
#include <vector>

#include <netinet/udp.h>
#include <sys/socket.h>

using namespace mmsg;
using detail::PlannedMessage;

namespace {

const Endpoint a(boost::asio::ip::make_address_v4("127.0.0.1"), 1000);
const Endpoint b(boost::asio::ip::make_address_v4("127.0.0.1"), 1001);
const std::array<std::byte, 4096> bytes{};

SendItem item(std::size_t size, const Endpoint& to, std::size_t at = 0,
              const SendOptions* o = nullptr) {
    return SendItem{bytes.data() + at, size, &to, o};
}

std::vector<PlannedMessage> plan(const std::vector<SendItem>& items, GsoLimits lim = {64, 65507},
                                 std::size_t plain_prefix = 0) {
    std::vector<PlannedMessage> out(items.size());
    out.resize(detail::plan_trains(items, lim, plain_prefix, out));
    return out;
}

bool is(const PlannedMessage& m, std::size_t first, std::size_t count) {
    return m.first == first && m.count == count;
}

} // namespace

BOOST_AUTO_TEST_CASE(runs_to_one_destination_of_one_size_form_trains) {
    const auto p = plan({item(100, a), item(100, a), item(100, a), item(100, b), item(100, b)});
    BOOST_REQUIRE(p.size() == 2u);
    BOOST_TEST(is(p[0], 0, 3));
    BOOST_TEST(p[0].segment == 100u);
    BOOST_TEST(is(p[1], 3, 2));
}

BOOST_AUTO_TEST_CASE(a_shorter_datagram_ends_a_train_and_a_longer_starts_a_new_one) {
    const auto p = plan({item(100, a), item(100, a), item(60, a), item(100, a), item(200, a)});
    BOOST_REQUIRE(p.size() == 3u);
    BOOST_TEST(is(p[0], 0, 3)); // 100, 100, 60
    BOOST_TEST(is(p[1], 3, 1)); // a lone 100 (the next is longer)
    BOOST_TEST(p[1].segment == 0u);
    BOOST_TEST(is(p[2], 4, 1));
}

BOOST_AUTO_TEST_CASE(limits_cut_trains_by_count_and_by_bytes) {
    std::vector<SendItem> items(10, item(100, a));
    const auto by_count = plan(items, GsoLimits{4, 65507});
    BOOST_TEST(by_count.size() == 3u); // 4 + 4 + 2
    BOOST_TEST(is(by_count[2], 8, 2));
    const auto by_bytes = plan(items, GsoLimits{64, 350});
    BOOST_TEST(by_bytes.size() == 4u); // 3 + 3 + 3 + 1
    BOOST_TEST(plan(items, GsoLimits::none()).size() == 10u);
}

BOOST_AUTO_TEST_CASE(a_plain_prefix_empty_datagrams_and_options_break_trains) {
    std::vector<SendItem> items(6, item(100, a));
    BOOST_TEST(plan(items, {64, 65507}, 2).size() == 3u); // 1, 1, then a train of 4
    const auto with_empty = plan({item(0, a), item(0, a), item(10, a)});
    BOOST_TEST(with_empty.size() == 3u);
    const SendOptions ce{Ecn::ce, 0, {}, 0}, ce2{Ecn::ce, 0, {}, 0}, ect{Ecn::ect0, 0, {}, 0};
    const auto p = plan({item(100, a, 0, &ce), item(100, a, 0, &ce2), item(100, a, 0, &ect),
                         item(100, a, 0, nullptr)});
    BOOST_REQUIRE(p.size() == 3u);
    BOOST_TEST(is(p[0], 0, 2)); // equal options by value
    BOOST_TEST(is(p[1], 2, 1));
}

BOOST_AUTO_TEST_CASE(slices_of_one_buffer_are_contiguous) {
    const std::vector<SendItem> slices{item(100, a, 0), item(100, a, 100), item(50, a, 200)};
    BOOST_TEST(detail::contiguous(slices));
    const std::vector<SendItem> same{item(100, a, 0), item(100, a, 0)};
    BOOST_TEST(!detail::contiguous(same));
}

namespace {

// The planning rule as DESIGN and doc/gso.adoc state it, written the plain way: a datagram
// joins the train before it when it goes to an equal destination with equal options, is not
// empty, is no longer than the train's first, and fits the limits; a shorter one ends it.
std::vector<PlannedMessage> plan_by_rule(const std::vector<SendItem>& items, GsoLimits lim,
                                         std::size_t plain_prefix) {
    std::vector<PlannedMessage> out;
    for (std::size_t i = 0; i < items.size();) {
        const SendItem& head = items[i];
        PlannedMessage m{i, 1, 0, head.size, true};
        const bool may_lead = lim.max_segments > 1 && i >= plain_prefix && head.size > 0 &&
                              head.size <= 0xffff;
        while (may_lead && i + m.count < items.size() && m.count < lim.max_segments) {
            const SendItem& prev = items[i + m.count - 1];
            const SendItem& next = items[i + m.count];
            if (!detail::joins_train(head, next, m.bytes, lim)) break;
            m.contiguous = m.contiguous && next.data == prev.data + prev.size;
            m.bytes += next.size;
            ++m.count;
            if (next.size < head.size) break;
        }
        if (m.count > 1) m.segment = head.size;
        out.push_back(m);
        i += m.count;
    }
    return out;
}

} // namespace

// plan_trains is written for speed (it runs once per datagram sent); it must make the very
// trains the plain rule makes, on batches that mix every case: equal destinations and
// options as one object or as equal copies, empty and shorter datagrams, payloads back to
// back or not, limits by count and by bytes, plain prefixes.
BOOST_AUTO_TEST_CASE(the_fast_planner_makes_the_trains_of_the_plain_rule) {
    const Endpoint a_copy = a;
    const Endpoint* const dests[] = {&a, &a, &a, &a_copy, &b, nullptr};
    const SendOptions ect{Ecn::ect0, 0, {}, 0}, ect_copy = ect, none{};
    const SendOptions* const options[] = {nullptr, nullptr, nullptr, &none, &ect, &ect_copy};
    const std::size_t sizes[] = {0, 1, 7, 100, 100, 100, 100, 99, 1200};
    const GsoLimits limits[] = {{64, 65507}, {4, 65507}, {64, 350}, {128, 1000}, GsoLimits::none(),
                                {2, 200}, {3, 0}};
    std::mt19937 rng(20261202); // fixed: the same batches every run
    auto pick = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    static std::array<std::byte, 1 << 16> payload{};
    std::size_t trains = 0;
    for (int round = 0; round < 3000; ++round) {
        const std::size_t n = 1 + pick(40);
        // One destination, options and size for most of a batch, so that trains form.
        const Endpoint* d = dests[pick(std::size(dests))];
        const SendOptions* o = options[pick(std::size(options))];
        std::size_t size = sizes[pick(std::size(sizes))];
        std::vector<SendItem> items;
        std::size_t at = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (pick(8) == 0) d = dests[pick(std::size(dests))];
            if (pick(10) == 0) o = options[pick(std::size(options))];
            std::size_t this_size = size;
            if (pick(6) == 0) this_size = sizes[pick(std::size(sizes))];
            if (pick(7) == 0) at += 1 + pick(3); // a gap: not back to back
            if (at + this_size > payload.size()) at = 0;
            items.push_back(SendItem{payload.data() + at, this_size, d, o});
            at += this_size;
        }
        const GsoLimits lim = limits[pick(std::size(limits))];
        const std::size_t prefix = pick(4) == 0 ? pick(n + 1) : 0;
        const auto want = plan_by_rule(items, lim, prefix);
        const auto got = plan(items, lim, prefix);
        BOOST_REQUIRE_MESSAGE(got.size() == want.size(), "round " << round << ": " << got.size()
                                                                   << " messages, the rule makes " << want.size());
        for (std::size_t j = 0; j < want.size(); ++j) {
            BOOST_REQUIRE_MESSAGE(got[j].first == want[j].first && got[j].count == want[j].count &&
                                      got[j].segment == want[j].segment && got[j].bytes == want[j].bytes &&
                                      got[j].contiguous == want[j].contiguous,
                                  "round " << round << ", message " << j);
            if (want[j].count > 1) ++trains;
        }
    }
    BOOST_TEST(trains > 3000u); // the batches did form trains (else the comparison says little)
}

namespace {

// A received message: msg_len bytes, a UDP_GRO segment size if `seg`, flags.
struct Message {
    alignas(cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr h{};
    Message(std::size_t seg, int flags = 0) {
        h.msg_flags = flags;
        if (seg == 0) return;
        cmsghdr c{};
        c.cmsg_level = SOL_UDP;
        c.cmsg_type = UDP_GRO;
        c.cmsg_len = CMSG_LEN(sizeof(int));
        const int s = static_cast<int>(seg);
        std::memcpy(ctl, &c, sizeof c);
        std::memcpy(ctl + CMSG_LEN(0), &s, sizeof s);
        h.msg_control = ctl;
        h.msg_controllen = sizeof ctl;
    }
};

std::byte at(std::size_t i) { return static_cast<std::byte>(i * 7 + 3); }

} // namespace

BOOST_AUTO_TEST_CASE(a_coalesced_datagram_laid_over_the_packets_is_split_and_the_rest_kept) {
    // 10 segments of 8 bytes laid over 4 packets of 8 (then the spill area): 4 land in
    // place, 6 are kept, in order.
    constexpr std::size_t cap = 8, seg = 8, count = 10;
    std::array<std::array<std::byte, cap>, 4> packets{};
    std::array<Meta, 4> metas{};
    std::vector<std::byte> spill(65536);
    std::array<RecvSlot, 4> slots{};
    for (std::size_t i = 0; i < 4; ++i) slots[i] = {packets[i].data(), cap, &metas[i]};
    // What the kernel would have written through the iovecs: bytes 0..79 across the layout.
    for (std::size_t i = 0; i < seg * count; ++i) {
        if (i < cap * 4) packets[i / cap][i % cap] = at(i);
        else spill[i - cap * 4] = at(i);
    }
    Message m(seg);
    SocketState state;
    detail::GroMessage gm;
    BOOST_TEST(detail::decode_gro(m.h, seg * count, 0, gm, state) == count);
    detail::KeptSegments kept;
    const detail::GroLayout layout{slots, spill.data(), spill.size(), true};
    BOOST_TEST(detail::split_gro(layout, std::span(&gm, 1), count, kept) == 4u);
    for (std::size_t p = 0; p < 4; ++p) {
        BOOST_TEST(metas[p].size == seg);
        for (std::size_t k = 0; k < seg; ++k) BOOST_TEST((packets[p][k] == at(p * seg + k)));
    }
    BOOST_TEST(kept.pending() == 6u);
    std::array<std::array<std::byte, cap>, 6> later{};
    std::array<Meta, 6> later_metas{};
    std::array<RecvSlot, 6> later_slots{};
    for (std::size_t i = 0; i < 6; ++i) later_slots[i] = {later[i].data(), cap, &later_metas[i]};
    BOOST_TEST(kept.take(later_slots) == 6u);
    for (std::size_t p = 0; p < 6; ++p)
        for (std::size_t k = 0; k < seg; ++k) BOOST_TEST((later[p][k] == at((4 + p) * seg + k)));
    BOOST_TEST(kept.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(smaller_segments_are_moved_into_their_packets) {
    // 3 segments of 5 bytes (the last of 2) laid over packets of 8: moved, not in place.
    std::array<std::array<std::byte, 8>, 3> packets{};
    std::array<Meta, 3> metas{};
    std::vector<std::byte> spill(65536);
    std::array<RecvSlot, 3> slots{};
    for (std::size_t i = 0; i < 3; ++i) slots[i] = {packets[i].data(), 8, &metas[i]};
    for (std::size_t i = 0; i < 12; ++i) packets[i / 8][i % 8] = at(i);
    Message m(5);
    SocketState state;
    detail::GroMessage gm;
    BOOST_TEST(detail::decode_gro(m.h, 12, 0, gm, state) == 3u);
    detail::KeptSegments kept;
    BOOST_TEST(detail::split_gro({slots, spill.data(), spill.size(), true}, std::span(&gm, 1), 3, kept) == 3u);
    BOOST_TEST(metas[2].size == 2u);
    for (std::size_t p = 0; p < 3; ++p)
        for (std::size_t k = 0; k < metas[p].size; ++k) BOOST_TEST((packets[p][k] == at(p * 5 + k)));
}

BOOST_AUTO_TEST_CASE(segments_shorter_than_the_packets_land_where_the_plain_rule_puts_them) {
    // Seeded random trains laid over packets as the kernel writes them (slot after slot,
    // then the spill area), segments shorter than the packets so that many lie across two
    // packets: every segment must end up at the front of its own packet, with its size,
    // and the ones beyond the packets must be kept in order.
    std::mt19937 rng(1232);
    auto pick = [&](std::size_t lo, std::size_t hi) {
        return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
    };
    for (int round = 0; round < 2000; ++round) {
        const std::size_t cap = pick(2, 64), seg = pick(1, cap - 1), count = pick(2, 150);
        const std::size_t n = pick(1, 64), last = pick(1, seg);
        const std::size_t len = (count - 1) * seg + last;
        std::vector<std::vector<std::byte>> packets(n, std::vector<std::byte>(cap));
        std::vector<Meta> metas(n);
        std::vector<RecvSlot> slots(n);
        for (std::size_t i = 0; i < n; ++i) slots[i] = {packets[i].data(), cap, &metas[i]};
        std::vector<std::byte> spill(65536);
        for (std::size_t i = 0; i < len; ++i) {
            if (i < cap * n) packets[i / cap][i % cap] = at(i);
            else spill[i - cap * n] = at(i);
        }
        Message m(seg);
        SocketState state;
        detail::GroMessage gm;
        BOOST_TEST_REQUIRE(detail::decode_gro(m.h, len, 0, gm, state) == count);
        detail::KeptSegments kept;
        const std::size_t k = std::min(count, n);
        BOOST_TEST_REQUIRE(detail::split_gro({slots, spill.data(), spill.size(), true},
                                             std::span(&gm, 1), count, kept) == k);
        auto segment_ok = [&](std::size_t t, const std::byte* bytes, const Meta& meta) {
            const std::size_t want = t + 1 == count ? last : seg;
            bool ok = meta.size == want && meta.wire_size == want && meta.flags == PacketFlags::none;
            for (std::size_t b = 0; ok && b < want; ++b) ok = bytes[b] == at(t * seg + b);
            return ok;
        };
        for (std::size_t t = 0; t < k; ++t)
            BOOST_TEST_REQUIRE(segment_ok(t, packets[t].data(), metas[t]),
                               "round " << round << ": cap " << cap << ", seg " << seg << ", count "
                                        << count << ", packets " << n << ": segment " << t);
        BOOST_TEST_REQUIRE(kept.pending() == count - k);
        std::vector<std::byte> one(cap);
        for (std::size_t t = k; t < count; ++t) {
            Meta meta;
            const RecvSlot slot{one.data(), cap, &meta};
            BOOST_TEST_REQUIRE(kept.take(std::span(&slot, 1)) == 1u);
            BOOST_TEST_REQUIRE(segment_ok(t, one.data(), meta), "round " << round << ": kept " << t);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_cut_segment_size_leaves_one_flagged_packet) {
    // MSG_CTRUNC and no UDP_GRO message: the segments cannot be told apart.
    Message m(0, MSG_CTRUNC);
    SocketState state;
    detail::GroMessage gm;
    BOOST_TEST(detail::decode_gro(m.h, 3000, 0, gm, state) == 1u);
    BOOST_TEST(has_flags(gm.flags, PacketFlags::control_truncated));
    BOOST_TEST(gm.seg == 3000u);
}
