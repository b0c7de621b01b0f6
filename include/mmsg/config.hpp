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

// MMSG_HAS_XDP: XdpBackend can be built: Linux with libxdp's <xdp/xsk.h> and libbpf's
// <bpf/libbpf.h> (Debian: libxdp-dev, libbpf-dev); link with -lxdp -lbpf. Define MMSG_NO_XDP
// to leave it out even where the headers are.
#if defined(MMSG_NO_XDP)
#define MMSG_HAS_XDP 0
#elif defined(__linux__) && __has_include(<xdp/xsk.h>) && __has_include(<bpf/libbpf.h>)
#define MMSG_HAS_XDP 1
#else
#define MMSG_HAS_XDP 0
#endif

#endif // MMSG_CONFIG_HPP
