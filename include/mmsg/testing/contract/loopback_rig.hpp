//! Defines LoopbackRig, the conformance kit's transport over real UDP sockets on 127.0.0.1
//! and ::1, and the checks only a kernel socket can make: a stream socket refused with
//! EPROTOTYPE, the socket's blocking mode left alone, an IPv6 destination on an IPv4 socket.
#ifndef MMSG_TESTING_CONTRACT_LOOPBACK_RIG_HPP
#define MMSG_TESTING_CONTRACT_LOOPBACK_RIG_HPP

#include <mmsg/testing/contract/handles.hpp>
#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/send_result.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include <fcntl.h>

namespace mmsg::testing::contract {

/*! A rig (what a check needs from a transport) of real UDP sockets on loopback, for the
    backend under test made by the function it is constructed with (a UseBackend). Sockets live as long as the rig. The other rig is
    MockRig; both have these members:
      - sender(), faulty_sender() (on FaultInjecting<B>), receiver(): handles on a
        BatchSender / BatchReceiver of a fresh backend (contract/handles.hpp);
        carries_metadata();
      - open(v6 = false): a bound socket whose receives give up after 5 s, asking for a
        receive buffer of 4 MB (best effort); open_quiet(): one whose receives give up at
        once (50 ms), for checks that end on an empty socket;
      - local(s): its endpoint; inject(from, to, bytes): queues a datagram on `to` without
        the backend under test (sendto); idle(s): nothing is queued on s;
      - rejecting(): a destination whose datagrams fail alone with EACCES (broadcast
        without SO_BROADCAST); dead_socket() and dead_error: a descriptor every call fails
        on (/dev/null: ENOTSOCK);
      - has_ipv6(); make_room(s, bytes): asks for that receive buffer, says if granted;
        ask_metadata(s, what): asks for received metadata (request_metadata).
    The rigs are not templates on the backend, so neither are the checks' bodies: they are
    compiled once per program, whatever the number of backends it checks.
*/
class LoopbackRig {
public:
    using socket_type = boost::asio::ip::udp::socket;
    static constexpr const char* where = " on loopback";
    static constexpr bool kernel = true; // kernel sockets: the loopback-only checks apply
    static constexpr std::errc dead_error = std::errc::not_a_socket;

    //! A rig whose backend under test is the one `use` makes for it.
    explicit LoopbackRig(
        const std::function<std::unique_ptr<BackendUnderTest<socket_type>>(LoopbackRig&)>& use)
        : backend_(use(*this)) {}
    Sender<socket_type> sender() { return backend_->sender(); }
    Sender<socket_type> faulty_sender() { return backend_->faulty_sender(); }
    Receiver<socket_type> receiver() { return backend_->receiver(); }
    bool carries_metadata() const noexcept { return backend_->carries_metadata(); }

    socket_type& open(bool v6 = false) { return open_with(v6, std::chrono::seconds(5)); }
    socket_type& open_quiet() { return open_with(false, std::chrono::milliseconds(50)); }
    Endpoint local(const socket_type& s) const { return s.local_endpoint(); }
    void inject(socket_type& from, socket_type& to, std::span<const std::byte> payload) {
        const int e = send_raw(from.native_handle(), to.local_endpoint(), payload);
        BOOST_TEST_REQUIRE(e == 0, "sendto: " << std::generic_category().message(e));
    }
    bool idle(socket_type& s) { return nothing_queued(s.native_handle()); }
    Endpoint rejecting() { return broadcast(); }
    int dead_socket() { return devnull_.fd; }
    bool has_ipv6() { return has_ipv6_loopback(io_); }
    bool make_room(socket_type& s, int bytes) { return set_rcvbuf(s, bytes); }
    void ask_metadata(socket_type& s, Metadata what) {
        const std::error_code ec = request_metadata(s, what);
        BOOST_TEST_REQUIRE(!ec, "request_metadata: " << ec.message());
    }
    boost::asio::io_context& io() { return io_; }

private:
    socket_type& open_with(bool v6, std::chrono::milliseconds timeout) {
        socket_type& s =
            sockets_.emplace_back(bound_socket(io_, v6 ? v6_loopback() : v4_loopback(), timeout));
        set_rcvbuf(s, 4 << 20);
        return s;
    }

