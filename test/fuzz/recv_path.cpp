// Fuzz target: the receive path without a kernel.
//  - detail::decode_datagram / detail::parse_control (what LinuxMmsgBackend runs on every
//    datagram recvmmsg returns): arbitrary lengths, msg_flags (MSG_TRUNC, MSG_CTRUNC),
//    source addresses of any family and length, control buffers with well-formed and
//    malformed SO_RXQ_OVFL / UDP_GRO messages of any segment size.
//  - BatchReceiver on the mock network: random datagram sizes against packet capacities
//    from 1 byte up, EINTR, per-call limits, a closed socket.
//  - LinuxGsoBackend's GRO receive (split, repack, carry-over to the next call) on a
//    simulated recvmmsg: coalesced datagrams of any length with UDP_GRO segment sizes of
//    any value, MSG_TRUNC, MSG_CTRUNC, missing or malformed control data, sources of any
//    family. Every segment must come out exactly once, in order, byte-exact, with the
//    right size, source and flags; nothing may be lost or kept forever.
// No crash, no out-of-bounds access (buffers are exact-size heap blocks under ASan), and
// sizes, flags, sources and payload bytes are right.
#include <mmsg/detail/recv_decode.hpp>

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/config.hpp>
#include <mmsg/gso_limits.hpp>

#include "fuzz_input.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace {

using namespace mmsg;

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "recv_path: check failed: %s (line %d)\n", #cond, __LINE__); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

// ---- decode_datagram / parse_control ------------------------------------------------------

