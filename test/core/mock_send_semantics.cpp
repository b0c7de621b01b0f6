// BatchSender's algorithm, deterministically: the calls it makes on MockBackend (one per
// chunk, more after rejections, narrowed after dense ones, resumed after would-block and
// EINTR), and scripted backends for what the mock cannot express. (What any backend must do
// on send is the conformance kit's, test/compose/conformance*.cpp.)
#include <mmsg/batch_sender.hpp>

#include <mmsg/testing/mock_network.hpp>
#include <mmsg/batch_receiver.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE core_mock_send_semantics
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

using namespace mmsg;
using mmsg::testing::numbered;
using mmsg::testing::same_bytes;
using mmsg::testing::v4_loopback;
using Bytes = std::vector<std::byte>;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

std::error_code err(int e) { return {e, std::system_category()}; }

struct Fixture {
    MockNetwork net;
    BatchSender<MockBackend> sender{MockBackend(net)};
    int tx = net.open(v4_loopback());
    int rx = net.open(v4_loopback());
    Endpoint tx_ep = net.local_endpoint(tx);
    Endpoint rx_ep = net.local_endpoint(rx);
    Endpoint dead{boost::asio::ip::address_v4::loopback(), 9}; // unreachable when scripted so
    std::vector<Bytes> data;
    std::vector<std::error_code> status;

    //! n datagrams numbered 0..n-1 to rx, except those in `to_dead`, which go to `dead`.
    Batch batch(std::size_t n, const std::set<std::size_t>& to_dead = {}) {
        data.clear();
        for (std::size_t i = 0; i < n; ++i) data.push_back(numbered(12, static_cast<std::uint32_t>(i)));
        Batch b;
        for (std::size_t i = 0; i < n; ++i) b.emplace_back(data[i], to_dead.count(i) ? dead : rx_ep);
        return b;
    }

    //! A status span as long as the last batch, pre-filled with an error every send overwrites.
    std::span<std::error_code> fresh_status() {
        status.assign(2500, std::make_error_code(std::errc::io_error));
        return status;
    }

    //! Takes everything queued on rx and checks it holds exactly datagrams `want`, in order.
    void expect_delivered(const std::vector<std::size_t>& want) {
        BOOST_TEST_REQUIRE(net.queued(rx) == want.size());
        std::vector<BasicPacket<64>> p(want.size());
        BatchReceiver<MockBackend> r{MockBackend(net)};
        BOOST_TEST_REQUIRE(r.recv_mmsg_exact(rx, p) == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            BOOST_TEST(same_bytes(p[i].data(), data[want[i]]), "delivered " << i << " is not " << want[i]);
            BOOST_TEST(p[i].meta.addr == tx_ep);
        }
    }
};

std::vector<std::size_t> all_but(std::size_t n, const std::set<std::size_t>& skip) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < n; ++i)
        if (!skip.count(i)) v.push_back(i);
    return v;
}

//! A backend scripted call by call: each call returns the next SendOutcome and writes the
//! listed in-band errors into errors[0, done). Records every call's batch size.
struct ScriptedBackend {
    struct Step {
        SendOutcome out;
        std::vector<std::pair<std::size_t, std::error_code>> in_band{};
    };
    std::vector<Step> steps;
    std::vector<std::size_t> call_sizes{};

    SendOutcome send(int, std::span<const SendItem> items, std::span<std::error_code> errors, WaitMode) {
        call_sizes.push_back(items.size());
        if (call_sizes.size() > steps.size()) return {items.size(), {}}; // script done: all go
        const Step& s = steps[call_sizes.size() - 1];
        for (std::size_t i = 0; i < s.out.done; ++i) errors[i].clear();
        for (const auto& [i, e] : s.in_band) errors[i] = e;
        return s.out;
    }
};

//! A backend that never moves anything and never says why.
struct StallingBackend {
    std::size_t calls = 0;
    SendOutcome send(int, std::span<const SendItem>, std::span<std::error_code>, WaitMode) {
        ++calls;
        return {};
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_batch_is_one_backend_call, Fixture) {
    const auto r = sender.batch_send(tx, batch(32));
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 32u);
    BOOST_TEST(net.calls() == 1u);
    expect_delivered(all_but(32, {}));

