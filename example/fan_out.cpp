//! Fan-out: one payload to many receivers with multi_target_send (one sendmmsg(2) for the
//! whole list), and a per-destination status that says which receiver did not get it.
//! Loopback only; built and run as a test (exit status 0 = every check held).
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdio>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;
using asio::ip::udp;

int main() {
    asio::io_context io;
    constexpr std::size_t receivers = 8;
    constexpr int rounds = 16; // bounded: 16 rounds of 8 datagrams

    // tag::setup[]
    // Eight receivers on loopback, each on its own port.
    std::vector<udp::socket> rx;
    std::vector<mmsg::Endpoint> peers;
    for (std::size_t i = 0; i < receivers; ++i) {
        rx.emplace_back(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
        timeval timeout{5, 0}; // a receive gives up after 5 s instead of hanging
        ::setsockopt(rx.back().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        peers.push_back(rx.back().local_endpoint());
    }
    udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    // end::setup[]

    // tag::fan_out[]
    // One sender, reused: after its first call it never allocates.
    mmsg::BatchSender<> sender;
    constexpr std::string_view text = "state update";
    const auto payload = std::as_bytes(std::span(text));
    for (int round = 0; round < rounds; ++round) {
        // The same payload to every peer, in order, with one system call.
        const mmsg::SendResult r = sender.multi_target_send(tx, payload, peers);
        if (!r.ok()) {
            std::fprintf(stderr, "round %d: %zu failed, %zu unsent: %s\n", round, r.failed,
                         r.unsent, r.first_error.message().c_str());
            return 1;
        }
    }
    // end::fan_out[]

    // Every receiver got every round, from the sender, intact.
    std::array<mmsg::Packet, rounds> packets;
    for (udp::socket& s : rx) {
        std::error_code ec;
        const std::size_t got = mmsg::recv_mmsg_exact(s, packets, ec);
        if (ec || got != packets.size()) {
            std::fprintf(stderr, "a receiver got %zu of %d: %s\n", got, rounds, ec.message().c_str());
            return 1;
        }
        for (const mmsg::Packet& p : packets) {
            const auto d = p.data();
            if (p.meta.addr != tx.local_endpoint() ||
                std::string_view(reinterpret_cast<const char*>(d.data()), d.size()) != text)
                return 1;
        }
    }

    // tag::status[]
    // A destination the kernel refuses (here: broadcast without SO_BROADCAST, EACCES) fails
    // alone; the peers after it still get the datagram. status[i] tells each one's fate.
    std::vector<mmsg::Endpoint> with_bad = peers;
    with_bad.insert(with_bad.begin() + 3, udp::endpoint(asio::ip::address_v4::broadcast(), 9));
    std::vector<std::error_code> status(with_bad.size());
    const mmsg::SendResult r = sender.multi_target_send(tx, payload, with_bad, status);
    for (std::size_t i = 0; i < with_bad.size(); ++i)
        if (status[i])
            std::printf("destination %zu (%s) failed: %s\n", i,
                        with_bad[i].address().to_string().c_str(), status[i].message().c_str());
    // r.sent == 8, r.failed == 1, r.first_error == EACCES
    // end::status[]
    if (r.sent != receivers || r.failed != 1 || r.first_error != std::errc::permission_denied ||
        status[3] != std::errc::permission_denied)
        return 1;
    for (udp::socket& s : rx) { // each receiver got the extra datagram despite the failure
        std::error_code ec;
        if (mmsg::recv_mmsg(s, std::span(packets).first(1), ec) != 1) return 1;
    }
    std::printf("fan-out: %d rounds to %zu receivers, then 1 refused destination of %zu\n",
                rounds, receivers, with_bad.size());
    return 0;
}
