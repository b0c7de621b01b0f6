//! Defines detail::recv_one_segment_each: a coalesced receive through a backend that never
//! coalesces, written once for BatchReceiver and Fallback.
#ifndef MMSG_DETAIL_ONE_SEGMENT_EACH_HPP
#define MMSG_DETAIL_ONE_SEGMENT_EACH_HPP

#include <mmsg/backend_concepts.hpp>

#include <cstddef>
#include <span>
#include <system_error>

namespace mmsg::detail {

/*! Receives into `slots` through `b.recv`, each datagram its own packet of one segment
    (its segment size its length), as a coalescing backend reports a datagram it did not
    coalesce. `plain` is room for slots.size() RecvSlots (the caller's, allocated once).
    Returns what b.recv returns, `ec` set by it.
*/
template <class B, class S>
std::size_t recv_one_segment_each(B& b, S s, std::span<const CoalescedSlot> slots, RecvSlot* plain,
                                  WaitMode mode, std::error_code& ec) {
    const std::size_t n = slots.size();
    for (std::size_t k = 0; k < n; ++k)
        plain[k] = RecvSlot{slots[k].data, slots[k].capacity, slots[k].meta};
    const std::size_t got = b.recv(s, std::span<const RecvSlot>(plain, n), mode, ec);
    for (std::size_t k = 0; k < got && k < n; ++k) *slots[k].segment_size = slots[k].meta->size;
    return got;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ONE_SEGMENT_EACH_HPP
