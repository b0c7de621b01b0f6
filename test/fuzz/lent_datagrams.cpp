// Fuzz target: what LendingReceiver does with a buffer the kernel filled, without a kernel.
//  - detail::read_lent on a buffer of the receiver's layout holding anything at all: the
//    io_uring_recvmsg_out header's lengths and flags, the address, the control messages
//    (UDP_GRO of any segment size among them), and the completion's result, any int.
//  - detail::lend_segments into packet arrays of any size, from any segment on.
//  - detail::LendPool's hold counts (the recvmmsg engine's free list): buffers held and
//    released in any order go back exactly once.
// Every lent view and its size must lie inside the buffer's payload room and the bytes the
// completion reported; segments come out in order, contiguous, covering the message once,
// each with the message's source; sizes never exceed wire_size. The buffer is an exact-size
// heap block, so ASan catches a read past it.
#include <mmsg/detail/lent_datagrams.hpp>

#include <mmsg/config.hpp>
#include <mmsg/detail/lend_pool.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/socket_state.hpp>

#include "fuzz_input.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#if MMSG_HAS_IO_URING
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#endif

namespace {

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "lent_datagrams: check failed: %s (line %d)\n", #cond, __LINE__); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

#if MMSG_HAS_IO_URING
using namespace mmsg;
using detail::LendLayout;

void fuzz_read_and_lend(fuzz::Input& in) {
    LendLayout layout;
    static constexpr std::size_t rooms[] = {1, 7, 64, 1232, 1500, 9000, 65536};
    layout.payload_room = rooms[in.below(std::size(rooms))];
    const std::size_t size = layout.buffer_size();
    const auto buf = std::make_unique<std::byte[]>(size);
    std::memset(buf.get(), 0, size);

    // The header: lengths the kernel would write, or anything.
    io_uring_recvmsg_out o{};
    const bool sane = in.byte() & 1;
    o.namelen = sane ? static_cast<std::uint32_t>(in.byte() & 1 ? sizeof(sockaddr_in6)
                                                                : sizeof(sockaddr_in))
                     : in.take<std::uint32_t>();
    o.payloadlen = static_cast<std::uint32_t>(sane ? in.below(70000) : in.take<std::uint32_t>());
    o.flags = in.take<std::uint32_t>();
    // The address.
    if (sane) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = in.take<std::uint16_t>();
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        std::memcpy(buf.get() + LendLayout::header, &a, sizeof a);
    } else {
        in.bytes(buf.get() + LendLayout::header, LendLayout::name_room);
    }
    // The control messages: one UDP_GRO of any segment size, or raw bytes.
    std::byte* ctrl = buf.get() + LendLayout::header + LendLayout::name_room;
    if (in.byte() & 1) {
        cmsghdr h{};
        h.cmsg_len = CMSG_LEN(sizeof(int));
        h.cmsg_level = SOL_UDP;
        h.cmsg_type = UDP_GRO;
        const int seg = static_cast<int>(in.below(2000));
        std::memcpy(ctrl, &h, sizeof h);
        std::memcpy(ctrl + CMSG_LEN(0), &seg, sizeof seg);
        o.controllen = static_cast<std::uint32_t>(CMSG_SPACE(sizeof(int)));
    } else {
        in.bytes(ctrl, LendLayout::control_room);
        o.controllen = in.take<std::uint32_t>();
    }
    std::memcpy(buf.get(), &o, sizeof o);
    std::byte* payload = buf.get() + LendLayout::payload_offset;
    for (std::size_t i = 0; i < layout.payload_room; ++i)
        payload[i] = static_cast<std::byte>(i * 13 + 5);
    // The completion's result: consistent with the header, or anything.
    const int res = in.byte() & 1
                        ? static_cast<int>(LendLayout::payload_offset +
                                           std::min<std::size_t>(o.payloadlen, layout.payload_room))
                        : in.take<int>();