void fuzz_decode(fuzz::Input& in) {
    // The source address: exact-size heap block, family and length chosen by the input.
    auto ss = std::make_unique<sockaddr_storage>();
    in.bytes(ss.get(), sizeof *ss);
    static constexpr sa_family_t families[] = {AF_INET, AF_INET6, AF_UNSPEC, AF_UNIX, AF_PACKET};
    const std::uint8_t fam = in.byte();
    ss->ss_family = fam < 250 ? families[fam % std::size(families)] : static_cast<sa_family_t>(fam);
    static constexpr socklen_t lens[] = {sizeof(sockaddr_in), sizeof(sockaddr_in6), 0, 2,
                                         sizeof(sockaddr_in) - 1, sizeof(sockaddr_in6) - 1,
                                         sizeof(sockaddr_storage)};
    const std::uint8_t l = in.byte();
    const socklen_t namelen =
        l < 250 ? lens[l % std::size(lens)] : static_cast<socklen_t>(in.take<std::uint32_t>());

    // Control messages: well-formed ones with arbitrary payloads, or raw bytes.
    std::vector<unsigned char> ctrl;
    struct Expect {
        bool has_drops = false;
        std::uint32_t drops = 0;
        std::size_t gro = 0;
        Ecn ecn = Ecn::not_ect;
        boost::asio::ip::address local{};
        std::uint32_t ifindex = 0;
        std::chrono::nanoseconds timestamp{};
    } want;
    const bool structured = in.byte() & 1;
    bool shortened = false;
    if (structured) {
        for (std::size_t k = 0, count = in.below(6); k < count; ++k) {
            int level = 0, type = 0;
            switch (in.below(9)) {
            case 0: level = SOL_SOCKET, type = SO_RXQ_OVFL; break;
            case 1: level = SOL_UDP, type = UDP_GRO; break;
            case 2: level = SOL_SOCKET, type = SO_TIMESTAMP; break;
            case 3: level = SOL_SOCKET, type = SCM_TIMESTAMPNS; break;
            case 4: level = IPPROTO_IP, type = IP_TOS; break;
            case 5: level = IPPROTO_IPV6, type = IPV6_TCLASS; break;
            case 6: level = IPPROTO_IP, type = IP_PKTINFO; break;
            case 7: level = IPPROTO_IPV6, type = IPV6_PKTINFO; break;
            default: level = in.take<int>(), type = in.take<int>(); break;
            }
            const std::size_t dlen = in.below(44);
            std::vector<unsigned char> payload(dlen);
            in.bytes(payload.data(), dlen);
            const std::size_t at = ctrl.size();
            ctrl.resize(at + CMSG_SPACE(dlen));
            cmsghdr hdr{};
            hdr.cmsg_len = CMSG_LEN(dlen);
            hdr.cmsg_level = level;
            hdr.cmsg_type = type;
            std::memcpy(ctrl.data() + at, &hdr, sizeof hdr);
            if (dlen) std::memcpy(ctrl.data() + at + CMSG_LEN(0), payload.data(), dlen);
            if (level == SOL_SOCKET && type == SO_RXQ_OVFL && dlen >= 4) {
                want.has_drops = true;
                std::memcpy(&want.drops, payload.data(), 4);
            }
            if (level == SOL_SOCKET && type == SCM_TIMESTAMPNS && dlen >= sizeof(timespec)) {
                timespec ts;
                std::memcpy(&ts, payload.data(), sizeof ts);
                if (ts.tv_sec >= 0 && ts.tv_sec <= std::chrono::nanoseconds::max().count() / 1'000'000'000 - 1 &&
                    ts.tv_nsec >= 0 && ts.tv_nsec < 1'000'000'000)
                    want.timestamp = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
            }
            if (level == IPPROTO_IP && type == IP_TOS && dlen >= 1)
                want.ecn = static_cast<Ecn>(payload[0] & 3);
            if (level == IPPROTO_IPV6 && type == IPV6_TCLASS && dlen >= sizeof(int)) {
                int tc;
                std::memcpy(&tc, payload.data(), sizeof tc);
                want.ecn = static_cast<Ecn>(tc & 3);
            }
            if (level == IPPROTO_IP && type == IP_PKTINFO && dlen >= sizeof(in_pktinfo)) {
                in_pktinfo pi;
                std::memcpy(&pi, payload.data(), sizeof pi);
                want.local = boost::asio::ip::address_v4(ntohl(pi.ipi_addr.s_addr));
                want.ifindex = static_cast<std::uint32_t>(pi.ipi_ifindex);
            }
            if (level == IPPROTO_IPV6 && type == IPV6_PKTINFO && dlen >= sizeof(in6_pktinfo)) {
                in6_pktinfo pi;
                std::memcpy(&pi, payload.data(), sizeof pi);
                boost::asio::ip::address_v6::bytes_type b;
                std::memcpy(b.data(), &pi.ipi6_addr, 16);
                want.local = boost::asio::ip::address_v6(b);
                want.ifindex = pi.ipi6_ifindex;
            }
            if (level == SOL_UDP && type == UDP_GRO) {
                if (dlen >= sizeof(int)) {
                    int seg;
                    std::memcpy(&seg, payload.data(), sizeof seg);
                    want.gro = seg > 0 ? static_cast<std::size_t>(seg) : 0;
                } else if (dlen >= 2) {
                    std::uint16_t seg;
                    std::memcpy(&seg, payload.data(), 2);
                    want.gro = seg;
                }
            }
        }
        // Sometimes the kernel hands back fewer bytes than the messages claim.
        if (!ctrl.empty() && in.below(4) == 0) {
            ctrl.resize(in.below(ctrl.size()));
            shortened = true;
        }
    } else {
        ctrl.resize(in.below(200));
        in.bytes(ctrl.data(), ctrl.size());
    }
    // An exact-size heap block, so any read past msg_controllen is caught.
    std::unique_ptr<unsigned char[]> control(ctrl.empty() ? nullptr : new unsigned char[ctrl.size()]);
    if (!ctrl.empty()) std::memcpy(control.get(), ctrl.data(), ctrl.size());

    msghdr h{};
    h.msg_name = in.below(16) == 0 ? nullptr : ss.get();
    h.msg_namelen = namelen;
    h.msg_control = control.get();
    h.msg_controllen = ctrl.size();
    h.msg_flags = in.take<int>();
    const std::size_t msg_len = in.take<std::uint32_t>() >> (in.below(24));
    const std::size_t capacity = 1 + in.below(70000);

    Meta m;
    m.size = 12345;
    m.flags = static_cast<PacketFlags>(0xff);
    detail::decode_datagram(h, msg_len, capacity, m);
    FUZZ_CHECK(m.size <= capacity);
    FUZZ_CHECK(m.size == std::min(msg_len, capacity));
    FUZZ_CHECK(m.wire_size == msg_len);
    const bool cut = (h.msg_flags & MSG_TRUNC) != 0 || msg_len > capacity;
    const bool ctrunc = (h.msg_flags & MSG_CTRUNC) != 0;
    FUZZ_CHECK(m.flags == ((cut ? PacketFlags::truncated : PacketFlags::none) |
                           (ctrunc ? PacketFlags::control_truncated : PacketFlags::none)));
    const socklen_t len = std::min<socklen_t>(namelen, sizeof(sockaddr_storage));
    if (h.msg_name && ss->ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(ss.get());
        FUZZ_CHECK(m.addr.address().is_v4());
        FUZZ_CHECK(m.addr.port() == ntohs(sin->sin_port));
        FUZZ_CHECK(m.addr.address().to_v4().to_uint() == ntohl(sin->sin_addr.s_addr));
    } else if (h.msg_name && ss->ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ss.get());
        FUZZ_CHECK(m.addr.address().is_v6());
        FUZZ_CHECK(m.addr.port() == ntohs(sin6->sin6_port));
        const auto bytes = m.addr.address().to_v6().to_bytes();
        FUZZ_CHECK(std::memcmp(bytes.data(), &sin6->sin6_addr, 16) == 0);
    } else {
        FUZZ_CHECK(m.addr == Endpoint{});
    }

    const detail::RecvControl c = detail::parse_control(h);
    FUZZ_CHECK(c.control_truncated == ((h.msg_flags & MSG_CTRUNC) != 0));
    if (structured && !shortened) {
        // Untouched well-formed messages: exactly what was written, last one wins.
        FUZZ_CHECK(c.has_drops == want.has_drops);
        if (want.has_drops) FUZZ_CHECK(c.drops == want.drops);
        FUZZ_CHECK(c.gro_segment == want.gro);
        FUZZ_CHECK(c.meta.ecn == want.ecn);
        FUZZ_CHECK(c.meta.local == want.local);
        FUZZ_CHECK(c.meta.interface_index == want.ifindex);
        FUZZ_CHECK(c.meta.timestamp == want.timestamp);
        // The Meta gets the same, the local address in the source's form on a dual stack.
        FUZZ_CHECK(m.ecn == want.ecn);
        FUZZ_CHECK(m.interface_index == want.ifindex);
        FUZZ_CHECK(m.timestamp == want.timestamp);
        if (want.local.is_v4() && !want.local.is_unspecified() && m.addr.address().is_v6())
            FUZZ_CHECK(m.local == boost::asio::ip::address(boost::asio::ip::make_address_v6(
                                      boost::asio::ip::v4_mapped, want.local.to_v4())));
        else
            FUZZ_CHECK(m.local == want.local);
    }
}

