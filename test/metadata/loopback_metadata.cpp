// Per-datagram metadata on every real backend, over loopback (DESIGN §7): ECN both ways,
// the local address and interface a datagram arrived on, a source address chosen per
// datagram, kernel receive timestamps, defaults when nothing was requested, IPv4, IPv6 and
// IPv4-mapped destinations on a dual-stack socket, and the bad inputs.
#include <mmsg/metadata.hpp>

#include <mmsg/batch_receiver.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/send_options.hpp>

#include "../support/backends.hpp"
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE metadata_loopback_metadata
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/v6_only.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <net/if.h>

using namespace mmsg;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Bytes = std::vector<std::byte>;
using Options = std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>>;

namespace {

asio::ip::address v4(const char* a) { return asio::ip::make_address_v4(a); }

// A receiver bound to `local`, asked for `what`.
// An IPv6 one is dual-stack (it takes IPv4 datagrams too).
udp::socket receiver_socket(asio::io_context& io, const Endpoint& local, Metadata what) {
    udp::socket s(io, local.protocol());
    if (local.address().is_v6()) s.set_option(asio::ip::v6_only(false));
    s.bind(local);
    BOOST_REQUIRE(!detail::set_timeout(s.native_handle(), SO_RCVTIMEO, 5'000'000)); // never hangs
    BOOST_REQUIRE(!request_metadata(s, what));
    return s;
}

std::uint32_t loopback_index() { return if_nametoindex("lo"); }

template <class B>
std::vector<Packet> receive(BatchReceiver<B>& r, udp::socket& s, std::size_t n) {
    std::vector<Packet> p(n);
    std::error_code ec;
    const std::size_t got = r.recv_mmsg_exact(s, p, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_REQUIRE(got == n);
    return p;
}

// Skips a GSO-backend check where the kernel has no GSO/GRO (the backend then sends and
// receives plainly; the metadata checks still hold, so nothing is skipped in fact).
const Ecn all_four[] = {Ecn::ect0, Ecn::ect1, Ecn::not_ect, Ecn::ce};

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(ecn_codepoints_round_trip_in_one_batch, B, test::RealBackends) {
    for (const bool v6 : {false, true}) {
        BOOST_TEST_CONTEXT((v6 ? "IPv6" : "IPv4")) {
            asio::io_context io;
            const Endpoint local = v6 ? testing::v6_loopback() : testing::v4_loopback();
            udp::socket rx = receiver_socket(io, local, Metadata::ecn);
            udp::socket tx = testing::bound_socket(io, local);
            const Bytes payload = testing::numbered(40, 1);
            SendOptions opts[4];
            Options batch;
            for (int i = 0; i < 4; ++i) {
                opts[i].ecn = all_four[i];
                batch.emplace_back(payload, rx.local_endpoint(), opts[i]);
            }
            BatchSender<B> sender;
            BOOST_TEST(sender.batch_send(tx, batch).ok());
            BatchReceiver<B> receiver;
            const auto p = receive(receiver, rx, 4);
            for (int i = 0; i < 4; ++i) {
                BOOST_TEST((p[i].meta.ecn == all_four[i]), "datagram " << i);
                BOOST_TEST(p[i].meta.local.is_unspecified()); // not requested
                BOOST_TEST(p[i].meta.timestamp.count() == 0);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(dscp_and_ecn_make_the_traffic_class_and_ecn_comes_back, B,
                              test::RealBackends) {
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::ecn);
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const Bytes payload = testing::numbered(10, 2);
    const SendOptions o{Ecn::ect1, 46, {}, 0}; // EF
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, Options{{payload, rx.local_endpoint(), o}}).ok());
    BatchReceiver<B> receiver;
    BOOST_TEST((receive(receiver, rx, 1)[0].meta.ecn == Ecn::ect1));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(nothing_requested_gives_defaults, B, test::RealBackends) {
    asio::io_context io;
    udp::socket rx = testing::bound_socket(io, testing::v4_loopback());
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const Bytes payload = testing::numbered(10, 3);
    const SendOptions ce{Ecn::ce, 0, {}, 0};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, Options{{payload, rx.local_endpoint(), ce}}).ok());
    BatchReceiver<B> receiver;
    std::vector<Packet> p(1);
    p[0].meta.ecn = Ecn::ect1; // stale values from an earlier use are replaced
    p[0].meta.local = v4("127.0.0.9");
    p[0].meta.interface_index = 77;
    p[0].meta.timestamp = std::chrono::nanoseconds(5);
    BOOST_REQUIRE(receiver.recv_mmsg(rx, p) == 1u);
    BOOST_TEST((p[0].meta.ecn == Ecn::not_ect));
    BOOST_TEST(p[0].meta.local.is_unspecified());
    BOOST_TEST(p[0].meta.interface_index == 0u);
    BOOST_TEST(p[0].meta.timestamp.count() == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(local_address_and_interface_of_a_wildcard_receiver, B,
                              test::RealBackends) {
    // Bound to 0.0.0.0, reached on 127.0.0.1 and on 127.0.0.3 (loopback only).
    asio::io_context io;
    udp::socket rx = receiver_socket(io, Endpoint(asio::ip::address_v4::any(), 0),
                                     Metadata::local_address);
    const std::uint16_t port = rx.local_endpoint().port();
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const Bytes payload = testing::numbered(20, 4);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch{
        {payload, Endpoint(v4("127.0.0.1"), port)}, {payload, Endpoint(v4("127.0.0.3"), port)}};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, batch).ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 2);
    BOOST_TEST(p[0].meta.local == v4("127.0.0.1"));
    BOOST_TEST(p[1].meta.local == v4("127.0.0.3"));
    BOOST_TEST(p[0].meta.interface_index == loopback_index());
    BOOST_TEST(p[1].meta.interface_index == loopback_index());
    BOOST_TEST((p[0].meta.ecn == Ecn::not_ect));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_wildcard_sender_chooses_its_source_per_datagram, B,
                              test::RealBackends) {
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::all);
    udp::socket tx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    const Bytes payload = testing::numbered(20, 5);
    const SendOptions from2{Ecn::not_ect, 0, v4("127.0.0.2"), 0};
    const SendOptions from3{Ecn::ect0, 0, v4("127.0.0.3"), loopback_index()};
    // Options by value, by pointer (null: default) and by reference_wrapper.
    std::vector<std::tuple<std::span<const std::byte>, Endpoint, const SendOptions*>> batch{
        {payload, rx.local_endpoint(), &from2},
        {payload, rx.local_endpoint(), &from3},
        {payload, rx.local_endpoint(), nullptr}};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, batch).ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 3);
    BOOST_TEST(p[0].meta.addr.address() == v4("127.0.0.2"));
    BOOST_TEST(p[1].meta.addr.address() == v4("127.0.0.3"));
    BOOST_TEST((p[1].meta.ecn == Ecn::ect0));
    BOOST_TEST(p[2].meta.addr.address() == v4("127.0.0.1")); // routing's choice
    for (const Packet& q : p) BOOST_TEST(q.meta.addr.port() == tx.local_endpoint().port());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(timestamps_lie_between_the_send_and_the_receive, B,
                              test::RealBackends) {
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::timestamp);
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const Bytes payload = testing::numbered(20, 6);
    const auto since_epoch = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::system_clock::now().time_since_epoch());
    };
    const auto before = since_epoch();
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, std::vector<std::pair<std::span<const std::byte>, Endpoint>>(
                                         3, {payload, rx.local_endpoint()}))
                   .ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 3);
    const auto after = since_epoch();
    for (const Packet& q : p) {
        BOOST_TEST(q.meta.timestamp.count() >= before.count());
        BOOST_TEST(q.meta.timestamp.count() <= after.count());
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ipv4_mapped_destinations_carry_their_options_on_a_dual_stack_socket,
                              B, test::RealBackends) {
    // The kernel sends an IPv4-mapped destination down the IPv4 path, which reads only
    // IP-level control messages: ECN and source must still arrive.
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::all);
    udp::socket tx(io, udp::v6());
    tx.set_option(asio::ip::v6_only(false));
    tx.bind(Endpoint(asio::ip::address_v6::any(), 0));
    const Endpoint mapped(asio::ip::make_address_v6(asio::ip::v4_mapped, rx.local_endpoint().address().to_v4()),
                          rx.local_endpoint().port());
    const Bytes payload = testing::numbered(30, 7);
    const SendOptions as_v4{Ecn::ce, 0, v4("127.0.0.2"), 0};
    const SendOptions as_mapped{Ecn::ect0, 0,
                                asio::ip::make_address_v6(asio::ip::v4_mapped, v4("127.0.0.3").to_v4()), 0};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, Options{{payload, mapped, as_v4}, {payload, mapped, as_mapped}}).ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 2);
    BOOST_TEST((p[0].meta.ecn == Ecn::ce));
    BOOST_TEST(p[0].meta.addr.address() == v4("127.0.0.2"));
    BOOST_TEST((p[1].meta.ecn == Ecn::ect0));
    BOOST_TEST(p[1].meta.addr.address() == v4("127.0.0.3"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_dual_stack_receiver_gives_ipv4_datagrams_mapped_metadata, B,
                              test::RealBackends) {
    asio::io_context io;
    udp::socket rx = receiver_socket(io, Endpoint(asio::ip::address_v6::any(), 0), Metadata::all);
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    const Endpoint to(v4("127.0.0.1"), rx.local_endpoint().port());
    const Bytes payload = testing::numbered(30, 8);
    const SendOptions ect1{Ecn::ect1, 0, {}, 0};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, Options{{payload, to, ect1}}).ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 1);
    const auto mapped = asio::ip::make_address_v6(asio::ip::v4_mapped, v4("127.0.0.1").to_v4());
    BOOST_TEST(p[0].meta.addr.address() == asio::ip::address(mapped));
    BOOST_TEST(p[0].meta.local == asio::ip::address(mapped)); // the same form as addr
    BOOST_TEST((p[0].meta.ecn == Ecn::ect1));
    BOOST_TEST(p[0].meta.interface_index == loopback_index());
    BOOST_TEST(p[0].meta.timestamp.count() > 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ipv6_local_address_and_source, B, test::RealBackends) {
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v6_loopback(), Metadata::all);
    udp::socket tx = testing::bound_socket(io, testing::v6_loopback());
    const Bytes payload = testing::numbered(30, 9);
    const SendOptions o{Ecn::ce, 0, asio::ip::address_v6::loopback(), loopback_index()};
    BatchSender<B> sender;
    BOOST_TEST(sender.batch_send(tx, Options{{payload, rx.local_endpoint(), o}}).ok());
    BatchReceiver<B> receiver;
    const auto p = receive(receiver, rx, 1);
    BOOST_TEST(p[0].meta.local == asio::ip::address(asio::ip::address_v6::loopback()));
    BOOST_TEST(p[0].meta.interface_index == loopback_index());
    BOOST_TEST((p[0].meta.ecn == Ecn::ce));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_source_that_is_not_local_fails_that_datagram_alone, B,
                              test::RealBackends) {
    // 198.18.0.1 is assigned nowhere here: the kernel refuses it as a source before anything
    // is sent; so is a source of the other family (EINVAL). The batch goes on.
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::none);
    udp::socket tx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    const Bytes payload = testing::numbered(10, 10);
    const SendOptions foreign{Ecn::not_ect, 0, v4("198.18.0.1"), 0};
    const SendOptions wrong_family{Ecn::not_ect, 0, asio::ip::address_v6::loopback(), 0};
    const SendOptions good{Ecn::ect0, 0, v4("127.0.0.2"), 0};
    std::vector<std::error_code> status(5);
    BatchSender<B> sender;
    const SendResult r = sender.batch_send(
        tx, Options{{payload, rx.local_endpoint(), good}, {payload, rx.local_endpoint(), foreign},
                    {payload, rx.local_endpoint(), good}, {payload, rx.local_endpoint(), wrong_family},
                    {payload, rx.local_endpoint(), good}},
        status);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(static_cast<bool>(status[1]), "the kernel's error for a foreign source");
    BOOST_TEST(!(status[1] == std::errc::operation_would_block));
    MMSG_CHECK_ERRC(status[3], std::errc::invalid_argument);
    for (int i : {0, 2, 4}) BOOST_TEST(!status[i], "datagram " << i);
    BatchReceiver<B> receiver;
    receive(receiver, rx, 3);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(multi_target_send_takes_options_for_every_datagram, B,
                              test::RealBackends) {
    asio::io_context io;
    udp::socket a = receiver_socket(io, testing::v4_loopback(), Metadata::ecn);
    udp::socket b = receiver_socket(io, testing::v4_loopback(), Metadata::ecn);
    udp::socket tx = testing::bound_socket(io, Endpoint(asio::ip::address_v4::any(), 0));
    const Bytes payload = testing::numbered(16, 11);
    const std::vector<Endpoint> dests{a.local_endpoint(), b.local_endpoint()};
    const SendOptions o{Ecn::ect1, 0, v4("127.0.0.3"), 0};
    BatchSender<B> sender;
    std::vector<std::error_code> status(2);
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>(payload), dests, o, status).ok());
    BatchReceiver<B> receiver;
    for (udp::socket* s : {&a, &b}) {
        const auto p = receive(receiver, *s, 1);
        BOOST_TEST((p[0].meta.ecn == Ecn::ect1));
        BOOST_TEST(p[0].meta.addr.address() == v4("127.0.0.3"));
    }
}

