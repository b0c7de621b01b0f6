//! Defines mmsg::SendTrain: datagrams laid back to back in one buffer, all to one destination,
//! as a QUIC stack writes its packets for segmentation offload. BatchSender::send_trains sends
//! ranges of them, accounting for every datagram.
#ifndef MMSG_SEND_TRAIN_HPP
#define MMSG_SEND_TRAIN_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/send_options.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <ranges>
#include <span>
#include <type_traits>

namespace mmsg {

/*! `payload` cut into datagrams of `segment` bytes each, the last one possibly shorter; with
    `segment` 0 (or not less than the payload) the payload is one datagram, also when empty.
    Every datagram goes to `dest` (null: the socket's connected peer) with `options` (null:
    none). A train counts as datagrams() datagrams everywhere a send is accounted for
    (SendResult, the status span, resume_index()). The pointers must stay valid for the call.
*/
struct SendTrain {
    std::span<const std::byte> payload;
    std::size_t segment = 0;
    const Endpoint* dest = nullptr;
    const SendOptions* options = nullptr;

    //! Whether it holds one datagram (datagrams() == 1, without a division).
    [[nodiscard]] constexpr bool one_datagram() const noexcept {
        return segment == 0 || payload.size() <= segment;
    }
    //! The datagrams it holds: at least 1.
    [[nodiscard]] constexpr std::size_t datagrams() const noexcept {
        if (one_datagram()) return 1;
        return (payload.size() + segment - 1) / segment;
    }
    //! The train of datagrams [first, first + count) of this one (count clamped to the rest).
    //! Precondition: first < datagrams(). No division: trains are sliced on every send.
    [[nodiscard]] constexpr SendTrain slice(std::size_t first, std::size_t count) const noexcept {
        if (one_datagram()) return *this;
        const std::size_t at = first * segment;
        const std::size_t rest = payload.size() - at;
        std::size_t bytes = 0;
        if (__builtin_mul_overflow(count, segment, &bytes) || bytes > rest) bytes = rest;
        return {payload.subspan(at, bytes), segment, dest, options};
    }
    //! The bytes of datagram i. Precondition: i < datagrams().
    [[nodiscard]] constexpr std::span<const std::byte> datagram(std::size_t i) const noexcept {
        if (one_datagram()) return payload;
        const std::size_t at = i * segment;
        return payload.subspan(at, std::min(segment, payload.size() - at));
    }
};

//! A range of SendTrains that BatchSender::send_trains can walk twice (once to count).
template <class R>
concept SendTrainRange = std::ranges::forward_range<const R> &&
    std::same_as<std::remove_cvref_t<std::ranges::range_reference_t<const R>>, SendTrain>;

namespace detail {

//! Moves `it` forward (not past `end`) to the train holding datagram `i`, datagrams counted
//! across the trains with `*it`'s first being datagram `before`; returns how many datagrams
//! come before the train `it` then points at (`end` when there are no more than i).
template <class It, class End>
std::size_t seek_datagram(It& it, const End& end, std::size_t i, std::size_t before = 0) {
    for (std::size_t d; it != end && before + (d = (*it).datagrams()) <= i; ++it) before += d;
    return before;
}

} // namespace detail
} // namespace mmsg

#endif // MMSG_SEND_TRAIN_HPP