// ---- BatchReceiver on the mock network ----------------------------------------------------

std::byte pattern(std::size_t datagram, std::size_t offset) {
    return static_cast<std::byte>((datagram * 31 + offset * 7 + 1) & 0xff);
}

// Whether `d` holds datagram `datagram`'s bytes (kept out of coverage, see holds_gro_pattern).
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
bool holds_pattern(std::span<const std::byte> d, std::size_t datagram) {
    for (std::size_t b = 0; b < d.size(); ++b)
        if (d[b] != pattern(datagram, b)) return false;
    return true;
}

template <std::size_t N>
void fuzz_mock_receive(fuzz::Input& in) {
    MockNetwork net;
    const int rx = net.open(Endpoint(boost::asio::ip::address_v4::loopback(), 0));
    BatchReceiver<MockBackend> receiver{MockBackend(net)};

    struct Sent {
        std::size_t size;
        Endpoint from;
    };
    std::vector<Sent> sent;
    std::vector<std::byte> buf;
    for (std::size_t k = 0, count = in.below(160); k < count; ++k) {
        const std::uint8_t sel = in.byte();
        std::size_t size = 0;
        switch (sel & 3) {
        case 0: size = 0; break;
        case 1: size = N + (sel >> 2) % 3 - 1; break; // around the capacity
        default: size = in.below(3000); break;
        }
        const Endpoint from = (sel & 4)
            ? Endpoint(boost::asio::ip::address_v6::loopback(), in.take<std::uint16_t>())
            : Endpoint(boost::asio::ip::address_v4(in.take<std::uint32_t>()), in.take<std::uint16_t>());
        buf.resize(size);
        for (std::size_t i = 0; i < size; ++i) buf[i] = pattern(k, i);
        net.inject(rx, from, buf);
        sent.push_back({size, from});
    }
    if (in.byte() & 1) net.limit_per_call(1 + in.below(70));
    net.interrupt_next(in.below(4));

    std::vector<BasicPacket<N>> packets(in.below(100));
    std::size_t next = 0; // next datagram expected
    bool closed = false;
    for (int round = 0; round < 8 && !closed; ++round) {
        for (auto& p : packets) p.meta = Meta{999999, Endpoint{}, static_cast<PacketFlags>(0xff)};
        std::error_code ec;
        std::size_t got = 0;
        const std::uint8_t op = in.byte();
        if ((op & 15) == 15) {
            net.close(rx);
            closed = true;
        }
        switch (op % 3) {
        case 0: got = receiver.recv_mmsg(rx, packets, ec); break;
        case 1: got = receiver.try_recv_mmsg(rx, packets, ec); break;
        case 2: got = receiver.recv_mmsg_exact(rx, packets, ec); break;
        }
        const std::size_t avail = sent.size() - next;
        if (op % 3 == 2) {
            FUZZ_CHECK(got <= packets.size());
            if (!ec) FUZZ_CHECK(got == packets.size());
            if (!closed) FUZZ_CHECK(got == std::min(packets.size(), avail));
        } else {
            FUZZ_CHECK(got <= std::min(packets.size(), num_rcvmmsgs));
            if (ec) FUZZ_CHECK(got == 0);
        }
        FUZZ_CHECK(got <= avail);
        if (closed) FUZZ_CHECK(got == 0 && (packets.empty() || ec == std::errc::bad_file_descriptor));
        else if (!packets.empty() && avail == 0) FUZZ_CHECK(got == 0 && ec == std::errc::operation_would_block);
        else if (!packets.empty() && op % 3 != 2) FUZZ_CHECK(got > 0 && !ec);
        for (std::size_t i = 0; i < got; ++i, ++next) {
            const Meta& m = packets[i].meta;
            const Sent& s = sent[next];
            FUZZ_CHECK(m.size == std::min(s.size, N));
            FUZZ_CHECK(m.flags == (s.size > N ? PacketFlags::truncated : PacketFlags::none));
            FUZZ_CHECK(m.addr == s.from);
            const auto d = packets[i].data();
            FUZZ_CHECK(holds_pattern(d, next));
        }
        // Packets past the filled ones are untouched.
        for (std::size_t i = got; i < packets.size(); ++i) FUZZ_CHECK(packets[i].meta.size == 999999);
        if (packets.empty()) FUZZ_CHECK(got == 0 && !ec);
    }
}

