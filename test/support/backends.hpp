//! Test support: the one list of the backends mmsg ships, for every test that runs on each
//! of them (same test, every backend): the conformance kit (test/compose/conformance*.cpp),
//! the allocation test, the reliability matrices, the signal timeouts.
#ifndef MMSG_TEST_SUPPORT_BACKENDS_HPP
#define MMSG_TEST_SUPPORT_BACKENDS_HPP

#include <mmsg/backend/io_uring.hpp>
#include <mmsg/backend/io_uring_gso.hpp>
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/fault_injecting.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/hana/reverse.hpp>
#include <boost/hana/transform.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

#include <system_error>
#include <tuple>
#include <type_traits>

namespace mmsg::test {

namespace hana = boost::hana;

// clang-format off
//! Every backend that talks to the kernel. A new one joins every suite by being added here.
inline constexpr auto kernel_backends = hana::tuple_t<LinuxMmsgBackend, PortableBackend, LinuxGsoBackend
#if MMSG_HAS_IO_URING
                                                      , IoUringBackend, IoUringGsoBackend // where liburing is installed
#endif
                                                      >;
// clang-format on

//! The backends over MockNetwork: MockBackend, and LinuxGsoBackend's own code on the mock,
//! with its sendmmsg layer and with IoUringGsoBackend's (one outcome per message).
inline constexpr auto mock_backends =
    hana::tuple_t<MockBackend, MockGsoBackend, MockUringGsoBackend>;

//! Each of `bases` in layer L (Counting or FaultInjecting).
template <template <class> class L, class Bases>
constexpr auto layered(Bases bases) {
    return hana::transform(bases, hana::template_<L>);
}

/*! All of `bases` behind one Fallback, last first (so that IoUringBackend, which the kernel
    may refuse, leads and the fallback is exercised), bare and as
    Counting<FaultInjecting<Fallback<...>>>.
*/
template <class Bases>
constexpr auto fallbacks(Bases bases) {
    const auto fallback = hana::unpack(hana::reverse(bases), hana::template_<Fallback>);
    return hana::make_tuple(fallback,
                            hana::template_<Counting>(hana::template_<FaultInjecting>(fallback)));
}

//! A Hana list of types as a std::tuple type, the type list BOOST_AUTO_TEST_CASE_TEMPLATE takes.
template <class List>
using as_std_tuple =
    typename decltype(hana::unpack(std::declval<List>(), hana::template_<std::tuple>))::type;

//! The kernel backends.
using RealBackends = as_std_tuple<decltype(kernel_backends)>;
//! The kernel backends in Counting, and in FaultInjecting.
using RealBackendsCounted = as_std_tuple<decltype(layered<Counting>(kernel_backends))>;
using RealBackendsFaulted = as_std_tuple<decltype(layered<FaultInjecting>(kernel_backends))>;
//! The kernel backends behind Fallback (bare and layered).
using RealBackendsFallback = as_std_tuple<decltype(fallbacks(kernel_backends))>;
//! The mock backends.
using MockBackends = as_std_tuple<decltype(mock_backends)>;
//! The mock backends in Counting, and in FaultInjecting.
using MockBackendsCounted = as_std_tuple<decltype(layered<Counting>(mock_backends))>;
using MockBackendsFaulted = as_std_tuple<decltype(layered<FaultInjecting>(mock_backends))>;
//! The mock backends behind Fallback (bare and layered).
using MockBackendsFallback = as_std_tuple<decltype(fallbacks(mock_backends))>;

//! B made over MockNetwork `n` (a mock backend or a composition of them).
inline MockBackend over_mock(std::type_identity<MockBackend>, MockNetwork& n) {
    return MockBackend(n);
}
inline MockGsoBackend over_mock(std::type_identity<MockGsoBackend>, MockNetwork& n) {
    return MockGsoBackend(MockGsoOps(n));
}
inline MockUringGsoBackend over_mock(std::type_identity<MockUringGsoBackend>, MockNetwork& n) {
    return MockUringGsoBackend(MockUringGsoOps(n));
}
template <class Inner>
Counting<Inner> over_mock(std::type_identity<Counting<Inner>>, MockNetwork& n);
template <class Inner>
FaultInjecting<Inner> over_mock(std::type_identity<FaultInjecting<Inner>>, MockNetwork& n);
template <class... Inner>
Fallback<Inner...> over_mock(std::type_identity<Fallback<Inner...>>, MockNetwork& n);

template <class Inner>
Counting<Inner> over_mock(std::type_identity<Counting<Inner>>, MockNetwork& n) {
    return Counting<Inner>(over_mock(std::type_identity<Inner>{}, n));
}
template <class Inner>
FaultInjecting<Inner> over_mock(std::type_identity<FaultInjecting<Inner>>, MockNetwork& n) {
    return FaultInjecting<Inner>(over_mock(std::type_identity<Inner>{}, n));
}
template <class... Inner>
Fallback<Inner...> over_mock(std::type_identity<Fallback<Inner...>>, MockNetwork& n) {
    return Fallback<Inner...>(over_mock(std::type_identity<Inner>{}, n)...);
}

/*! Why backend B refuses a UDP socket on this machine (its probe() says no: IoUringBackend
    where the kernel disables io_uring, and what wraps it alone); empty if it does not. A
    Fallback accepts when one of its backends does. Tests skip B, with a message, when set.
*/
template <class B>
std::error_code refusal_here() {
    if constexpr (ProbingBackend<B>) {
        boost::asio::io_context io;
        auto s = mmsg::testing::bound_socket(io, mmsg::testing::v4_loopback());
        return B{}.probe(s.native_handle());
    }
    return {};
}

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_BACKENDS_HPP
