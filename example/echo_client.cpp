//! An asynchronous echo client that measures round trips: one datagram at a time, then
//! batches of 64 sent with one async_batch_send and collected with async_recv_mmsg_exact.
//! `echo_client PORT` talks to `echo_server PORT SECONDS` on 127.0.0.1; with no arguments
//! (as the test runs it) it starts its own echo server in a child process, a blocking
//! batched one. Prints medians and 99th percentiles; loopback only, always bounded.
#include <mmsg/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
using asio::ip::udp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t batch = 64;

// The child's echo server: blocking recv_mmsg + batch_send on a plain descriptor. It stops
// on an empty datagram or when nothing arrives for 3 s.
int child_echo(int fd) {
    timeval idle{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    std::vector<mmsg::Packet> packets(mmsg::num_rcvmmsgs);
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> replies;
    for (;;) {
        std::error_code ec;
        const std::size_t n = mmsg::recv_mmsg(fd, packets, ec);
        if (ec) return 1;
        replies.clear();
        for (const mmsg::Packet& p : std::span(packets).first(n)) {
            if (p.meta.size == 0) return 0;
            replies.emplace_back(p.data(), p.meta.addr);
        }
        mmsg::batch_send(fd, replies);
    }
}

struct Stats {
    std::vector<double> us;
    void print(const char* what, std::size_t per) {
        std::sort(us.begin(), us.end());
        const double median = us[us.size() / 2], p99 = us[us.size() * 99 / 100];
        std::printf("%-28s %6zu rounds  median %8.1f us  p99 %8.1f us  (%6.2f us/datagram)\n",
                    what, us.size(), median, p99, median / static_cast<double>(per));
    }
};

// tag::client[]
// `rounds` round trips of `n` datagrams each: one async_batch_send, then every echo back
// with async_recv_mmsg_exact. Checks each echo; records the time of each round trip.
asio::awaitable<bool> round_trips(udp::socket& s, mmsg::Endpoint server, std::size_t n,
                                  std::size_t rounds, Stats& stats) {
    std::vector<std::array<std::byte, 64>> payloads(n);
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> out;
    for (auto& p : payloads) out.emplace_back(p, server);
    std::vector<mmsg::Packet> echoes(n);
    for (std::uint64_t r = 0; r < rounds; ++r) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t tag = r * n + i;
            std::memcpy(payloads[i].data(), &tag, sizeof tag);
        }
        const auto t0 = clock_type::now();
        const mmsg::SendResult sent = co_await mmsg::async_batch_send(s, out, asio::use_awaitable);
        const std::size_t got = co_await mmsg::async_recv_mmsg_exact(s, echoes, asio::use_awaitable);
        stats.us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        if (!sent.ok() || got != n) co_return false;
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t tag = 0;
            std::memcpy(&tag, echoes[i].buffer.data(), sizeof tag);
            if (tag != r * n + i || echoes[i].meta.size != payloads[i].size()) co_return false;
        }
    }
    co_return true;
}
// end::client[]

} // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    pid_t child = -1;
    if (argc > 1) {
        port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    } else {
        // Start our own server: bind in the parent (so we know the port), serve in a child.
        asio::io_context tmp;
        udp::socket s(tmp, udp::endpoint(asio::ip::address_v4::loopback(), 0));
        port = s.local_endpoint().port();
        const int fd = s.release();
        child = ::fork();
        if (child == 0) _exit(child_echo(fd));
        ::close(fd);
        if (child < 0) return EXIT_FAILURE;
    }
    const mmsg::Endpoint server(asio::ip::address_v4::loopback(), port);

    asio::io_context io;
    udp::socket s(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    asio::steady_timer deadline(io, std::chrono::seconds(20)); // bounded whatever happens
    deadline.async_wait([&](boost::system::error_code ec) {
        if (!ec) s.cancel();
    });
    Stats single, batched;
    bool ok = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        ok = co_await round_trips(s, server, 1, 2000, single) &&
             co_await round_trips(s, server, batch, 300, batched);
    }, [&](std::exception_ptr e) {
        if (e) ok = false;
        deadline.cancel();
    });
    io.run();

    if (child > 0) {
        const std::array<std::byte, 0> bye{};
        mmsg::multi_target_send(s, bye, std::array{server}); // an empty datagram stops it
        int status = 0;
        ::waitpid(child, &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (ok) {
        single.print("1 datagram per round trip", 1);
        batched.print("64 datagrams per round trip", batch);
    }
    std::printf("echo_client: %s\n", ok ? "every echo checked" : "FAILED");
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
