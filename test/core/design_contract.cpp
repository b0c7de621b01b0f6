// A program written only from DESIGN.md sections 2-5: every public name and signature
// there, used literally, and the behaviour stated there. If this file needs anything the
// design does not promise, the design or the library is wrong.
#include <mmsg.hpp>
#include <mmsg/testing.hpp> // MockNetwork, MockBackend (DESIGN §1: test doubles live in testing/)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#define BOOST_TEST_MODULE core_design_contract
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ranges>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

// Loopback endpoints only (the project's network rule).
mmsg::Endpoint v4(std::uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }
mmsg::Endpoint v6(std::uint16_t port) { return {asio::ip::address_v6::loopback(), port}; }

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s)); }
bool equal(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::ranges::equal(a, b);
}

//! Takes everything queued on a mock socket into 64-byte packets.
std::vector<mmsg::BasicPacket<64>> drain(mmsg::MockNetwork& net, int handle) {
    std::vector<mmsg::BasicPacket<64>> p(net.queued(handle));
    mmsg::BatchReceiver<mmsg::MockBackend> r(mmsg::MockBackend{net});
    std::error_code ec;
    const std::size_t n = r.recv_mmsg_exact(handle, p, ec);
    BOOST_TEST(n == p.size());
    return p;
}

void set_timeout(int fd, int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    BOOST_TEST_REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
}

} // namespace

// ---- section 2: core types -------------------------------------------------------------

static_assert(std::is_same_v<mmsg::Endpoint, boost::asio::ip::udp::endpoint>);
static_assert(mmsg::packet_data_size == 1232);
static_assert(mmsg::num_rcvmmsgs == 64);
static_assert(std::is_same_v<std::underlying_type_t<mmsg::PacketFlags>, std::uint8_t>);
static_assert(static_cast<int>(mmsg::PacketFlags::none) == 0);
static_assert(static_cast<int>(mmsg::PacketFlags::truncated) == 1);
static_assert(std::is_same_v<mmsg::Packet, mmsg::BasicPacket<mmsg::packet_data_size>>);
static_assert(std::is_same_v<decltype(mmsg::Packet::buffer), std::array<std::byte, 1232>>);
static_assert(std::is_same_v<decltype(mmsg::BasicPacket<16>::buffer), std::array<std::byte, 16>>);
static_assert(std::is_same_v<decltype(mmsg::Packet::meta), mmsg::Meta>);
static_assert(std::is_same_v<decltype(std::declval<const mmsg::Packet&>().data()), std::span<const std::byte>>);
static_assert(noexcept(std::declval<const mmsg::Packet&>().data()));
static_assert(std::is_same_v<decltype(mmsg::Meta::size), std::size_t>);
static_assert(std::is_same_v<decltype(mmsg::Meta::addr), mmsg::Endpoint>);
static_assert(std::is_same_v<decltype(mmsg::Meta::flags), mmsg::PacketFlags>);
static_assert(std::is_same_v<decltype(mmsg::SendResult::sent), std::size_t>);
static_assert(std::is_same_v<decltype(mmsg::SendResult::failed), std::size_t>);
static_assert(std::is_same_v<decltype(mmsg::SendResult::unsent), std::size_t>);
static_assert(std::is_same_v<decltype(mmsg::SendResult::first_error), std::error_code>);
static_assert(std::is_same_v<decltype(mmsg::SendResult::fatal), bool>);
static_assert(noexcept(std::declval<const mmsg::SendResult&>().ok()));

// ---- section 5: backends ------------------------------------------------------------------

#if MMSG_HAS_MMSG
static_assert(std::is_same_v<mmsg::DefaultBackend, mmsg::LinuxMmsgBackend>,
              "DESIGN 5: DefaultBackend is LinuxMmsgBackend on Linux");
#else
static_assert(std::is_same_v<mmsg::DefaultBackend, mmsg::PortableBackend>);
#endif
static_assert(std::is_same_v<mmsg::BatchSender<>,
                             mmsg::BatchSender<mmsg::DefaultBackend, std::span<const std::byte>>>);
