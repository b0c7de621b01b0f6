//! Test support: loopback sockets and small helpers shared by the test suites.
//! Only loopback addresses are ever used (the project's network rule).
#ifndef MMSG_TEST_SUPPORT_LOOPBACK_HPP
#define MMSG_TEST_SUPPORT_LOOPBACK_HPP

#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace mmsg::test {

namespace asio = boost::asio;
using udp = asio::ip::udp;

inline Endpoint v4_loopback(std::uint16_t port = 0) {
    return {asio::ip::address_v4::loopback(), port};
}
inline Endpoint v6_loopback(std::uint16_t port = 0) {
    return {asio::ip::address_v6::loopback(), port};
}
//! 255.255.255.255: without SO_BROADCAST a send fails locally with EACCES; nothing leaves.
inline Endpoint broadcast(std::uint16_t port = 9) {
    return {asio::ip::address_v4::broadcast(), port};
}

//! A bound UDP socket with a receive timeout, so that no test can hang on a receive.
inline udp::socket bound_socket(asio::io_context& io, const Endpoint& local,
                                std::chrono::milliseconds rcv_timeout = std::chrono::seconds(5)) {
    udp::socket s(io, local.protocol());
    s.bind(local);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(rcv_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((rcv_timeout.count() % 1000) * 1000);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

inline void set_rcvbuf(udp::socket& s, int bytes) {
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0 ||
        ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

//! A payload whose bytes encode (tag, index) so that order and integrity can be checked.
inline std::vector<std::byte> payload(std::size_t size, std::uint32_t tag, std::uint32_t index) {
    std::vector<std::byte> p(size);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = static_cast<std::byte>((tag * 131u + index * 7u + i) & 0xff);
    return p;
}

//! An open file descriptor that is not a socket (/dev/null): sends fail with ENOTSOCK.
struct DevNull {
    int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    DevNull() = default;
    DevNull(const DevNull&) = delete;
    DevNull& operator=(const DevNull&) = delete;
    ~DevNull() {
        if (fd >= 0) ::close(fd);
    }
};

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_LOOPBACK_HPP
