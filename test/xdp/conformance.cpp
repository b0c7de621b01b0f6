// The backend conformance kit (mmsg/testing/conformance.hpp) on XdpBackend, and on
// Fallback<XdpBackend, LinuxGsoBackend, LinuxMmsgBackend>. The kit sends and receives on
// 127.0.0.1 and ::1, so this rig gives the test process a network namespace of its own and
// opens the XdpQueue on that namespace's loopback: every datagram the kit sends goes out as
// a frame built by XdpBackend in the transmit ring (generic mode: the loopback has no native
// XDP), to be received by the kernel. A frame to 127.0.0.1 made by the transmit ring arrives
// without the kernel's output route, so the rig turns on route_localnet and accept_local for
// this namespace's loopback (else the kernel drops such frames as martians).
//
// The receive program stays off for the kit (receive = false): the kit sends every datagram
// before its receiving socket is first used, so they would reach the socket through the
// kernel in any case, and a generic-mode program on the loopback costs every skb a page
// (the kernel path drops 6 of the kit's 200 back-to-back datagrams for the socket's buffer
// then, with or without XdpBackend: doc/xdp.adoc). The receive ring is checked by the last
// test here (IPv6, dual stack) and on the veth (veth.cpp).
#define BOOST_TEST_MODULE xdp_conformance // before the kit, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/testing/conformance.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace mmsg;

namespace {

// This process's own network namespace, with its loopback up: nothing the kit does here
// can reach another namespace.
struct OwnNamespace {
    std::string skipped;
    OwnNamespace() {
        if (::unshare(CLONE_NEWNET) != 0) {
            skipped = "network namespaces are refused here (not root?)";
            return;
        }
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ifreq r{};
        std::strcpy(r.ifr_name, "lo");
        ::ioctl(fd, SIOCGIFFLAGS, &r);
        r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP);
        if (::ioctl(fd, SIOCSIFFLAGS, &r) != 0) skipped = "cannot bring the namespace's loopback up";
        ::close(fd);
        for (const char* knob : {"route_localnet", "accept_local"}) {
            std::FILE* f = std::fopen((std::string("/proc/sys/net/ipv4/conf/lo/") + knob).c_str(), "w");
            if (f == nullptr || std::fputs("1", f) < 0) skipped = std::string("cannot set ") + knob;
            if (f != nullptr) std::fclose(f);
        }
    }
};
OwnNamespace* own = nullptr;
struct Rig {
    OwnNamespace ns;
    Rig() { own = &ns; }
};
BOOST_TEST_GLOBAL_FIXTURE(Rig);

XdpOptions loopback_options() {
    XdpOptions o;
    o.interface = "lo";
    o.mode = XdpMode::generic;
    o.receive = false;
    return o;
}

// Null, with the reason, where the kernel refuses AF_XDP or BPF.
std::shared_ptr<XdpQueue> open_or_say_why() {
    if (!own->skipped.empty()) {
        BOOST_TEST_MESSAGE("skipped: " << own->skipped);
        return nullptr;
    }
    std::error_code ec;
    auto q = XdpQueue::open(loopback_options(), ec);
    if (!q && (ec == XdpErrc::no_permission || ec == std::errc::function_not_supported))
        BOOST_TEST_MESSAGE("skipped: the kernel refuses AF_XDP or BPF here: " << ec.message());
    else
        BOOST_REQUIRE_MESSAGE(q, "XdpQueue::open(lo): " << ec.message());
    return q;
}

} // namespace

BOOST_AUTO_TEST_CASE(xdp_backend_honours_the_backend_contract) {
    const std::shared_ptr<XdpQueue> q = open_or_say_why();
    if (!q) return;
    const XdpBackend backend(q);
    testing::check_loopback<XdpBackend>([&] { return backend; });
    // The kit's datagrams went as frames (1720 of them; the rest were refused per datagram).
    const XdpStatistics s = q->statistics();
    BOOST_TEST_MESSAGE("frames sent " << s.frames_sent << ", through the kernel " << s.through_kernel);
    BOOST_TEST(s.frames_sent > 1500u);
    BOOST_TEST(s.through_kernel == 0u);
}

BOOST_AUTO_TEST_CASE(fallback_with_xdp_first_honours_the_backend_contract) {
    const std::shared_ptr<XdpQueue> q = open_or_say_why();
    if (!q) return;
    using B = Fallback<XdpBackend, LinuxGsoBackend, LinuxMmsgBackend>;
    const XdpBackend xdp(q);
    testing::check_loopback<B>([&] { return B(xdp, LinuxGsoBackend{}, LinuxMmsgBackend{}); });
    BOOST_TEST(q->statistics().frames_sent > 1500u); // XdpBackend served the kit's sockets
}

