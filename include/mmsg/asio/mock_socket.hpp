//! Kept for code written against the first release: MockSocket is a test double and lives
//! in <mmsg/testing/mock_socket.hpp> (or <mmsg/testing.hpp>).
#ifndef MMSG_ASIO_MOCK_SOCKET_HPP
#define MMSG_ASIO_MOCK_SOCKET_HPP

#include <mmsg/testing/mock_socket.hpp>

#endif // MMSG_ASIO_MOCK_SOCKET_HPP
