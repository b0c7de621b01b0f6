//! Defines the conformance kit's checks of LendingReceiver (check_lending): datagrams lent
//! once, in order, with their metadata; truncation; waiting as the socket says; buffers
//! running out and coming back; stop(); an early destruction; zero-length datagrams; GRO
//! segments sharing a buffer. Over real UDP sockets on 127.0.0.1 (and ::1 where there is
//! one), for each engine and with and without GRO. (Over 300 lines: one check per rule of
//! the lending contract, each small; split by rule they would share all their set-up.)
#ifndef MMSG_TESTING_CONTRACT_LENDING_HPP
#define MMSG_TESTING_CONTRACT_LENDING_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_IO_URING

#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/lending_receiver.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

namespace mmsg::testing::contract {

//! Two loopback sockets and a LendingReceiver made with `options` for the receiving one.
class LendRig {
public:
    explicit LendRig(const LendingOptions& options, bool v6 = false) : options_(options) {
        const Endpoint any = v6 ? v6_loopback() : v4_loopback();
        tx = bound_socket(io, any);
        rx = bound_socket(io, any, std::chrono::seconds(5));
        set_rcvbuf(rx, 4 << 20);
        rx_ep = rx.local_endpoint();
        tx_ep = tx.local_endpoint();
    }
    //! A receiver for rx with the rig's options and `buffers` buffers (0: the default).
    LendingReceiver make(unsigned buffers = 0) {
        LendingOptions o = options_;
        if (buffers != 0) o.buffers = buffers;
        return LendingReceiver(rx, o);
    }
    bool gro() const noexcept { return options_.gro; }
    //! Sends `d` to rx, in order: plain datagrams (sendmmsg), or UDP_SEGMENT trains where
    //! the rig has GRO (so that they arrive coalesced).
    void send(const std::vector<Bytes>& d) {
        const Batch b = batch_of(d, rx_ep);
        const SendResult r = gro() ? BatchSender<LinuxGsoBackend>().batch_send(tx, b)
                                   : BatchSender<LinuxMmsgBackend>().batch_send(tx, b);
        BOOST_TEST_REQUIRE(r.ok(), "sending failed: " << r.first_error.message());
    }

    boost::asio::io_context io;
    boost::asio::ip::udp::socket tx{io};
    boost::asio::ip::udp::socket rx{io};
    Endpoint tx_ep, rx_ep;

private:
    LendingOptions options_;
};

//! Receives until `n` packets were lent (the receive timeout bounds it), `per_call` at a
//! time; returns copies of their bytes and checks each one's sender, size and flags.
inline std::vector<Bytes> lend_n(LendRig& rig, LendingReceiver& r, std::size_t n,
                                 std::size_t per_call = 37) {
    std::vector<LentPacket> out(per_call);
    std::vector<Bytes> got;
    while (got.size() < n) {
        std::error_code ec;
        const std::size_t k = r.receive(out, ec);
        BOOST_TEST_REQUIRE(!ec, "after " << got.size() << " of " << n << ": " << ec.message());
        for (std::size_t i = 0; i < k; ++i) {
            const Meta& m = out[i].meta();
            BOOST_TEST(m.addr == rig.tx_ep);
            BOOST_TEST(m.size == out[i].data().size());
            BOOST_TEST(m.wire_size == m.size);
            BOOST_TEST((m.flags == PacketFlags::none));
            got.emplace_back(out[i].data().begin(), out[i].data().end());
        }
    }
    return got;
}

inline bool same_list(const std::vector<Bytes>& a, const std::vector<Bytes>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_bytes(a[i], b[i])) return false;
    return true;
}

//! Every datagram is lent once, in order, byte-exact, from its sender; in calls of several
//! sizes, the packets of each call released by the next.
inline void every_datagram_is_lent_once_in_order(LendRig& rig) {
    LendingReceiver r = rig.make();
    for (std::size_t per_call : {1u, 7u, 64u, 300u}) {
        const std::vector<Bytes> d = numbered_payloads(400, rig.gro() ? 1200 : 100 + per_call);
        rig.send(d);
        BOOST_TEST(same_list(lend_n(rig, r, d.size(), per_call), d), per_call << " per call");
    }
    BOOST_TEST(r.stats().lent == 1600u);
    BOOST_TEST(r.held() == 0u); // lend_n's packets are gone: every buffer is back
}

