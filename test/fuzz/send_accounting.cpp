// Fuzz target: random fault scripts x random batches through BatchSender on the mock
// network, with MockBackend, FaultInjecting<MockBackend> (the composition policy's own
// script), LinuxGsoBackend's own code (MockGsoBackend: trains) and the same with
// IoUringGsoBackend's send (MockUringGsoBackend: an outcome per message, linked trains). Checks
// that every datagram is accounted for exactly once, whatever happens:
//   sent + failed + unsent == n; the status span agrees with the counts; unsent is a
//   suffix; a fatal error stops the batch; each sent datagram to a bound socket is
//   delivered exactly once and in order, and nothing else is delivered.
// fuzz-flags: -fno-sanitize-coverage=trace-cmp
#include <mmsg/batch_sender.hpp>

#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/fault_injecting.hpp>

#include "fuzz_input.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using namespace mmsg;

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "send_accounting: check failed: %s (line %d)\n", #cond,      \
                         __LINE__);                                                           \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

// Per-datagram errors the kernel gives (failed, batch goes on), socket errors (fatal),
// back-pressure (unsent) and EINTR (retried).
constexpr int errnos[] = {EACCES,   EAFNOSUPPORT, ENETUNREACH, EHOSTUNREACH, EMSGSIZE,
                          ECONNREFUSED, EPERM,    EINVAL,      EIO,          EBADF,
                          ENOTSOCK, EFAULT,       EPIPE,       EOPNOTSUPP,   EDESTADDRREQ,
                          EAGAIN,   ENOBUFS,      EINTR};

std::error_code pick_error(fuzz::Input& in) {
    return detail::errno_code(errnos[in.below(std::size(errnos))]);
}
// For a destination that fails every time: not EINTR, which a kernel never returns forever.
std::error_code pick_lasting_error(fuzz::Input& in) {
    return detail::errno_code(errnos[in.below(std::size(errnos) - 1)]);
}

Endpoint v4(const char* a, std::uint16_t port) {
    return {boost::asio::ip::make_address(a), port};
}

// Index of the datagram a payload carries (its first 4 bytes).
std::uint32_t index_of(const std::byte* p) {
    std::uint32_t i;
    std::memcpy(&i, p, 4);
    return i;
}

// Every datagram queued on a mock socket, in order (the payload's index).
std::vector<std::uint32_t> drain(MockNetwork& net, int handle) {
    std::vector<std::uint32_t> out;
    std::byte buf[64];
    Meta meta;
    for (;;) {
        const RecvSlot slot{buf, sizeof buf, &meta};
        std::error_code ec;
        const std::size_t got = net.recv(handle, std::span<const RecvSlot>(&slot, 1), ec);
        if (got == 0) break;
        out.push_back(meta.size >= 4 ? index_of(buf) : 0xffffffffu);
    }
    return out;
}

