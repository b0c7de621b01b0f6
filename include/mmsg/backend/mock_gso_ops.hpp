//! Kept for code written against the first release: MockGsoOps is a test double and lives
//! in <mmsg/testing/mock_gso_ops.hpp> (or <mmsg/testing.hpp>).
#ifndef MMSG_BACKEND_MOCK_GSO_OPS_HPP
#define MMSG_BACKEND_MOCK_GSO_OPS_HPP

#include <mmsg/testing/mock_gso_ops.hpp>

#endif // MMSG_BACKEND_MOCK_GSO_OPS_HPP
