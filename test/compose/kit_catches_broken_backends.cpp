// The conformance kit can fail: backends that each break one rule of the contract (a datagram
// dropped but reported sent, a failure reported as success, a wrong source, a wrong
// wire_size) fail it, and the same backend unbroken passes, on both rigs. Each kit run is in
// a child process (fork), its report thrown away: the child exits 1 if the kit recorded any
// failed assertion, 0 if none; the parent checks that exit status.
#define BOOST_TEST_MODULE compose_kit_catches_broken_backends
#include <mmsg/testing/conformance.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/meta.hpp>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

enum class Break { nothing, drop_last_sent, failure_as_success, wrong_source, wrong_wire_size };

//! Inner with one rule of the backend contract broken.
template <class Inner, Break How>
struct Broken : Inner {
    using Inner::Inner;

    template <class S>
    mmsg::SendOutcome send(S s, std::span<const mmsg::SendItem> items,
                           std::span<std::error_code> errors, mmsg::WaitMode mode) {
        if constexpr (How == Break::drop_last_sent) { // never sent, reported sent
            if (items.size() > 1) {
                const std::size_t k = items.size() - 1;
                const mmsg::SendOutcome o = Inner::send(s, items.first(k), errors.first(k), mode);
                if (o.done < k || o.error) return o;
                errors[k].clear();
                return {items.size(), {}};
            }
        } else if constexpr (How == Break::failure_as_success) {
            const mmsg::SendOutcome o = Inner::send(s, items, errors, mode);
            if (!o.error) return o;
            for (std::size_t i = o.done; i < items.size(); ++i) errors[i].clear();
            return {items.size(), {}};
        }
        return Inner::send(s, items, errors, mode);
    }

    template <class S>
    std::size_t recv(S s, std::span<const mmsg::RecvSlot> slots, mmsg::WaitMode mode,
                     std::error_code& ec) {
        const std::size_t n = Inner::recv(s, slots, mode, ec);
        if constexpr (How == Break::wrong_source) {
            if (n > 0) {
                mmsg::Endpoint& from = slots[0].meta->addr;
                from.port(static_cast<unsigned short>(from.port() + 1));
            }
        } else if constexpr (How == Break::wrong_wire_size) {
            for (std::size_t i = 0; i < n; ++i) slots[i].meta->wire_size = slots[i].meta->size + 1;
        }
        return n;
    }
};

//! Runs `kit` in a child process; its exit status: 1 if the kit failed an assertion, 0 if
//! not (anything else: it crashed or was killed).
template <class Kit>
int kit_in_a_child(Kit kit) {
    const pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0, "fork failed");
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, STDOUT_FILENO); // the kit's report of the broken backend is expected
        ::dup2(devnull, STDERR_FILENO);
        namespace ut = boost::unit_test;
        const auto failed = [] {
            const ut::test_unit_id id = ut::framework::current_test_case().p_id;
            return static_cast<std::size_t>(ut::results_collector.results(id).p_assertions_failed);
        };
        const std::size_t before = failed();
        kit();
        ::_exit(failed() > before ? 1 : 0);
    }
    int status = 0;
    pid_t waited;
    while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    BOOST_TEST_REQUIRE(waited == pid, "waitpid: " << std::generic_category().message(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

template <Break How>
int on_the_mock() {
    using B = Broken<mmsg::MockBackend, How>;
    return kit_in_a_child([] { mmsg::testing::check_mock<B>([](mmsg::MockNetwork& n) { return B(n); }); });
}

// On loopback only the receive breaks: a send break makes the kit wait out its receive
// timeouts (5 s each) for datagrams that never come; the mock shows those at once.
template <Break How>
int on_loopback() {
    return kit_in_a_child([] { mmsg::testing::check_loopback<Broken<mmsg::LinuxMmsgBackend, How>>(); });
}

} // namespace

BOOST_AUTO_TEST_CASE(the_unbroken_backend_passes_on_both_rigs) {
    BOOST_TEST(on_the_mock<Break::nothing>() == 0);
    BOOST_TEST(on_loopback<Break::nothing>() == 0);
}

BOOST_AUTO_TEST_CASE(a_datagram_dropped_but_reported_sent_fails_the_kit) {
    BOOST_TEST(on_the_mock<Break::drop_last_sent>() == 1);
}

BOOST_AUTO_TEST_CASE(a_failure_reported_as_success_fails_the_kit) {
    BOOST_TEST(on_the_mock<Break::failure_as_success>() == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_source_fails_the_kit) {
    BOOST_TEST(on_the_mock<Break::wrong_source>() == 1);
    BOOST_TEST(on_loopback<Break::wrong_source>() == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_wire_size_fails_the_kit) {
    BOOST_TEST(on_the_mock<Break::wrong_wire_size>() == 1);
    BOOST_TEST(on_loopback<Break::wrong_wire_size>() == 1);
}