// `wrapper`: a FaultInjecting<> backend whose own script each fault may go to instead of the
// network's (nullptr: none).
// `per_message`: the backend's layer gives each message its own outcome (MockUringGsoOps).
template <class Sender, class Wrapper = MockNetwork>
int run(fuzz::Input& in, MockNetwork& net, Sender& sender, bool gso, Wrapper* wrapper = nullptr,
        bool per_message = false) {
    // Applies a scripting call to the wrapper's script or to the network's.
    auto script = [&](auto&& call) {
        if (wrapper != nullptr && (in.byte() & 1)) call(*wrapper);
        else call(net);
    };
    int tx = net.open(v4("127.0.0.1", 0));
    const int rx = net.open(v4("127.0.0.1", 0));
    const int rx6 = net.open(Endpoint(boost::asio::ip::address_v6::loopback(), 0));
    const Endpoint dests[4] = {net.local_endpoint(rx), net.local_endpoint(rx6),
                               v4("127.0.0.2", 9),  // nobody bound: accepted and dropped
                               v4("127.0.0.3", 9)}; // unreachable: fails with its error
    net.unreachable(dests[3], pick_lasting_error(in));

    // Mostly small batches (fast, so the fuzzer explores fault scripts), sometimes large
    // ones just below, at or across the 1024-datagram chunk boundary. (Up to 2100 took
    // most of the run time: large inputs reach more code, so the corpus fills with them,
    // and each cost ~2 ms. Chunks beyond the second behave as the second.)
    const std::size_t n = in.byte() < 254 ? in.below(40) : 1000 + in.below(100);
    const int api = static_cast<int>(in.below(5));

    // The fault script.
    bool closed = false;
    for (std::size_t f = 0, count = in.below(8); f < count; ++f) {
        switch (in.below(gso ? 7 : 6)) {
        case 0: {
            const std::size_t k = in.below(n + 8);
            const std::error_code e = pick_error(in);
            script([&](auto& t) { t.fail_nth(k, e); });
            break;
        }
        case 1: {
            const std::size_t k = 1 + in.below(1100);
            script([&](auto& t) { t.limit_per_call(k); });
            break;
        }
        case 2: {
            const std::size_t k = in.below(n + 4);
            script([&](auto& t) { t.would_block_after(k); });
            break;
        }
        case 3: {
            const std::size_t k = in.below(6);
            script([&](auto& t) { t.interrupt_next(k); });
            break;
        }
        case 4: {
            const Endpoint& d = dests[in.below(3)];
            const std::error_code e = pick_lasting_error(in);
            script([&](auto& t) { t.unreachable(d, e); });
            break;
        }
        case 5:
            if (in.below(8) == 0) { // rarely: the socket is gone (EBADF, fatal)
                net.close(tx);
                closed = true;
            }
            break;
        case 6: // trains fail (offload errors fall back to plain datagrams, others fail them)
            net.fail_trains(pick_lasting_error(in), in.below(4) == 0 ? MockNetwork::no_limit : in.below(4));
            break;
        }
    }

    // The batch: each payload starts with its index, then 0..31 more bytes.
    std::vector<std::byte> storage(n * 36);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> batch;
    std::vector<Endpoint> multi_dests;
    std::vector<std::uint8_t> dest_of(n);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t b = in.byte();
        dest_of[i] = b & 3;
        const std::size_t len = 4 + ((b >> 2) & 31);
        std::byte* p = storage.data() + i * 36;
        const auto idx = static_cast<std::uint32_t>(i);
        std::memcpy(p, &idx, 4);
        batch.emplace_back(std::span<const std::byte>(p, len), dests[dest_of[i]]);
        multi_dests.push_back(dests[dest_of[i]]);
    }

    std::vector<std::error_code> status(n, detail::errno_code(EILSEQ)); // poison
    SendResult r;
    bool have_status = true;
    bool distinct_payloads = true;
    switch (api) {
    case 0: r = sender.batch_send(tx, batch, status); break;
    case 1:
        r = sender.batch_send(tx, batch);
        have_status = false;
        break;
    case 2: {
        static const std::byte one[8] = {};
        r = sender.multi_target_send(tx, std::span<const std::byte>(one), multi_dests, status);
        distinct_payloads = false;
        break;
    }
    case 3: r = sender.try_batch_send(tx, batch, status); break;
    case 4: {
        // A status span shorter than the batch: a clear error and nothing sent.
        if (n == 0) return 0;
        const std::size_t calls = net.calls();
        bool threw = false;
        try {
            r = sender.batch_send(tx, batch, std::span<std::error_code>(status.data(), n - 1));
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        FUZZ_CHECK(threw);
        FUZZ_CHECK(net.calls() == calls);
        net.interrupt_next(0);
        FUZZ_CHECK(drain(net, rx).empty() && drain(net, rx6).empty());
        return 0;
    }
    }

    // Counts.
    FUZZ_CHECK(r.sent + r.failed + r.unsent == n);
    FUZZ_CHECK(r.ok() == (r.failed == 0 && r.unsent == 0));
    if (n == 0) FUZZ_CHECK(net.calls() == 0 && r.ok());
    if (r.fatal) FUZZ_CHECK(r.unsent == 0 && r.failed > 0);
#ifdef MMSG_FUZZ_DEBUG
    std::fprintf(stderr, "n=%zu api=%d closed=%d sent=%zu failed=%zu unsent=%zu fatal=%d first=%s\n", n, api, closed, r.sent, r.failed, r.unsent, r.fatal, r.first_error.message().c_str());
#endif
    // Nothing goes out of a closed socket. Without a wrapper the network is the first to
    // see the call (EBADF, fatal, everything failed); a wrapper's script may stop it first.
    if (closed) FUZZ_CHECK(r.sent == 0);
    if (closed && n > 0 && wrapper == nullptr)
        FUZZ_CHECK(r.fatal && r.failed == n && r.first_error == std::errc::bad_file_descriptor);
    if (r.failed == 0) FUZZ_CHECK(!r.first_error);
    else FUZZ_CHECK(static_cast<bool>(r.first_error));

    std::size_t fatal_at = n;
    if (have_status) {
        std::size_t ok = 0, failed = 0, unsent = 0;
        const std::error_code* first = nullptr;
        for (std::size_t i = 0; i < n; ++i) {
            const std::error_code& e = status[i];
            FUZZ_CHECK(e != std::errc::illegal_byte_sequence); // every entry written
            FUZZ_CHECK(!detail::is_interrupted(e));            // EINTR is never an outcome
            if (!e) {
                ++ok;
            } else if (e == std::errc::operation_would_block) {
                // Unsent: only in the suffix.
                FUZZ_CHECK(i >= n - r.unsent);
                ++unsent;
            } else {
                // Back-pressure is never a failure, except where a layer with an outcome
                // per message (io_uring, unlinked plain datagrams) already sent a later
                // datagram: that one cannot stay unsent, and fails with ENOBUFS.
                FUZZ_CHECK(
                    !detail::is_would_block(e) ||
                    (per_message && e == std::errc::no_buffer_space &&
                     std::any_of(status.begin() + static_cast<std::ptrdiff_t>(i) + 1, status.end(),
                                 [](const std::error_code& x) { return !x; })));
                FUZZ_CHECK(i < n - r.unsent);
                ++failed;
                if (!first) first = &e;
                if (detail::is_fatal(e) && fatal_at == n) fatal_at = i;
            }
        }
        FUZZ_CHECK(ok == r.sent && failed == r.failed && unsent == r.unsent);
        if (first) FUZZ_CHECK(*first == r.first_error);
        // A fatal error stops the batch: it and everything after it failed with it.
        FUZZ_CHECK(r.fatal == (fatal_at != n));
        if (r.fatal)
            for (std::size_t i = fatal_at; i < n; ++i) FUZZ_CHECK(status[i] == status[fatal_at]);
    }

    // Delivery: exactly the sent datagrams to bound sockets, once each, in order.
    net.interrupt_next(0);
    const int queues[2] = {rx, rx6};
    std::size_t delivered_total = 0;
    for (int q = 0; q < 2; ++q) {
        const std::vector<std::uint32_t> got = drain(net, queues[q]);
        delivered_total += got.size();
        if (have_status) {
            std::vector<std::uint32_t> want;
            for (std::size_t i = 0; i < n; ++i)
                if (!status[i] && dest_of[i] == q) want.push_back(static_cast<std::uint32_t>(i));
            if (distinct_payloads) FUZZ_CHECK(got == want);
            else FUZZ_CHECK(got.size() == want.size());
        } else {
            for (std::size_t k = 0; k < got.size(); ++k) {
                FUZZ_CHECK(got[k] < n && dest_of[got[k]] == q);
                if (k > 0) FUZZ_CHECK(got[k] > got[k - 1]);
            }
        }
        if (r.fatal && distinct_payloads)
            for (std::uint32_t i : got) FUZZ_CHECK(i < fatal_at);
    }
    FUZZ_CHECK(delivered_total <= r.sent);
    return 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    MockNetwork net;
    // One sender per backend for the whole run, as in real use: scratch arrays are allocated
    // once. Each input gets a fresh network (and a fresh state for its socket).
    static MockNetwork first_net;
#if MMSG_HAS_UDP_GSO
    if (const std::uint8_t which = in.byte(); which & 1) {
        if (which & 2) {
            // IoUringGsoBackend's send over the mock: one outcome per message, messages from
            // the first train on linked (MockUringGsoOps).
            static BatchSender<MockUringGsoBackend> ring{
                MockUringGsoBackend(MockUringGsoOps(first_net))};
            ring.backend().ops() = MockUringGsoOps(net);
            ring.socket_state(1 << 20).clear();
            return run(in, net, ring, true, static_cast<MockNetwork*>(nullptr), true);
        }
        // LinuxGsoBackend's own code over the mock: batches become UDP_SEGMENT trains.
        static BatchSender<MockGsoBackend> gso{MockGsoBackend(MockGsoOps(first_net))};
        gso.backend().ops() = MockGsoOps(net);
        gso.socket_state(1 << 20).clear(); // the first handle a fresh MockNetwork gives
        return run(in, net, gso, true);
    }
#endif
    if (in.byte() & 1) {
        // FaultInjecting<MockBackend>: the same script applied by the composition policy
        // (each fault goes to its script or to the network's).
        static BatchSender<FaultInjecting<MockBackend>> wrapped{
            FaultInjecting<MockBackend>(MockBackend(first_net))};
        wrapped.backend() = FaultInjecting<MockBackend>(MockBackend(net)); // a fresh script
        return run(in, net, wrapped, false, &wrapped.backend());
    }
    static BatchSender<MockBackend> plain{MockBackend(first_net)};
    plain.backend() = MockBackend(net);
    return run(in, net, plain, false);
}
