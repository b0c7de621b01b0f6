//! Umbrella header of the test doubles and helpers: MockNetwork and MockBackend (an
//! in-memory network with scripted faults), MockGsoOps (LinuxGsoBackend's code over that
//! network), MockSocket (an Asio I/O object over it, for the asynchronous layer), and the
//! loopback socket and numbered-payload helpers. Production code never includes these. The
//! conformance kit, which needs Boost.Test, is separate: <mmsg/testing/conformance.hpp>.
#ifndef MMSG_TESTING_HPP
#define MMSG_TESTING_HPP

#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_socket.hpp>

#endif // MMSG_TESTING_HPP