static_assert(std::is_same_v<mmsg::BatchReceiver<>, mmsg::BatchReceiver<mmsg::DefaultBackend>>);
static_assert(std::is_constructible_v<mmsg::MockBackend, mmsg::MockNetwork&>);
static_assert(!std::is_convertible_v<mmsg::MockNetwork&, mmsg::MockBackend>, "explicit");
static_assert(!std::is_convertible_v<mmsg::MockBackend, mmsg::BatchSender<mmsg::MockBackend>>, "explicit");
static_assert(!std::is_convertible_v<mmsg::MockBackend, mmsg::BatchReceiver<mmsg::MockBackend>>, "explicit");
static_assert(std::is_default_constructible_v<mmsg::BatchSender<mmsg::LinuxMmsgBackend>>);
static_assert(std::is_default_constructible_v<mmsg::BatchSender<mmsg::PortableBackend>>);
static_assert(std::is_default_constructible_v<mmsg::BatchReceiver<mmsg::PortableBackend>>);
static_assert(std::is_same_v<decltype(std::declval<mmsg::BatchSender<>&>().backend()), mmsg::DefaultBackend&>);
static_assert(noexcept(std::declval<mmsg::BatchSender<>&>().backend()));
static_assert(std::is_same_v<decltype(std::declval<mmsg::BatchReceiver<>&>().backend()), mmsg::DefaultBackend&>);
static_assert(noexcept(std::declval<mmsg::BatchReceiver<>&>().backend()));
static_assert(std::is_same_v<decltype(std::declval<const mmsg::MockNetwork&>().calls()), std::size_t>);
static_assert(std::is_same_v<decltype(std::declval<const mmsg::MockNetwork&>().queued(1)), std::size_t>);
static_assert(std::is_same_v<decltype(std::declval<mmsg::MockNetwork&>().open(mmsg::Endpoint{})), int>);

BOOST_AUTO_TEST_CASE(packet_flags_have_bitwise_operators) {
    using mmsg::PacketFlags;
    constexpr PacketFlags both = PacketFlags::none | PacketFlags::truncated;
    static_assert(both == PacketFlags::truncated);
    static_assert((PacketFlags::truncated & PacketFlags::none) == PacketFlags::none);
    static_assert((PacketFlags::truncated ^ PacketFlags::truncated) == PacketFlags::none);
    static_assert((~PacketFlags::none & PacketFlags::truncated) == PacketFlags::truncated);
    PacketFlags f = PacketFlags::none;
    f |= PacketFlags::truncated;
    BOOST_TEST((f == PacketFlags::truncated));
    f &= PacketFlags::none;
    BOOST_TEST((f == PacketFlags::none));
    f ^= PacketFlags::truncated;
    BOOST_TEST(((f & PacketFlags::truncated) == PacketFlags::truncated));
}

BOOST_AUTO_TEST_CASE(meta_packet_and_send_result_have_the_stated_defaults) {
    const mmsg::Meta m;
    BOOST_TEST(m.size == 0u);
    BOOST_TEST(m.addr == mmsg::Endpoint{});
    BOOST_TEST((m.flags == mmsg::PacketFlags::none));

    mmsg::Packet p;
    p.meta.size = 3;
    p.buffer[0] = std::byte{1};
    p.buffer[1] = std::byte{2};
    p.buffer[2] = std::byte{3};
    BOOST_TEST(p.data().size() == 3u);
    BOOST_TEST(p.data().data() == p.buffer.data());
    mmsg::BasicPacket<8> small;
    small.meta = mmsg::Meta{};
    BOOST_TEST(small.data().empty());

    mmsg::SendResult r;
    BOOST_TEST(r.sent == 0u);
    BOOST_TEST(r.failed == 0u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.first_error);
    BOOST_TEST(!r.fatal);
    BOOST_TEST(r.ok());
    r.sent = 5;
    BOOST_TEST(r.ok());
    r.unsent = 1;
    BOOST_TEST(!r.ok()); // would-block is not ok
    r.unsent = 0;
    r.failed = 1;
    BOOST_TEST(!r.ok());
}

// ---- section 3: sending, on MockBackend -----------------------------------------------------