// ---- LinuxGsoBackend GRO receive on a simulated kernel -------------------------------------

#if MMSG_HAS_UDP_GSO
// One segment the backend must hand out, in order.
struct Segment {
    std::size_t message; // which simulated datagram
    std::size_t offset;  // where in it the segment starts
    std::size_t len;
    Endpoint from;
    PacketFlags flags;   // flags before the packet's own truncation
};

std::byte gro_pattern(std::size_t message, std::size_t offset) {
    return static_cast<std::byte>((message * 131 + offset * 3 + (offset >> 8)) & 0xff);
}

// Whether `d` holds message `message`'s bytes from `offset` on. The byte loops are kept out
// of the coverage instrumentation: traced, their comparisons took over half the run time
// (segments are up to 64 KiB) and told the fuzzer nothing.
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
bool holds_gro_pattern(std::span<const std::byte> d, std::size_t message, std::size_t offset) {
    for (std::size_t b = 0; b < d.size(); ++b)
        if (d[b] != gro_pattern(message, offset + b)) return false;
    return true;
}

struct GroWorld {
    fuzz::Input* in = nullptr;
    std::size_t messages = 0;
    std::deque<Segment> expect;
};

// The recvmmsg the backend sees: writes datagrams into the iovecs and the address and
// control buffers the backend laid out, within the lengths it gave, as the kernel does.
struct FuzzGsoOps {
    GroWorld* w;
    static GsoLimits limits() noexcept { return GsoLimits::conservative(); }
    static int sendmmsg(int, mmsghdr*, unsigned, int, std::error_code& ec) noexcept {
        ec = detail::errno_code(EBADF);
        return -1;
    }
    static bool enable_gro(int, std::error_code& ec) noexcept {
        ec.clear();
        return true;
    }
    static std::error_code refuse(SocketRef) noexcept { return {}; }

    int recvmmsg(int, mmsghdr* v, unsigned n, int, std::error_code& ec) {
        fuzz::Input& in = *w->in;
        if (in.empty()) {
            ec = detail::would_block_code();
            return -1;
        }
        switch (in.below(16)) {
        case 0: ec = detail::would_block_code(); return -1;
        case 1: ec = detail::errno_code(EINTR); return -1;
        default: break;
        }
        const unsigned k = 1 + static_cast<unsigned>(in.below(n));
        for (unsigned j = 0; j < k; ++j) fill(v[j], in);
        ec.clear();
        return static_cast<int>(k);
    }

