//! The README's usage example: send a batch over loopback with one system call, receive
//! it with another. Built and run as a test; the README shows the tagged region verbatim
//! (test/readme checks that they are identical).
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

int main() {
    namespace asio = boost::asio;
    using asio::ip::udp;
    asio::io_context io;
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    // No test may hang: give up on receiving after five seconds.
    timeval timeout{5, 0};
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    // tag::usage[]
    udp::socket tx(io, udp::v4());
    const mmsg::Endpoint to = rx.local_endpoint();

    // Eight datagrams, one sendmmsg(2): each element is (payload, destination).
    std::vector<std::pair<std::string, mmsg::Endpoint>> batch;
    for (int i = 0; i < 8; ++i)
        batch.emplace_back("datagram " + std::to_string(i), to);
    const mmsg::SendResult sent = mmsg::batch_send(tx, batch);
    if (!sent.ok()) return 1; // sent.failed / sent.unsent / sent.first_error say why

    // Up to 64 queued datagrams per recvmmsg(2); recv_mmsg_exact fills all eight.
    std::array<mmsg::Packet, 8> packets;
    mmsg::recv_mmsg_exact(rx, packets); // throws std::system_error on timeout or error
    for (const mmsg::Packet& p : packets)
        std::printf("%zu bytes from %s\n", p.meta.size, p.meta.addr.address().to_string().c_str());
    // end::usage[]

    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto d = packets[i].data();
        if (std::string(reinterpret_cast<const char*>(d.data()), d.size()) != batch[i].first) {
            std::fprintf(stderr, "datagram %zu arrived altered or out of order\n", i);
            return 1;
        }
    }
    return 0;
}
