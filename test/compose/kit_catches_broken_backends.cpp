// The conformance kit can fail: backends that each break one rule of the contract (a datagram
// dropped but reported sent, a failure reported as success, a wrong source, a wrong
// wire_size; the same for trains given whole, and a wrong segment size of a coalesced
// datagram) fail it, and the same backend unbroken passes, on both rigs. Each kit run is in
// a child process (fork), its report thrown away: the child exits 1 if the kit recorded any
// failed assertion, 0 if none; the parent checks that exit status.
#define BOOST_TEST_MODULE compose_kit_catches_broken_backends
#include <mmsg/testing/conformance.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/send_train.hpp>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

enum class Break {
    nothing,
    drop_last_sent,
    failure_as_success,
    wrong_source,
    wrong_wire_size,
    train_drop_last_sent,   // send_trains: the last datagram never sent, reported sent
    train_failure_as_success, // send_trains: a rejected datagram reported sent
    wrong_segment_size      // recv_coalesced: a coalesced datagram's segment size off by one
};

//! Which rule Broken breaks. Set in the child process before its kit runs; a value, not a
//! template argument, so that the kit is compiled once per Inner rather than once per break.
Break broken_rule = Break::nothing;

//! Inner with the rule `broken_rule` names broken.
template <class Inner>
struct Broken : Inner {
    using Inner::Inner;

    template <class S>
    mmsg::SendOutcome send(S s, std::span<const mmsg::SendItem> items,
                           std::span<std::error_code> errors, mmsg::WaitMode mode) {
        if (broken_rule == Break::drop_last_sent) { // never sent, reported sent
            if (items.size() > 1) {
                const std::size_t k = items.size() - 1;
                const mmsg::SendOutcome o = Inner::send(s, items.first(k), errors.first(k), mode);
                if (o.done < k || o.error) return o;
                errors[k].clear();
                return {items.size(), {}};
            }
        } else if (broken_rule == Break::failure_as_success) {
            const mmsg::SendOutcome o = Inner::send(s, items, errors, mode);
            if (!o.error) return o;
            for (std::size_t i = o.done; i < items.size(); ++i) errors[i].clear();
            return {items.size(), {}};
        }
        return Inner::send(s, items, errors, mode);
    }

    template <class S>
    mmsg::SendOutcome send_trains(S s, std::span<const mmsg::SendTrain> trains,
                                  std::span<std::error_code> errors, mmsg::WaitMode mode)
        requires mmsg::TrainSendBackend<Inner>
    {
        if (broken_rule == Break::train_drop_last_sent) {
            std::size_t n = 0;
            for (const mmsg::SendTrain& t : trains) n += t.datagrams();
            if (n > 1) {
                std::vector<mmsg::SendTrain> cut(trains.begin(), trains.end());
                if (cut.back().datagrams() == 1) cut.pop_back();
                else cut.back() = cut.back().slice(0, cut.back().datagrams() - 1);
                const mmsg::SendOutcome o = Inner::send_trains(s, cut, errors.first(n - 1), mode);
                if (o.done < n - 1 || o.error) return o;
                errors[n - 1].clear();
                return {n, {}};
            }
        } else if (broken_rule == Break::train_failure_as_success) {
            std::size_t n = 0;
            for (const mmsg::SendTrain& t : trains) n += t.datagrams();
            const mmsg::SendOutcome o = Inner::send_trains(s, trains, errors, mode);
            if (!o.error) return o;
            for (std::size_t i = o.done; i < n; ++i) errors[i].clear();
            return {n, {}};
        }
        return Inner::send_trains(s, trains, errors, mode);
    }

    template <class S>
    std::size_t recv_coalesced(S s, std::span<const mmsg::CoalescedSlot> slots,
                               mmsg::WaitMode mode, std::error_code& ec)
        requires mmsg::CoalescingRecvBackend<Inner>
    {
        const std::size_t n = Inner::recv_coalesced(s, slots, mode, ec);
        if (broken_rule == Break::wrong_segment_size)
            for (std::size_t i = 0; i < n; ++i)
                if (*slots[i].segment_size < slots[i].meta->size) ++*slots[i].segment_size;
        return n;
    }