BOOST_AUTO_TEST_CASE(batch_send_takes_pair_like_elements_with_every_destination_form) {
    mmsg::MockNetwork net;
    const mmsg::Endpoint a = v4(5001), b = v4(5002), me = v4(5000);
    const int tx = net.open(me);
    const int rx_a = net.open(a);
    const int rx_b = net.open(b);
    mmsg::BatchSender<mmsg::MockBackend, std::vector<std::uint8_t>> sender(mmsg::MockBackend{net});
    static_assert(std::is_same_v<decltype(sender.backend()), mmsg::MockBackend&>);

    // (Buffer, Endpoint)
    const std::vector<std::pair<std::vector<std::uint8_t>, mmsg::Endpoint>> by_value{
        {{1, 2, 3}, a}, {{4, 5}, b}, {{}, a}};
    mmsg::SendResult r = sender.batch_send(tx, by_value);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 3u);
    // (Buffer, const Endpoint&)
    const std::vector<std::uint8_t> payload{9, 9};
    const std::vector<std::pair<std::vector<std::uint8_t>, const mmsg::Endpoint&>> by_ref{{payload, b}};
    BOOST_TEST(sender.batch_send(tx, by_ref).ok());
    // (Buffer, const Endpoint*) as a tuple, with a status span
    const std::vector<std::tuple<std::vector<std::uint8_t>, const mmsg::Endpoint*>> by_ptr{
        {payload, &a}, {payload, &b}};
    std::vector<std::error_code> status(2, std::make_error_code(std::errc::io_error));
    r = sender.batch_send(tx, by_ptr, std::span<std::error_code>(status));
    BOOST_TEST(r.ok());
    BOOST_TEST(!status[0]);
    BOOST_TEST(!status[1]);
    // std::string and std::array<std::byte, N> payloads in the same call shape.
    const std::string text = "text";
    const std::array<std::byte, 4> raw{std::byte{0xa}, std::byte{0xb}, std::byte{0xc}, std::byte{0xd}};
    BOOST_TEST(sender.batch_send(tx, std::vector<std::pair<std::string, mmsg::Endpoint>>{{text, a}}).ok());
    BOOST_TEST(sender.batch_send(tx, std::array<std::pair<std::array<std::byte, 4>, const mmsg::Endpoint*>, 1>{
                                         {{raw, &b}}}).ok());
    // A sized view that makes (span, pointer) pairs on the fly. (Clang 14 cannot compile
    // libstdc++ 12's range adaptors, so there the same two datagrams go as a vector.)
    const std::vector<mmsg::Endpoint> targets{a, b};
#if !defined(__clang__) || __clang_major__ >= 15
    auto made = targets | std::views::transform([&](const mmsg::Endpoint& e) {
                    return std::pair<std::span<const std::byte>, const mmsg::Endpoint*>(bytes(text), &e);
                });
#else
    const std::vector<std::pair<std::span<const std::byte>, const mmsg::Endpoint*>> made{
        {bytes(text), &targets[0]}, {bytes(text), &targets[1]}};
#endif
    BOOST_TEST(sender.batch_send(tx, made).sent == 2u);

    // Every datagram arrived, in order, with the sender's endpoint as source.
    const auto got_a = drain(net, rx_a);
    const auto got_b = drain(net, rx_b);
    BOOST_TEST_REQUIRE(got_a.size() == 5u);
    BOOST_TEST_REQUIRE(got_b.size() == 5u);
    const std::array<std::uint8_t, 3> first{1, 2, 3};
    BOOST_TEST(equal(got_a[0].data(), std::as_bytes(std::span(first))));
    BOOST_TEST(got_a[1].meta.size == 0u);
    BOOST_TEST(got_a[2].meta.size == 2u);
    BOOST_TEST(equal(got_a[3].data(), bytes(text)));
    BOOST_TEST(equal(got_a[4].data(), bytes(text)));
    BOOST_TEST(equal(got_b[3].data(), raw));
    for (const auto& p : got_a) BOOST_TEST(p.meta.addr == me);
    for (const auto& p : got_b) BOOST_TEST(p.meta.addr == me);
}

