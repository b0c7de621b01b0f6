//! Defines MockRig, the conformance kit's transport over a MockNetwork, and the checks only
//! a scripted network can make: that a backend passes the network's faults (failures of
//! chosen datagrams, per-call limits, EINTR, would-block, a fatal error mid-batch) through
//! to BatchSender / BatchReceiver faithfully.
#ifndef MMSG_TESTING_CONTRACT_MOCK_RIG_HPP
#define MMSG_TESTING_CONTRACT_MOCK_RIG_HPP

#include <mmsg/testing/contract/handles.hpp>
#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/send_result.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

namespace mmsg::testing::contract {

/*! A rig of mock sockets on a fresh MockNetwork, for the backend under test made by the
    function it is constructed with (a UseBackend; made on network(): MockBackend, a backend wrapping it, MockGsoBackend). Same members as
    LoopbackRig; here receives never wait, inject() queues with MockNetwork::inject,
    rejecting() is an endpoint made unreachable with EACCES, the dead socket is a closed one
    (EBADF), and network() is the network, for scripting faults.
*/
class MockRig {
public:
    using socket_type = int;
    static constexpr const char* where = " on MockNetwork";
    static constexpr bool kernel = false; // the mock-only checks apply
    static constexpr std::errc dead_error = std::errc::bad_file_descriptor;

    MockNetwork& network() noexcept { return net_; }
    //! A rig whose backend under test is the one `use` makes for it (on network()).
    explicit MockRig(const std::function<std::unique_ptr<BackendUnderTest<int>>(MockRig&)>& use)
        : backend_(use(*this)) {}
    Sender<int> sender() { return backend_->sender(); }
    Sender<int> faulty_sender() { return backend_->faulty_sender(); }
    Receiver<int> receiver() { return backend_->receiver(); }
    bool carries_metadata() const noexcept { return backend_->carries_metadata(); }

    int& open(bool v6 = false) {
        return handles_.emplace_back(net_.open(v6 ? v6_loopback() : v4_loopback()));
    }
    int& open_quiet() { return open(); }
    Endpoint local(int s) const { return net_.local_endpoint(s); }
    void inject(int from, int to, std::span<const std::byte> payload) {
        net_.inject(to, net_.local_endpoint(from), payload);
    }
    bool idle(int s) const { return net_.queued(s) == 0; }
    Endpoint rejecting() {
        const Endpoint nowhere = v4_loopback(9); // never a mock socket: they get ports from 40000
        net_.unreachable(nowhere, std::make_error_code(std::errc::permission_denied));
        return nowhere;
    }
    int dead_socket() {
        const int s = net_.open(v4_loopback());
        net_.close(s);
        return s;
    }
    bool has_ipv6() const noexcept { return true; }
    bool make_room(int, int) const noexcept { return true; }
    void ask_metadata(int, Metadata) const noexcept {} // the mock always reports ECN and local

private:
    MockNetwork net_;
    std::deque<int> handles_;
    std::unique_ptr<BackendUnderTest<int>> backend_; // first to go: its backends use net_
};

// The checks below send datagrams of different sizes, so that a segmentation-offload
// backend sends them one by one and each scripted fault hits exactly one datagram.
inline std::vector<Bytes> sized_apart(std::size_t n) {
    std::vector<Bytes> v;
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(numbered(10 + i, static_cast<std::uint32_t>(i)));
    return v;
}

//! Each failure the network scripts (the n-th datagram, an unreachable destination) fails
//! that datagram alone, with its own error, attempted once; the rest arrive in order.
template <class Rig>
void the_networks_failures_fail_one_datagram_each(Rig& rig) {
    MockNetwork& net = rig.network();
    auto& tx = rig.open();
    auto& rx = rig.open();
    const Endpoint dead = v4_loopback(10), far = v4_loopback(11);
    net.fail_nth(1, std::make_error_code(std::errc::message_size));
    net.fail_nth(6, std::make_error_code(std::errc::connection_refused));
    net.unreachable(dead);
    net.unreachable(far, std::make_error_code(std::errc::host_unreachable));
    const std::vector<Bytes> data = sized_apart(8);
    auto sender = rig.sender();
    const Endpoint to[] = {rig.local(rx), dead, far};
    const auto [r, status] = send_batch(sender, tx, batch_of(data, [&](std::size_t i) {
                                            return to[i == 2 ? 1 : i == 4 ? 2 : 0];
                                        }));
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(!r.fatal);
    MMSG_CHECK_ERRC(r.first_error, std::errc::message_size);
    MMSG_CHECK_ERRC(status[1], std::errc::message_size);
    MMSG_CHECK_ERRC(status[2], std::errc::network_unreachable);
    MMSG_CHECK_ERRC(status[4], std::errc::host_unreachable);
    MMSG_CHECK_ERRC(status[6], std::errc::connection_refused);
    BOOST_TEST(net.attempts() == data.size(), "a failed datagram was retried");
    check_received(receive_n(rig, rx, 4), std::vector<Bytes>{data[0], data[3], data[5], data[7]},
                   rig.local(tx));
}

//! A per-call limit costs calls, never datagrams, on both sides.
template <class Rig>
void a_per_call_limit_costs_calls_not_datagrams(Rig& rig) {
    MockNetwork& net = rig.network();
    auto& tx = rig.open();
    auto& rx = rig.open();
    net.limit_per_call(3);
    const std::vector<Bytes> data = sized_apart(10);
    auto sender = rig.sender();
    BOOST_TEST(sender.batch_send(tx, batch_of(data, rig.local(rx))).ok());
    BOOST_TEST(net.calls() >= 4u);
    BOOST_TEST(net.queued(rx) == data.size());
    auto receiver = rig.receiver();
    std::vector<Packet> p(data.size());
    std::error_code ec;
    const std::size_t calls = net.calls();
    BOOST_TEST(receiver.recv_mmsg_exact(rx, p, ec) == data.size(), ec.message());
    BOOST_TEST(net.calls() - calls >= 4u);
    check_received(p, data, rig.local(tx));
}

//! An interrupted call (EINTR) is retried and is never a failure, on both sides; on an
//! empty socket the retry then reports would-block.
template <class Rig>
void interrupted_calls_are_retried(Rig& rig) {
    MockNetwork& net = rig.network();
    auto& tx = rig.open();
    auto& rx = rig.open();
    const std::vector<Bytes> data = sized_apart(10);
    net.interrupt_next(2);
    auto sender = rig.sender();
    const SendResult r = send_batch(sender, tx, batch_of(data, rig.local(rx))).r;
    BOOST_TEST(r.ok());
    BOOST_TEST(!r.first_error);
    net.interrupt_next(2);
    auto receiver = rig.receiver();
    std::vector<Packet> p(16);
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == data.size());
    BOOST_TEST(!ec, ec.message());
    check_received(std::span(p).first(data.size()), data, rig.local(tx));
    net.interrupt_next(1);
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
}