//! A datagram longer than a buffer is cut to it, flagged truncated, wire_size its length.
//! With GRO a buffer holds 64 KiB, more than any UDP datagram: nothing to cut.
inline void a_datagram_longer_than_a_buffer_is_cut_and_says_by_how_much(LendRig& rig) {
    if (rig.gro()) return;
    LendingReceiver r = rig.make();
    const std::size_t room = packet_data_size;
    const Bytes big = numbered(room + 300, 1);
    BOOST_TEST_REQUIRE(send_raw(rig.tx.native_handle(), rig.rx_ep, big) == 0);
    std::vector<LentPacket> out(4);
    BOOST_TEST_REQUIRE(r.receive(out) == 1u);
    BOOST_TEST(out[0].meta().size == room);
    BOOST_TEST(out[0].meta().wire_size == big.size());
    BOOST_TEST(has_flags(out[0].meta().flags, PacketFlags::truncated));
    BOOST_TEST(same_bytes(out[0].data(), std::span(big).first(room)));
}

//! Nothing queued: try_receive says would-block at once; receive waits for SO_RCVTIMEO
//! (never forever) and leaves the socket's blocking mode alone.
inline void an_empty_socket_is_would_block_never_a_hang(LendRig& rig) {
    LendingReceiver r = rig.make();
    std::vector<LentPacket> out(8);
    std::error_code ec;
    BOOST_TEST(r.try_receive(out, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    set_rcvtimeo(rig.rx, std::chrono::milliseconds(50));
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(r.receive(out, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::operation_would_block);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(40)));
    BOOST_TEST(!rig.rx.non_blocking());
    // And a datagram that arrives is then lent.
    const Bytes one = numbered(33, 7);
    BOOST_TEST_REQUIRE(send_raw(rig.tx.native_handle(), rig.rx_ep, one) == 0);
    BOOST_TEST(r.receive(out, ec) == 1u);
    BOOST_TEST(same_bytes(out[0].data(), one));
}

//! With every buffer lent the receiver says no_buffer_space (counted) and takes nothing;
//! the datagrams wait in the socket and are lent, in order, once packets are released.
inline void when_every_buffer_is_lent_nothing_is_lost(LendRig& rig) {
    LendingReceiver r = rig.make(8);
    std::vector<Bytes> d = numbered_payloads(40, 64);
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i].resize(64 + i); // no two coalesce
    rig.send(d);
    std::vector<LentPacket> held(8);
    BOOST_TEST_REQUIRE(r.receive(held) == 8u);
    std::vector<LentPacket> more(8);
    std::error_code ec;
    BOOST_TEST(r.receive(more, ec) == 0u);
    MMSG_CHECK_ERRC(ec, std::errc::no_buffer_space);
    BOOST_TEST(r.stats().starved == 1u);
    std::vector<Bytes> got;
    for (const LentPacket& p : held)
        got.emplace_back(p.data().begin(), p.data().end());
    held.clear(); // every buffer back
    const std::vector<Bytes> rest = lend_n(rig, r, d.size() - 8, 5);
    got.insert(got.end(), rest.begin(), rest.end());
    BOOST_TEST(same_list(got, d));
}

//! stop(): what was received is still lent, then operation_canceled; what was not is
//! still in the socket, in order, for the next reader.
inline void stop_lends_what_was_received_and_leaves_the_rest_queued(LendRig& rig) {
    LendingReceiver r = rig.make(16);
    std::vector<Bytes> d = numbered_payloads(60, 64);
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i].resize(64 + i);
    rig.send(d);
    std::vector<Bytes> got = lend_n(rig, r, 5, 5);
    // tag::stop[]
    r.stop();
    std::vector<LentPacket> out(7);
    for (;;) {
        std::error_code ec;
        const std::size_t k = r.receive(out, ec);
        for (std::size_t i = 0; i < k; ++i)
            got.emplace_back(out[i].data().begin(), out[i].data().end());
        if (k > 0) continue;
        MMSG_CHECK_ERRC(ec, std::errc::operation_canceled);
        break;
    }
    // end::stop[]
    BOOST_TEST(got.size() <= d.size());
    rig.rx.non_blocking(true);
    Bytes buf(4096);
    for (;;) {
        const auto n = ::recv(rig.rx.native_handle(), buf.data(), buf.size(), 0);
        if (n < 0) break;
        got.emplace_back(buf.begin(), buf.begin() + n);
    }
    BOOST_TEST(same_list(got, d));
}

