//! Choosing a backend: the same code on every backend, chosen at compile time. The backend
//! is a template argument of BatchSender / BatchReceiver; the algorithm (accounting,
//! retries, chunking) is the same for all, only the system calls differ. Loopback only,
//! bounded; built and run as a test.
#include <mmsg.hpp>

#include <mmsg/config.hpp>
#if MMSG_HAS_UDP_GSO
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/gso_capability.hpp>
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdio>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;
using asio::ip::udp;

// tag::generic[]
// Written once, for any backend: sends `count` datagrams of `size` bytes from tx to rx and
// receives them back. Returns how many arrived intact.
template <class Backend>
std::size_t round_trip(udp::socket& tx, udp::socket& rx, std::size_t count, std::size_t size) {
    mmsg::BatchSender<Backend> sender;
    mmsg::BatchReceiver<Backend> receiver;
    std::vector<std::byte> payload(size, std::byte{0x5a});
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(
        count, {payload, rx.local_endpoint()});
    if (!sender.batch_send(tx, batch).ok()) return 0;

    std::vector<mmsg::Packet> packets(count);
    std::error_code ec;
    const std::size_t got = receiver.recv_mmsg_exact(rx, packets, ec);
    std::size_t intact = 0;
    for (const mmsg::Packet& p : std::span(packets).first(got))
        intact += p.meta.size == size && p.meta.flags == mmsg::PacketFlags::none;
    return intact;
}
// end::generic[]

int main() {
    asio::io_context io;
    udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    timeval timeout{5, 0}; // a receive gives up instead of hanging
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    constexpr std::size_t count = 48, size = 1200; // ~110 KB queued at most: fits the buffer

    bool ok = true;
    // tag::choose[]
    // DefaultBackend: sendmmsg/recvmmsg on Linux, one datagram per call elsewhere.
    ok &= round_trip<mmsg::DefaultBackend>(tx, rx, count, size) == count;
    // PortableBackend: sendto/recvmsg, one datagram per system call; any POSIX system.
    ok &= round_trip<mmsg::PortableBackend>(tx, rx, count, size) == count;
#if MMSG_HAS_UDP_GSO
    // LinuxGsoBackend: UDP_SEGMENT trains and UDP_GRO receive, several times fewer trips
    // through the kernel; falls back to plain datagrams by itself where offload fails.
    std::printf("UDP GSO %s, GRO %s here\n",
                mmsg::gso_capability(tx).gso() ? "works" : "does not work",
                mmsg::gso_capability(tx).gro() ? "works" : "does not work");
    ok &= round_trip<mmsg::LinuxGsoBackend>(tx, rx, count, size) == count;
#endif
    // end::choose[]
    std::printf("choosing a backend: %s\n", ok ? "every backend delivered every datagram" : "FAILED");
    return ok ? 0 : 1;
}
