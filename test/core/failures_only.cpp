// BatchSender and the optional FailuresOnly form of a send backend (backend_concepts.hpp):
// without a status span the sender uses it, hands over an outcome array that is empty on
// entry every time (whatever earlier calls failed, stopped at or were refused), and accounts
// exactly from failures alone; with a status span, or for a backend without the form, the
// usual form. Then LinuxGsoBackend's own code (on MockNetwork) in that form.
#include <mmsg/batch_sender.hpp>

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>

#define BOOST_TEST_MODULE core_failures_only
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/mock_gso_rig.hpp"
#include "../support/payload_lists.hpp"

using namespace mmsg;
using namespace mmsg::test;
using mmsg::testing::v4_loopback;

namespace {

// A backend that accepts every datagram but those whose first byte is 0xEE (EACCES, each on
// its own) and one whose first byte is 0xBD (EBADF: fatal, the call stops there). Its
// FailuresOnly form checks that the outcomes are empty on entry and writes failures only;
// like a careless backend it also writes the outcome of the datagram it stops at.
struct Picky {
    std::size_t usual_calls = 0, sparse_calls = 0, dirty_entries = 0;

    SendOutcome run(std::span<const SendItem> items, std::span<std::error_code> errors, bool sparse) {
        std::size_t accepted = 0;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const std::byte first = items[i].size > 0 ? items[i].data[0] : std::byte{0};
            if (first == std::byte{0xBD}) {
                errors[i] = std::make_error_code(std::errc::bad_file_descriptor); // beyond done
                return {i, errors[i], accepted};
            }
            if (first == std::byte{0xEE}) errors[i] = std::make_error_code(std::errc::permission_denied);
            else {
                ++accepted;
                if (!sparse) errors[i] = {};
            }
        }
        return {items.size(), {}, accepted};
    }
    SendOutcome send(int, std::span<const SendItem> items, std::span<std::error_code> errors, WaitMode) {
        ++usual_calls;
        return run(items, errors, false);
    }
    SendOutcome send(int, std::span<const SendItem> items, std::span<std::error_code> errors, WaitMode,
                     FailuresOnly) {
        ++sparse_calls;
        for (std::size_t i = 0; i < items.size(); ++i) dirty_entries += errors[i] ? 1 : 0;
        return run(items, errors, true);
    }
};
static_assert(SendBackend<Picky>);

const Endpoint somewhere = v4_loopback(9);

// `n` datagrams, marked with `mark` at the given positions.
std::vector<Bytes> marked(std::size_t n, std::initializer_list<std::pair<std::size_t, std::byte>> marks) {
    std::vector<Bytes> d = same(n, 16, 1);
    for (const auto& [at, mark] : marks) d[at][0] = mark;
    return d;
}

} // namespace

BOOST_AUTO_TEST_CASE(without_a_status_span_the_failures_only_form_is_used_and_counts_exactly) {
    BatchSender<Picky> sender;
    const auto d = marked(100, {{3, std::byte{0xEE}}, {70, std::byte{0xEE}}});
    const SendResult r = sender.batch_send(-1, to(d, somewhere));
    BOOST_TEST(r.sent == 98u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST((r.first_error == std::errc::permission_denied));
    BOOST_TEST(sender.backend().sparse_calls == 1u);
    BOOST_TEST(sender.backend().usual_calls == 0u);

    // With a status span: the usual form, every outcome written.
    std::vector<std::error_code> status(d.size(), std::make_error_code(std::errc::io_error));
    const SendResult s = sender.batch_send(-1, to(d, somewhere), status);
    BOOST_TEST(s.failed == 2u);
    BOOST_TEST(sender.backend().usual_calls == 1u);
    for (std::size_t i = 0; i < d.size(); ++i)
        BOOST_TEST(static_cast<bool>(status[i]) == (i == 3 || i == 70), "datagram " << i);
}

BOOST_AUTO_TEST_CASE(the_outcomes_are_empty_on_entry_after_failures_stops_and_fatal_errors) {
    BatchSender<Picky> sender;
    // Failures, then a clean batch: the failures' entries were cleared.
    BOOST_TEST(sender.batch_send(-1, to(marked(50, {{0, std::byte{0xEE}}, {49, std::byte{0xEE}}}), somewhere)).failed == 2u);
    BOOST_TEST(sender.batch_send(-1, to(marked(50, {}), somewhere)).ok());
    // A fatal error, whose outcome the backend also wrote beyond the call's `done`.
    const SendResult f = sender.batch_send(-1, to(marked(40, {{5, std::byte{0xEE}}, {20, std::byte{0xBD}}}), somewhere));
    BOOST_TEST(f.fatal);
    BOOST_TEST(f.sent == 19u);
    BOOST_TEST(f.failed == 21u); // datagram 5, then 20 and everything after it
    // Then clean batches again, over the entries the fatal call touched.
    const SendResult g = sender.batch_send(-1, to(marked(60, {}), somewhere));
    BOOST_TEST(g.ok());
    BOOST_TEST(g.sent == 60u);
    BOOST_TEST(sender.backend().dirty_entries == 0u);
    BOOST_TEST(sender.backend().usual_calls == 0u);
}

BOOST_FIXTURE_TEST_CASE(linux_gso_code_accounts_from_failures_alone, MockGsoRig) {
    const Endpoint dead = v4_loopback(7);
    net.unreachable(dead, std::make_error_code(std::errc::permission_denied));

    const std::vector<Bytes> d = same(20, 100); // trains of 8, 8 and 4
    Batch b = to(d, rx_ep);
    for (std::size_t i = 8; i < 16; ++i) b[i].second = dead; // the middle train fails whole
    const SendResult r = sender.batch_send(tx, b);
    BOOST_TEST(r.sent == 12u);
    BOOST_TEST(r.failed == 8u);
    BOOST_TEST((r.first_error == std::errc::permission_denied));
    std::vector<Bytes> want(d.begin(), d.begin() + 8);
    want.insert(want.end(), d.begin() + 16, d.end());
    BOOST_TEST(same_list(drain(), want));

    // The same sender, a clean batch: nothing left over from the failed train.
    const SendResult again = sender.batch_send(tx, to(d, rx_ep));
    BOOST_TEST(again.ok());
    BOOST_TEST(again.sent == 20u);
    BOOST_TEST(same_list(drain(), d));

    // Back-pressure mid-batch, then the rest: unsent, not failed, and resumed exactly.
    net.would_block_after(10); // trains of 8 go whole: 16 go, then none is left
    const Batch all = to(d, rx_ep);
    const SendResult p = sender.try_batch_send(tx, all);
    BOOST_TEST(p.sent == 16u);
    BOOST_TEST(p.unsent == 4u);
    BOOST_TEST(p.failed == 0u);
    net.clear_would_block();
    const SendResult rest = sender.batch_send(tx, Batch(all.begin() + 16, all.end()));
    BOOST_TEST(rest.ok());
    BOOST_TEST(same_list(drain(), d));
}