BOOST_AUTO_TEST_CASE(multi_target_send_sends_the_buffer_to_every_destination_in_order) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(6000));
    const int rx = net.open(v4(6001));
    const int rx6 = net.open(v6(6002));
    const mmsg::Endpoint to = v4(6001), to6 = v6(6002), nobody = v4(6099);

    mmsg::BatchSender<mmsg::MockBackend, std::string> text_sender(mmsg::MockBackend{net});
    const std::string hello = "hello";
    mmsg::SendResult r = text_sender.multi_target_send(tx, hello, std::vector<mmsg::Endpoint>{to, to6, nobody});
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 3u); // to an unbound endpoint: accepted and dropped, as UDP does

    mmsg::BatchSender<mmsg::MockBackend, std::array<std::byte, 2>> array_sender(mmsg::MockBackend{net});
    const std::array<std::byte, 2> two{std::byte{1}, std::byte{2}};
    const std::array<const mmsg::Endpoint*, 2> ptrs{&to, &to};
    BOOST_TEST(array_sender.multi_target_send(tx, two, ptrs).sent == 2u);

    mmsg::BatchSender<mmsg::MockBackend> span_sender(mmsg::MockBackend{net});
    r = span_sender.multi_target_send(tx, bytes(hello), std::vector<std::reference_wrapper<const mmsg::Endpoint>>{to6});
    BOOST_TEST(r.sent == 1u);

    const auto got = drain(net, rx);
    BOOST_TEST_REQUIRE(got.size() == 3u);
    BOOST_TEST(equal(got[0].data(), bytes(hello)));
    BOOST_TEST(equal(got[1].data(), two));
    BOOST_TEST(equal(got[2].data(), two));
    const auto got6 = drain(net, rx6);
    BOOST_TEST_REQUIRE(got6.size() == 2u);
    BOOST_TEST(got6[0].meta.addr == v4(6000));
}

BOOST_AUTO_TEST_CASE(rejected_datagrams_fail_alone_and_status_tells_each_outcome) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(7000));
    const int rx = net.open(v4(7001));
    const mmsg::Endpoint to = v4(7001), gone = v4(7002), far = v4(7003);
    net.unreachable(gone);                                             // default: ENETUNREACH
    net.unreachable(far, std::make_error_code(std::errc::message_size)); // any error
    mmsg::BatchSender<mmsg::MockBackend> sender(mmsg::MockBackend{net});
    const std::string d = "x";
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch{
        {bytes(d), gone}, {bytes(d), to}, {bytes(d), far}, {bytes(d), to}};
    std::vector<std::error_code> status(batch.size());
    const mmsg::SendResult r = sender.batch_send(tx, batch, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST((r.first_error == std::errc::network_unreachable));
    BOOST_TEST((status[0] == std::errc::network_unreachable));
    BOOST_TEST(!status[1]);
    BOOST_TEST((status[2] == std::errc::message_size));
    BOOST_TEST(!status[3]);
    BOOST_TEST(net.queued(rx) == 2u);

    // status.size() >= packets.size() is required.
    std::vector<std::error_code> short_status(3);
    const std::size_t calls = net.calls();
    BOOST_CHECK_THROW(sender.batch_send(tx, batch, short_status), std::invalid_argument);
    BOOST_TEST(net.calls() == calls);
}

BOOST_AUTO_TEST_CASE(an_empty_batch_makes_no_call_and_is_ok) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(7100));
    mmsg::BatchSender<mmsg::MockBackend> sender(mmsg::MockBackend{net});
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> none;
    BOOST_TEST(sender.batch_send(tx, none).ok());
    BOOST_TEST(sender.multi_target_send(tx, std::span<const std::byte>{}, std::vector<mmsg::Endpoint>{}).ok());
    BOOST_TEST(net.calls() == 0u);
}

