// The conformance kit on every shipped backend and every composition policy: one Hana type
// list per transport, iterated once.
#define BOOST_TEST_MODULE compose_conformance // before the kit, which includes Boost.Test
#include <mmsg/testing/conformance.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/fault_injecting.hpp>
#if MMSG_HAS_IO_URING
#include <mmsg/backend/io_uring.hpp>
#endif

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/test/unit_test.hpp>

namespace hana = boost::hana;
using namespace mmsg;

namespace {

#if MMSG_HAS_IO_URING
using FastestFirst = Fallback<IoUringBackend, LinuxMmsgBackend, PortableBackend>;
constexpr auto kernel_backends =
    hana::tuple_t<LinuxMmsgBackend, PortableBackend, LinuxGsoBackend, IoUringBackend, FastestFirst,
                  Counting<IoUringBackend>, Counting<LinuxMmsgBackend>,
                  FaultInjecting<LinuxMmsgBackend>, FaultInjecting<IoUringBackend>,
                  Counting<FaultInjecting<FastestFirst>>>;
#else
using FastestFirst = Fallback<LinuxMmsgBackend, PortableBackend>;
constexpr auto kernel_backends =
    hana::tuple_t<LinuxMmsgBackend, PortableBackend, LinuxGsoBackend, FastestFirst,
                  Counting<LinuxMmsgBackend>, FaultInjecting<LinuxMmsgBackend>,
                  Counting<FaultInjecting<FastestFirst>>>;
#endif

// Backends over a MockNetwork, each with how to make it from the network.
template <class B>
struct OverMock;
template <>
struct OverMock<MockBackend> {
    static MockBackend make(MockNetwork& n) { return MockBackend(n); }
};
template <template <class> class Policy, class Inner>
struct OverMock<Policy<Inner>> {
    static Policy<Inner> make(MockNetwork& n) { return Policy<Inner>(OverMock<Inner>::make(n)); }
};
template <class Inner>
struct OverMock<Fallback<Inner>> {
    static Fallback<Inner> make(MockNetwork& n) {
        return Fallback<Inner>(OverMock<Inner>::make(n));
    }
};

// LinuxGsoBackend's own code over the mock network (its kernel calls simulated).
template <>
struct OverMock<MockGsoBackend> {
    static MockGsoBackend make(MockNetwork& n) { return MockGsoBackend(MockGsoOps(n)); }
};

constexpr auto mock_backends =
    hana::tuple_t<MockBackend, Counting<MockBackend>, FaultInjecting<MockBackend>,
                  Fallback<MockBackend>, Counting<FaultInjecting<Fallback<MockBackend>>>,
                  MockGsoBackend, Counting<MockGsoBackend>>;

} // namespace

BOOST_AUTO_TEST_CASE(every_kernel_backend_and_composition_honours_the_contract_on_loopback) {
#if MMSG_HAS_IO_URING
    if (const std::error_code e = IoUringBackend::available()) {
        // Only where the kernel refuses io_uring (kernel.io_uring_disabled, seccomp); the
        // Fallback compositions still run and must then pick the next backend.
        BOOST_TEST_MESSAGE("io_uring unavailable here (" << e.message()
                                                         << "): IoUringBackend alone is skipped");
    }
#endif
    hana::for_each(kernel_backends, [](auto t) {
        using B = typename decltype(t)::type;
#if MMSG_HAS_IO_URING
        if constexpr (std::is_same_v<B, IoUringBackend> ||
                      std::is_same_v<B, Counting<IoUringBackend>> ||
                      std::is_same_v<B, FaultInjecting<IoUringBackend>>)
            if (IoUringBackend::available()) return;
#endif
        testing::check_loopback<B>();
    });
}

BOOST_AUTO_TEST_CASE(every_backend_over_the_mock_passes_its_faults_through_faithfully) {
    hana::for_each(mock_backends, [](auto t) {
        using B = typename decltype(t)::type;
        testing::check_mock<B>([](MockNetwork& n) { return OverMock<B>::make(n); });
    });
}