    template <class S>
    std::size_t recv(S s, std::span<const mmsg::RecvSlot> slots, mmsg::WaitMode mode,
                     std::error_code& ec) {
        const std::size_t n = Inner::recv(s, slots, mode, ec);
        if (broken_rule == Break::wrong_source) {
            if (n > 0) {
                mmsg::Endpoint& from = slots[0].meta->addr;
                from.port(static_cast<unsigned short>(from.port() + 1));
            }
        } else if (broken_rule == Break::wrong_wire_size) {
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

int on_the_mock(Break how) {
    using B = Broken<mmsg::MockBackend>;
    return kit_in_a_child([how] {
        broken_rule = how;
        mmsg::testing::check_mock<B>([](mmsg::MockNetwork& n) { return B(n); });
    });
}

// The train breaks, on LinuxGsoBackend's own code over the mock network (which takes trains
// whole).
int trains_on_the_mock(Break how) {
    using B = Broken<mmsg::MockGsoBackend>;
    static_assert(mmsg::TrainSendBackend<B>);
    return kit_in_a_child([how] {
        broken_rule = how;
        mmsg::testing::check_mock<B>([](mmsg::MockNetwork& n) { return B(mmsg::MockGsoOps(n)); });
    });
}

// On loopback only the receive breaks: a send break makes the kit wait out its receive
// timeouts (5 s each) for datagrams that never come; the mock shows those at once.
int on_loopback(Break how) {
    return kit_in_a_child([how] {
        broken_rule = how;
        mmsg::testing::check_loopback<Broken<mmsg::LinuxMmsgBackend>>();
    });
}

// The coalesced receive break needs a kernel that coalesces (UDP GRO on loopback).
int coalescing_on_loopback(Break how) {
    return kit_in_a_child([how] {
        broken_rule = how;
        mmsg::testing::check_loopback<Broken<mmsg::LinuxGsoBackend>>();
    });
}

bool gro_works() {
    const mmsg::GsoCapability& c = mmsg::gso_capability(boost::asio::ip::udp::v4());
    if (!c.gro() || !c.gso())
        BOOST_TEST_MESSAGE("UDP GSO/GRO does not work here (" << c.error.message() << "): skipped");
    return c.gro() && c.gso();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_unbroken_backend_passes_on_both_rigs) {
    BOOST_TEST(on_the_mock(Break::nothing) == 0);
    BOOST_TEST(on_loopback(Break::nothing) == 0);
    BOOST_TEST(trains_on_the_mock(Break::nothing) == 0);
    if (gro_works()) BOOST_TEST(coalescing_on_loopback(Break::nothing) == 0);
}

BOOST_AUTO_TEST_CASE(a_datagram_dropped_but_reported_sent_fails_the_kit) {
    BOOST_TEST(on_the_mock(Break::drop_last_sent) == 1);
}

BOOST_AUTO_TEST_CASE(a_failure_reported_as_success_fails_the_kit) {
    BOOST_TEST(on_the_mock(Break::failure_as_success) == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_source_fails_the_kit) {
    BOOST_TEST(on_the_mock(Break::wrong_source) == 1);
    BOOST_TEST(on_loopback(Break::wrong_source) == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_wire_size_fails_the_kit) {
    BOOST_TEST(on_the_mock(Break::wrong_wire_size) == 1);
    BOOST_TEST(on_loopback(Break::wrong_wire_size) == 1);
}

BOOST_AUTO_TEST_CASE(a_train_datagram_dropped_but_reported_sent_fails_the_kit) {
    BOOST_TEST(trains_on_the_mock(Break::train_drop_last_sent) == 1);
}

BOOST_AUTO_TEST_CASE(a_train_failure_reported_as_success_fails_the_kit) {
    BOOST_TEST(trains_on_the_mock(Break::train_failure_as_success) == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_segment_size_fails_the_kit) {
    if (!gro_works()) return;
    BOOST_TEST(coalescing_on_loopback(Break::wrong_segment_size) == 1);
}
