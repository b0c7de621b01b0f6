//! A blocking batched echo server: each recvmmsg(2) takes every queued datagram (up to 64),
//! one sendmmsg(2) sends them all back to where they came from. The client sends bursts and
//! checks every echo. Loopback only, bounded; built and run as a test.
//! (The asynchronous echo on Boost.Asio is example/echo_server.cpp.)
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

void set_receive_timeout(udp::socket& s, int seconds) {
    timeval timeout{seconds, 0}; // never hang: a blocked receive gives up
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

// tag::server[]
// Echoes until `total` datagrams went back, or until nothing arrives for the socket's
// receive timeout. Returns how many it echoed.
std::size_t echo_server(udp::socket& socket, std::size_t total) {
    mmsg::BatchReceiver<> receiver;
    mmsg::BatchSender<> sender;
    std::array<mmsg::Packet, mmsg::num_rcvmmsgs> packets; // reused for every batch
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> replies;
    replies.reserve(packets.size());

    std::size_t echoed = 0;
    while (echoed < total) {
        std::error_code ec;
        // Waits for the first datagram, then takes all that are queued, in one call.
        const std::size_t n = receiver.recv_mmsg(socket, packets, ec);
        if (ec) break; // timeout (operation_would_block) or a socket error
        replies.clear();
        for (const mmsg::Packet& p : std::span(packets).first(n))
            replies.emplace_back(p.data(), p.meta.addr); // back to the sender, same bytes
        const mmsg::SendResult r = sender.batch_send(socket, replies);
        echoed += r.sent; // a reply the kernel refused is dropped, as UDP may
    }
    return echoed;
}
// end::server[]

} // namespace

int main() {
    asio::io_context io;
    udp::socket server(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket client(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    set_receive_timeout(server, 5);
    set_receive_timeout(client, 5);

    constexpr std::size_t bursts = 20, burst = 32; // 640 datagrams, in-flight <= 32
    std::size_t echoed = 0;
    std::thread t([&] { echoed = echo_server(server, bursts * burst); });

    // The client: a burst of numbered datagrams, then all of its echoes back.
    std::array<std::array<std::byte, 200>, burst> payloads{};
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch;
    std::array<mmsg::Packet, burst> echoes;
    bool ok = true;
    for (std::uint32_t b = 0; b < bursts && ok; ++b) {
        batch.clear();
        for (std::uint32_t i = 0; i < burst; ++i) {
            const std::uint32_t tag = b * burst + i;
            std::memcpy(payloads[i].data(), &tag, sizeof tag);
            batch.emplace_back(payloads[i], server.local_endpoint());
        }
        ok = mmsg::batch_send(client, batch).ok();
        std::error_code ec;
        ok = ok && mmsg::recv_mmsg_exact(client, echoes, ec) == burst && !ec;
        // Loopback keeps the order: echo i carries tag b * burst + i.
        for (std::uint32_t i = 0; i < burst && ok; ++i) {
            std::uint32_t tag = 0;
            std::memcpy(&tag, echoes[i].buffer.data(), sizeof tag);
            ok = echoes[i].meta.size == payloads[i].size() && tag == b * burst + i &&
                 echoes[i].meta.addr == server.local_endpoint();
        }
    }
    t.join();
    std::printf("batched echo: %zu datagrams echoed, %s\n", echoed, ok ? "all intact" : "MISMATCH");
    return ok && echoed == bursts * burst ? 0 : 1;
}
