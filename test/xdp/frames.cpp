// The frames XdpBackend builds and parses (detail/udp_frame.hpp, detail/checksum.hpp), with
// no kernel: checksums against a plain RFC 1071 sum written here word by word, every header
// field read back, and frames that are not one whole UDP datagram refused.
#include <mmsg/detail/udp_frame.hpp>

#include <mmsg/detail/checksum.hpp>

#define BOOST_TEST_MODULE xdp_frames
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace mmsg::detail;

namespace {

// RFC 1071, the slow way: big-endian 16-bit words, end-around carry at every step.
std::uint16_t plain_checksum(const std::vector<std::uint8_t>& bytes) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        const std::uint32_t word = (std::uint32_t{bytes[i]} << 8) | (i + 1 < bytes.size() ? bytes[i + 1] : 0u);
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint16_t get16(const std::byte* p) { return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) << 8 | std::to_integer<unsigned>(p[1])); }

std::vector<std::uint8_t> bytes_of(const std::byte* p, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::to_integer<std::uint8_t>(p[i]);
    return v;
}

UdpFrameHeader header(bool v6) {
    UdpFrameHeader h;
    h.dst_mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    h.src_mac = {0x02, 0x66, 0x77, 0x88, 0x99, 0xaa};
    h.v6 = v6;
    if (v6) {
        h.src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        h.dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    } else {
        h.src = {198, 18, 0, 1};
        h.dst = {198, 18, 0, 2};
    }
    h.src_port = 40000;
    h.dst_port = 9000;
    h.tos = 0xb9; // DSCP 46, ECN CE
    h.ttl = 17;
    h.ip_id = 0x1234;
    return h;
}

std::vector<std::byte> payload(std::size_t n) {
    std::vector<std::byte> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(i * 37 + 11);
    return p;
}

std::vector<std::byte> build(const UdpFrameHeader& h, const std::vector<std::byte>& p) {
    std::vector<std::byte> f(udp_frame_overhead(h.v6) + p.size());
    const std::size_t n = write_udp_frame(f.data(), h, p.data(), p.size(), checksum_add(0, p.data(), p.size()));
    BOOST_TEST(n == f.size());
    return f;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_checksum_is_rfc_1071_for_every_length_and_alignment) {
    std::vector<std::uint8_t> all(301);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i * 151 + 7);
    for (std::size_t start = 0; start < 8; start += 2) // pieces start at even offsets
        for (std::size_t n = 0; n + start <= all.size(); n += 13) {
            const std::vector<std::uint8_t> piece(all.begin() + static_cast<long>(start), all.begin() + static_cast<long>(start + n));
            const std::uint16_t fast = checksum_finish(checksum_add(0, piece.data(), piece.size()));
            const std::uint16_t want = plain_checksum(piece);
            // checksum_finish gives the field's bytes in memory order.
            const std::uint8_t* b = reinterpret_cast<const std::uint8_t*>(&fast);
            BOOST_TEST(((b[0] << 8 | b[1]) == want), "length " << n << " from " << start);
        }
    // A sum split into pieces is the sum of the whole.
    const std::uint64_t split = checksum_add(checksum_add(0, all.data(), 100), all.data() + 100, 201);
    BOOST_TEST(checksum_finish(split) == checksum_finish(checksum_add(0, all.data(), all.size())));
}

BOOST_AUTO_TEST_CASE(an_ipv4_frame_carries_every_field_and_valid_checksums) {
    for (std::size_t size : {0u, 1u, 64u, 1232u, 1472u}) {
        BOOST_TEST_CONTEXT("payload " << size) {
            const UdpFrameHeader h = header(false);
            const auto p = payload(size);
            const auto f = build(h, p);
            BOOST_TEST(get16(&f[12]) == 0x0800u);
            const std::byte* ip = f.data() + 14;
            BOOST_TEST(std::to_integer<unsigned>(ip[0]) == 0x45u);
            BOOST_TEST(std::to_integer<unsigned>(ip[1]) == 0xb9u);
            BOOST_TEST(get16(ip + 2) == 28 + size);
            BOOST_TEST(get16(ip + 4) == 0x1234u);
            BOOST_TEST(get16(ip + 6) == 0x4000u); // DF
            BOOST_TEST(std::to_integer<unsigned>(ip[8]) == 17u);
            BOOST_TEST(std::to_integer<unsigned>(ip[9]) == 17u);
            BOOST_TEST(plain_checksum(bytes_of(ip, 20)) == 0u); // a header with its checksum sums to zero
            // UDP over the pseudo-header: sums to zero (0xffff) with its checksum in.
            std::vector<std::uint8_t> pseudo = {198, 18, 0, 1, 198, 18, 0, 2, 0, 17};
            pseudo.push_back(static_cast<std::uint8_t>((8 + size) >> 8));
            pseudo.push_back(static_cast<std::uint8_t>((8 + size) & 0xff));
            const auto udp = bytes_of(ip + 20, 8 + size);
            pseudo.insert(pseudo.end(), udp.begin(), udp.end());
            BOOST_TEST(plain_checksum(pseudo) == 0u);
            BOOST_TEST(get16(ip + 26) != 0u);

            ParsedUdpFrame out;
            BOOST_REQUIRE(parse_udp_frame(f, out));
            BOOST_TEST(!out.v6);
            BOOST_TEST((out.src == h.src));
            BOOST_TEST((out.dst == h.dst));
            BOOST_TEST(out.src_port == 40000u);
            BOOST_TEST(out.dst_port == 9000u);
            BOOST_TEST(out.tos == 0xb9u);
            BOOST_TEST(out.payload_offset == 42u);
            BOOST_TEST(out.payload_size == size);
            BOOST_TEST((std::vector<std::byte>(f.begin() + 42, f.end()) == p));
        }
    }
}

