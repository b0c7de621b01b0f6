//! Defines mmsg::Counting<Inner> (a backend that counts what Inner does) and
//! mmsg::CountingStats (its counters, a plain struct printable as JSON through Boost.Hana).
#ifndef MMSG_COUNTING_HPP
#define MMSG_COUNTING_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/json.hpp>
#include <mmsg/detail/send_outcome.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/length.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

namespace mmsg {

/*! Datagrams moved per backend call, as a log2 histogram: bucket 0 counts calls that moved
    none, bucket b (1..11) calls that moved [2^(b-1), 2^b) datagrams, the last bucket 1024
    or more. Prints as a JSON array of the 12 counts.
*/
struct CallHistogram {
    static constexpr std::size_t size = 12;
    std::array<std::uint64_t, size> buckets{};

    void add(std::size_t datagrams) noexcept {
        const std::size_t b =
            datagrams == 0 ? 0 : static_cast<std::size_t>(std::bit_width(datagrams));
        ++buckets[b < size ? b : size - 1];
    }
    //! Total calls recorded.
    std::uint64_t calls() const noexcept {
        std::uint64_t n = 0;
        for (auto c : buckets)
            n += c;
        return n;
    }
    void write_json(std::ostream& os) const { detail::write_json_array(os, buckets); }
};

/*! Errors by errno value (system or generic category; any other category counts under 0).
    Prints as a JSON object of the non-zero counts keyed by errno number: {"13":2}.
*/
struct ErrnoCounts {
    static constexpr std::size_t size = 160;
    std::array<std::uint64_t, size> counts{};

    void add(const std::error_code& ec) noexcept {
        const bool posix =
            ec.category() == std::system_category() || ec.category() == std::generic_category();
        const int v = posix ? ec.value() : 0;
        ++counts[v > 0 && static_cast<std::size_t>(v) < size ? static_cast<std::size_t>(v) : 0];
    }
    //! How many errors had errno `e`.
    std::uint64_t operator[](int e) const noexcept {
        return e >= 0 && static_cast<std::size_t>(e) < size ? counts[static_cast<std::size_t>(e)]
                                                            : 0;
    }
    void write_json(std::ostream& os) const {
        os << '{';
        bool first = true;
        for (std::size_t i = 0; i < size; ++i)
            if (counts[i]) {
                os << (first ? "" : ",") << '"' << i << "\":" << counts[i];
                first = false;
            }
        os << '}';
    }
};

//! What a Counting backend counted. A plain aggregate whose counters start at zero however
//! it is made (`CountingStats s;` too): read the members; to_json prints it (the member list
//! is given once, to BOOST_HANA_ADAPT_STRUCT below, which checks it names every member).
struct CountingStats {
    std::uint64_t send_calls = 0;         //!< backend send calls
    std::uint64_t recv_calls = 0;         //!< backend receive calls
    std::uint64_t datagrams_sent = 0;     //!< accepted by the kernel
    std::uint64_t datagrams_failed = 0;   //!< rejected, each with its own error
    std::uint64_t datagrams_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;     //!< bytes placed in packets (after truncation)
    std::uint64_t would_block = 0;        //!< calls that stopped on back-pressure / empty queue
    std::uint64_t interrupted = 0;        //!< calls that stopped on EINTR
    std::uint64_t truncations = 0;        //!< received datagrams longer than their buffer
    std::uint64_t gso_fallbacks = 0;      //!< trains resent as plain datagrams (Inner::fallbacks())
    CallHistogram send_sizes{};           //!< datagrams per send call
    CallHistogram recv_sizes{};           //!< datagrams per receive call
    ErrnoCounts errors{};                 //!< every error seen, send and receive, by errno
};

} // namespace mmsg

BOOST_HANA_ADAPT_STRUCT(mmsg::CountingStats, send_calls, recv_calls, datagrams_sent,
                        datagrams_failed, datagrams_received, bytes_sent, bytes_received,
                        would_block, interrupted, truncations, gso_fallbacks, send_sizes,
                        recv_sizes, errors);

namespace mmsg {

// Every member is in the adapted list: a member added above and forgotten there would be
// silently missing from to_json.
static_assert(sizeof(CountingStats) == 11 * sizeof(std::uint64_t) + 2 * sizeof(CallHistogram) +
                                           sizeof(ErrnoCounts),
              "CountingStats: a member is not listed in BOOST_HANA_ADAPT_STRUCT");
static_assert(boost::hana::length(boost::hana::accessors<CountingStats>()) == 14,
              "CountingStats: BOOST_HANA_ADAPT_STRUCT must list all 14 members");

//! `stats` as one line of JSON.
inline std::string to_json(const CountingStats& stats) {
    std::ostringstream os;
    detail::write_json(os, stats);
    return os.str();
}

/*! A backend that forwards every call to `Inner` and counts what it did (CountingStats).

    Counting costs a pass over the datagrams of each call (sizes and outcomes), no system
    call and no allocation. It has every optional member Inner has (send_trains,
    recv_coalesced, probe), so wrapping a backend keeps its fast paths. GSO fallbacks: if Inner has the optional member
    `std::size_t fallbacks() const` (trains it had to resend as plain datagrams, as
    LinuxGsoBackend has), gso_fallbacks follows it; any backend may offer that member.
    Not thread-safe (like every backend).
*/
template <class Inner>
class Counting {
public:
    static constexpr bool carries_metadata = carries_metadata_v<Inner>;
    Counting() requires std::default_initializable<Inner>
    = default;
    explicit Counting(Inner inner) : inner_(std::move(inner)) {}

