// XdpQueue's receive program: the bytes the library embeds are its source compiled
// (build/xdp_program.sh, when clang-14 is here), they load, their configuration map has
// the layout the library writes, and run by the kernel on crafted frames
// (BPF_PROG_TEST_RUN) they redirect exactly the datagrams of the socket that receives and
// pass everything else on: other ports and addresses, IP fragments, IPv4 options, IPv6
// extension headers, VLAN tags, packets longer than the MTU (GSO trains) and frames in
// several buffers. Runs in a network namespace of its own (an XdpQueue on its loopback
// lends the AF_XDP socket the redirect needs).
#include <mmsg/detail/xdp_attach.hpp>

#include <mmsg/detail/udp_frame.hpp>
#include <mmsg/detail/xdp_program.hpp>
#include <mmsg/xdp_queue.hpp>

#define BOOST_TEST_MODULE xdp_program
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

using namespace mmsg;
using namespace mmsg::detail;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::byte> udp(bool v6, std::uint16_t port, std::size_t size = 100) {
    UdpFrameHeader h;
    h.v6 = v6;
    if (v6) {
        h.src = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        h.dst = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    } else {
        h.src = {198, 18, 0, 2};
        h.dst = {198, 18, 0, 1};
    }
    h.src_port = 5555;
    h.dst_port = port;
    std::vector<std::byte> payload(size, std::byte{9});
    std::vector<std::byte> f(udp_frame_overhead(v6) + size);
    write_udp_frame(f.data(), h, payload.data(), size, checksum_add(0, payload.data(), size));
    return f;
}

// What the program returns for `f` (XDP_PASS, XDP_REDIRECT, ...), or -errno.
int run(int prog, const std::vector<std::byte>& f) {
    std::vector<std::byte> out(f.size() + 256);
    bpf_test_run_opts o{};
    o.sz = sizeof o;
    o.data_in = f.data();
    o.data_size_in = static_cast<std::uint32_t>(f.size());
    o.data_out = out.data();
    o.data_size_out = static_cast<std::uint32_t>(out.size());
    o.repeat = 1;
    if (bpf_prog_test_run_opts(prog, &o) != 0) return -errno;
    return static_cast<int>(o.retval);
}

} // namespace

BOOST_AUTO_TEST_CASE(the_embedded_program_is_its_source_compiled) {
    const auto& args = boost::unit_test::framework::master_test_suite();
    BOOST_REQUIRE_MESSAGE(args.argc == 3, "usage: program build/xdp_program.sh include/mmsg/detail/xdp_program.hpp");
    if (std::system("command -v clang-14 >/dev/null 2>&1 && command -v llvm-strip-14 >/dev/null 2>&1") != 0) {
        BOOST_TEST_MESSAGE("skipped: no clang-14 / llvm-strip-14 here to rebuild the program with");
        return;
    }
    char dir[] = "/tmp/mmsg-xdp-program-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string out = std::string(dir) + "/xdp_program.hpp";
    const int rc = std::system(("bash " + std::string(args.argv[1]) + " " + out).c_str());
    BOOST_REQUIRE_MESSAGE(rc == 0, "build/xdp_program.sh failed");
    const std::string rebuilt = read_file(out), shipped = read_file(args.argv[2]);
    std::remove(out.c_str());
    ::rmdir(dir);
    BOOST_TEST(!shipped.empty());
    BOOST_TEST((rebuilt == shipped), "include/mmsg/detail/xdp_program.hpp is not xdp_program.bpf.c compiled: "
                                     "run build/xdp_program.sh and commit both");
}

