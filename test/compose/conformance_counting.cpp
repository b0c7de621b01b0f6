// The conformance kit on each backend in Counting (see conformance_cases.hpp).
#define BOOST_TEST_MODULE compose_conformance_counting // before the kit, which includes Boost.Test
#include "../support/backends.hpp"

namespace mmsg::test::selected {
using Real = RealBackendsCounted;
using Mock = MockBackendsCounted;
} // namespace mmsg::test::selected

#include "conformance_cases.hpp"