    detail::LentMessage m;
    SocketState state;
    if (!detail::read_lent(buf.get(), res, layout, m, state)) {
        FUZZ_CHECK(res < 0 || static_cast<std::size_t>(res) < LendLayout::payload_offset);
        return;
    }
    const std::size_t bytes =
        std::min<std::size_t>({static_cast<std::size_t>(res) - LendLayout::payload_offset,
                               layout.payload_room, o.payloadlen});
    FUZZ_CHECK(m.payload == payload);
    FUZZ_CHECK(m.m.len == bytes);
    FUZZ_CHECK(m.wire >= bytes);
    FUZZ_CHECK(m.m.count >= 1);

    // Lend every segment, in calls of random sizes.
    const std::size_t segments = std::max<std::size_t>(m.m.count, 1);
    std::vector<LentPacket> out(1 + in.below(70));
    std::size_t next = 0, covered = 0;
    for (int calls = 0; next < segments && calls < 100000; ++calls) {
        const std::size_t room = 1 + in.below(out.size());
        const std::size_t k = detail::lend_segments(m, next, std::span(out).first(room));
        FUZZ_CHECK(k == std::min(room, segments - next));
        for (std::size_t i = 0; i < k; ++i) {
            const std::byte* v = detail::LentAccess::view(out[i]);
            const Meta& meta = out[i].meta();
            FUZZ_CHECK(v == payload + covered); // in order, contiguous
            FUZZ_CHECK(meta.size <= layout.payload_room);
            FUZZ_CHECK(v + meta.size <= payload + bytes);
            FUZZ_CHECK(meta.size <= meta.wire_size);
            FUZZ_CHECK(meta.addr == m.m.addr);
            if (segments > 1) FUZZ_CHECK(meta.size > 0);
            covered += meta.size;
        }
        next += k;
    }
    FUZZ_CHECK(next == segments);
    FUZZ_CHECK(covered == bytes); // every byte once
    FUZZ_CHECK(detail::lend_segments(m, next, out) == 0);
}

void fuzz_pool(fuzz::Input& in) {
    const unsigned count = 1u << in.below(6);
    std::error_code ec;
    detail::LendPool* pool = detail::LendPool::make(count, 64, ec);
    FUZZ_CHECK(pool != nullptr);
    pool->start(false); // the free list: no kernel
    FUZZ_CHECK(pool->free_count() == count);
    std::vector<unsigned> holds(count, 0);
    for (std::size_t step = 0, steps = in.below(200); step < steps; ++step) {
        switch (in.below(3)) {
        case 0:
            if (pool->free_count() > 0) {
                const unsigned bid = pool->take_free();
                FUZZ_CHECK(bid < count && holds[bid] == 0);
                holds[bid] = 1;
            }
            break;
        case 1: {
            const unsigned bid = static_cast<unsigned>(in.below(count));
            if (holds[bid] > 0) {
                pool->hold(bid);
                ++holds[bid];
            }
            break;
        }
        default: {
            const unsigned bid = static_cast<unsigned>(in.below(count));
            if (holds[bid] > 0) {
                pool->release(bid);
                --holds[bid];
            }
            break;
        }
        }
        unsigned held = 0;
        for (unsigned h : holds)
            held += h > 0 ? 1 : 0;
        FUZZ_CHECK(pool->held() == held);
        FUZZ_CHECK(pool->free_count() == count - held);
    }
    // Detached with buffers still held: freed by the last release (LeakSanitizer checks).
    pool->detach();
    for (unsigned bid = 0; bid < count; ++bid)
        while (holds[bid] > 0) {
            pool->release(bid);
            --holds[bid];
        }
}
#endif

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
#if MMSG_HAS_IO_URING
    fuzz::Input in(data, size);
    if (in.byte() % 4 == 0)
        fuzz_pool(in);
    else
        fuzz_read_and_lend(in);
#else
    (void)data;
    (void)size;
#endif
    return 0;
}
