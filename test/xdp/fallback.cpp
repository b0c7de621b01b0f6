// Fallback<XdpBackend, LinuxGsoBackend, LinuxMmsgBackend>: a socket XdpBackend can serve
// goes through AF_XDP; for any other, its probe says why not and the next backend serves
// the same socket: a socket bound to an address of another interface, a driver that refuses
// zero copy, generic receive on an interface that hands XDP GSO trains, and a thread
// without CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF. The datagrams arrive in every case.
#define BOOST_TEST_MODULE xdp_fallback // before xdp_world.hpp, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/fallback.hpp>

#include "xdp_world.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace mmsg;
using namespace mmsg::test;
using XdpFirst = Fallback<XdpBackend, LinuxGsoBackend, LinuxMmsgBackend>;

namespace {

XdpFirst xdp_first(XdpBackend b) { return XdpFirst(std::move(b), LinuxGsoBackend{}, LinuxMmsgBackend{}); }

// Sends `n` datagrams from `tx` to `rx` through `sender` and checks they all arrive.
void round_trip(BatchSender<XdpFirst>& sender, udp::socket& tx, udp::socket& rx, std::size_t n) {
    std::vector<std::vector<std::byte>> p;
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    for (std::size_t i = 0; i < n; ++i) p.push_back(testing::numbered(100 + i, static_cast<std::uint32_t>(i)));
    for (const auto& b : p) batch.emplace_back(b, rx.local_endpoint());
    const SendResult r = sender.batch_send(tx, batch);
    BOOST_TEST(r.ok(), r.first_error.message());
    std::vector<BasicPacket<1500>> got(n);
    BatchReceiver<LinuxMmsgBackend> receiver;
    std::error_code ec;
    BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == n, ec.message());
    for (std::size_t i = 0; i < n; ++i)
        BOOST_TEST((std::vector<std::byte>(got[i].data().begin(), got[i].data().end()) == p[i]), "datagram " << i);
}

// Drops, for the calling thread only, the capabilities AF_XDP and BPF need (and
// CAP_SYS_ADMIN, which would stand in for CAP_BPF).
bool drop_xdp_capabilities() {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capget, &h, d) != 0) return false;
    for (const int cap : {CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON}) {
        d[cap / 32].effective &= ~(1u << (cap % 32));
        d[cap / 32].permitted &= ~(1u << (cap % 32));
    }
    return ::syscall(SYS_capset, &h, d) == 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_socket_on_the_queues_interface_goes_through_af_xdp) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    asio::io_context io;
    udp::socket sb = socket_in(*w, false, io, on_b());
    udp::socket any = socket_in(*w, true, io, Endpoint(asio::ip::address_v4::any(), 0));
    udp::socket socket = socket_in(*w, true, io, on_a()); // 198.18.0.1, on mmsg-xa
    const auto payload = testing::numbered(100, 1);
    const std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch(10, {payload, sb.local_endpoint()});
    w->in_a([&] { // the queue opens at first use, in the namespace of the thread that uses it
        // tag::use[]
        mmsg::XdpOptions options;
        options.interface = "mmsg-xa"; // the device the socket's address is on
        options.queue = 0;             // the queue its traffic is steered to (a veth has one)
        options.mode = mmsg::XdpMode::native;
        using XdpFirst = mmsg::Fallback<mmsg::XdpBackend, mmsg::LinuxGsoBackend, mmsg::LinuxMmsgBackend>;
        mmsg::BatchSender<XdpFirst> sender{
            XdpFirst(mmsg::XdpBackend(options), mmsg::LinuxGsoBackend{}, mmsg::LinuxMmsgBackend{})};
        // An ordinary bound UDP socket: sent through AF_XDP when the queue opens and the
        // socket is on its device, else through the next backend (chosen() says which, and why).
        const mmsg::SendResult r = sender.batch_send(socket, batch);
        // end::use[]
        BOOST_TEST(r.ok(), r.first_error.message());
        std::vector<BasicPacket<1500>> got(10);
        BatchReceiver<LinuxMmsgBackend> receiver;
        std::error_code ec;
        BOOST_TEST(receiver.recv_mmsg_exact(sb, got, ec) == 10u, ec.message());
        for (const auto& p : got) BOOST_TEST((p.meta.addr == socket.local_endpoint()));
        std::error_code why;
        BOOST_TEST(sender.backend().chosen(socket.native_handle(), why) == 0u, why.message());
        BOOST_TEST(sender.backend().chosen(any.native_handle()) == 0u); // the unspecified address too
        round_trip(sender, any, sb, 50);
        BOOST_TEST(sender.backend().get<0>().queue(ec)->statistics().frames_sent == 60u);
    });
}