BOOST_AUTO_TEST_CASE(mock_network_counts_attempts_accepted_datagrams_and_calls_as_stated) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(7200));
    const int rx = net.open(v4(7201));
    const mmsg::Endpoint to = v4(7201);
    mmsg::BatchSender<mmsg::MockBackend> sender(mmsg::MockBackend{net});
    const std::string d = "payload";
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(6, {bytes(d), to});

    // A call that would block attempts nothing; unsent is the suffix from sent + failed.
    net.would_block_after(0);
    mmsg::SendResult r = sender.batch_send(tx, batch);
    BOOST_TEST(r.unsent == 6u);
    BOOST_TEST(r.sent + r.failed == 0u);
    BOOST_TEST(!r.fatal);
    net.clear_would_block();
    // An interrupted call attempts nothing either, and EINTR is never a failure.
    net.interrupt_next(2);
    net.fail_nth(1, std::make_error_code(std::errc::message_size)); // the 2nd attempt ever
    // would_block_after counts accepted datagrams: #0 and #2 are accepted, then #3 would block.
    net.would_block_after(2);
    const std::size_t calls = net.calls();
    r = sender.batch_send(tx, batch);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(r.unsent == 3u);
    BOOST_TEST(!r.fatal);
    BOOST_TEST((r.first_error == std::errc::message_size));
    BOOST_TEST(net.calls() - calls == 2u + 2u); // two interrupted, then [#0, #1 fails], [#2, blocked]
    // Resume from sent + failed.
    net.clear_would_block();
    const auto rest = std::span(batch).subspan(r.sent + r.failed);
    r = sender.batch_send(tx, rest);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(net.queued(rx) == 5u);

    // limit_per_call; and the same 1024-datagram limit per call as sendmmsg.
    net.limit_per_call(4);
    std::size_t before = net.calls();
    BOOST_TEST(sender.batch_send(tx, batch).sent == 6u);
    BOOST_TEST(net.calls() - before == 2u);
    net.limit_per_call(100000);
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> big(1025, {bytes(d), v4(7299)});
    before = net.calls();
    BOOST_TEST(sender.batch_send(tx, big).sent == 1025u);
    BOOST_TEST(net.calls() - before == 2u);
}

BOOST_AUTO_TEST_CASE(a_fatal_error_stops_the_batch_and_keeps_an_earlier_first_error) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(7300));
    const mmsg::Endpoint to = v4(7301);
    mmsg::BatchSender<mmsg::MockBackend> sender(mmsg::MockBackend{net});
    const std::string d = "z";
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(5, {bytes(d), to});
    net.fail_nth(0, std::make_error_code(std::errc::permission_denied));
    net.fail_nth(2, std::make_error_code(std::errc::bad_file_descriptor));
    std::vector<std::error_code> status(5);
    const mmsg::SendResult r = sender.batch_send(tx, batch, status);
    BOOST_TEST(r.fatal);
    BOOST_TEST(r.sent == 1u);
    BOOST_TEST(r.failed == 4u);
    BOOST_TEST(r.unsent == 0u);
    BOOST_TEST((r.first_error == std::errc::permission_denied));
    for (std::size_t i = 2; i < 5; ++i) BOOST_TEST((status[i] == std::errc::bad_file_descriptor));
}

// ---- section 4: receiving, on MockBackend ----------------------------------------------------

BOOST_AUTO_TEST_CASE(recv_mmsg_on_the_mock_takes_what_is_queued_and_resets_meta) {
    mmsg::MockNetwork net;
    const mmsg::MockNetwork& view = net;
    const int tx = net.open(v4(8000));
    const int rx = net.open(v4(8001));
    mmsg::BatchSender<mmsg::MockBackend> sender(mmsg::MockBackend{net});
    mmsg::BatchReceiver<mmsg::MockBackend> receiver(mmsg::MockBackend{net});
    static_assert(std::is_same_v<decltype(receiver.backend()), mmsg::MockBackend&>);

    std::array<mmsg::BasicPacket<4>, 3> p;
    std::error_code ec;
    static_assert(noexcept(receiver.recv_mmsg(rx, p, ec)));
    static_assert(noexcept(receiver.recv_mmsg_exact(rx, p, ec)));
    static_assert(std::is_same_v<decltype(receiver.recv_mmsg(rx, p)), std::size_t>);

    // Empty mock socket: operation_would_block at once.
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
    BOOST_TEST(view.calls() == 1u);
    BOOST_CHECK_THROW(receiver.recv_mmsg(rx, p), std::system_error);

    const std::string longer = "123456", shorter = "ab";
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch{
        {bytes(longer), v4(8001)}, {bytes(shorter), v4(8001)}};
    BOOST_TEST(sender.batch_send(tx, batch).ok());
    BOOST_TEST(view.queued(rx) == 2u);
    for (auto& x : p) x.meta = mmsg::Meta{99, v6(1), mmsg::PacketFlags::truncated};
    BOOST_TEST(receiver.recv_mmsg(rx, p, ec) == 2u);
    BOOST_TEST(!ec);
    BOOST_TEST(p[0].meta.size == 4u);
    BOOST_TEST(((p[0].meta.flags & mmsg::PacketFlags::truncated) == mmsg::PacketFlags::truncated));
    BOOST_TEST(p[0].meta.addr == v4(8000));
    BOOST_TEST(p[1].meta.size == 2u);
    BOOST_TEST((p[1].meta.flags == mmsg::PacketFlags::none));
    BOOST_TEST(equal(p[1].data(), bytes(shorter)));
    BOOST_TEST(p[2].meta.size == 99u); // not filled: untouched

    // interrupt_next and limit_per_call apply to receives; recv_mmsg_exact fills everything.
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> five(5, {bytes(shorter), v4(8001)});
    BOOST_TEST(sender.batch_send(tx, five).ok());
    net.interrupt_next(1);
    net.limit_per_call(2);
    std::vector<mmsg::Packet> q(5);
    const std::size_t before = view.calls();
    BOOST_TEST(receiver.recv_mmsg_exact(rx, q) == 5u);
    BOOST_TEST(view.calls() - before == 1u + 3u);
    BOOST_TEST(view.queued(rx) == 0u);

    // An empty range returns 0 with no call.
    std::vector<mmsg::Packet> none;
    BOOST_TEST(receiver.recv_mmsg(rx, none, ec) == 0u);
    BOOST_TEST(!ec);
    BOOST_TEST(view.calls() - before == 4u);
}