BOOST_AUTO_TEST_CASE(the_receive_ring_carries_ipv6_and_dual_stack_datagrams_on_the_loopback) {
    // The kit's datagrams all reach their socket before its first receive, so the ring is
    // checked here: sockets that receive first, then IPv6 (with metadata) and IPv4 to a
    // dual-stack socket, all through the transmit and the receive ring.
    if (!own->skipped.empty()) {
        BOOST_TEST_MESSAGE("skipped: " << own->skipped);
        return;
    }
    XdpOptions o = loopback_options();
    o.receive = true;
    o.allow_coalescing_interface = true; // nothing here sends GSO trains
    std::error_code ec;
    const auto q = XdpQueue::open(o, ec);
    BOOST_REQUIRE_MESSAGE(q, ec.message());
    namespace asio = boost::asio;
    using udp = asio::ip::udp;
    asio::io_context io;
    auto bound = [&](const char* at) { return testing::bound_socket(io, Endpoint(asio::ip::make_address(at), 0)); };
    const XdpBackend backend(q);

    { // IPv6: source, bytes, ECN and local address through both rings.
        udp::socket tx = bound("::1"), rx = bound("::1");
        BOOST_REQUIRE(!request_metadata(rx, Metadata::ecn | Metadata::local_address));
        BatchReceiver<XdpBackend> receiver(backend);
        std::array<BasicPacket<256>, 20> got{};
        BOOST_TEST(receiver.try_recv_mmsg(rx, got, ec) == 0u); // rx receives through the ring now
        BOOST_TEST(q->receiving_port() == rx.local_endpoint().port());
        std::vector<std::vector<std::byte>> p;
        std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>> batch;
        SendOptions ect0;
        ect0.ecn = Ecn::ect0;
        for (std::size_t i = 0; i < 20; ++i) p.push_back(testing::numbered(30 + i * 7, static_cast<std::uint32_t>(i)));
        for (const auto& b : p) batch.emplace_back(b, rx.local_endpoint(), ect0);
        BatchSender<XdpBackend> sender(backend);
        BOOST_TEST(sender.batch_send(tx, batch).ok());
        BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 20u, ec.message());
        for (std::size_t i = 0; i < 20; ++i) {
            BOOST_TEST((std::vector<std::byte>(got[i].data().begin(), got[i].data().end()) == p[i]), "datagram " << i);
            BOOST_TEST((got[i].meta.addr == tx.local_endpoint()));
            BOOST_TEST((got[i].meta.ecn == Ecn::ect0));
            BOOST_TEST((got[i].meta.local == asio::ip::address_v6::loopback()));
            BOOST_TEST(got[i].meta.interface_index == 1u);
        }
    }
    BOOST_TEST(q->receiving_port() == 0u); // the receiver went: the queue receives for no one

    { // IPv4 to a dual-stack socket: the source IPv4-mapped, as the kernel gives it.
        udp::socket tx = bound("127.0.0.1"), rx = bound("::");
        udp::socket tx6 = bound("::"); // dual-stack too: sends to an IPv4-mapped address
        BatchReceiver<XdpBackend> receiver(backend);
        std::array<BasicPacket<256>, 2> got{};
        BOOST_TEST(receiver.try_recv_mmsg(rx, got, ec) == 0u);
        const Endpoint to(asio::ip::make_address("::ffff:127.0.0.1"), rx.local_endpoint().port());
        const auto a = testing::numbered(40, 1), b = testing::numbered(50, 2);
        BatchSender<XdpBackend> sender(backend);
        const std::vector<std::pair<std::span<const std::byte>, Endpoint>> one{{a, Endpoint(asio::ip::address_v4::loopback(), to.port())}};
        const std::vector<std::pair<std::span<const std::byte>, Endpoint>> mapped{{b, to}};
        BOOST_TEST(sender.batch_send(tx, one).ok());
        BOOST_TEST(sender.batch_send(tx6, mapped).ok());
        BOOST_TEST(receiver.recv_mmsg_exact(rx, got, ec) == 2u, ec.message());
        BOOST_TEST((got[0].meta.addr == Endpoint(asio::ip::make_address("::ffff:127.0.0.1"), tx.local_endpoint().port())));
        BOOST_TEST((got[1].meta.addr == Endpoint(asio::ip::make_address("::ffff:127.0.0.1"), tx6.local_endpoint().port())));
        BOOST_TEST((std::vector<std::byte>(got[1].data().begin(), got[1].data().end()) == b));
    }
    const XdpStatistics s = q->statistics();
    BOOST_TEST(s.frames_sent == 22u);
    BOOST_TEST(s.frames_received == 22u);
    BOOST_TEST(s.stray == 0u);
}