    void fill(mmsghdr& mm, fuzz::Input& in) {
        msghdr& h = mm.msg_hdr;
        std::size_t room = 0;
        for (std::size_t i = 0; i < h.msg_iovlen; ++i) room += h.msg_iov[i].iov_len;
        room = std::min<std::size_t>(room, 65535);

        // A datagram of `count` segments of `seg` bytes, the last maybe shorter.
        const std::uint8_t shape = in.byte();
        std::size_t seg = 0;
        switch (shape & 7) {
        case 0: seg = 1; break;
        case 1: seg = 7; break;
        case 2: seg = 63 + in.below(3); break;
        case 3: seg = packet_data_size - 1 + in.below(3); break;
        case 4: seg = 1 + in.below(3000); break;
        case 5: seg = 1 + in.below(65535); break;
        default: seg = 64; break;
        }
        const std::size_t count = 1 + in.below((shape & 8) ? 70 : 4);
        std::size_t len = seg * count;
        if (len > 0 && (shape & 16)) len -= in.below(std::min(seg, len));
        std::size_t written = std::min(len, room);
        int flags = 0;
        if (len > room) flags |= MSG_TRUNC;          // the kernel cut the datagram
        if (shape & 32) {                            // or an arbitrary cut it reports
            written = in.below(written + 1);
            flags |= MSG_TRUNC;
        }
        const std::size_t id = w->messages++;
        std::size_t at = 0;
        for (std::size_t i = 0; i < h.msg_iovlen && at < written; ++i) {
            auto* dst = static_cast<std::byte*>(h.msg_iov[i].iov_base);
            const std::size_t c = std::min(h.msg_iov[i].iov_len, written - at);
            for (std::size_t b = 0; b < c; ++b) dst[b] = gro_pattern(id, at + b);
            at += c;
        }
        mm.msg_len = static_cast<unsigned>(written);

        // Source address.
        sockaddr_storage ss{};
        socklen_t namelen = 0;
        const std::uint8_t src = in.byte();
        if ((src & 3) == 0) {
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_port = in.take<std::uint16_t>();
            sin.sin_addr.s_addr = in.take<std::uint32_t>();
            std::memcpy(&ss, &sin, sizeof sin);
            namelen = sizeof sin;
        } else if ((src & 3) == 1) {
            sockaddr_in6 sin6{};
            sin6.sin6_family = AF_INET6;
            sin6.sin6_port = in.take<std::uint16_t>();
            in.bytes(&sin6.sin6_addr, 16);
            std::memcpy(&ss, &sin6, sizeof sin6);
            namelen = sizeof sin6;
        } else {
            in.bytes(&ss, sizeof ss);
            namelen = static_cast<socklen_t>(in.below(sizeof ss + 1));
        }
        if (h.msg_name != nullptr) {
            namelen = std::min<socklen_t>(namelen, h.msg_namelen);
            std::memcpy(h.msg_name, &ss, namelen);
            h.msg_namelen = namelen;
        }

        // Control data: the UDP_GRO message when the datagram was coalesced, sometimes cut,
        // sometimes garbage, always within msg_controllen.
        const std::size_t ctl_room = h.msg_control ? h.msg_controllen : 0;
        std::size_t ctl_len = 0;
        const std::uint8_t ctl = in.byte();
        const bool coalesced = count > 1 || (ctl & 1);
        if ((ctl & 6) == 6 && ctl_room > 0) { // garbage
            ctl_len = in.below(ctl_room + 1);
            in.bytes(h.msg_control, ctl_len);
        } else if (coalesced && CMSG_SPACE(sizeof(int)) <= ctl_room && !(ctl & 8)) {
            cmsghdr c{};
            c.cmsg_len = CMSG_LEN(sizeof(int));
            c.cmsg_level = SOL_UDP;
            c.cmsg_type = UDP_GRO;
            const int segsize = (ctl & 16) ? static_cast<int>(in.take<std::uint16_t>()) : static_cast<int>(seg);
            std::memcpy(h.msg_control, &c, sizeof c);
            std::memcpy(static_cast<unsigned char*>(h.msg_control) + CMSG_LEN(0), &segsize, sizeof segsize);
            ctl_len = CMSG_SPACE(sizeof(int));
        }
        if (ctl & 8) flags |= MSG_CTRUNC; // the GRO message did not fit (or another did not)
        h.msg_controllen = ctl_len;
        h.msg_flags = flags;

        // What must come out, by the contract (parse_control is fuzzed on its own above).
        const detail::RecvControl rc = detail::parse_control(h);
#ifdef MMSG_FUZZ_DEBUG
        std::fprintf(stderr, "  msg %zu: iovlen=%zu room=%zu len=%zu written=%zu seg=%zu count=%zu gro=%zu flags=%x ctl=%zu\n",
                     id, static_cast<std::size_t>(h.msg_iovlen), room, len, written, seg, count, rc.gro_segment, flags, ctl_len);
#endif
        const Endpoint from = h.msg_name ? detail::endpoint_from(ss, namelen) : Endpoint{};
        const PacketFlags base = rc.control_truncated ? PacketFlags::control_truncated : PacketFlags::none;
        const std::size_t s = (rc.gro_segment > 0 && written > rc.gro_segment) ? rc.gro_segment : written;
        const std::size_t segs = s == 0 ? 1 : (written + s - 1) / s;
        for (std::size_t t = 0; t < segs; ++t) {
            const std::size_t off = t * s;
            const bool last = t + 1 == segs;
            w->expect.push_back({id, off, std::min(s, written - off), from,
                                 base | ((flags & MSG_TRUNC) && last ? PacketFlags::truncated
                                                                     : PacketFlags::none)});
        }
    }
};

