//! The library's size limits: packet capacity, datagrams per receive and per send call.
#ifndef MMSG_LIMITS_HPP
#define MMSG_LIMITS_HPP

#include <cstddef>

namespace mmsg {

//! Payload capacity of a default Packet: 1280 (IPv6 minimum MTU) - 40 (IPv6) - 8 (UDP).
inline constexpr std::size_t packet_data_size = 1232;

//! The most datagrams one recv_mmsg call returns.
inline constexpr std::size_t num_rcvmmsgs = 64;

//! The most datagrams one sendmmsg(2) call accepts (UIO_MAXIOV); the mock enforces it too.
inline constexpr std::size_t max_send_batch = 1024;

} // namespace mmsg

#endif // MMSG_LIMITS_HPP
