//! The chunks BatchSender's loop sends from: a batch's next datagrams (at most
//! max_send_batch), offered to the backend a window at a time. One kind per way a batch
//! reaches the backend: SendItems made from the caller's elements, the caller's trains
//! handed over whole, or elements gathered into trains (both for a TrainSendBackend).
#ifndef MMSG_DETAIL_SEND_CHUNKS_HPP
#define MMSG_DETAIL_SEND_CHUNKS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/gso_trains.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/send_train.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace mmsg::detail {

// Both kinds: load(count) takes the batch's next `count` datagrams as the chunk; send(...)
// offers datagrams [off, off + offer) of it to the backend (off only grows within a chunk).
// `failures_only`: the backend may write only failed datagrams' outcomes (FailuresOnly),
// when it offers that form.

//! b.send(...) for SendItems, b.send_trains(...) for SendTrains, in the FailuresOnly form
//! when asked for and the backend has it.
template <class Backend, class What>
SendOutcome send_to(Backend& b, SocketRef s, std::span<const What> what,
                    std::span<std::error_code> errs, WaitMode mode, bool failures_only) {
    if constexpr (std::same_as<What, SendTrain>) {
        if constexpr (requires { b.send_trains(s, what, errs, mode, FailuresOnly{}); })
            if (failures_only) return b.send_trains(s, what, errs, mode, FailuresOnly{});
        return b.send_trains(s, what, errs, mode);
    } else {
        if constexpr (requires { b.send(s, what, errs, mode, FailuresOnly{}); })
            if (failures_only) return b.send(s, what, errs, mode, FailuresOnly{});
        return b.send(s, what, errs, mode);
    }
}

//! Elements made into SendItems by `make`, one per datagram, in `items`.
template <class Backend, class It, class MakeItem>
struct ItemChunks {
    Backend* backend;
    It it;
    MakeItem make;
    SendItem* items;
    void load(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i, ++it) items[i] = make(*it);
    }
    SendOutcome send(SocketRef s, std::size_t off, std::size_t offer,
                     std::span<std::error_code> errs, WaitMode mode, bool failures_only) {
        return send_to(*backend, s, std::span<const SendItem>(items + off, offer), errs, mode,
                       failures_only);
    }
};

//! Offers a chunk of trains, trains[0, count), to the backend, cut at the offer's edges.
template <class Backend>
struct TrainCursor {
    Backend* backend;
    SendTrain* trains;
    std::size_t count = 0;  // trains in the chunk ...
    std::size_t loaded = 0; // ... holding this many datagrams (set by the loader)
    std::size_t at = 0;     // the train holding datagram `first` ...
    std::size_t first = 0;  // ... which is its first

    void reset() noexcept { at = first = 0; }
    SendOutcome send(SocketRef s, std::size_t off, std::size_t offer,
                     std::span<std::error_code> errs, WaitMode mode, bool failures_only) {
        // The usual case, the whole chunk offered at once: the trains as loaded, nothing
        // counted or cut here.
        if (off == 0 && offer == loaded)
            return send_to(*backend, s, std::span<const SendTrain>(trains, count), errs, mode,
                           failures_only);
        SendTrain* const end = trains + count;
        SendTrain* head_at = trains + at;
        first = seek_datagram(head_at, end, off, first);
        at = static_cast<std::size_t>(head_at - trains);
        SendTrain* tail_at = head_at; // the train holding datagram off + offer - 1
        const std::size_t last_first = seek_datagram(tail_at, end, off + offer - 1, first);
        const std::size_t last = static_cast<std::size_t>(tail_at - trains);
        const SendTrain head = trains[at];
        const SendTrain tail = trains[last];
        trains[last] = tail.slice(0, off + offer - last_first);
        trains[at] = trains[at].slice(off - first, offer);
        const SendOutcome o = send_to(
            *backend, s, std::span<const SendTrain>(trains + at, last + 1 - at), errs, mode,
            failures_only);
        trains[last] = tail;
        trains[at] = head;
        return o;
    }
};

//! The caller's trains copied as they are, cut at the chunk's edges.
template <class Backend, class It>
struct TrainChunks {
    TrainCursor<Backend> cursor;
    It it;                 // the next train not wholly loaded
    std::size_t taken = 0; // datagrams of *it loaded by earlier chunks
    void load(std::size_t n) {
        cursor.reset();
        std::size_t count = 0;
        for (std::size_t d = 0; d < n; ++it, taken = 0) {
            const std::size_t left = (*it).datagrams() - taken; // the one division per train
            const std::size_t k = std::min(left, n - d);
            cursor.trains[count++] = (*it).slice(taken, k);
            d += k;
            if (k < left) {
                taken += k;
                break; // the train goes on in the next chunk
            }
        }
        cursor.count = count;
        cursor.loaded = n;
    }
    SendOutcome send(SocketRef s, std::size_t off, std::size_t offer,
                     std::span<std::error_code> errs, WaitMode mode, bool failures_only) {
        return cursor.send(s, off, offer, errs, mode, failures_only);
    }
};

