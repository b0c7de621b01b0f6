//! Defines what the conformance kit's checks share: batches of numbered payloads, the
//! accounting invariant of a SendResult, the comparison of received packets with what was
//! sent, and run_check (one check on a fresh rig, under a context naming its rule).
#ifndef MMSG_TESTING_CONTRACT_SUPPORT_HPP
#define MMSG_TESTING_CONTRACT_SUPPORT_HPP

#include <mmsg/testing/contract/handles.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>

#include <boost/core/demangle.hpp>
#include <boost/test/execution_monitor.hpp>
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

namespace mmsg::testing::contract {

//! A batch as BatchSender takes it: (payload view, destination) pairs.
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

//! payloads[i] to dest_of(i), for every i.
template <std::invocable<std::size_t> DestOf>
Batch batch_of(const std::vector<Bytes>& payloads, DestOf&& dest_of) {
    Batch b;
    b.reserve(payloads.size());
    for (std::size_t i = 0; i < payloads.size(); ++i)
        b.emplace_back(std::span<const std::byte>(payloads[i]), std::invoke(dest_of, i));
    return b;
}
//! Every payload to `to`.
inline Batch batch_of(const std::vector<Bytes>& payloads, const Endpoint& to) {
    return batch_of(payloads, [&](std::size_t) { return to; });
}

/*! Trains of numbered datagrams as send_trains takes them, and the datagrams they hold one
    by one (in order, with each one's destination), to check what arrived and each status.
    The buffers and endpoints the trains point into stay where they are as trains are added.
*/
class TrainSet {
public:
    /*! A train of `n` datagrams of `segment` bytes to `to`, the last one `last` bytes
        (0 < last <= segment when n > 1). With n == 1 the datagram is `last` bytes and
        `segment` may be 0 or anything not less than it: one datagram either way.
    */
    void add(const Endpoint& to, std::size_t n, std::size_t segment, std::size_t last) {
        Bytes& buffer = buffers_.emplace_back();
        const Endpoint& dest = dests_.emplace_back(to);
        for (std::size_t i = 0; i < n; ++i) {
            const Bytes d = numbered(i + 1 < n ? segment : last, next_++);
            buffer.insert(buffer.end(), d.begin(), d.end());
            datagrams.push_back(d);
            dest_of.push_back(to);
        }
        trains.push_back(SendTrain{buffer, segment, &dest, nullptr});
    }
    //! The datagrams to `to`, in order.
    std::vector<Bytes> to(const Endpoint& dest) const {
        std::vector<Bytes> out;
        for (std::size_t i = 0; i < datagrams.size(); ++i)
            if (dest_of[i] == dest) out.push_back(datagrams[i]);
        return out;
    }

    std::vector<SendTrain> trains;
    std::vector<Bytes> datagrams; //!< every datagram of the trains, in order
    std::vector<Endpoint> dest_of; //!< datagram i's destination

private:
    std::deque<Bytes> buffers_;
    std::deque<Endpoint> dests_;
    std::uint32_t next_ = 0;
};

//! B's name, for messages.
template <class B>
std::string name_of() {
    return boost::core::demangle(typeid(B).name());
}

/*! The accounting invariant of a send of n datagrams, with status[] agreeing: sent + failed
    + unsent == n; status[i] empty for exactly `sent` datagrams; the unsent ones are the
    suffix from sent + failed, each operation_would_block; a failure has a first_error.
*/
inline void check_accounting(const SendResult& r, std::span<const std::error_code> status,
                             std::size_t n) {
    BOOST_TEST(r.sent + r.failed + r.unsent == n);
    std::size_t ok = 0, blocked = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!status[i])
            ++ok;
        else if (status[i] == std::errc::operation_would_block)
            ++blocked;
    }
    BOOST_TEST(ok == r.sent);
    BOOST_TEST(blocked == r.unsent);
    std::size_t misplaced = 0;
    for (std::size_t i = r.sent + r.failed; i < n; ++i)
        misplaced += status[i] != std::errc::operation_would_block;
    BOOST_TEST(misplaced == 0u, "unsent datagrams must be the suffix from sent + failed");
    if (r.failed > 0) BOOST_TEST(static_cast<bool>(r.first_error));
}

