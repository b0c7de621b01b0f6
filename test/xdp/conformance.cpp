// The backend conformance kit (mmsg/testing/conformance.hpp) on XdpBackend, and on
// Fallback<XdpBackend, LinuxGsoBackend, LinuxMmsgBackend>. The kit sends and receives on
// 127.0.0.1 and ::1, so this rig gives the test process a network namespace of its own and
// opens the XdpQueue on that namespace's loopback: every datagram the kit sends goes out as
// a frame built by XdpBackend in the transmit ring (generic mode: the loopback has no native
// XDP), to be received by the kernel. A frame to 127.0.0.1 made by the transmit ring arrives
// without the kernel's output route, so the rig turns on route_localnet and accept_local for
// this namespace's loopback (else the kernel drops such frames as martians).
//
// The receive program stays off here (receive = false): the kit sends every datagram before
// its receiving socket is first used, so they would reach the socket through the kernel in
// any case, and a generic-mode program on the loopback costs every skb a page (the kernel
// path drops 6 of the kit's 200 back-to-back datagrams for the socket's buffer then, with or
// without XdpBackend: doc/xdp.adoc). The receive ring is checked on the veth (veth.cpp).
#define BOOST_TEST_MODULE xdp_conformance // before the kit, which includes Boost.Test
#include <mmsg/backend/xdp.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/testing/conformance.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

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