//! The network's back-pressure leaves exactly an unsent suffix; while it lasts a resume
//! attempts nothing; then the resume sends the rest, each datagram once, in order.
template <class Rig>
void the_networks_back_pressure_leaves_an_unsent_suffix(Rig& rig) {
    MockNetwork& net = rig.network();
    auto& tx = rig.open();
    auto& rx = rig.open();
    const std::vector<Bytes> data = sized_apart(9);
    const Batch batch = batch_of(data, rig.local(rx));
    net.would_block_after(4);
    auto sender = rig.sender();
    const SendResult r = send_batch(sender, tx, batch).r;
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.unsent == 5u);
    BOOST_TEST(!r.fatal);
    const SendResult again = sender.batch_send(tx, std::span(batch).subspan(r.resume_index()));
    BOOST_TEST(again.unsent == 5u);
    BOOST_TEST(!again.first_error);
    net.clear_would_block();
    BOOST_TEST(sender.batch_send(tx, std::span(batch).subspan(r.resume_index())).ok());
    check_received(receive_n(rig, rx, data.size()), data, rig.local(tx));

    net.would_block_after(0);
    const std::vector<Endpoint> dests(4, rig.local(rx));
    BOOST_TEST(send_to_each(sender, tx, data[0], dests).r.unsent == 4u);
    BOOST_TEST(rig.idle(rx));
}

//! A fatal error mid-batch (EBADF) fails that datagram and every later one, none of them
//! attempted; first_error keeps the earlier, non-fatal failure.
template <class Rig>
void a_fatal_error_mid_batch_fails_the_rest_and_keeps_the_first_error(Rig& rig) {
    MockNetwork& net = rig.network();
    auto& tx = rig.open();
    auto& rx = rig.open();
    net.fail_nth(2, std::make_error_code(std::errc::permission_denied));
    net.fail_nth(5, std::make_error_code(std::errc::bad_file_descriptor));
    const std::vector<Bytes> data = sized_apart(10);
    auto sender = rig.sender();
    const auto [r, status] = send_batch(sender, tx, batch_of(data, rig.local(rx)));
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.sent == 4u);
    BOOST_TEST(r.failed == 6u);
    MMSG_CHECK_ERRC(r.first_error, std::errc::permission_denied);
    for (std::size_t i = 5; i < data.size(); ++i)
        MMSG_CHECK_ERRC(status[i], std::errc::bad_file_descriptor);
    BOOST_TEST(net.attempts() == 6u, "a datagram after the fatal one was attempted");
    check_received(receive_n(rig, rx, 4), std::vector<Bytes>{data[0], data[1], data[3], data[4]},
                   rig.local(tx));
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_MOCK_RIG_HPP
