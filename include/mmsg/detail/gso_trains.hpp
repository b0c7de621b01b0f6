//! Train planning for UDP segmentation offload: which datagrams of a send go together as one
//! UDP_SEGMENT message. Pure functions, tested without a kernel.
#ifndef MMSG_DETAIL_GSO_TRAINS_HPP
#define MMSG_DETAIL_GSO_TRAINS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_limits.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include <netinet/in.h>
#include <sys/socket.h>

namespace mmsg::detail {

//! True when two endpoints name the same destination (family, address, port, and for IPv6
//! flow label and scope), compared on the raw sockaddr without building address objects.
inline bool same_destination(const Endpoint& a, const Endpoint& b) noexcept {
    if (&a == &b) return true;
    const auto* sa = static_cast<const sockaddr*>(static_cast<const void*>(a.data()));
    const auto* sb = static_cast<const sockaddr*>(static_cast<const void*>(b.data()));
    if (sa->sa_family != sb->sa_family) return false;
    if (sa->sa_family == AF_INET) {
        const auto* x = reinterpret_cast<const sockaddr_in*>(sa);
        const auto* y = reinterpret_cast<const sockaddr_in*>(sb);
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const auto* x = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(sb);
    return x->sin6_port == y->sin6_port && x->sin6_flowinfo == y->sin6_flowinfo &&
           x->sin6_scope_id == y->sin6_scope_id &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}
//! The same for SendItem destinations, where null is the connected peer.
inline bool same_destination(const Endpoint* a, const Endpoint* b) noexcept {
    if (a == b) return true;
    return a != nullptr && b != nullptr && same_destination(*a, *b);
}

//! One message of a send: datagrams [first, first + count) of the call. A train when
//! count > 1: every datagram `segment` bytes but the last, which may be shorter.
struct PlannedMessage {
    std::size_t first = 0;
    std::size_t count = 1;
    std::size_t segment = 0;
    std::size_t bytes = 0;   //!< payload bytes of all its datagrams
    bool contiguous = true;  //!< the payloads lie back to back in memory (one buffer)
};

//! Whether `next` may ride in a train behind `head` that already holds `bytes` bytes (the
//! decision "can this datagram join?", apart from "send the train"): same destination and
//! options, not empty, not longer than the segment, and the train stays within `lim`.
inline bool joins_train(const SendItem& head, const SendItem& next, std::size_t bytes,
                        const GsoLimits& lim) noexcept {
    return next.size > 0 && next.size <= head.size && bytes + next.size <= lim.max_bytes &&
           same_destination(next.dest, head.dest) && same_options(next.options, head.options);
}

/*! Groups `items` into messages, in order: consecutive datagrams to the same destination,
    with the same options, of the same size (the last of a run may be shorter, and ends it), form a train of at
    most lim.max_segments datagrams and lim.max_bytes bytes. The first `plain_prefix`
    datagrams, zero-length ones, and any datagram when `lim` allows no trains, go one per
    message. Writes out[0, m), each with its bytes and whether its payloads lie back to back,
    and returns m (out.size() >= items.size()).
*/
inline std::size_t plan_trains(std::span<const SendItem> items, const GsoLimits& lim,
                               std::size_t plain_prefix, std::span<PlannedMessage> out) noexcept {
    // One pass, a few compares per datagram: this loop runs for every datagram sent.
    const std::size_t n = items.size();
    const std::size_t max_segments = lim.max_segments;
    const std::size_t max_bytes = lim.max_bytes;
    const SendItem* const it = items.data();
    std::size_t m = 0;
    for (std::size_t i = 0; i < n;) {
        const SendItem& head = it[i];
        const std::size_t size = head.size;
        std::size_t k = 1;
        std::size_t bytes = size;
        bool back_to_back = true;
        if (max_segments > 1 && i >= plain_prefix && size > 0 && size <= 0xffff) {
            // Datagrams of the head's size: as many as the segment and byte limits allow.
            const std::size_t cap = std::min({max_segments, n - i, max_bytes / size});
            const Endpoint* const dest = head.dest;
            const SendOptions* const options = head.options;
            const std::byte* end = head.data + size;
            while (k < cap) {
                const SendItem& next = it[i + k];
                // The same destination and options objects (the usual case: one branch),
                // else equal ones.
                if (!((next.size == size) & (next.dest == dest) & (next.options == options)) &&
                    (next.size != size || !same_destination(next.dest, dest) ||
                     !same_options(next.options, options)))
                    break;
                back_to_back &= next.data == end;
                end = next.data + size;
                ++k;
            }
            bytes = k * size;
            // A shorter datagram may end the train.
            if (k < max_segments && i + k < n) {
                const SendItem& next = it[i + k];
                if (next.size < size && joins_train(head, next, bytes, lim)) {
                    back_to_back &= next.data == end;
                    bytes += next.size;
                    ++k;
                }
            }
        }
        out[m++] = PlannedMessage{i, k, k > 1 ? size : 0, bytes, back_to_back};
        i += k;
    }
    return m;
}

//! True when the payloads of items[0, count) lie back to back in memory (slices of one
//! buffer), so a train of them is one contiguous run that needs no copy.
inline bool contiguous(std::span<const SendItem> items) noexcept {
    for (std::size_t j = 1; j < items.size(); ++j)
        if (items[j].data != items[j - 1].data + items[j - 1].size) return false;
    return true;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_GSO_TRAINS_HPP
