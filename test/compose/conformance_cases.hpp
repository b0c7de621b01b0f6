// The backend contract, tested once: the conformance kit (<mmsg/testing/conformance.hpp>) on
// every backend mmsg ships and every composition of them (Counting, FaultInjecting,
// Fallback), on loopback and over the mock network, from the one list in
// test/support/backends.hpp. One test case per backend. The compositions are split over
// four programs (conformance.cpp: the backends themselves; conformance_counting.cpp: in
// Counting; conformance_faults.cpp: in FaultInjecting; conformance_fallback.cpp: behind
// Fallback), each naming its lists as mmsg::test::selected::Real and ::Mock before
// including this file. Compile time grows with the instantiations of a program: one of all
// 28 took minutes under the sanitizers, and Counting and FaultInjecting together (16) once
// took over CI's 300-s action limit with both cores busy.
#ifndef MMSG_TEST_COMPOSE_CONFORMANCE_CASES_HPP
#define MMSG_TEST_COMPOSE_CONFORMANCE_CASES_HPP

#include <mmsg/testing/conformance.hpp>

#include "../support/backends.hpp"

#include <boost/test/unit_test.hpp>

#include <system_error>
#include <type_traits>

BOOST_AUTO_TEST_CASE_TEMPLATE(the_backend_honours_the_contract_on_loopback, B,
                              mmsg::test::selected::Real) {
    if (const std::error_code e = mmsg::test::refusal_here<B>()) {
        BOOST_TEST_MESSAGE("refused here (" << e.message() << "): skipped");
        return;
    }
    mmsg::testing::check_loopback<B>();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_backend_honours_the_contract_on_the_mock_network, B,
                              mmsg::test::selected::Mock) {
    mmsg::testing::check_mock<B>(
        [](mmsg::MockNetwork& n) { return mmsg::test::over_mock(std::type_identity<B>{}, n); });
}

#endif // MMSG_TEST_COMPOSE_CONFORMANCE_CASES_HPP
