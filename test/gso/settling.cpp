// How the results of one send of several messages become the backend contract's outcomes
// (detail::settle_messages), without a kernel: the one place these rules live, for the
// sendmmsg of LinuxGsoBackend and the io_uring submissions of IoUringGsoBackend and
// IoUringBackend. (The mock and the fuzzer check the same rules end to end.)
#include <mmsg/detail/settle_messages.hpp>

#define BOOST_TEST_MODULE gso_settling
#include <boost/test/unit_test.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <initializer_list>
#include <system_error>
#include <vector>

using namespace mmsg;
using detail::MessageSpan;
using detail::SettledMessages;

namespace {

const std::error_code ok{};
const std::error_code cancelled = std::make_error_code(std::errc::operation_canceled);
std::error_code err(int e) { return detail::errno_code(e); }

// Messages of the given sizes (datagrams each), back to back, with these results.
struct Call {
    std::vector<MessageSpan> shape;
    std::vector<std::error_code> results;
    std::array<std::error_code, 64> errors{};

    Call(std::initializer_list<std::size_t> sizes, std::initializer_list<std::error_code> res)
        : results(res) {
        std::size_t at = 0;
        for (std::size_t k : sizes) {
            shape.push_back(MessageSpan{at, k});
            at += k;
        }
        errors.fill(err(EILSEQ)); // poison: must not be read back where not written
    }
    SettledMessages settle() {
        return detail::settle_messages(
            shape.size(), [this](std::size_t j) { return results[j]; },
            [this](std::size_t j) { return shape[j]; }, errors);
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(
    a_sendmmsg_that_stopped_early_is_a_short_call_at_the_first_message_not_reached) {
    Call c({3, 1, 2}, {ok, cancelled, cancelled});
    const SettledMessages s = c.settle();
    BOOST_TEST(s.done == 3u);
    BOOST_TEST(!s.error);
    BOOST_TEST(s.resend == 0u);
    for (std::size_t i = 0; i < 3; ++i)
        BOOST_TEST(!c.errors[i]);
}

BOOST_AUTO_TEST_CASE(a_refused_train_with_nothing_sent_after_it_asks_for_a_resend) {
    Call eio({1, 4, 2}, {ok, err(EIO), cancelled});
    const SettledMessages s = eio.settle();
    BOOST_TEST(s.done == 1u);
    BOOST_TEST(s.resend == 4u);
    BOOST_TEST(s.offload_suspect);
    BOOST_TEST(!eio.errors[0]);

    Call einval({4}, {err(EINVAL)});
    BOOST_TEST(einval.settle().resend == 4u);
    BOOST_TEST(einval.settle().offload_suspect);

    Call size({2, 4}, {ok, err(EMSGSIZE)});
    const SettledMessages t = size.settle();
    BOOST_TEST(t.done == 2u);
    BOOST_TEST(t.resend == 4u);
    BOOST_TEST(!t.offload_suspect); // the size, not the offload: trains stay on
}

BOOST_AUTO_TEST_CASE(a_plain_datagram_refused_with_eio_is_its_own_failure_not_a_resend) {
    Call c({1, 2}, {err(EIO), ok});
    const SettledMessages s = c.settle();
    BOOST_TEST(s.done == 3u);
    BOOST_TEST(s.resend == 0u);
    BOOST_TEST((c.errors[0] == std::errc::io_error));
    BOOST_TEST(!c.errors[1]);
}

BOOST_AUTO_TEST_CASE(a_refused_train_after_which_a_message_went_fails_each_of_its_datagrams) {
    // (Linked submissions make this impossible; settled exactly all the same.)
    Call c({3, 1}, {err(EIO), ok});
    const SettledMessages s = c.settle();
    BOOST_TEST(s.done == 4u);
    BOOST_TEST(s.resend == 0u);
    for (std::size_t i = 0; i < 3; ++i)
        BOOST_TEST((c.errors[i] == std::errc::io_error));
    BOOST_TEST(!c.errors[3]);
}

BOOST_AUTO_TEST_CASE(a_destination_error_fails_every_datagram_of_its_train_and_the_call_goes_on) {
    Call c({2, 3, 1}, {ok, err(EACCES), ok});
    const SettledMessages s = c.settle();
    BOOST_TEST(s.done == 6u);
    BOOST_TEST(!s.error);
    for (std::size_t i = 2; i < 5; ++i)
        BOOST_TEST((c.errors[i] == std::errc::permission_denied));
    BOOST_TEST(!c.errors[5]);

    Call linked({3, 2}, {err(EACCES), cancelled}); // the rest of a chain: the call stops after it
    const SettledMessages t = linked.settle();
    BOOST_TEST(t.done == 3u);
    BOOST_TEST(!t.error);
}

BOOST_AUTO_TEST_CASE(a_plain_error_before_a_message_not_reached_is_where_the_call_stops) {
    Call c({1, 1}, {err(EACCES), cancelled});
    const SettledMessages s = c.settle();
    BOOST_TEST(s.done == 0u); // reported as items[0]'s rejection, as sendmmsg reports it
    BOOST_TEST((s.error == std::errc::permission_denied));
}

BOOST_AUTO_TEST_CASE(back_pressure_leaves_an_unsent_suffix_unless_a_later_message_went) {
    Call tail({1, 2, 1}, {ok, err(EAGAIN), cancelled});
    const SettledMessages s = tail.settle();
    BOOST_TEST(s.done == 1u);
    BOOST_TEST((s.error == std::errc::resource_unavailable_try_again));

    Call hole({1, 1, 1}, {ok, err(EAGAIN), ok});
    const SettledMessages h = hole.settle();
    BOOST_TEST(h.done == 3u);
    BOOST_TEST(!h.error);
    BOOST_TEST((hole.errors[1] == std::errc::no_buffer_space)); // cannot stay unsent: failed
    BOOST_TEST(!hole.errors[2]);

    Call interrupted({2}, {err(EINTR)});
    BOOST_TEST(interrupted.settle().done == 0u);
    BOOST_TEST((interrupted.settle().error == std::errc::interrupted));
}

BOOST_AUTO_TEST_CASE(a_socket_error_stops_the_call_unless_a_later_message_went) {
    Call stop({1, 1, 1}, {ok, err(EBADF), err(EBADF)});
    const SettledMessages s = stop.settle();
    BOOST_TEST(s.done == 1u);
    BOOST_TEST((s.error == std::errc::bad_file_descriptor));

    Call went({1, 1, 1}, {ok, err(EDESTADDRREQ), ok});
    const SettledMessages w = went.settle();
    BOOST_TEST(w.done == 3u);
    BOOST_TEST((went.errors[1] == std::errc::destination_address_required));
    BOOST_TEST(!went.errors[2]);
}
