//! Platform detection: the only place (with include/mmsg/backend/) that tests the OS.
#ifndef MMSG_CONFIG_HPP
#define MMSG_CONFIG_HPP

// MMSG_HAS_MMSG: sendmmsg(2)/recvmmsg(2) exist (Linux).
// MMSG_HAS_UDP_GSO: UDP_SEGMENT / UDP_GRO socket options exist (Linux >= 4.18 / 5.0 headers).
#if defined(__linux__)
#define MMSG_HAS_MMSG 1
#if __has_include(<linux/udp.h>)
#define MMSG_HAS_UDP_GSO 1
#else
#define MMSG_HAS_UDP_GSO 0
#endif
#else
#define MMSG_HAS_MMSG 0
#define MMSG_HAS_UDP_GSO 0
#endif

#if defined(MMSG_NO_IO_URING)
#define MMSG_HAS_IO_URING 0
#elif defined(__linux__) && __has_include(<liburing.h>)
#define MMSG_HAS_IO_URING 1
#else
#define MMSG_HAS_IO_URING 0
#endif

#endif // MMSG_CONFIG_HPP