BOOST_AUTO_TEST_CASE(recv_mmsg_returns_at_most_num_rcvmmsgs) {
    mmsg::MockNetwork net;
    const int tx = net.open(v4(8100));
    const int rx = net.open(v4(8101));
    const std::string d = "d";
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(100, {bytes(d), v4(8101)});
    mmsg::BatchSender<mmsg::MockBackend>(mmsg::MockBackend{net}).batch_send(tx, batch);
    mmsg::BatchReceiver<mmsg::MockBackend> receiver(mmsg::MockBackend{net});
    std::vector<mmsg::Packet> p(100);
    BOOST_TEST(receiver.recv_mmsg(rx, p) == mmsg::num_rcvmmsgs);
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(p).subspan(mmsg::num_rcvmmsgs)) == 36u);
}

// ---- sections 2-5 on real sockets: the free functions and DefaultBackend ---------------------

namespace {
//! A socket type of the user's own: anything with native_handle() is a socket.
struct MySocket {
    int fd;
    int native_handle() const { return fd; }
};
} // namespace

BOOST_AUTO_TEST_CASE(the_free_functions_work_on_loopback_with_int_and_asio_sockets) {
    asio::io_context io;
    udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket tx6(io, udp::endpoint(asio::ip::address_v6::loopback(), 0));
    udp::socket rx6(io, udp::endpoint(asio::ip::address_v6::loopback(), 0));
    set_timeout(rx.native_handle(), 2000);
    set_timeout(rx6.native_handle(), 2000);
    const mmsg::Endpoint to = rx.local_endpoint(), to6 = rx6.local_endpoint();
    const mmsg::Endpoint broadcast{asio::ip::address_v4::broadcast(), 9};

    const std::vector<std::uint8_t> a{1, 2, 3};
    const std::string b(100, 'b');
    std::vector<std::pair<std::vector<std::uint8_t>, mmsg::Endpoint>> batch{{a, to}, {a, to6}, {a, to}};
    std::vector<std::error_code> status(3);
    mmsg::SendResult r = mmsg::batch_send(tx, batch, status);
    BOOST_TEST(r.sent == 2u);
    BOOST_TEST(r.failed == 1u); // IPv6 destination on an IPv4 socket
    BOOST_TEST((status[1] == std::errc::address_family_not_supported));
    BOOST_TEST(!r.fatal);
    r = mmsg::multi_target_send(tx.native_handle(), b, std::vector<mmsg::Endpoint>{broadcast, to});
    BOOST_TEST(r.sent == 1u);
    BOOST_TEST((r.first_error == std::errc::permission_denied)); // no SO_BROADCAST
    BOOST_TEST(mmsg::batch_send(MySocket{tx6.native_handle()},
                                std::vector<std::pair<std::string, mmsg::Endpoint>>{{b, to6}}).ok());

    std::vector<mmsg::BasicPacket<16>> p(8);
    std::error_code ec;
    const int flags = ::fcntl(rx.native_handle(), F_GETFL);
    BOOST_TEST(mmsg::recv_mmsg(rx, p, ec) == 3u);
    BOOST_TEST(!ec);
    BOOST_TEST(::fcntl(rx.native_handle(), F_GETFL) == flags); // blocking mode never changed
    BOOST_TEST(p[0].meta.addr == tx.local_endpoint());
    BOOST_TEST(p[0].meta.size == 3u);
    BOOST_TEST(((p[2].meta.flags & mmsg::PacketFlags::truncated) == mmsg::PacketFlags::truncated));
    BOOST_TEST(p[2].meta.size == 16u);
    // Timeout: an error, never a hang.
    BOOST_TEST(mmsg::recv_mmsg(rx.native_handle(), p, ec) == 0u);
    BOOST_TEST((ec == std::errc::operation_would_block));
    BOOST_CHECK_THROW(mmsg::recv_mmsg(rx, p), std::system_error);
    BOOST_CHECK_THROW(mmsg::recv_mmsg_exact(rx, p), std::system_error);

    std::array<mmsg::Packet, 1> one;
    BOOST_TEST(mmsg::recv_mmsg_exact(rx6, one, ec) == 1u);
    BOOST_TEST(one[0].meta.addr == tx6.local_endpoint()); // IPv6 sender address filled
    BOOST_TEST(one[0].meta.size == 100u);
    BOOST_TEST(mmsg::recv_mmsg_exact(MySocket{rx6.native_handle()}, std::span(one).first(0)) == 0u);

    // BatchSender<> / BatchReceiver<> on DefaultBackend, and the status-span overloads.
    mmsg::BatchSender<> sender;
    mmsg::BatchReceiver<> receiver;
    const std::string c = "c";
    const std::vector<std::pair<std::span<const std::byte>, const mmsg::Endpoint*>> one_more{{bytes(c), &to}};
    std::vector<std::error_code> st(1);
    BOOST_TEST(sender.batch_send(tx, one_more, st).ok());
    BOOST_TEST(sender.multi_target_send(tx, bytes(c), std::array<mmsg::Endpoint, 1>{to}).ok());
    BOOST_TEST(receiver.recv_mmsg_exact(rx, std::span(p).first(2)) == 2u);
    BOOST_TEST(equal(p[1].data(), bytes(c)));
}

