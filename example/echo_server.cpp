//! An asynchronous batched echo server on Boost.Asio: a coroutine that receives every
//! queued datagram (up to 64) with one call and echoes them all back, each to its source,
//! with one call. Run with no arguments (as the test does) it serves on 127.0.0.1 for a
//! built-in client in the same process and exits; `echo_server PORT SECONDS` serves
//! 127.0.0.1:PORT for SECONDS seconds. Loopback only, always bounded.
#include <mmsg/asio.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// tag::server[]
// Echoes every datagram back to its source until the socket is cancelled or closed.
// Returns how many datagrams it echoed.
asio::awaitable<std::size_t> echo_server(udp::socket& socket) {
    std::array<mmsg::Packet, mmsg::num_rcvmmsgs> packets; // reused for every batch
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> replies;
    replies.reserve(packets.size());
    std::size_t echoed = 0;
    for (;;) {
        // Waits until readable, then takes every queued datagram with one recvmmsg.
        auto [ec, n] = co_await mmsg::async_recv_mmsg(socket, packets,
                                                      asio::as_tuple(asio::use_awaitable));
        if (ec) break; // operation_aborted: we were told to stop
        replies.clear();
        for (const mmsg::Packet& p : std::span(packets).first(n))
            replies.emplace_back(p.data(), p.meta.addr); // the same bytes, back to the sender
        // One sendmmsg for the whole batch; if the socket is full it waits and resumes.
        auto [send_ec, r] = co_await mmsg::async_batch_send(socket, replies,
                                                            asio::as_tuple(asio::use_awaitable));
        echoed += r.sent; // a reply the kernel refused (r.failed) is dropped, as UDP may
        if (send_ec) break;
    }
    co_return echoed;
}
// end::server[]

// The built-in client: bursts of numbered datagrams, each burst's echoes checked.
asio::awaitable<bool> check_client(udp::socket& client, mmsg::Endpoint server) {
    constexpr std::size_t bursts = 20, burst = 48;
    std::array<std::array<std::byte, 100>, burst> payloads{};
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch;
    for (auto& p : payloads) batch.emplace_back(p, server);
    std::array<mmsg::Packet, burst> echoes;
    for (std::uint32_t b = 0; b < bursts; ++b) {
        for (std::uint32_t i = 0; i < burst; ++i) {
            const std::uint32_t tag = b * burst + i;
            std::memcpy(payloads[i].data(), &tag, sizeof tag);
        }
        const mmsg::SendResult sent = co_await mmsg::async_batch_send(client, batch, asio::use_awaitable);
        if (!sent.ok()) co_return false;
        const std::size_t n = co_await mmsg::async_recv_mmsg_exact(client, echoes, asio::use_awaitable);
        for (std::uint32_t i = 0; i < n; ++i) {
            std::uint32_t tag = 0;
            std::memcpy(&tag, echoes[i].buffer.data(), sizeof tag);
            if (tag != b * burst + i || echoes[i].meta.size != payloads[i].size() ||
                echoes[i].meta.addr != server)
                co_return false;
        }
    }
    std::printf("echo_server: %zu datagrams echoed and checked\n", bursts * burst);
    co_return true;
}

} // namespace

int main(int argc, char** argv) {
    asio::io_context io;
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    const int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
    udp::socket server(io, udp::endpoint(asio::ip::address_v4::loopback(), port));

    // Bounded in time whatever happens: when the timer fires, everything is cancelled.
    asio::steady_timer deadline(io, std::chrono::seconds(seconds));
    udp::socket client(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    deadline.async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        server.cancel();
        client.cancel();
    });

    std::size_t echoed = 0;
    asio::co_spawn(io, echo_server(server), [&](std::exception_ptr e, std::size_t n) {
        if (e) std::fprintf(stderr, "echo_server: the server failed\n");
        echoed = n;
        deadline.cancel();
    });
    bool ok = true;
    if (argc > 1) {
        std::printf("echo_server: serving %s for %d s\n",
                    server.local_endpoint().address().to_string().c_str(), seconds);
    } else {
        ok = false;
        asio::co_spawn(io, check_client(client, server.local_endpoint()),
                       [&](std::exception_ptr e, bool passed) {
                           ok = !e && passed;
                           server.cancel(); // the client is done: stop the server
                       });
    }
    io.run();
    std::printf("echo_server: echoed %zu datagrams\n", echoed);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