BOOST_AUTO_TEST_CASE(each_reason_af_xdp_cannot_serve_hands_the_socket_to_the_next_backend) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    asio::io_context io;
    udp::socket sb = socket_in(*w, false, io, on_b());
    udp::socket sa = socket_in(*w, true, io, on_a());

    { // A socket of another interface (A's loopback).
        const auto qa = require_queue(*w, true);
        udp::socket lo = socket_in(*w, true, io, Endpoint(asio::ip::address_v4::loopback(), 0));
        udp::socket lo_rx = socket_in(*w, true, io, Endpoint(asio::ip::address_v4::loopback(), 0));
        BatchSender<XdpFirst> sender{xdp_first(XdpBackend(qa))};
        std::error_code why;
        BOOST_TEST(sender.backend().chosen(lo.native_handle(), why) == 1u);
        BOOST_TEST((why == XdpErrc::socket_not_on_interface), why.message());
        round_trip(sender, lo, lo_rx, 20);
        BOOST_TEST(qa->statistics().frames_sent == 0u);
    }
    // Queues that cannot be opened: the probe's reason is the queue's.
    struct Case {
        const char* what;
        XdpOptions options;
        XdpErrc why;
    };
    XdpOptions zero_copy = options_for(true);
    zero_copy.zero_copy = true;
    const Case cases[] = {
        {"zero copy on a veth", zero_copy, XdpErrc::zero_copy_refused},
        {"generic receive on a veth", options_for(true, XdpMode::generic), XdpErrc::coalescing_interface},
        {"no such interface", [] { XdpOptions o; o.interface = "mmsg-none"; return o; }(), XdpErrc::no_such_interface},
    };
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            BatchSender<XdpFirst> sender{xdp_first(XdpBackend(c.options))};
            std::error_code why;
            // The queue opens (or fails) in the namespace of the thread that first needs it.
            BOOST_TEST(w->in_a([&] { return sender.backend().chosen(sa.native_handle(), why); }) == 1u);
            BOOST_TEST((why == c.why), why.message());
            round_trip(sender, sa, sb, 20);
        }
    }
}

BOOST_AUTO_TEST_CASE(without_the_capabilities_the_probe_says_so_and_the_next_backend_sends) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    Sides sides(*w);
    udp::socket& sa = sides.sa; // named, not bound: a lambda captures them (clang 14)
    udp::socket& sb = sides.sb;
    std::error_code why;
    std::size_t chosen = 99;
    bool dropped = false;
    // A thread of its own: setns first (it needs CAP_SYS_ADMIN), then the capabilities go.
    std::thread([&] {
        w->in_a([&] {
            dropped = drop_xdp_capabilities();
            if (!dropped) return;
            BatchSender<XdpFirst> sender{xdp_first(XdpBackend(options_for(true)))};
            chosen = sender.backend().chosen(sa.native_handle(), why);
            round_trip(sender, sa, sb, 20);
        });
    }).join();
    BOOST_REQUIRE_MESSAGE(dropped, "capset refused");
    BOOST_TEST(chosen == 1u);
    BOOST_TEST((why == XdpErrc::no_permission), why.message());
    BOOST_TEST((why == std::errc::operation_not_permitted));
}

BOOST_AUTO_TEST_CASE(a_fallback_receiver_receives_through_the_ring) {
    testing::VethPair* w = world_or_skip();
    if (w == nullptr) return;
    std::error_code ec;
    const auto qb = require_queue(*w, false);
    Sides sides(*w);
    auto& [io, sa, sb] = sides;
    BatchReceiver<XdpFirst> receiver{xdp_first(XdpBackend(qb))};
    std::array<BasicPacket<1500>, 8> got{};
    BOOST_TEST(receiver.try_recv_mmsg(sb, got, ec) == 0u);
    BOOST_TEST(receiver.backend().chosen(sb.native_handle()) == 0u);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    const auto p = testing::numbered(500, 1);
    for (int i = 0; i < 8; ++i) batch.emplace_back(p, sb.local_endpoint());
    BatchSender<LinuxMmsgBackend> plain;
    BOOST_TEST(plain.batch_send(sa, batch).ok());
    BOOST_TEST(receiver.recv_mmsg_exact(sb, got, ec) == 8u, ec.message());
    BOOST_TEST(qb->statistics().frames_received == 8u);
}