    boost::asio::io_context io_;
    std::deque<socket_type> sockets_;
    DevNull devnull_;
    std::unique_ptr<BackendUnderTest<socket_type>> backend_; // first to go: it may use the rest
};

//! A connected TCP socket is refused with EPROTOTYPE (wrong_protocol_type): a send fails
//! every datagram and writes nothing into the stream; a receive takes no stream bytes.
template <class Rig>
void a_stream_socket_is_refused(Rig& rig) {
    namespace asio = boost::asio;
    auto& rx = rig.open();
    asio::ip::tcp::acceptor listener(rig.io(),
                                     asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    asio::ip::tcp::socket client(rig.io());
    client.connect(listener.local_endpoint());
    asio::ip::tcp::socket server = listener.accept();
    set_rcvtimeo(client, std::chrono::milliseconds(50)); // a receive that reads it cannot hang
    auto sender = rig.sender();
    check_send_fails(sender, client, rig.local(rx), std::errc::wrong_protocol_type);
    BOOST_TEST(server.available() == 0u, "datagrams were written into the stream");
    BOOST_TEST(rig.idle(rx));

    asio::write(server, asio::buffer("stream", 6));
    auto receiver = rig.receiver();
    check_receive_fails(receiver, client, std::errc::wrong_protocol_type);
    BOOST_TEST(client.available() == 6u, "stream bytes were taken as a datagram");
}

//! Neither a send nor a receive changes the socket's blocking mode; an empty non-blocking
//! socket is would-block at once; sockets given as plain descriptors work the same.
template <class Rig>
void the_sockets_blocking_mode_is_never_changed(Rig& rig) {
    const auto non_blocking = [](int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; };
    auto& tx = rig.open();
    auto& rx = rig.open();
    const int rx_fd = rx.native_handle(), tx_fd = tx.native_handle();
    rx.non_blocking(true);
    auto receiver = rig.receiver();
    std::vector<Packet> p(8);
    std::error_code ec;
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(receiver.recv_mmsg(rx_fd, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4)),
               "an empty non-blocking socket waited for its receive timeout");
    BOOST_TEST(non_blocking(rx_fd));

    const std::vector<Bytes> data = numbered_payloads(5, 50);
    auto sender = rig.sender();
    BOOST_TEST(sender.batch_send(tx_fd, batch_of(data, rig.local(rx))).ok());
    BOOST_TEST(!non_blocking(tx_fd));
    BOOST_TEST(receiver.recv_mmsg(rx_fd, p, ec) == data.size(), ec.message());
    check_received(std::span(p).first(data.size()), data, rig.local(tx));
    BOOST_TEST(non_blocking(rx_fd));

    tx.non_blocking(true);
    rx.non_blocking(false);
    BOOST_TEST(sender.batch_send(tx, batch_of(data, rig.local(rx))).ok());
    BOOST_TEST(non_blocking(tx_fd));
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(p).first(data.size()), ec) == data.size());
    BOOST_TEST(!non_blocking(rx_fd));
}

//! An IPv6 destination on an IPv4 socket fails alone with EAFNOSUPPORT.
template <class Rig>
void an_ipv6_destination_on_an_ipv4_socket_fails_alone(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    const Endpoint to = rig.local(rx);
    const std::vector<Bytes> data = numbered_payloads(5, 100);
    auto sender = rig.sender();
    const auto third = [](std::size_t i) { return i == 2; };
    const Batch batch =
        batch_of(data, [&](std::size_t i) { return third(i) ? v6_loopback(to.port()) : to; });
    check_failed_alone(send_batch(sender, tx, batch), third,
                       std::errc::address_family_not_supported);
    check_received(receive_n(rig, rx, 4), std::vector<Bytes>{data[0], data[1], data[3], data[4]},
                   rig.local(tx));
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_LOOPBACK_RIG_HPP