    const std::size_t before = net.calls();
    const auto full = sender.batch_send(tx, batch(max_send_batch));
    BOOST_TEST(full.sent == max_send_batch);
    BOOST_TEST(net.calls() - before == 1u);
}

BOOST_FIXTURE_TEST_CASE(partial_calls_still_report_every_datagram_once, Fixture) {
    net.limit_per_call(3);
    net.fail_nth(4, err(EMSGSIZE));
    const auto r = sender.batch_send(tx, batch(10), fresh_status());
    BOOST_TEST(r.sent == 9u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(r.total() == 10u);
    MMSG_CHECK_ERRC(status[4], std::errc::message_size);
    // [0,3) [3] then 4 fails, [5,8) [8,10)
    BOOST_TEST(net.calls() == 4u);
    BOOST_TEST(net.attempts() == 10u);
    expect_delivered(all_but(10, {4}));

    net.limit_per_call(1);
    const std::size_t before = net.calls();
    const std::vector<Endpoint> dests(5, rx_ep);
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>(data[1]), dests).sent == 5u);
    BOOST_TEST(net.calls() - before == 5u);
}

// tag::resume[]
BOOST_FIXTURE_TEST_CASE(would_block_leaves_an_unsent_suffix_that_resumes_exactly, Fixture) {
    net.fail_nth(1, err(EMSGSIZE));
    net.would_block_after(5);
    const Batch b = batch(12);
    const auto r = sender.batch_send(tx, b, fresh_status());
    BOOST_TEST(r.sent == 5u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(r.unsent == 6u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.resume_index() == 6u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::message_size); // back-pressure is not a failure
    for (std::size_t i = 6; i < 12; ++i) MMSG_CHECK_ERRC(status[i], std::errc::operation_would_block);
    BOOST_TEST(net.queued(rx) == 5u);

    // Still blocked: nothing is attempted, everything stays unsent.
    const auto again = sender.batch_send(tx, std::span(b).subspan(r.resume_index()));
    BOOST_TEST(again.unsent == 6u);
    BOOST_TEST(again.sent + again.failed == 0u);
    BOOST_TEST(!again.first_error);

    net.clear_would_block();
    std::vector<std::error_code> rest(6);
    const auto resumed = sender.batch_send(tx, std::span(b).subspan(r.resume_index()), rest);
    BOOST_TEST(resumed.ok());
    BOOST_TEST(resumed.sent == 6u);
    for (const auto& e : rest) BOOST_TEST(!e);
    expect_delivered(all_but(12, {1})); // each exactly once, in order
}
// end::resume[]

BOOST_FIXTURE_TEST_CASE(eintr_is_retried_and_never_a_failure, Fixture) {
    net.interrupt_next(3);
    const auto r = sender.batch_send(tx, batch(10), fresh_status());
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 10u);
    BOOST_TEST(!r.first_error);
    for (const auto& e : std::span(status).first(10)) BOOST_TEST(!e);
    BOOST_TEST(net.calls() == 4u);
    expect_delivered(all_but(10, {}));

    // Between partial calls too.
    net.limit_per_call(4);
    const Batch b = batch(10);
    const auto first = sender.batch_send(tx, std::span(b).first(4));
    net.interrupt_next(2);
    const auto second = sender.batch_send(tx, std::span(b).subspan(4));
    BOOST_TEST(first.ok());
    BOOST_TEST(second.ok());
    BOOST_TEST(second.sent == 6u);
}

BOOST_FIXTURE_TEST_CASE(a_fatal_error_first_is_the_first_error, Fixture) {
    net.fail_nth(0, err(ENOTSOCK));
    const auto r = sender.batch_send(tx, batch(2000), fresh_status());
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.failed == 2000u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::not_a_socket);
    MMSG_CHECK_ERRC(status[1999], std::errc::not_a_socket);
    BOOST_TEST(net.calls() == 1u); // the later chunk is not tried either
}