    Inner& inner() noexcept { return inner_; }
    const Inner& inner() const noexcept { return inner_; }

    //! The counters so far.
    const CountingStats& stats() const noexcept { return stats_; }
    //! Sets every counter to zero.
    void reset() noexcept { stats_ = CountingStats{}; }

    //! Forwards Inner's probe (see Fallback), if it has one.
    std::error_code probe(int fd) requires requires(Inner& b) { b.probe(fd); }
    { return inner_.probe(fd); }

    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) requires SendBackend<Inner> {
        const SendOutcome out = inner_.send(s, items, errors, mode);
        const detail::SendCall call = detail::read_send(out, errors, items.size());
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < call.done; ++i) bytes += outcome(errors[i], items[i].size);
        count_send(call, bytes);
        return out;
    }

    //! TrainSendBackend, when Inner is one: trains go to Inner whole and are counted in
    //! datagrams, as send counts them (so BatchSender<Counting<Inner>> keeps Inner's train
    //! path).
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> trains,
                            std::span<std::error_code> errors, WaitMode mode)
        requires TrainSendBackend<Inner>
    {
        std::size_t offered = 0;
        for (const SendTrain& t : trains) offered += t.datagrams();
        const SendOutcome out = inner_.send_trains(s, trains, errors, mode);
        const detail::SendCall call = detail::read_send(out, errors, offered);
        std::uint64_t bytes = 0;
        std::size_t i = 0; // datagram, counted across the trains
        for (const SendTrain& t : trains) {
            if (i == call.done) break;
            for (std::size_t j = 0, d = t.datagrams(); j < d && i < call.done; ++j, ++i)
                bytes += outcome(errors[i], t.datagram(j).size());
        }
        count_send(call, bytes);
        return out;
    }

    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode,
                     std::error_code& ec) requires RecvBackend<Inner> {
        return count_received(inner_.recv(s, slots, mode, ec), slots, ec);
    }

    //! CoalescingRecvBackend, when Inner is one: counted like recv, in datagrams (a
    //! coalesced run counts as its segments, so that datagrams_received and recv_sizes
    //! agree with what the sender's datagrams_sent counted), bytes as received.
    std::size_t recv_coalesced(SocketRef s, std::span<const CoalescedSlot> slots, WaitMode mode,
                               std::error_code& ec) requires CoalescingRecvBackend<Inner> {
        return count_received(inner_.recv_coalesced(s, slots, mode, ec), slots, ec);
    }

private:
    //! A datagram of `size` bytes with outcome `e`: its bytes if it was sent, else 0 (its
    //! error counted).
    std::uint64_t outcome(const std::error_code& e, std::size_t size) noexcept {
        if (!e) return size;
        stats_.errors.add(e);
        return 0;
    }
    //! Counts a send call read as `call`, whose sent datagrams held `bytes`.
    void count_send(const detail::SendCall& call, std::uint64_t bytes) noexcept {
        ++stats_.send_calls;
        stats_.datagrams_sent += call.accepted;
        stats_.datagrams_failed += call.done - call.accepted;
        stats_.bytes_sent += bytes;
        stats_.send_sizes.add(call.done);
        switch (call.stop) {
        case detail::SendStop::would_block: ++stats_.would_block; break;
        case detail::SendStop::interrupted: ++stats_.interrupted; break;
        case detail::SendStop::rejected: // the datagram after `done` was attempted and rejected
            ++stats_.datagrams_failed;
            stats_.errors.add(call.error);
            break;
        case detail::SendStop::finished:
        case detail::SendStop::short_call: break;
        }
        if constexpr (requires(const Inner& b) {
                          { b.fallbacks() } -> std::convertible_to<std::size_t>;
                      }) {
            const std::size_t f = inner_.fallbacks();
            stats_.gso_fallbacks += f - last_fallbacks_;
            last_fallbacks_ = f;
        }
    }

    //! Counts a receive call that filled `got` of `slots` (RecvSlot or CoalescedSlot).
    template <class Slot>
    std::size_t count_received(std::size_t got, std::span<const Slot> slots, const std::error_code& ec) noexcept {
        ++stats_.recv_calls;
        std::size_t datagrams = 0;
        for (std::size_t i = 0; i < got && i < slots.size(); ++i) {
            datagrams += datagrams_in(slots[i]);
            stats_.bytes_received += slots[i].meta->size;
            if (has_flags(slots[i].meta->flags, PacketFlags::truncated)) ++stats_.truncations;
        }
        stats_.datagrams_received += datagrams;
        stats_.recv_sizes.add(datagrams);
        count_error(ec);
        return got;
    }
    //! The datagrams a filled slot holds: a RecvSlot one; a CoalescedSlot its segments in the
    //! buffer (as BasicCoalescedPacket::segments() counts them), an empty datagram one.
    static std::size_t datagrams_in(const RecvSlot&) noexcept { return 1; }
    static std::size_t datagrams_in(const CoalescedSlot& s) noexcept {
        const std::span<const std::byte> bytes(s.data, std::min(s.meta->size, s.capacity));
        return std::max<std::size_t>(1, SegmentView(bytes, *s.segment_size).size());
    }
    void count_error(const std::error_code& ec) noexcept {
        if (!ec) return;
        if (detail::is_would_block(ec)) ++stats_.would_block;
        else if (detail::is_interrupted(ec)) ++stats_.interrupted;
        else stats_.errors.add(ec);
    }

    Inner inner_{};
    CountingStats stats_{};
    std::size_t last_fallbacks_ = 0;
};

} // namespace mmsg

#endif // MMSG_COUNTING_HPP
