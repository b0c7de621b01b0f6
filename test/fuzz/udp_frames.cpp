// Fuzz target: the frames XdpBackend builds and parses (detail/udp_frame.hpp), without a
// kernel.
//  - parse_udp_frame on any bytes (an exact-size heap block under ASan): it never reads
//    outside the frame, and what it accepts is consistent: the payload lies inside the
//    frame and the ports and addresses are the frame's bytes;
//  - write_udp_frame with any header and payload, parsed back: every field returns, the
//    payload is byte-exact, the IPv4 header checksum and the UDP checksum verify (a plain
//    word-by-word RFC 1071 sum written here), and the frame's length is what it says.
#include <mmsg/detail/udp_frame.hpp>

#include <mmsg/detail/checksum.hpp>

#include "fuzz_input.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

using namespace mmsg::detail;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "check failed: %s\n", what);
        std::abort();
    }
}

std::uint32_t plain_sum(const unsigned char* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < n; i += 2) {
        sum += (std::uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0u);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

void parse_anything(mmsg::fuzz::Input& in) {
    const std::size_t n = in.below(1600);
    std::unique_ptr<std::byte[]> frame(new std::byte[n == 0 ? 1 : n]);
    in.bytes(frame.get(), n);
    ParsedUdpFrame f;
    if (!parse_udp_frame(std::span<const std::byte>(frame.get(), n), f)) return;
    check(f.payload_offset + f.payload_size <= n, "payload inside the frame");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(frame.get());
    const std::size_t udp = f.payload_offset - udp_header;
    check(f.src_port == (p[udp] << 8 | p[udp + 1]) && f.dst_port == (p[udp + 2] << 8 | p[udp + 3]), "ports");
    check(std::memcmp(f.dst.data(), p + (f.v6 ? 14 + 24 : 14 + 16), f.v6 ? 16 : 4) == 0, "destination");
}

void build_and_parse(mmsg::fuzz::Input& in) {
    UdpFrameHeader h;
    in.bytes(h.dst_mac.data(), 6);
    in.bytes(h.src_mac.data(), 6);
    h.v6 = in.byte() & 1;
    in.bytes(h.src.data(), h.v6 ? 16 : 4);
    in.bytes(h.dst.data(), h.v6 ? 16 : 4);
    h.src_port = in.take<std::uint16_t>();
    h.dst_port = in.take<std::uint16_t>();
    h.tos = in.byte();
    h.ttl = in.byte();
    h.ip_id = in.take<std::uint16_t>();
    std::vector<std::byte> payload(in.below(1500));
    in.bytes(payload.data(), payload.size());
    std::unique_ptr<std::byte[]> frame(new std::byte[udp_frame_overhead(h.v6) + payload.size()]);
    const std::size_t len = write_udp_frame(frame.get(), h, payload.data(), payload.size(),
                                            checksum_add(0, payload.data(), payload.size()));
    check(len == udp_frame_overhead(h.v6) + payload.size(), "frame length");
    ParsedUdpFrame f;
    check(parse_udp_frame(std::span<const std::byte>(frame.get(), len), f), "a built frame parses");
    check(f.v6 == h.v6 && f.src == h.src && f.dst == h.dst && f.src_port == h.src_port &&
              f.dst_port == h.dst_port && f.tos == h.tos && f.payload_size == payload.size(),
          "every field returns");
    check(payload.empty() || std::memcmp(frame.get() + f.payload_offset, payload.data(), payload.size()) == 0, "payload");
    const unsigned char* ip = reinterpret_cast<const unsigned char*>(frame.get()) + ethernet_header;
    if (!h.v6) check(plain_sum(ip, ipv4_header) == 0xffff, "IPv4 header checksum");
    // UDP: pseudo-header, header and payload sum to 0xffff with the checksum in.
    const std::size_t addr = h.v6 ? 16 : 4, udp_len = udp_header + payload.size();
    const unsigned char* udp = ip + (h.v6 ? ipv6_header : ipv4_header);
    std::uint32_t sum = plain_sum(h.src.data(), addr);
    sum = plain_sum(h.dst.data(), addr, sum);
    const unsigned char rest[4] = {0, ip_protocol_udp, static_cast<unsigned char>(udp_len >> 8),
                                   static_cast<unsigned char>(udp_len & 0xff)};
    sum = plain_sum(rest, 4, sum);
    check(plain_sum(udp, udp_len, sum) == 0xffff, "UDP checksum");
    check(udp[6] != 0 || udp[7] != 0, "a zero UDP checksum goes as 0xffff");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mmsg::fuzz::Input in(data, size);
    if (in.byte() & 1)
        parse_anything(in);
    else
        build_and_parse(in);
    return 0;
}