template <std::size_t N>
void fuzz_gro_receive(fuzz::Input& in) {
    static GroWorld world;
    static BatchReceiver<BasicLinuxGsoBackend<FuzzGsoOps>> receiver{
        BasicLinuxGsoBackend<FuzzGsoOps>(FuzzGsoOps{&world})};
    static std::vector<BasicPacket<N>> packets(num_rcvmmsgs);
    constexpr int fd = 3;
    receiver.socket_state(fd).clear(); // a fresh socket for every input
    world.in = &in;
    world.messages = 0;
    world.expect.clear();

    // Bounded: at most 64 datagrams per simulated call and 65535 segments per datagram, and
    // once the input is used up every call takes 64 packets until nothing is kept.
    for (int call = 0; call < 20000; ++call) {
        const std::size_t m = in.empty() ? num_rcvmmsgs : 1 + in.below(num_rcvmmsgs);
        std::span<BasicPacket<N>> view(packets.data(), m);
        for (auto& p : view) p.meta = Meta{999999, Endpoint{}, static_cast<PacketFlags>(0xff)};
        std::error_code ec;
        const std::size_t got = receiver.try_recv_mmsg(fd, view, ec);
#ifdef MMSG_FUZZ_DEBUG
        std::fprintf(stderr, "call %d: m=%zu got=%zu ec=%s expect=%zu left=%zu\n", call, m, got,
                     ec.message().c_str(), world.expect.size(), in.left());
#endif
        FUZZ_CHECK(got <= m);
        for (std::size_t i = 0; i < got; ++i) {
            FUZZ_CHECK(!world.expect.empty()); // nothing invented
            const Segment e = world.expect.front();
            world.expect.pop_front();
            const Meta& meta = view[i].meta;
            FUZZ_CHECK(meta.size == std::min(e.len, N));
            FUZZ_CHECK(meta.addr == e.from);
            FUZZ_CHECK(meta.flags == (e.flags | (e.len > N ? PacketFlags::truncated : PacketFlags::none)));
            const auto d = view[i].data();
            FUZZ_CHECK(holds_gro_pattern(d, e.message, e.offset));
        }
        for (std::size_t i = got; i < m; ++i) FUZZ_CHECK(view[i].meta.size == 999999);
        if (ec) FUZZ_CHECK(got == 0 && ec == std::errc::operation_would_block);
        // Input used up and nothing kept: done. Kept segments must come out first.
        if (in.empty() && got == 0) break;
    }
    FUZZ_CHECK(world.expect.empty()); // every segment came out: none lost, none kept forever
    world.in = nullptr;
}
#endif

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    switch (in.below(12)) {
    case 0: fuzz_decode(in); break;
    case 1: fuzz_mock_receive<1>(in); break;
    case 2: fuzz_mock_receive<2>(in); break;
    case 3: fuzz_mock_receive<7>(in); break;
    case 4: fuzz_mock_receive<64>(in); break;
    case 5: fuzz_mock_receive<packet_data_size>(in); break;
    case 6: fuzz_decode(in); break;
#if MMSG_HAS_UDP_GSO
    case 7: fuzz_gro_receive<1>(in); break;
    case 8: fuzz_gro_receive<7>(in); break;
    case 9: fuzz_gro_receive<64>(in); break;
    case 10: fuzz_gro_receive<packet_data_size>(in); break;
    case 11: fuzz_gro_receive<2048>(in); break;
#endif
    }
    return 0;
}
