//! Defines the loopback helpers that the conformance kit and mmsg's own tests share: bound
//! UDP sockets that can never hang a receive, loopback endpoints, and descriptors that fail
//! in known ways. Only loopback addresses (127.0.0.1, ::1) are ever used.
#ifndef MMSG_TESTING_LOOPBACK_HPP
#define MMSG_TESTING_LOOPBACK_HPP

#include <mmsg/endpoint.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace mmsg::testing {

//! 127.0.0.1:port (port 0: any free port, once bound).
inline Endpoint v4_loopback(std::uint16_t port = 0) {
    return {boost::asio::ip::address_v4::loopback(), port};
}
//! [::1]:port.
inline Endpoint v6_loopback(std::uint16_t port = 0) {
    return {boost::asio::ip::address_v6::loopback(), port};
}
//! 255.255.255.255:port. From a socket without SO_BROADCAST a send to it fails locally with
//! EACCES, that datagram alone: a kernel-made failure that sends nothing anywhere.
inline Endpoint broadcast(std::uint16_t port = 9) {
    return {boost::asio::ip::address_v4::broadcast(), port};
}

//! Makes blocking receives on socket `s` (anything with native_handle()) give up after
//! `timeout` (SO_RCVTIMEO).
template <class Socket>
void set_rcvtimeo(Socket& s, std::chrono::milliseconds timeout) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/*! A UDP socket bound to `local` (a loopback endpoint, port 0 for any) whose blocking
    receives give up after `rcv_timeout` (SO_RCVTIMEO), so that no test can hang on a
    receive. Throws boost::system::system_error if the socket cannot be opened or bound.
*/
inline boost::asio::ip::udp::socket
bound_socket(boost::asio::io_context& io, const Endpoint& local,
             std::chrono::milliseconds rcv_timeout = std::chrono::seconds(5)) {
    boost::asio::ip::udp::socket s(io, local.protocol());
    s.bind(local);
    set_rcvtimeo(s, rcv_timeout);
    return s;
}

/*! Asks for a receive buffer of `bytes` on `s`: SO_RCVBUFFORCE where the process may
    (root, CAP_NET_ADMIN), else SO_RCVBUF, which the kernel caps at net.core.rmem_max.
    Returns whether the kernel granted at least `bytes`.
*/
template <class Socket>
bool set_rcvbuf(Socket& s, int bytes) noexcept {
    const int fd = s.native_handle();
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    int granted = 0;
    socklen_t len = sizeof granted;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len) != 0) return false;
    return granted / 2 >= bytes; // Linux reports twice what it grants for payload
}

/*! Two bound UDP sockets on 127.0.0.1, `tx` and `rx` (receives give up after 5 s), their
    endpoints, and their io_context; `rx` asks for a receive buffer of `rcvbuf` bytes (best
    effort, see set_rcvbuf). A fixture for tests that send from one socket to another.
*/
struct LoopbackPair {
    explicit LoopbackPair(int rcvbuf = 8 << 20) { set_rcvbuf(rx, rcvbuf); }

    boost::asio::io_context io;
    boost::asio::ip::udp::socket tx = bound_socket(io, v4_loopback());
    boost::asio::ip::udp::socket rx = bound_socket(io, v4_loopback());
    Endpoint tx_ep = tx.local_endpoint();
    Endpoint rx_ep = rx.local_endpoint();
};

//! Whether this host can bind a UDP socket to ::1 (containers often have no IPv6).
inline bool has_ipv6_loopback(boost::asio::io_context& io) {
    boost::system::error_code ec;
    boost::asio::ip::udp::socket probe(io);
    probe.open(boost::asio::ip::udp::v6(), ec);
    if (!ec) probe.bind(v6_loopback(), ec);
    return !ec;
}

//! An open descriptor that is not a socket (/dev/null): a send on it fails with ENOTSOCK.
//! `fd` is -1 if /dev/null could not be opened.
class DevNull {
public:
    DevNull() noexcept : fd(::open("/dev/null", O_WRONLY | O_CLOEXEC)) {}
    DevNull(const DevNull&) = delete;
    DevNull& operator=(const DevNull&) = delete;
    ~DevNull() {
        if (fd >= 0) ::close(fd);
    }
    const int fd;
};

} // namespace mmsg::testing

#endif // MMSG_TESTING_LOOPBACK_HPP