BOOST_AUTO_TEST_CASE(the_program_redirects_exactly_the_receiving_sockets_datagrams) {
    if (::unshare(CLONE_NEWNET) != 0) {
        BOOST_TEST_MESSAGE("skipped: network namespaces are refused here (not root?)");
        return;
    }
    XdpAttachment program;
    if (const std::error_code ec = program.load()) {
        BOOST_TEST_MESSAGE("skipped: the kernel refuses the BPF program here: " << ec.message());
        BOOST_TEST((ec == XdpErrc::no_permission));
        return;
    }
    // An AF_XDP socket bound to this namespace's loopback, for the program to redirect to.
    std::system("ip link set lo up");
    XdpOptions o;
    o.interface = "lo";
    o.mode = XdpMode::generic;
    o.receive = false;
    std::error_code ec;
    const auto q = XdpQueue::open(o, ec);
    BOOST_REQUIRE_MESSAGE(q, ec.message());
    BOOST_REQUIRE(!program.set_socket(0, q->native_handle()));

    XdpProgramConfig c{};
    c.port = htons(9000);
    c.families = 3;
    c.max_l3 = 1500;
    BOOST_REQUIRE(!program.configure(c));
    for (const bool multi_buffer : {true, false}) {
        BOOST_TEST_CONTEXT((multi_buffer ? "xdp.frags variant" : "plain variant")) {
            const int p = program.program_fd(multi_buffer);
            BOOST_REQUIRE(p >= 0);
            BOOST_TEST(run(p, udp(false, 9000)) == XDP_REDIRECT);
            BOOST_TEST(run(p, udp(true, 9000)) == XDP_REDIRECT);
            BOOST_TEST(run(p, udp(false, 9001)) == XDP_PASS);
            BOOST_TEST(run(p, udp(true, 53)) == XDP_PASS);
            auto f = udp(false, 9000);
            f[14 + 6] = std::byte{0x20}; // more fragments
            BOOST_TEST(run(p, f) == XDP_PASS);
            f = udp(false, 9000);
            f[14 + 7] = std::byte{0x10}; // a later fragment
            BOOST_TEST(run(p, f) == XDP_PASS);
            f = udp(false, 9000);
            f[14] = std::byte{0x46}; // IPv4 options
            BOOST_TEST(run(p, f) == XDP_PASS);
            f = udp(true, 9000);
            f[14 + 6] = std::byte{0}; // a hop-by-hop extension header
            BOOST_TEST(run(p, f) == XDP_PASS);
            f = udp(false, 9000);
            f[12] = std::byte{0x81}; // a VLAN tag
            f[13] = std::byte{0};
            BOOST_TEST(run(p, f) == XDP_PASS);
            // An IP packet longer than the MTU is a GSO train or coalesced datagrams.
            BOOST_TEST(run(p, udp(false, 9000, 1472)) == XDP_REDIRECT);
            BOOST_TEST(run(p, udp(false, 9000, 1473)) == XDP_PASS);
            BOOST_TEST(run(p, udp(true, 9000, 1453)) == XDP_PASS);
        }
    }
    // A frame in several buffers (longer than a page) runs only with the multi-buffer variant,
    // and is passed on even when the MTU would allow it.
    c.max_l3 = 9000;
    BOOST_REQUIRE(!program.configure(c));
    BOOST_TEST(run(program.program_fd(true), udp(false, 9000, 6000)) == XDP_PASS);
    BOOST_TEST(run(program.program_fd(true), udp(false, 9000, 3000)) == XDP_REDIRECT);

    // Only the address and families the socket is bound to.
    c.v4 = htonl(0xc6120001); // 198.18.0.1, the frames' destination
    c.families = 1;
    BOOST_REQUIRE(!program.configure(c));
    const int p = program.program_fd(true);
    BOOST_TEST(run(p, udp(false, 9000)) == XDP_REDIRECT);
    BOOST_TEST(run(p, udp(true, 9000)) == XDP_PASS);
    c.v4 = htonl(0xc6120005);
    BOOST_REQUIRE(!program.configure(c));
    BOOST_TEST(run(p, udp(false, 9000)) == XDP_PASS);
    c.families = 2;
    c.v6[0] = 0xfd;
    c.v6[15] = 2;
    BOOST_REQUIRE(!program.configure(c));
    BOOST_TEST(run(p, udp(true, 9000)) == XDP_REDIRECT);
    c.v6[15] = 3;
    BOOST_REQUIRE(!program.configure(c));
    BOOST_TEST(run(p, udp(true, 9000)) == XDP_PASS);
    // Port 0: nothing is redirected.
    c = XdpProgramConfig{};
    c.families = 3;
    c.max_l3 = 1500;
    BOOST_REQUIRE(!program.configure(c));
    BOOST_TEST(run(p, udp(false, 0)) == XDP_PASS);
    // An empty socket slot passes the datagram on to the kernel (the socket receives it).
    BOOST_REQUIRE(!program.configure(XdpProgramConfig{0, {}, htons(9000), 3, 0, 1500}));
    BOOST_TEST(run(p, udp(false, 9000)) == XDP_REDIRECT);
    BOOST_REQUIRE(!program.clear_socket(0));
    BOOST_TEST(run(p, udp(false, 9000)) == XDP_PASS);
}