//! A receiver destroyed with datagrams received but not lent counts them in the socket's
//! SocketState (discarded()); packets it lent stay valid after it is gone.
inline void an_early_destruction_counts_what_it_drops_and_lent_packets_outlive_it(LendRig& rig) {
    SocketState state;
    auto rx = with_state(rig.rx, state);
    std::vector<Bytes> d = numbered_payloads(30, 64);
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i].resize(64 + i);
    std::vector<LentPacket> kept(3);
    {
        LendingReceiver r(rx, LendingOptions{});
        rig.send(d);
        BOOST_TEST_REQUIRE(r.receive(kept) == 3u);
    }
    for (std::size_t i = 0; i < 3; ++i)
        BOOST_TEST(same_bytes(kept[i].data(), d[i]));
    rig.rx.non_blocking(true);
    std::size_t queued = 0;
    Bytes buf(256);
    while (::recv(rig.rx.native_handle(), buf.data(), buf.size(), 0) >= 0)
        ++queued;
    BOOST_TEST(3 + state.discarded() + queued == d.size());
    BOOST_TEST_MESSAGE("dropped at destruction: " << state.discarded()
                                                  << ", left queued: " << queued);
}

//! Zero-length datagrams are lent (empty), and receiving goes on after them (a multishot
//! receive ends at one: it is armed again).
inline void zero_length_datagrams_are_lent_and_receiving_goes_on(LendRig& rig) {
    LendingReceiver r = rig.make();
    const std::vector<Bytes> d = {numbered(5, 1), Bytes{}, numbered(7, 2),
                                  Bytes{},        Bytes{}, numbered(9, 3)};
    for (const Bytes& x : d)
        BOOST_TEST_REQUIRE(send_raw(rig.tx.native_handle(), rig.rx_ep, x) == 0);
    BOOST_TEST(same_list(lend_n(rig, r, d.size(), 2), d));
    const Bytes after = numbered(11, 4);
    BOOST_TEST_REQUIRE(send_raw(rig.tx.native_handle(), rig.rx_ep, after) == 0);
    BOOST_TEST(same_list(lend_n(rig, r, 1), {after}));
}

//! ECN, the local address and the timestamp asked for with request_metadata arrive in meta.
inline void metadata_arrives_with_each_datagram(LendRig& rig) {
    BOOST_TEST_REQUIRE(!request_metadata(rig.rx, Metadata::all));
    LendingReceiver r = rig.make();
    SendOptions ect;
    ect.ecn = Ecn::ect0;
    const std::vector<Bytes> d = numbered_payloads(4, 80);
    std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>> b;
    for (const Bytes& x : d)
        b.emplace_back(x, rig.rx_ep, ect);
    const auto before = std::chrono::system_clock::now().time_since_epoch();
    BOOST_TEST_REQUIRE(BatchSender<LinuxMmsgBackend>().batch_send(rig.tx, b).ok());
    std::vector<LentPacket> out(8);
    std::size_t got = 0;
    while (got < d.size()) {
        const std::size_t k = r.receive(std::span(out).subspan(got));
        BOOST_TEST_REQUIRE(k > 0u);
        got += k;
    }
    for (std::size_t i = 0; i < d.size(); ++i) {
        const Meta& m = out[i].meta();
        BOOST_TEST(same_bytes(out[i].data(), d[i]));
        BOOST_TEST((m.ecn == Ecn::ect0));
        BOOST_TEST(m.local == rig.rx_ep.address());
        BOOST_TEST(m.interface_index != 0u);
        BOOST_TEST((m.timestamp >= before));
        BOOST_TEST(!has_flags(m.flags, PacketFlags::control_truncated));
    }
}

