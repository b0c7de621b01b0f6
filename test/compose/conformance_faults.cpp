// The conformance kit on each backend in FaultInjecting (see conformance_cases.hpp).
#define BOOST_TEST_MODULE compose_conformance_faults // before the kit, which includes Boost.Test
#include "../support/backends.hpp"

namespace mmsg::test::selected {
using Real = RealBackendsFaulted;
using Mock = MockBackendsFaulted;
} // namespace mmsg::test::selected

#include "conformance_cases.hpp"
