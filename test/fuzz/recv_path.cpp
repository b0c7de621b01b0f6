// Fuzz target: the receive path without a kernel.
//  - detail::decode_datagram / detail::parse_control (what LinuxMmsgBackend runs on every
//    datagram recvmmsg returns): arbitrary lengths, msg_flags (MSG_TRUNC, MSG_CTRUNC),
//    source addresses of any family and length, control buffers with well-formed and
//    malformed SO_RXQ_OVFL / UDP_GRO messages of any segment size.
//  - BatchReceiver on the mock network: random datagram sizes against packet capacities
//    from 1 byte up, EINTR, per-call limits, a closed socket.
// No crash, no out-of-bounds access (buffers are exact-size heap blocks under ASan), and
// sizes, flags, sources and payload bytes are right.
#include <mmsg/detail/recv_decode.hpp>

#include <mmsg/backend/mock.hpp>
#include <mmsg/batch_receiver.hpp>

#include "fuzz_input.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    } want;
    const bool structured = in.byte() & 1;
    bool shortened = false;
    if (structured) {
        for (std::size_t k = 0, count = in.below(6); k < count; ++k) {
            int level = 0, type = 0;
            switch (in.below(4)) {
            case 0: level = SOL_SOCKET, type = SO_RXQ_OVFL; break;
            case 1: level = SOL_UDP, type = UDP_GRO; break;
            case 2: level = SOL_SOCKET, type = SO_TIMESTAMP; break;
            default: level = in.take<int>(), type = in.take<int>(); break;
            }
            const std::size_t dlen = in.below(20);
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
    const bool cut = (h.msg_flags & MSG_TRUNC) != 0 || msg_len > capacity;
    FUZZ_CHECK(m.flags == (cut ? PacketFlags::truncated : PacketFlags::none));
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
    }
}

// ---- BatchReceiver on the mock network ----------------------------------------------------

std::byte pattern(std::size_t datagram, std::size_t offset) {
    return static_cast<std::byte>((datagram * 31 + offset * 7 + 1) & 0xff);
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
            for (std::size_t b = 0; b < d.size(); ++b) FUZZ_CHECK(d[b] == pattern(next, b));
        }
        // Packets past the filled ones are untouched.
        for (std::size_t i = got; i < packets.size(); ++i) FUZZ_CHECK(packets[i].meta.size == 999999);
        if (packets.empty()) FUZZ_CHECK(got == 0 && !ec);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    switch (in.below(7)) {
    case 0: fuzz_decode(in); break;
    case 1: fuzz_mock_receive<1>(in); break;
    case 2: fuzz_mock_receive<2>(in); break;
    case 3: fuzz_mock_receive<7>(in); break;
    case 4: fuzz_mock_receive<64>(in); break;
    case 5: fuzz_mock_receive<packet_data_size>(in); break;
    case 6: fuzz_decode(in); break;
    }
    return 0;
}
