// The backend contract, tested once: the conformance kit (<mmsg/testing/conformance.hpp>) on
// every backend mmsg ships and every composition of them (Counting, FaultInjecting,
// Fallback), on loopback and over the mock network, from the one list in
// test/support/backends.hpp. One test case per backend.
#define BOOST_TEST_MODULE compose_conformance // before the kit, which includes Boost.Test
#include <mmsg/testing/conformance.hpp>

#include "../support/backends.hpp"

#include <boost/test/unit_test.hpp>

#include <system_error>

BOOST_AUTO_TEST_CASE_TEMPLATE(the_backend_honours_the_contract_on_loopback, B,
                              mmsg::test::RealBackendsComposed) {
    if (const std::error_code e = mmsg::test::refusal_here<B>()) {
        BOOST_TEST_MESSAGE("refused here (" << e.message() << "): skipped");
        return;
    }
    mmsg::testing::check_loopback<B>();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_backend_honours_the_contract_on_the_mock_network, B,
                              mmsg::test::MockBackendsComposed) {
    mmsg::testing::check_mock<B>(
        [](mmsg::MockNetwork& n) { return mmsg::test::over_mock(std::type_identity<B>{}, n); });
}
