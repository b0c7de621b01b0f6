// A program outside the project, built against an *installed* mmsg (CMake and pkg-config):
// it sends a batch to itself over loopback and receives it back. Exit status 0 = it works.
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdio>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

int main() {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::udp::socket rx(io, {asio::ip::address_v4::loopback(), 0});
    asio::ip::udp::socket tx(io, {asio::ip::address_v4::loopback(), 0});
    timeval tv{5, 0}; // never hang, whatever happens
    ::setsockopt(rx.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    constexpr std::string_view text = "hello from an installed mmsg";
    const auto bytes = std::as_bytes(std::span(text));
    const mmsg::Endpoint to = rx.local_endpoint();
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(8, {bytes, to});

    const mmsg::SendResult sent = mmsg::batch_send(tx, batch);
    if (!sent.ok()) {
        std::fprintf(stderr, "consumer: send failed: %s\n", sent.first_error.message().c_str());
        return 1;
    }
    std::vector<mmsg::Packet> packets(batch.size());
    std::error_code ec;
    const std::size_t got = mmsg::recv_mmsg_exact(rx, packets, ec);
    if (ec || got != batch.size()) {
        std::fprintf(stderr, "consumer: received %zu of %zu: %s\n", got, batch.size(),
                     ec.message().c_str());
        return 1;
    }
    for (const mmsg::Packet& p : packets)
        if (p.meta.size != bytes.size() || p.meta.addr != tx.local_endpoint()) return 1;
    std::printf("consumer: sent and received %zu datagrams\n", got);
    return 0;
}