//! With GRO, a coalesced datagram is lent as one packet per segment, all viewing one
//! buffer, which goes back only when the last of them is released.
inline void segments_of_a_coalesced_datagram_share_its_buffer(LendRig& rig) {
    if (!rig.gro()) return;
    LendingReceiver r = rig.make(4);
    const std::vector<Bytes> d = numbered_payloads(20, 500);
    rig.send(d); // one train
    std::vector<LentPacket> out(64);
    std::size_t got = 0;
    while (got < d.size()) {
        const std::size_t k = r.receive(std::span(out).subspan(got));
        BOOST_TEST_REQUIRE(k > 0u);
        got += k;
    }
    for (std::size_t i = 0; i < d.size(); ++i)
        BOOST_TEST(same_bytes(out[i].data(), d[i]));
    BOOST_TEST(r.stats().filled < d.size()); // coalesced: fewer buffers than datagrams
    const std::size_t held = r.held();
    for (std::size_t i = 0; i + 1 < d.size(); ++i)
        out[i].release();
    BOOST_TEST(r.held() == held); // the last segment still holds the buffer
    BOOST_TEST(same_bytes(out[d.size() - 1].data(), d.back()));
    out[d.size() - 1].release();
    BOOST_TEST(r.held() < held);
}

//! IPv6 datagrams are lent with their IPv6 sender.
inline void ipv6_datagrams_are_lent_with_their_source(LendRig& rig) {
    const std::vector<Bytes> d = numbered_payloads(10, 120);
    LendingReceiver r = rig.make();
    rig.send(d);
    BOOST_TEST(same_list(lend_n(rig, r, d.size()), d));
}

/*! Runs every lending check on LendingReceivers made with `options`, each check on fresh
    loopback sockets, under a context naming the options and the rule.
*/
inline void check_lending(const LendingOptions& options) {
    using Check = void (*)(LendRig&);
    struct Rule {
        const char* rule;
        Check check;
    };
    static const Rule rules[] = {
        {"every datagram is lent once, in order", every_datagram_is_lent_once_in_order},
        {"a datagram longer than a buffer is cut and says by how much",
         a_datagram_longer_than_a_buffer_is_cut_and_says_by_how_much},
        {"an empty socket is would-block, never a hang",
         an_empty_socket_is_would_block_never_a_hang},
        {"when every buffer is lent nothing is lost", when_every_buffer_is_lent_nothing_is_lost},
        {"stop lends what was received and leaves the rest queued",
         stop_lends_what_was_received_and_leaves_the_rest_queued},
        {"an early destruction counts what it drops and lent packets outlive it",
         an_early_destruction_counts_what_it_drops_and_lent_packets_outlive_it},
        {"zero-length datagrams are lent and receiving goes on",
         zero_length_datagrams_are_lent_and_receiving_goes_on},
        {"metadata arrives with each datagram", metadata_arrives_with_each_datagram},
        {"segments of a coalesced datagram share its buffer",
         segments_of_a_coalesced_datagram_share_its_buffer},
    };
    const char* engine = options.engine == LendEngine::io_uring   ? "io_uring"
                         : options.engine == LendEngine::recvmmsg ? "recvmmsg"
                                                                  : "automatic";
    BOOST_TEST_CONTEXT("LendingReceiver, engine " << engine << (options.gro ? ", GRO" : "")) {
        for (const Rule& r : rules)
            run_check<LendRig>(r.rule, options, r.check);
        boost::asio::io_context io;
        if (has_ipv6_loopback(io)) BOOST_TEST_CONTEXT("IPv6 datagrams are lent with their source") {
                LendRig rig(options, true);
                ipv6_datagrams_are_lent_with_their_source(rig);
            }
    }
}

} // namespace mmsg::testing::contract

#endif // MMSG_HAS_IO_URING
#endif // MMSG_TESTING_CONTRACT_LENDING_HPP