BOOST_AUTO_TEST_CASE(an_ipv6_frame_carries_every_field_and_a_valid_checksum) {
    for (std::size_t size : {0u, 7u, 1232u}) {
        BOOST_TEST_CONTEXT("payload " << size) {
            const UdpFrameHeader h = header(true);
            const auto p = payload(size);
            const auto f = build(h, p);
            BOOST_TEST(get16(&f[12]) == 0x86ddu);
            const std::byte* ip = f.data() + 14;
            BOOST_TEST(std::to_integer<unsigned>(ip[0]) == (0x60u | 0xbu));
            BOOST_TEST(std::to_integer<unsigned>(ip[1]) == 0x90u);
            BOOST_TEST(get16(ip + 4) == 8 + size);
            BOOST_TEST(std::to_integer<unsigned>(ip[6]) == 17u);
            BOOST_TEST(std::to_integer<unsigned>(ip[7]) == 17u);
            std::vector<std::uint8_t> pseudo(h.src.begin(), h.src.end());
            pseudo.insert(pseudo.end(), h.dst.begin(), h.dst.end());
            for (std::uint8_t b : {0, 0, static_cast<int>((8 + size) >> 8), static_cast<int>((8 + size) & 0xff), 0, 0, 0, 17})
                pseudo.push_back(b);
            const auto udp = bytes_of(ip + 40, 8 + size);
            pseudo.insert(pseudo.end(), udp.begin(), udp.end());
            BOOST_TEST(plain_checksum(pseudo) == 0u);

            ParsedUdpFrame out;
            BOOST_REQUIRE(parse_udp_frame(f, out));
            BOOST_TEST(out.v6);
            BOOST_TEST((out.src == h.src));
            BOOST_TEST((out.dst == h.dst));
            BOOST_TEST(out.tos == 0xb9u);
            BOOST_TEST(out.payload_offset == 62u);
            BOOST_TEST(out.payload_size == size);
        }
    }
}

BOOST_AUTO_TEST_CASE(frames_that_are_not_one_whole_udp_datagram_are_refused) {
    const auto good = build(header(false), payload(100));
    ParsedUdpFrame out;
    BOOST_TEST(parse_udp_frame(good, out));
    auto bad = [&](auto change) {
        auto f = good;
        change(f);
        return !parse_udp_frame(f, out);
    };
    BOOST_TEST(bad([](auto& f) { f[12] = std::byte{0x81}; }));                      // a VLAN tag
    BOOST_TEST(bad([](auto& f) { f[14 + 6] = std::byte{0x20}; }));                  // more fragments
    BOOST_TEST(bad([](auto& f) { f[14 + 7] = std::byte{0x08}; }));                  // a fragment offset
    BOOST_TEST(bad([](auto& f) { f[14 + 9] = std::byte{6}; }));                     // TCP
    BOOST_TEST(bad([](auto& f) { f[14 + 2] = std::byte{0x10}; }));                  // IP length past the frame
    BOOST_TEST(bad([](auto& f) { f[14 + 20 + 4] = std::byte{0x10}; }));             // UDP length past IP's
    BOOST_TEST(bad([](auto& f) { f[14 + 20 + 5] = std::byte{4}, f[14 + 20 + 4] = std::byte{0}; })); // UDP length < 8
    BOOST_TEST(bad([](auto& f) { f.resize(40); }));                                 // cut short
    BOOST_TEST(bad([](auto& f) { f[14] = std::byte{0x44}; }));                      // IHL 4
    // Ethernet padding after the datagram is not payload.
    auto padded = build(header(false), payload(4));
    padded.resize(60);
    BOOST_REQUIRE(parse_udp_frame(padded, out));
    BOOST_TEST(out.payload_size == 4u);
    // IPv4 options are skipped.
    auto opts = good;
    opts.insert(opts.begin() + 34, 4, std::byte{1}); // a NOP option word
    opts[14] = std::byte{0x46};
    opts[14 + 3] = static_cast<std::byte>(std::to_integer<unsigned>(opts[14 + 3]) + 4);
    BOOST_REQUIRE(parse_udp_frame(opts, out));
    BOOST_TEST(out.payload_offset == 46u);
    BOOST_TEST(out.payload_size == 100u);
}
