//! What every kernel backend does with a socket before its first call on it: resolve its
//! SocketState, and refuse a descriptor that is not a datagram socket, once per socket.
#ifndef MMSG_DETAIL_KERNEL_SOCKET_HPP
#define MMSG_DETAIL_KERNEL_SOCKET_HPP

#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/socket_state.hpp>

#include <system_error>

#include <sys/socket.h>

namespace mmsg::detail {

//! A SocketState part: the socket was found to be a datagram socket.
struct DatagramChecked {
    bool yes = false;
};

/*! EPROTOTYPE (std::errc::wrong_protocol_type) when the socket behind `s` is not a datagram
    socket (a TCP socket, say: sendmmsg would write the payloads into its stream and recvmmsg
    read stream bytes as one "datagram"), else nothing. Asks the kernel once per socket (the
    answer is kept in s.state, which must be set). A descriptor that is not a socket at all,
    or is closed, passes: the call itself then fails with the kernel's error (ENOTSOCK,
    EBADF), and nothing is remembered about it.
*/
inline std::error_code refuse_non_datagram(SocketRef s) {
    DatagramChecked& checked = s.state->get<DatagramChecked>();
    if (checked.yes) return {};
    int type = 0;
    if (socket_type(s.fd, type)) return {};
    if (type != SOCK_DGRAM) return std::make_error_code(std::errc::wrong_protocol_type);
    checked.yes = true;
    return {};
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_KERNEL_SOCKET_HPP