BOOST_AUTO_TEST_CASE(request_metadata_on_a_non_socket_fails_with_enotsock) {
    testing::DevNull dn;
    const std::error_code ec = request_metadata(dn.fd, Metadata::all);
    MMSG_CHECK_ERRC(ec, std::errc::not_a_socket);
    BOOST_TEST(!request_metadata(dn.fd, Metadata::none)); // nothing asked, nothing done
}

BOOST_AUTO_TEST_CASE(metadata_flags_combine) {
    constexpr Metadata m = Metadata::ecn | Metadata::timestamp;
    static_assert((m & Metadata::ecn) == Metadata::ecn);
    static_assert((m & Metadata::local_address) == Metadata::none);
    static_assert((Metadata::ecn | Metadata::local_address | Metadata::timestamp) == Metadata::all);
    static_assert((~Metadata::ecn & Metadata::all) == (Metadata::local_address | Metadata::timestamp));
    Metadata x = Metadata::none;
    x |= Metadata::local_address;
    x ^= Metadata::all;
    BOOST_TEST((x == (Metadata::ecn | Metadata::timestamp)));
}

BOOST_AUTO_TEST_CASE(mixed_ecn_runs_leave_as_separate_trains_and_arrive_with_their_own_ecn) {
    // LinuxGsoBackend groups a train only from datagrams with equal options: 10 ECT(0), 10 CE,
    // 10 ECT(1) to one destination are three trains; GRO coalesces only equal TOS.
    asio::io_context io;
    udp::socket rx = receiver_socket(io, testing::v4_loopback(), Metadata::ecn);
    udp::socket tx = testing::bound_socket(io, testing::v4_loopback());
    BatchReceiver<LinuxGsoBackend> receiver;
    receiver.backend().enable_gro(rx);
    const Bytes payload = testing::numbered(200, 12);
    const SendOptions runs[3] = {{Ecn::ect0, 0, {}, 0}, {Ecn::ce, 0, {}, 0}, {Ecn::ect1, 0, {}, 0}};
    Options batch;
    for (const SendOptions& o : runs)
        for (int i = 0; i < 10; ++i) batch.emplace_back(payload, rx.local_endpoint(), o);
    BatchSender<Counting<LinuxGsoBackend>> sender;
    BOOST_TEST(sender.batch_send(tx, batch).ok());
    BOOST_TEST(sender.backend().stats().send_calls == 1u); // one sendmmsg of three messages
    const auto p = receive(receiver, rx, 30);
    for (int i = 0; i < 30; ++i) BOOST_TEST((p[i].meta.ecn == runs[i / 10].ecn), "datagram " << i);
}
