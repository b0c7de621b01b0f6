//! A QUIC-style server loop: a socket bound to the wildcard address answers each datagram
//! from the local address it arrived on (so a client that wrote to 127.0.0.3 hears back from
//! 127.0.0.3), echoing the datagram's ECN codepoint, with LinuxGsoBackend on both sides.
//! Loopback only; built and run as a test (exit status 0 = every check held).
#include <mmsg.hpp>
#include <mmsg/metadata.hpp>

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "quic_style_server: %s\n", what);
        ++failures;
    }
}

} // namespace

int main() {
    // tag::server_setup[]
    // The server listens on every address (here: only loopback ones are used) and asks the
    // kernel for each datagram's ECN and the local address and interface it arrived on.
    mmsg::Socket server(mmsg::Endpoint(asio::ip::address_v4::any(), 0));
    if (const std::error_code ec = mmsg::request_metadata(server, mmsg::Metadata::ecn |
                                                                      mmsg::Metadata::local_address)) {
        std::fprintf(stderr, "request_metadata: %s\n", ec.message().c_str());
        return 1;
    }
    mmsg::BatchReceiver<mmsg::LinuxGsoBackend> receiver;
    mmsg::BatchSender<mmsg::LinuxGsoBackend> sender;
    // end::server_setup[]
    const std::uint16_t port = server.local_endpoint().port();
    const timeval timeout{5, 0}; // every receive here gives up after 5 s instead of hanging

    // Two clients reach the server on two of its addresses, with different ECN codepoints.
    mmsg::Socket client_a(mmsg::Endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    mmsg::Socket client_b(mmsg::Endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    for (mmsg::Socket* s : {&server, &client_a, &client_b})
        ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    mmsg::request_metadata(client_a, mmsg::Metadata::ecn);
    mmsg::request_metadata(client_b, mmsg::Metadata::ecn);
    const std::string_view hello = "initial packet";
    const mmsg::SendOptions ect0{mmsg::Ecn::ect0, 0, {}, 0};
    const mmsg::SendOptions ect1{mmsg::Ecn::ect1, 0, {}, 0};
    const mmsg::Endpoint via1(asio::ip::make_address_v4("127.0.0.1"), port);
    const mmsg::Endpoint via3(asio::ip::make_address_v4("127.0.0.3"), port);
    for (int i = 0; i < 4; ++i) { // bounded: 4 datagrams from each client
        mmsg::batch_send(client_a, std::vector<std::tuple<std::string_view, mmsg::Endpoint, mmsg::SendOptions>>{
                                       {hello, via1, ect0}});
        mmsg::batch_send(client_b, std::vector<std::tuple<std::string_view, mmsg::Endpoint, mmsg::SendOptions>>{
                                       {hello, via3, ect1}});
    }

    // tag::echo[]
    // One round of the server: receive a batch, answer each datagram from the address it
    // was sent to, with its ECN codepoint (a QUIC endpoint mirrors ECN in its own way; the
    // point is that every datagram carries its own options). The replies to one client
    // with the same options leave as one UDP_SEGMENT train. The packets are a PacketBlock:
    // their buffers lie back to back, so a GRO-coalesced datagram lands with one copy.
    mmsg::PacketBlock in(mmsg::num_rcvmmsgs);
    std::array<mmsg::SendOptions, mmsg::num_rcvmmsgs> options;
    std::vector<std::tuple<std::span<const std::byte>, mmsg::Endpoint, const mmsg::SendOptions*>> replies;
    std::size_t answered = 0;
    while (answered < 8) {
        const std::size_t n = receiver.recv_mmsg(server, in); // throws on timeout or error
        replies.clear();
        for (std::size_t i = 0; i < n; ++i) {
            const mmsg::Meta& m = in[i].meta;
            options[i] = mmsg::SendOptions{m.ecn, 0, m.local, m.interface_index};
            replies.emplace_back(in[i].data(), m.addr, &options[i]);
        }
        const mmsg::SendResult r = sender.batch_send(server, replies);
        check(r.ok(), "every reply sent");
        answered += n;
    }
    // end::echo[]

    // Each client hears back from the address it wrote to, with its own ECN.
    struct Expect {
        mmsg::Socket* client;
        mmsg::Endpoint from;
        mmsg::Ecn ecn;
    };
    for (const Expect& e : {Expect{&client_a, via1, mmsg::Ecn::ect0}, Expect{&client_b, via3, mmsg::Ecn::ect1}}) {
        std::array<mmsg::Packet, 4> back;
        const std::size_t got = mmsg::recv_mmsg_exact(*e.client, back);
        check(got == 4, "four replies");
        for (const mmsg::Packet& p : back) {
            check(p.meta.addr == e.from, "reply from the address the client wrote to");
            check(p.meta.ecn == e.ecn, "reply with the client's ECN");
            check(p.meta.size == hello.size(), "reply is the echo");
        }
    }
    std::printf("quic_style_server: %zu datagrams answered from their local address, %s\n",
                answered, failures == 0 ? "all checks held" : "FAILED");
    return failures == 0 ? 0 : 1;
}