BOOST_AUTO_TEST_CASE(the_free_send_trains_sends_every_datagram_of_every_train_in_order) {
    asio::io_context io;
    udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    udp::socket rx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    set_timeout(rx.native_handle(), 2000);
    const mmsg::Endpoint to = rx.local_endpoint();
    const mmsg::Endpoint broadcast{asio::ip::address_v4::broadcast(), 9};
    const std::string text = "abcdefghij"; // trains of 4-byte datagrams: abcd efgh ij
    const std::array<mmsg::SendTrain, 2> trains{
        mmsg::SendTrain{bytes(text), 4, &to, nullptr},
        mmsg::SendTrain{bytes(text).first(3), 2, &broadcast, nullptr}}; // ab c: rejected
    std::vector<std::error_code> status(5);
    const mmsg::SendResult r = mmsg::send_trains(tx, trains, status);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 2u);
    BOOST_TEST((status[3] == std::errc::permission_denied)); // no SO_BROADCAST
    BOOST_TEST((status[4] == std::errc::permission_denied));
    BOOST_TEST(mmsg::send_trains(tx.native_handle(), std::span(trains).first(1)).ok());

    std::vector<mmsg::BasicPacket<16>> p(6);
    std::error_code ec;
    BOOST_TEST(mmsg::recv_mmsg_exact(rx, p, ec) == 6u);
    const char* want[] = {"abcd", "efgh", "ij", "abcd", "efgh", "ij"};
    for (std::size_t i = 0; i < 6; ++i) BOOST_TEST(equal(p[i].data(), bytes(std::string(want[i]))));
}
