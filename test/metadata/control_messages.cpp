// The control messages of per-datagram metadata, without a kernel: what the send side
// writes for SendOptions on each path (and reads back), which options a destination
// refuses, what parse_control and assign_meta make of received messages.
#include <mmsg/detail/send_control.hpp>

#include <mmsg/detail/recv_decode.hpp>

#define BOOST_TEST_MODULE metadata_control_messages
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

using namespace mmsg;
namespace asio = boost::asio;

namespace {

const Endpoint v4_dest(asio::ip::make_address_v4("127.0.0.1"), 9000);
const Endpoint v6_dest(asio::ip::address_v6::loopback(), 9000);
const Endpoint mapped_dest(asio::ip::make_address_v6(asio::ip::v4_mapped,
                                                     asio::ip::make_address_v4("127.0.0.1")),
                           9000);

struct Written {
    alignas(cmsghdr) unsigned char buf[detail::send_control_room] = {};
    msghdr h{};
    Written(const SendOptions& o, const Endpoint* dest) { // null: the connected peer
        h.msg_control = buf;
        h.msg_controllen = detail::write_send_control(buf, o, dest);
    }
    // The (level, type) of each message, in order.
    std::vector<std::pair<int, int>> kinds() const {
        std::vector<std::pair<int, int>> v;
        for (const cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
             c = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(c)))
            v.emplace_back(c->cmsg_level, c->cmsg_type);
        return v;
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(default_options_write_nothing) {
    BOOST_TEST(!detail::has_options(nullptr));
    const SendOptions none;
    BOOST_TEST(!detail::has_options(&none));
    BOOST_TEST(Written(none, &v4_dest).h.msg_controllen == 0u);
    BOOST_TEST(detail::same_options(nullptr, &none)); // null is default
}

BOOST_AUTO_TEST_CASE(each_path_gets_its_own_levels) {
    const SendOptions o{Ecn::ce, 10, asio::ip::make_address_v4("127.0.0.2"), 1};
    const auto v4 = Written(o, &v4_dest).kinds();
    BOOST_TEST(v4.size() == 2u);
    BOOST_TEST((v4[0] == std::pair<int, int>{IPPROTO_IP, IP_TOS}));
    BOOST_TEST((v4[1] == std::pair<int, int>{IPPROTO_IP, IP_PKTINFO}));
    // An IPv4-mapped destination goes down the IPv4 path: IP-level messages.
    BOOST_TEST((Written(o, &mapped_dest).kinds() == v4));
    const SendOptions o6{Ecn::ect1, 0, asio::ip::address_v6::loopback(), 0};
    const auto v6 = Written(o6, &v6_dest).kinds();
    BOOST_TEST(v6.size() == 2u);
    BOOST_TEST((v6[0] == std::pair<int, int>{IPPROTO_IPV6, IPV6_TCLASS}));
    BOOST_TEST((v6[1] == std::pair<int, int>{IPPROTO_IPV6, IPV6_PKTINFO}));
}

BOOST_AUTO_TEST_CASE(the_connected_peer_gets_both_families_messages) {
    // No destination: the path is the kernel's to know, so each stack finds its own level.
    const SendOptions o{Ecn::ce, 10, asio::ip::make_address_v4("127.0.0.2"), 1};
    const auto both = Written(o, nullptr).kinds();
    BOOST_TEST(both.size() == 4u);
    BOOST_TEST((both == std::vector<std::pair<int, int>>{{IPPROTO_IP, IP_TOS},
                                                          {IPPROTO_IPV6, IPV6_TCLASS},
                                                          {IPPROTO_IP, IP_PKTINFO},
                                                          {IPPROTO_IPV6, IPV6_PKTINFO}}));
    BOOST_TEST((detail::read_send_control(Written(o, nullptr).h) == o)); // the IPv4 source, as given
    // A pure IPv6 source has no IPv4 form: only IPV6_PKTINFO carries it.
    const SendOptions o6{Ecn::not_ect, 0, asio::ip::address_v6::loopback(), 0};
    BOOST_TEST((Written(o6, nullptr).kinds() == std::vector<std::pair<int, int>>{{IPPROTO_IPV6, IPV6_PKTINFO}}));
    BOOST_TEST((detail::read_send_control(Written(o6, nullptr).h) == o6));
    // Only the DSCP can be judged without a destination.
    BOOST_TEST((detail::options_error({Ecn::not_ect, 64, {}, 0}, nullptr) == std::errc::invalid_argument));
    BOOST_TEST(!detail::options_error(o6, nullptr));
}

BOOST_AUTO_TEST_CASE(the_traffic_class_is_dscp_shifted_or_ecn_and_reads_back) {
    for (const Endpoint& dest : {v4_dest, v6_dest, mapped_dest}) {
        const SendOptions o{Ecn::ect0, 46, {}, 0};
        const Written w(o, &dest);
        const cmsghdr* c = CMSG_FIRSTHDR(&w.h);
        BOOST_REQUIRE(c != nullptr);
        int tos = 0;
        std::memcpy(&tos, CMSG_DATA(c), sizeof tos);
        BOOST_TEST(tos == (46 << 2 | 2));
        const SendOptions back = detail::read_send_control(w.h);
        BOOST_TEST((back == o));
    }
}

BOOST_AUTO_TEST_CASE(sources_and_interfaces_read_back_on_every_path) {
    const auto mapped_src = asio::ip::make_address_v6(asio::ip::v4_mapped,
                                                      asio::ip::make_address_v4("127.0.0.3"));
    // An IPv4-mapped source on the IPv4 path is written (and read back) as IPv4.
    const SendOptions o{Ecn::not_ect, 0, mapped_src, 7};
    const SendOptions back = detail::read_send_control(Written(o, &mapped_dest).h);
    BOOST_TEST(back.source == asio::ip::make_address_v4("127.0.0.3"));
    BOOST_TEST(back.interface_index == 7u);
    const SendOptions o6{Ecn::not_ect, 0, asio::ip::address_v6::loopback(), 3};
    BOOST_TEST((detail::read_send_control(Written(o6, &v6_dest).h) == o6));
    const SendOptions only_if{Ecn::not_ect, 0, {}, 4}; // an interface, no source
    BOOST_TEST((detail::read_send_control(Written(only_if, &v4_dest).h) == only_if));
}

BOOST_AUTO_TEST_CASE(options_that_do_not_fit_the_destination_are_refused) {
    const auto inval = std::make_error_code(std::errc::invalid_argument);
    BOOST_TEST((detail::options_error({Ecn::not_ect, 64, {}, 0}, &v4_dest) == inval)); // DSCP > 63
    BOOST_TEST((detail::options_error({Ecn::not_ect, 0, asio::ip::address_v6::loopback(), 0},
                                      &v4_dest) == inval));
    BOOST_TEST((detail::options_error({Ecn::not_ect, 0, asio::ip::make_address_v4("127.0.0.1"), 0},
                                      &v6_dest) == inval));
    BOOST_TEST(!detail::options_error({Ecn::not_ect, 0, asio::ip::make_address_v4("127.0.0.1"), 0},
                                      &mapped_dest));
    BOOST_TEST(!detail::options_error({Ecn::ce, 63, {}, 9}, &v6_dest));
}

BOOST_AUTO_TEST_CASE(options_are_compared_by_value) {
    const SendOptions a{Ecn::ce, 0, {}, 0}, b{Ecn::ce, 0, {}, 0}, c{Ecn::ect0, 0, {}, 0};
    BOOST_TEST(detail::same_options(&a, &b));
    BOOST_TEST(!detail::same_options(&a, &c));
    BOOST_TEST(!detail::same_options(&a, nullptr));
}

namespace {
// A received message with the given control messages.
struct Received {
    alignas(cmsghdr) unsigned char buf[256] = {};
    std::size_t used = 0;
    sockaddr_storage from{};
    msghdr h{};
    template <class T>
    void add(int level, int type, const T& v) {
        cmsghdr c{};
        c.cmsg_level = level;
        c.cmsg_type = type;
        c.cmsg_len = CMSG_LEN(sizeof v);
        std::memcpy(buf + used, &c, sizeof c);
        std::memcpy(buf + used + CMSG_LEN(0), &v, sizeof v);
        used += CMSG_SPACE(sizeof v);
        h.msg_control = buf;
        h.msg_controllen = used;
    }
    void from_endpoint(const Endpoint& e) {
        std::memcpy(&from, e.data(), e.size());
        h.msg_name = &from;
        h.msg_namelen = static_cast<socklen_t>(e.size());
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(ipv4_metadata_decodes_and_is_mapped_on_a_dual_stack_socket) {
    Received r;
    const std::uint8_t tos = 0xbb; // DSCP 46, ECN CE
    r.add(IPPROTO_IP, IP_TOS, tos);
    in_pktinfo pi{};
    pi.ipi_ifindex = 1;
    pi.ipi_addr.s_addr = htonl(0x7f000003); // 127.0.0.3
    r.add(IPPROTO_IP, IP_PKTINFO, pi);
    const timespec ts{1700000000, 123456789};
    r.add(SOL_SOCKET, SCM_TIMESTAMPNS, ts);
    const detail::RecvControl c = detail::parse_control(r.h);
    BOOST_TEST((c.meta.ecn == Ecn::ce));
    BOOST_TEST(c.meta.local == asio::ip::make_address_v4("127.0.0.3"));
    BOOST_TEST(c.meta.interface_index == 1u);
    BOOST_TEST(c.meta.timestamp.count() == 1700000000123456789LL);
    // On a dual-stack socket the source is IPv4-mapped, and so is the local address.
    r.from_endpoint(mapped_dest);
    Meta m;
    detail::decode_datagram(r.h, 10, 100, m);
    BOOST_TEST(m.local == asio::ip::address(asio::ip::make_address_v6(
                              asio::ip::v4_mapped, asio::ip::make_address_v4("127.0.0.3"))));
    BOOST_TEST((m.ecn == Ecn::ce));
    // On an IPv4 socket it stays IPv4.
    r.from_endpoint(v4_dest);
    detail::decode_datagram(r.h, 10, 100, m);
    BOOST_TEST(m.local == asio::ip::make_address_v4("127.0.0.3"));
}

BOOST_AUTO_TEST_CASE(ipv6_metadata_decodes) {
    Received r;
    r.add(IPPROTO_IPV6, IPV6_TCLASS, int{0x01});
    in6_pktinfo pi{};
    pi.ipi6_ifindex = 2;
    pi.ipi6_addr = in6addr_loopback;
    r.add(IPPROTO_IPV6, IPV6_PKTINFO, pi);
    const detail::RecvControl c = detail::parse_control(r.h);
    BOOST_TEST((c.meta.ecn == Ecn::ect1));
    BOOST_TEST(c.meta.local == asio::ip::address(asio::ip::address_v6::loopback()));
    BOOST_TEST(c.meta.interface_index == 2u);
}

BOOST_AUTO_TEST_CASE(short_and_lying_messages_are_ignored) {
    Received r;
    r.add(IPPROTO_IP, IP_PKTINFO, std::uint32_t{0x7f000001}); // too short for in_pktinfo
    r.add(IPPROTO_IPV6, IPV6_TCLASS, std::uint8_t{3});         // too short for an int
    const timespec bad{-1, 5};
    r.add(SOL_SOCKET, SCM_TIMESTAMPNS, bad);                    // not a time
    detail::RecvControl c = detail::parse_control(r.h);
    BOOST_TEST(c.meta.local.is_unspecified());
    BOOST_TEST((c.meta.ecn == Ecn::not_ect));
    BOOST_TEST(c.meta.timestamp.count() == 0);
    // A length that claims more than the buffer holds stops the walk before reading it.
    cmsghdr liar{};
    liar.cmsg_level = IPPROTO_IP;
    liar.cmsg_type = IP_TOS;
    liar.cmsg_len = 4096;
    std::memcpy(r.buf, &liar, sizeof liar);
    c = detail::parse_control(r.h);
    BOOST_TEST((c.meta.ecn == Ecn::not_ect));
}

BOOST_AUTO_TEST_CASE(a_cut_control_buffer_is_flagged) {
    Received r;
    r.h.msg_flags = MSG_CTRUNC;
    Meta m;
    detail::decode_datagram(r.h, 10, 100, m);
    BOOST_TEST(has_flags(m.flags, PacketFlags::control_truncated));
}
