//! Kept for code written against the first release: MockNetwork and MockBackend are test
//! doubles and live in <mmsg/testing/mock_network.hpp> (or <mmsg/testing.hpp>).
#ifndef MMSG_BACKEND_MOCK_HPP
#define MMSG_BACKEND_MOCK_HPP

#include <mmsg/testing/mock_network.hpp>

#endif // MMSG_BACKEND_MOCK_HPP