BOOST_FIXTURE_TEST_CASE(more_than_1024_datagrams_are_chunked_and_a_failure_stops_no_chunk, Fixture) {
    const auto clean = sender.batch_send(tx, batch(2500));
    BOOST_TEST(clean.ok());
    BOOST_TEST(clean.sent == 2500u);
    BOOST_TEST(net.calls() == 3u);
    expect_delivered(all_but(2500, {}));

    // Failures in chunks 1, 2 and 3: each costs one extra call; later chunks still go.
    const std::size_t base = net.attempts();
    const std::set<std::size_t> bad{100, 1023, 1500, 2499};
    for (std::size_t i : bad) net.fail_nth(base + i, err(EMSGSIZE));
    const std::size_t calls_before = net.calls();
    const auto r = sender.batch_send(tx, batch(2500), fresh_status());
    BOOST_TEST(r.sent == 2496u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(!r.fatal);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < 2500; ++i)
        if (bad.count(i) ? status[i] != std::errc::message_size : bool(status[i])) ++wrong;
    BOOST_TEST(wrong == 0u);
    // chunk 1: [0,100) [101,1023); chunk 2: [1024,1500) [1501,2048); chunk 3: [2048,2499)
    BOOST_TEST(net.calls() - calls_before == 5u);
    expect_delivered(all_but(2500, bad));

    // multi_target_send chunks the same way.
    const std::vector<Endpoint> dests(2049, rx_ep);
    const std::size_t c = net.calls();
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>(data[0]), dests).sent == 2049u);
    BOOST_TEST(net.calls() - c == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_status_span_shorter_than_the_batch_throws_and_sends_nothing, Fixture) {
    std::vector<std::error_code> short_status(4);
    BOOST_CHECK_THROW(sender.batch_send(tx, batch(5), short_status), std::invalid_argument);
    const std::vector<Endpoint> dests(5, rx_ep);
    BOOST_CHECK_THROW(sender.multi_target_send(tx, std::span<const std::byte>(data[0]), dests, short_status),
                      std::invalid_argument);
    BOOST_TEST(net.calls() == 0u);
    BOOST_TEST(net.queued(rx) == 0u);
    // A longer one is fine; the extra entries are left alone.
    std::vector<std::error_code> long_status(6, err(EIO));
    BOOST_TEST(sender.batch_send(tx, batch(5), long_status).ok());
    MMSG_CHECK_ERRC(long_status[5], std::errc::io_error);
}