/*! Elements for a backend that takes trains whole: load() gathers runs of datagrams of one
    size, destination and options whose payloads lie back to back into SendTrains (reading
    each element once and writing one SendTrain per run, not one SendItem per datagram);
    the backend cuts them into messages as plan_trains cuts runs, a shorter datagram after
    a run included (TrainMessages::build_trains). Where plan_trains would put a datagram in
    a train that is not back to back in memory (which the backend would copy into one, or
    send one iovec each) the chunk goes as SendItems, planned as usual. Either way the
    messages are the ones plan_trains makes, so every outcome is the same (a seeded test
    compares them). `It` must be a forward iterator (loaded twice).
*/
template <class Backend, class It, class MakeItem>
struct ElementChunks {
    TrainCursor<Backend> cursor;
    It it;
    MakeItem make;
    SendItem* items;
    bool as_items = false;

    void load(std::size_t n) {
        cursor.reset();
        as_items = !gather(n);
        if (!as_items) return;
        for (std::size_t i = 0; i < n; ++i, ++it) items[i] = make(*it);
    }
    SendOutcome send(SocketRef s, std::size_t off, std::size_t offer,
                     std::span<std::error_code> errs, WaitMode mode, bool failures_only) {
        if (as_items)
            return send_to(*cursor.backend, s, std::span<const SendItem>(items + off, offer), errs,
                           mode, failures_only);
        return cursor.send(s, off, offer, errs, mode, failures_only);
    }

private:
    static std::uintptr_t bits(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }
    // The next n elements as trains (false: a run is not back to back).
    bool gather(std::size_t n) {
        SendTrain* out = cursor.trains;
        std::size_t m = 0;
        const std::byte* start = nullptr; // the open train: its payload so far ...
        const std::byte* end = nullptr;
        std::size_t segment = 0;          // ... its first datagram's size ...
        const Endpoint* dest = nullptr;   // ... destination and options
        const SendOptions* options = nullptr;
        bool open = false;                // more datagrams may join it
        auto close = [&] {
            if (m > 0) out[m - 1].payload = {start, static_cast<std::size_t>(end - start)};
        };
        // The usual case, four at a time with one branch: the same size, destination and
        // options objects, next in memory. Returns false at a block with anything else.
        auto four_more = [&](It& p) {
            // One accumulator per field: independent chains, not one long one.
            std::uintptr_t sizes = 0, places = 0, targets = 0;
            std::uintptr_t e = bits(end);
            for (int k = 0; k < 4; ++k, ++p, e += segment) {
                const SendItem x = make(*p);
                sizes |= x.size ^ segment;
                places |= bits(x.data) ^ e;
                targets |= (bits(x.dest) ^ bits(dest)) | (bits(x.options) ^ bits(options));
            }
            if ((sizes | places | targets) != 0) return false;
            end += 4 * segment;
            return true;
        };
        It at = it; // in a local: the loop runs for every datagram sent
        for (std::size_t i = 0; i < n; ++i, ++at) {
            if (open) {
                while (n - i >= 4) {
                    It p = at;
                    if (!four_more(p)) break;
                    at = p;
                    i += 4;
                }
                if (i == n) break;
            }
            const SendItem x = make(*at);
            if (open) {
                if ((x.size == segment) & (x.data == end) & (x.dest == dest) & (x.options == options)) {
                    end += segment;
                    continue;
                }
                // One that plan_trains would put in the train (the same size) or at its end
                // (a shorter one: the backend does that, from the next train's front) must
                // lie right behind it.
                if (x.size > 0 && x.size <= segment && same_destination(x.dest, dest) &&
                    same_options(x.options, options)) {
                    if (x.data != end) return false; // a train, but scattered (`it` unmoved)
                    if (x.size == segment) {
                        end += segment;
                        continue;
                    }
                }
            }
            close();
            out[m++] = SendTrain{{}, x.size, x.dest, x.options};
            start = x.data;
            end = x.data + x.size;
            segment = x.size;
            dest = x.dest;
            options = x.options;
            open = x.size > 0 && x.size <= 0xffff;
        }
        close();
        it = at;
        cursor.count = m;
        cursor.loaded = n;
        return true;
    }
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SEND_CHUNKS_HPP
