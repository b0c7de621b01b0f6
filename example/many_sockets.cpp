//! Many sockets, one receiver: each socket carries its own per-socket state (mmsg::Socket,
//! or with_state beside an Asio socket), so GRO segments kept for one socket are handed to
//! that socket only, and serving a socket costs no lookup. Loopback only; built and run as
//! a test (exit status 0 = every check held).
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstddef>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "many_sockets: %s\n", what);
        ++failures;
    }
}

} // namespace

int main() {
    const mmsg::Endpoint any_port(asio::ip::address_v4::loopback(), 0);
    constexpr std::size_t count = 100;
    constexpr std::size_t per_socket = 20; // bounded: 2000 datagrams in all

    // tag::sockets[]
    // A hundred sockets, each with its own state, served by one receiver.
    std::vector<mmsg::Socket> sockets;
    for (std::size_t i = 0; i < count; ++i) sockets.emplace_back(any_port);
    mmsg::BatchReceiver<mmsg::LinuxGsoBackend> receiver;
    for (mmsg::Socket& s : sockets) receiver.backend().enable_gro(s); // GRO on, per socket
    // end::sockets[]

    // Twenty datagrams to every socket, as one batch: they leave as UDP_SEGMENT trains.
    mmsg::Socket tx(any_port);
    const std::string payload(100, 'x');
    std::vector<std::pair<std::string_view, mmsg::Endpoint>> batch;
    for (const mmsg::Socket& s : sockets)
        for (std::size_t k = 0; k < per_socket; ++k) batch.emplace_back(payload, s.local_endpoint());
    check(mmsg::BatchSender<mmsg::LinuxGsoBackend>().batch_send(tx, batch).ok(), "send");

    // tag::round_robin[]
    // Round robin with 8 packets per call: a coalesced datagram of 20 segments leaves 12 kept
    // in that socket's own state, handed out by its next receive, never to another socket.
    std::vector<mmsg::Packet> packets(8);
    std::vector<std::size_t> got(count, 0);
    std::error_code ec;
    for (int round = 0; round < 10; ++round)
        for (std::size_t i = 0; i < count; ++i) got[i] += receiver.try_recv_mmsg(sockets[i], packets, ec);
    // end::round_robin[]
    for (std::size_t i = 0; i < count; ++i) check(got[i] == per_socket, "every socket got its own 20");
    check(receiver.discarded() == 0, "nothing discarded");

    // tag::asio[]
    // An Asio socket: keep a SocketState beside it and pass both.
    asio::io_context io;
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    mmsg::SocketState rx_state;
    mmsg::batch_send(tx, std::vector<std::pair<std::string_view, mmsg::Endpoint>>(
                             3, {payload, rx.local_endpoint()}));
    check(mmsg::recv_mmsg_exact(mmsg::with_state(rx, rx_state), std::span(packets).first(3)) == 3,
          "asio socket with its state");
    // end::asio[]

    std::printf("many_sockets: %zu sockets, %zu datagrams each, %s\n", count, per_socket,
                failures == 0 ? "all checks held" : "FAILED");
    return failures == 0 ? 0 : 1;
}
