// The conformance kit on each backend in Counting and in FaultInjecting (see conformance_cases.hpp).
#define BOOST_TEST_MODULE compose_conformance_layers // before the kit, which includes Boost.Test
#include "../support/backends.hpp"

namespace mmsg::test::selected {
using Real = RealBackendsLayered;
using Mock = MockBackendsLayered;
} // namespace mmsg::test::selected

#include "conformance_cases.hpp"
