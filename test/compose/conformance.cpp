// The conformance kit on the backends themselves (see conformance_cases.hpp).
#define BOOST_TEST_MODULE compose_conformance // before the kit, which includes Boost.Test
#include "../support/backends.hpp"

namespace mmsg::test::selected {
using Real = RealBackends;
using Mock = MockBackends;
} // namespace mmsg::test::selected

#include "conformance_cases.hpp"
