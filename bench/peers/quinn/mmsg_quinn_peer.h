//! The C ABI of bench/peers/quinn (libmmsg_quinn_peer.a, built by build/setup-peers.sh):
//! quinn-udp 0.3's UdpSocketState send and recv on a socket the caller owns.
#ifndef MMSG_BENCH_PEERS_QUINN_MMSG_QUINN_PEER_H
#define MMSG_BENCH_PEERS_QUINN_MMSG_QUINN_PEER_H

#include <stddef.h>

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

//! What one call moved: `datagrams` (segments, not transmits), `calls` (UdpSocketState
//! send or recv calls: one sendmmsg / recvmmsg each), and `error`: 0, or the errno that
//! stopped it (EAGAIN: the non-blocking socket would block; wait and call again).
typedef struct mmsg_quinn_moved {
    size_t datagrams;
    size_t calls;
    int error;
} mmsg_quinn_moved;

typedef struct mmsg_quinn_sender mmsg_quinn_sender;
typedef struct mmsg_quinn_receiver mmsg_quinn_receiver;

//! quinn_udp::BATCH_SIZE: transmits per sendmmsg, buffers per recvmmsg.
size_t mmsg_quinn_batch_size(void);

//! Configures `fd` with UdpSocketState::configure (non-blocking, GRO, PKTINFO, ...) and
//! prepares BATCH_SIZE transmits of `size`-byte datagrams to `dest`, each of as many
//! segments as quinn-udp's UdpState::max_gso_segments() allows, at most `max_segments`.
//! Null on failure, with the errno in *error. The socket stays the caller's.
mmsg_quinn_sender* mmsg_quinn_sender_new(int fd, const struct sockaddr* dest, socklen_t dest_len,
                                         size_t size, size_t max_segments, int* error);
//! Datagrams per transmit (1: quinn-udp found no GSO).
size_t mmsg_quinn_sender_segments(const mmsg_quinn_sender* s);
//! Sends `n` datagrams as transmits of mmsg_quinn_sender_segments(s) segments (the last
//! one shorter), BATCH_SIZE transmits per UdpSocketState::send. Stops at the first error.
mmsg_quinn_moved mmsg_quinn_send(mmsg_quinn_sender* s, size_t n);
void mmsg_quinn_sender_free(mmsg_quinn_sender* s);

//! Configures `fd` with UdpSocketState::configure (which turns UDP_GRO on) and allocates
//! BATCH_SIZE receive buffers of 64 KiB. Null on failure, with the errno in *error.
mmsg_quinn_receiver* mmsg_quinn_receiver_new(int fd, int* error);
//! One UdpSocketState::recv into up to `slots` buffers (at most BATCH_SIZE); counts the
//! datagrams from each RecvMeta's len and stride (GRO), without splitting them.
mmsg_quinn_moved mmsg_quinn_recv(mmsg_quinn_receiver* r, size_t slots);
void mmsg_quinn_receiver_free(mmsg_quinn_receiver* r);

#ifdef __cplusplus
}
#endif

#endif // MMSG_BENCH_PEERS_QUINN_MMSG_QUINN_PEER_H
