//! Socket options mmsg knows how to ask for: mmsg::enable_drop_count.
#ifndef MMSG_SOCKET_OPTIONS_HPP
#define MMSG_SOCKET_OPTIONS_HPP

#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/socket_like.hpp>

#include <system_error>

#include <sys/socket.h>

namespace mmsg {

/*! Asks the kernel to report, with every datagram received on `s`, how many datagrams it
    has dropped on the socket for lack of receive-buffer room (SO_RXQ_OVFL). Receives on
    every kernel backend then keep the count in the socket's SocketState: read it with
    `receiver.socket_state(s).dropped()` (or `s.mmsg_state().dropped()` for a socket that
    carries its state). Returns the setsockopt error, if any (ENOTSOCK, ...).
*/
template <SocketLike Socket>
std::error_code enable_drop_count(Socket&& s) noexcept {
#ifdef SO_RXQ_OVFL
    return detail::set_int_option(detail::native(s), SOL_SOCKET, SO_RXQ_OVFL, 1);
#else
    (void)s;
    return std::make_error_code(std::errc::operation_not_supported);
#endif
}

} // namespace mmsg

#endif // MMSG_SOCKET_OPTIONS_HPP
