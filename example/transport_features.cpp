//! Transport features (doc/transport.adoc): ICMP errors per destination from the error
//! queue, the connected fast path, and pacing with release times. Loopback only (127.0.0.1;
//! the closed port is one this program bound and closed); built and run as a test (exit
//! status 0 = every check held).
#include <mmsg.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <span>
#include <system_error>
#include <tuple>
#include <vector>

#include <poll.h>

namespace {

int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "transport_features: %s\n", what);
        ++failures;
    }
}

const mmsg::Endpoint any_port(boost::asio::ip::address_v4::loopback(), 0);

// A port nothing listens on: bound, then closed.
mmsg::Endpoint closed_port() {
    mmsg::Socket s(any_port);
    return s.local_endpoint();
}

void forget_peer(const mmsg::Endpoint& peer, std::error_code why) {
    std::printf("peer %s:%u is gone: %s\n", peer.address().to_string().c_str(),
                static_cast<unsigned>(peer.port()), why.message().c_str());
}

} // namespace

int main() {
    mmsg::BatchSender<> sender;
    const std::vector<std::byte> payload(100, std::byte{1});

    {
        mmsg::Socket sock(any_port);
        const mmsg::Endpoint gone = closed_port();
        // tag::error_queue[]
        mmsg::enable_error_queue(sock); // IP_RECVERR (+ IPV6_RECVERR)
        // The datagram counts as sent, as the kernel says ...
        const mmsg::SendResult r = sender.multi_target_send(sock, payload, std::array{gone});
        // ... and the ICMP port unreachable arrives on the error queue, naming the peer.
        std::array<mmsg::DatagramError, 64> reports;
        std::error_code ec;
        pollfd p{sock.native_handle(), 0, 0}; // POLLERR is always reported
        ::poll(&p, 1, 2000);
        const std::size_t n = mmsg::read_error_queue(sock, reports, ec); // never blocks
        for (const mmsg::DatagramError& e : std::span(reports).first(n))
            forget_peer(e.destination, e.error); // ECONNREFUSED for a closed port
        // end::error_queue[]
        check(r.sent == 1, "the datagram to the closed port counts as sent");
        check(n == 1 && reports[0].error == std::errc::connection_refused &&
                  reports[0].destination == gone,
              "the error queue names the closed port with ECONNREFUSED");
    }

    {
        mmsg::Socket rx(any_port);
        const mmsg::Endpoint peer = rx.local_endpoint();
        const std::span<const std::byte> bytes(payload);
        mmsg::SendOptions options;
        options.ecn = mmsg::Ecn::ect0;
        // tag::connected[]
        mmsg::Socket sock(any_port);
        sock.connect(peer);
        // Payloads alone go to the connected peer, without an address (no route lookup).
        std::vector<std::span<const std::byte>> payloads(8, bytes);
        sender.batch_send(sock, payloads);
        // With options: name mmsg::connected_peer where the destination would be.
        sender.batch_send(sock, std::array{std::tuple{bytes, mmsg::connected_peer, options}});
        // end::connected[]
        std::vector<mmsg::Packet> got(9);
        mmsg::BatchReceiver<> receiver;
        std::error_code ec;
        mmsg::detail::set_timeout(rx.native_handle(), SO_RCVTIMEO, 2'000'000); // never hangs
        check(receiver.recv_mmsg_exact(rx, got, ec) == 9, "the connected peer got all nine");
    }

    {
        mmsg::Socket rx(any_port);
        const mmsg::Endpoint peer = rx.local_endpoint();
        const std::span<const std::byte> bytes(payload);
        // tag::pacing[]
        mmsg::Socket sock(any_port);
        std::error_code ec;
        const mmsg::PacingPath path = mmsg::enable_pacing(sock, peer, ec); // SO_TXTIME
        if (!path.honoured)
            std::printf("release times are not honoured toward %s (qdisc %s): datagrams go at once\n",
                        peer.address().to_string().c_str(), path.qdisc.c_str());
        // Two bursts, the second 2 ms after the first; each burst is one GSO train.
        const auto now = std::chrono::steady_clock::now();
        mmsg::SendOptions first, second;
        first.release_time = now;
        second.release_time = now + std::chrono::milliseconds(2);
        std::vector<std::tuple<std::span<const std::byte>, mmsg::Endpoint, mmsg::SendOptions>> batch;
        for (int i = 0; i < 4; ++i) batch.emplace_back(bytes, peer, first);
        for (int i = 0; i < 4; ++i) batch.emplace_back(bytes, peer, second);
        const mmsg::SendResult r = sender.batch_send(sock, batch);
        // end::pacing[]
        check(!ec, "enable_pacing toward loopback");
        check(r.sent == 8, "all eight paced datagrams were sent");
    }
    return failures == 0 ? 0 : 1;
}