BOOST_AUTO_TEST_CASE(in_band_rejections_are_failures_and_an_in_band_fatal_error_stops) {
    const std::vector<Bytes> data(8, numbered(4, 1));
    const Endpoint to{boost::asio::ip::address_v4::loopback(), 5};
    Batch b;
    for (const auto& d : data) b.emplace_back(d, to);
    std::vector<std::error_code> st(8);

    // Call 1 reports 4 done, #1 rejected in band; call 2 reports 3 done, #5 (its #1) fatal in band.
    BatchSender<ScriptedBackend> s(ScriptedBackend{{
        {{4, {}}, {{1, err(EMSGSIZE)}}},
        {{3, {}}, {{1, err(EPIPE)}}},
    }});
    const auto r = s.batch_send(0, b, st);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.sent == 5u);   // #0 #2 #3 #4, and #6: its outcome was final in call 2
    BOOST_TEST(r.failed == 3u); // #1, #5, and #7, not tried after the fatal one
    BOOST_TEST(r.total() == 8u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::message_size);
    MMSG_CHECK_ERRC(st[1], std::errc::message_size);
    MMSG_CHECK_ERRC(st[5], std::errc::broken_pipe);
    BOOST_TEST(!st[6]);
    MMSG_CHECK_ERRC(st[7], std::errc::broken_pipe);
    BOOST_TEST(s.backend().call_sizes == (std::vector<std::size_t>{8, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_short_call_without_a_reason_is_called_again_from_where_it_stopped) {
    const std::vector<Bytes> data(6, numbered(4, 1));
    const Endpoint to{boost::asio::ip::address_v4::loopback(), 5};
    Batch b;
    for (const auto& d : data) b.emplace_back(d, to);
    BatchSender<ScriptedBackend> s(ScriptedBackend{{{{2, {}}}, {{0, {}}}, {{1, {}}}}});
    const auto r = s.batch_send(0, b);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 6u);
    BOOST_TEST(s.backend().call_sizes == (std::vector<std::size_t>{6, 4, 4, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_backend_that_makes_no_progress_and_says_nothing_does_not_spin) {
    const Bytes d = numbered(4, 1);
    const Endpoint to{boost::asio::ip::address_v4::loopback(), 5};
    const Batch b(5, {d, to});
    std::vector<std::error_code> st(5);
    BatchSender<StallingBackend> s;
    const auto r = s.batch_send(0, b, st);
    BOOST_TEST(r.unsent == 5u);
    BOOST_TEST(r.sent + r.failed == 0u);
    for (const auto& e : st) MMSG_CHECK_ERRC(e, std::errc::operation_would_block);
    BOOST_TEST(s.backend().calls >= 1u);
    BOOST_TEST(s.backend().calls <= 10u);
}

namespace {
//! MockBackend that records how many datagrams each call was offered.
struct OfferRecorder {
    MockBackend inner;
    std::vector<std::size_t>* offers;
    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        offers->push_back(items.size());
        return inner.send(fd, items, errors, mode);
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(dense_rejections_do_not_make_a_batch_quadratic, Fixture) {
    std::vector<std::size_t> offers;
    BatchSender<OfferRecorder> s{OfferRecorder{MockBackend(net), &offers}};
    std::set<std::size_t> all;
    for (std::size_t i = 0; i < 1024; ++i) all.insert(i);
    net.unreachable(dead, err(EACCES));

    // Every datagram rejected: still one call per datagram (the kernel stops at each), but
    // after the first rejection (which narrows nothing) each call is offered at most 64,
    // not the whole rest of the chunk.
    const auto r = s.batch_send(tx, batch(1024, all), fresh_status());
    BOOST_TEST(r.failed == 1024u);
    BOOST_TEST_REQUIRE(offers.size() == 1024u);
    BOOST_TEST(offers[0] == 1024u);
    BOOST_TEST(offers[1] == 1023u);
    std::size_t offered = 0;
    for (std::size_t i = 2; i < offers.size(); ++i) {
        BOOST_TEST(offers[i] <= 64u);
        offered += offers[i];
    }
    BOOST_TEST(offered <= 64u * 1022u); // was 1022 + 1021 + ... + 1 = 522 753

    // Rejections 64 or more apart (and the first of a batch) never narrow a call: the same
    // calls as without the rule, each offered the rest of the chunk.
    offers.clear();
    const std::set<std::size_t> sparse{0, 100, 500, 600};
    const auto r2 = s.batch_send(tx, batch(1024, sparse), fresh_status());
    BOOST_TEST(r2.sent == 1020u);
    BOOST_TEST(r2.failed == 4u);
    // The mock takes datagrams up to a rejection and reports it in the same call:
    // [0] | [1,100) [100] | [101,500) [500] | [501,600) [600] | [601,1024)
    const std::vector<std::size_t> want{1024, 1023, 923, 523, 423};
    BOOST_TEST(offers == want, boost::test_tools::per_element());
    expect_delivered(all_but(1024, sparse));

    // Dense rejections, then a clean run: the window grows fourfold per full call, so the
    // clean rest costs at most two calls more than one.
    offers.clear();
    std::set<std::size_t> first_ten;
    for (std::size_t i = 0; i < 10; ++i) first_ten.insert(i);
    const auto r3 = s.batch_send(tx, batch(1024, first_ten), fresh_status());
    BOOST_TEST(r3.sent == 1014u);
    BOOST_TEST(r3.failed == 10u);
    BOOST_TEST(offers.size() <= 10u + 3u);
    expect_delivered(all_but(1024, first_ten));
}