//! What a send under test returned, and the status span it wrote.
struct Sent {
    SendResult r;
    std::vector<std::error_code> status;
};

/*! sender.batch_send(s, batch, status), with a status span filled with junk first (so that
    every entry must be written), held to the accounting invariant.
*/
template <class Sender, class Socket>
Sent send_batch(Sender& sender, Socket&& s, std::span<const Batch::value_type> batch) {
    Sent out{{},
             std::vector<std::error_code>(batch.size(), std::make_error_code(std::errc::io_error))};
    out.r = sender.batch_send(s, batch, out.status);
    check_accounting(out.r, out.status, batch.size());
    return out;
}
//! The same for sender.multi_target_send(s, payload, dests, status).
template <class Sender, class Socket>
Sent send_to_each(Sender& sender, Socket&& s, std::span<const std::byte> payload,
                  const std::vector<Endpoint>& dests) {
    Sent out{{},
             std::vector<std::error_code>(dests.size(), std::make_error_code(std::errc::io_error))};
    out.r = sender.multi_target_send(s, payload, dests, out.status);
    check_accounting(out.r, out.status, dests.size());
    return out;
}

//! The same for sender.send_trains(s, trains, status).
template <class Sender, class Socket>
Sent send_trains(Sender& sender, Socket&& s, std::span<const SendTrain> trains) {
    std::size_t n = 0;
    for (const SendTrain& t : trains) n += t.datagrams();
    Sent out{{}, std::vector<std::error_code>(n, std::make_error_code(std::errc::io_error))};
    out.r = sender.send_trains(s, trains, out.status);
    check_accounting(out.r, out.status, n);
    return out;
}

/*! Checks that a socket every send fails on fails every datagram with `errc`, fatally,
    for batch_send and multi_target_send alike.
*/
template <class Sender, class Socket>
void check_send_fails(Sender& sender, Socket&& s, const Endpoint& to, std::errc errc) {
    const std::vector<Bytes> data = numbered_payloads(3, 10);
    for (const Sent& sent : {send_batch(sender, s, batch_of(data, to)),
                             send_to_each(sender, s, data[0], std::vector<Endpoint>(3, to))}) {
        BOOST_TEST(sent.r.fatal);
        BOOST_TEST(sent.r.failed == sent.status.size());
        for (const auto& e : sent.status)
            MMSG_CHECK_ERRC(e, errc);
    }
}

/*! Checks that the datagrams i with rejected(i) failed, each with `why`, and only they: the
    others were sent, and the send went on (not fatal; first_error is `why`).
*/
template <std::predicate<std::size_t> Rejected>
void check_failed_alone(const Sent& s, Rejected&& rejected, std::errc why) {
    std::size_t n_rejected = 0, wrong = 0;
    for (std::size_t i = 0; i < s.status.size(); ++i) {
        n_rejected += rejected(i);
        wrong += rejected(i) ? s.status[i] != why : bool(s.status[i]);
    }
    BOOST_TEST(s.r.failed == n_rejected);
    BOOST_TEST(s.r.sent == s.status.size() - n_rejected);
    BOOST_TEST(!s.r.fatal);
    if (n_rejected > 0) MMSG_CHECK_ERRC(s.r.first_error, why);
    BOOST_TEST(wrong == 0u, wrong << " datagrams have the wrong status");
}

/*! How packet `got` differs from the datagram `want` sent from `from` ("" if it does not):
    payload, size, wire_size, source, flags (none: it fitted).
*/
template <class P> // a BasicPacket<N>, or a packet of a BasicPacketBlock<N>
std::string difference(const P& got, std::span<const std::byte> want, const Endpoint& from) {
    std::ostringstream os;
    if (!same_bytes(got.data(), want))
        os << "payload differs (" << got.meta.size << " bytes, want " << want.size() << "); ";
    if (got.meta.wire_size != want.size())
        os << "wire_size " << got.meta.wire_size << ", want " << want.size() << "; ";
    if (got.meta.addr != from) os << "from " << got.meta.addr << ", want " << from << "; ";
    if (got.meta.flags != PacketFlags::none)
        os << "flags " << static_cast<int>(got.meta.flags) << ", want none; ";
    return os.str();
}

