//! Multi-core receive: SO_REUSEPORT shards one UDP port over several sockets, and each
//! thread owns one socket and one BatchReceiver (nothing shared, no locks on the hot path).
//! The kernel spreads the flows over the sockets by a hash of the 4-tuple, so one flow
//! always lands on the same shard, in order. Loopback only, bounded; run as a test.
#include <mmsg.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// tag::sockets[]
// `shards` sockets on the same port: the first binds port 0 (the kernel picks one), the
// others bind the port it got. Every socket sets SO_REUSEPORT before bind.
std::vector<udp::socket> reuseport_sockets(asio::io_context& io, std::size_t shards) {
    std::vector<udp::socket> sockets;
    udp::endpoint at(asio::ip::address_v4::loopback(), 0);
    for (std::size_t i = 0; i < shards; ++i) {
        udp::socket& s = sockets.emplace_back(io, udp::v4());
        const int on = 1;
        if (::setsockopt(s.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
        timeval timeout{0, 200'000}; // a blocked receive wakes up 5 times a second
        ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        s.bind(at);
        at = s.local_endpoint(); // the shared port
    }
    return sockets;
}
// end::sockets[]

struct Progress { // what the shards tell the sending thread
    std::mutex mu;
    std::condition_variable cv;
    std::size_t received = 0;
};

// tag::shard[]
// One shard: its own socket, its own BatchReceiver and packet array. Runs until `stop`;
// a receive timeout only gives it the chance to look at `stop`.
void run_shard(udp::socket& socket, const std::atomic<bool>& stop, std::vector<std::uint32_t>& seen,
               Progress& progress) {
    mmsg::BatchReceiver<> receiver;
    std::array<mmsg::Packet, mmsg::num_rcvmmsgs> packets;
    while (!stop.load(std::memory_order_relaxed)) {
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(socket, packets, ec);
        if (ec) continue; // operation_would_block: nothing arrived within the timeout
        for (const mmsg::Packet& p : std::span(packets).first(n)) {
            std::uint32_t index = 0;
            std::memcpy(&index, p.buffer.data(), sizeof index);
            seen.push_back(index); // shard-local: no lock
        }
        std::lock_guard lock(progress.mu);
        progress.received += n;
        progress.cv.notify_one();
    }
}
// end::shard[]

} // namespace

int main() {
    asio::io_context io;
    const std::size_t shards = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 2, 4);
    std::vector<udp::socket> sockets = reuseport_sockets(io, shards);
    const mmsg::Endpoint port = sockets.front().local_endpoint();

    std::atomic<bool> stop{false};
    Progress progress;
    constexpr std::size_t flows = 16, per_flow = 8, rounds = 20;
    std::vector<std::vector<std::uint32_t>> seen(shards);
    for (auto& v : seen) v.reserve(flows * per_flow * rounds); // no allocation while receiving
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < shards; ++i)
        threads.emplace_back(run_shard, std::ref(sockets[i]), std::cref(stop), std::ref(seen[i]),
                             std::ref(progress));

    // 16 flows (source ports), 8 datagrams each per round: at most 128 small datagrams
    // (~100 KB of socket buffer) in flight, so loopback never drops. 20 rounds.
    std::vector<udp::socket> senders;
    for (std::size_t f = 0; f < flows; ++f)
        senders.emplace_back(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    std::array<std::array<std::byte, 64>, per_flow> payloads{};
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch;
    mmsg::BatchSender<> sender;
    std::uint32_t next = 0;
    bool ok = true;
    for (std::size_t r = 0; r < rounds && ok; ++r) {
        for (udp::socket& s : senders) {
            batch.clear();
            for (auto& p : payloads) {
                std::memcpy(p.data(), &next, sizeof next);
                ++next;
                batch.emplace_back(p, port);
            }
            ok = ok && sender.batch_send(s, batch).ok();
        }
        // Wait (bounded) until the shards have it all before sending more.
        std::unique_lock lock(progress.mu);
        ok = ok && progress.cv.wait_for(lock, std::chrono::seconds(5),
                                        [&] { return progress.received == next; });
    }
    stop = true;
    for (std::thread& t : threads) t.join();

    // Every datagram arrived exactly once, on some shard.
    std::vector<std::uint32_t> all;
    for (std::size_t i = 0; i < shards; ++i) {
        std::printf("shard %zu: %zu datagrams\n", i, seen[i].size());
        all.insert(all.end(), seen[i].begin(), seen[i].end());
    }
    std::sort(all.begin(), all.end());
    for (std::uint32_t i = 0; i < all.size(); ++i) ok = ok && all[i] == i;
    ok = ok && all.size() == next;
    std::printf("sharded receiver: %zu shards, %zu of %u datagrams, %s\n", shards, all.size(), next,
                ok ? "each exactly once" : "MISMATCH");
    return ok ? 0 : 1;
}
