// The conformance kit on the backends behind Fallback (see conformance_cases.hpp).
#define BOOST_TEST_MODULE compose_conformance_fallback // before the kit, which includes Boost.Test
#include "../support/backends.hpp"

namespace mmsg::test::selected {
using Real = RealBackendsFallback;
using Mock = MockBackendsFallback;
} // namespace mmsg::test::selected

#include "conformance_cases.hpp"