/*! Checks that `got` holds exactly the datagrams `want`, in order, datagram i sent from
    `from_of(i)` (one failure message, naming the first differing datagram and how many do).
*/
template <class Packets, std::invocable<std::size_t> FromOf>
void check_received(const Packets& got, std::span<const Bytes> want, FromOf&& from_of) {
    BOOST_TEST_REQUIRE(std::size(got) == want.size());
    std::size_t wrong = 0;
    std::string first;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (std::string d = difference(got[i], want[i], std::invoke(from_of, i)); !d.empty())
            if (wrong++ == 0) first = "datagram " + std::to_string(i) + ": " + d;
    BOOST_TEST(wrong == 0u, wrong << " of " << want.size() << " datagrams differ; first " << first);
}
//! The same, every datagram sent from `from`.
template <class Packets>
void check_received(const Packets& got, std::span<const Bytes> want, const Endpoint& from) {
    check_received(got, want, [&](std::size_t) { return from; });
}

//! `n` packets whose buffers and meta hold junk, so a receive that does not assign every
//! field is caught.
template <std::size_t N = packet_data_size>
std::vector<BasicPacket<N>> dirty_packets(std::size_t n) {
    std::vector<BasicPacket<N>> p(n);
    for (auto& x : p) {
        x.buffer.fill(std::byte{0xee});
        x.meta.size = N;
        x.meta.wire_size = 99999;
        x.meta.addr = Endpoint(boost::asio::ip::address_v4::loopback(), 1);
        x.meta.flags = PacketFlags::truncated;
    }
    return p;
}

//! Receives exactly `n` datagrams on `s` with the rig's backend (the check stops if fewer
//! come), into packets of capacity N (packet_data_size or 64: see contract/handles.hpp).
template <std::size_t N = packet_data_size, class Rig>
std::vector<BasicPacket<N>> receive_n(Rig& rig, typename Rig::socket_type& s, std::size_t n) {
    auto receiver = rig.receiver();
    std::vector<BasicPacket<N>> p(n);
    std::error_code ec;
    const std::size_t got = receiver.recv_mmsg_exact(s, p, ec);
    BOOST_TEST_REQUIRE(got == n, "received " << got << " of " << n << ": " << ec.message());
    return p;
}

//! Both receive forms on `s` (recv_mmsg, waiting as the socket says, and try_recv_mmsg)
//! return 0 with `errc`.
template <class Receiver, class Socket>
void check_receive_fails(Receiver& receiver, Socket& s, std::errc errc) {
    std::vector<Packet> p(4);
    std::error_code ec;
    BOOST_TEST(receiver.try_recv_mmsg(s, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, errc);
    BOOST_TEST(receiver.recv_mmsg(s, p, ec) == 0u);
    MMSG_CHECK_ERRC(ec, errc);
}

/*! How a rig of the backend contract (LoopbackRig, MockRig) gets its backend under test:
    given the fresh rig, the handle maker for the rig's sockets (see contract/handles.hpp).
    A std::function, so that neither the rig nor the checks are compiled once per backend.
    The rigs are made from one (run_check's `make`).
*/
template <class Rig>
using UseBackend =
    std::function<std::unique_ptr<BackendUnderTest<typename Rig::socket_type>>(Rig&)>;

/*! Runs `check` on a fresh Rig made from `make`, under a Boost.Test context naming `rule`.
    A check that stops (a failed BOOST_TEST_REQUIRE, an exception) fails and ends alone:
    the next check still runs.
*/
template <class Rig, class Make>
void run_check(const char* rule, const Make& make, void (*check)(Rig&)) {
    BOOST_TEST_CONTEXT(rule) {
        try {
            Rig rig(make);
            check(rig);
        } catch (const boost::execution_aborted&) {
            // A BOOST_TEST_REQUIRE failed: already reported.
        } catch (const std::exception& e) {
            BOOST_ERROR("unexpected exception: " << e.what());
        }
    }
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_SUPPORT_HPP
