//! The chunks BatchSender's loop sends from: a batch's next datagrams (at most
//! max_send_batch), offered to the backend a window at a time. One kind per way a batch
//! reaches the backend: SendItems made from the caller's elements, or trains handed over
//! whole (TrainSendBackend).
#ifndef MMSG_DETAIL_SEND_CHUNKS_HPP
#define MMSG_DETAIL_SEND_CHUNKS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/send_train.hpp>

#include <cstddef>
#include <span>
#include <system_error>

namespace mmsg::detail {

// Both kinds: load(count) takes the batch's next `count` datagrams as the chunk; send(...)
// offers datagrams [off, off + offer) of it to the backend (off only grows within a chunk).

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
                     std::span<std::error_code> errs, WaitMode mode) {
        return backend->send(s, std::span<const SendItem>(items + off, offer), errs, mode);
    }
};

//! Trains copied into `trains` as they are, cut at the chunk's and the offer's edges.
template <class Backend, class It>
struct TrainChunks {
    Backend* backend;
    It it;                 // the next train not wholly loaded
    SendTrain* trains;     // the chunk's trains
    std::size_t taken = 0; // datagrams of *it loaded by earlier chunks
    std::size_t count = 0; // trains in the chunk
    std::size_t at = 0;    // the chunk's train holding datagram `first` ...
    std::size_t first = 0; // ... which is its first
    void load(std::size_t n) {
        count = at = first = 0;
        for (std::size_t d = 0; d < n; ++it, taken = 0) {
            const SendTrain t = (*it).slice(taken, n - d);
            trains[count++] = t;
            d += t.datagrams();
            if (taken + t.datagrams() < (*it).datagrams()) {
                taken += t.datagrams();
                break; // the train goes on in the next chunk
            }
        }
    }
    SendOutcome send(SocketRef s, std::size_t off, std::size_t offer,
                     std::span<std::error_code> errs, WaitMode mode) {
        for (std::size_t d; first + (d = trains[at].datagrams()) <= off; ++at) first += d;
        std::size_t last = at; // the train holding datagram off + offer - 1
        std::size_t last_first = first;
        for (std::size_t d; last_first + (d = trains[last].datagrams()) < off + offer; ++last)
            last_first += d;
        const SendTrain head = trains[at];
        const SendTrain tail = trains[last];
        trains[last] = tail.slice(0, off + offer - last_first);
        trains[at] = trains[at].slice(off - first, offer);
        const SendOutcome o = backend->send_trains(
            s, std::span<const SendTrain>(trains + at, last + 1 - at), errs, mode);
        trains[last] = tail;
        trains[at] = head;
        return o;
    }
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SEND_CHUNKS_HPP
