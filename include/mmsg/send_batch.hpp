//! Defines the concepts of what BatchSender sends: ByteBuffer (a payload), Destination,
//! OptionsRef, a batch element (payload, destination[, options], or a payload alone),
//! SendBatch, DestinationList; and mmsg::connected_peer.
#ifndef MMSG_SEND_BATCH_HPP
#define MMSG_SEND_BATCH_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/send_options.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <tuple>
#include <type_traits>

namespace mmsg {

//! A payload: a contiguous range of one-byte elements (std::byte, char, unsigned char, ...).
template <class B>
concept ByteBuffer = std::ranges::contiguous_range<const B> && std::ranges::sized_range<const B> &&
    sizeof(std::ranges::range_value_t<const B>) == 1 &&
    std::is_trivially_copyable_v<std::ranges::range_value_t<const B>>;

/*! The destination "the socket's connected peer": the datagram goes without an address
    (no msg_name), so the kernel uses the route it keeps for the connection instead of
    looking one up per datagram (or per GSO train): cheaper, see doc/transport.adoc. On a
    socket that is not connected such a datagram fails with EDESTADDRREQ, which ends the
    batch (fatal; IoUringBackend, where every datagram has its own completion, fails that
    datagram alone). A null `const Endpoint*` destination means the same.
*/
struct ConnectedPeer {
    friend constexpr bool operator==(ConnectedPeer, ConnectedPeer) noexcept = default;
};
inline constexpr ConnectedPeer connected_peer{};

//! A destination: an Endpoint (by value or reference), a pointer to one (null: the
//! connected peer), a std::reference_wrapper of one, or connected_peer.
template <class D>
concept Destination = std::same_as<std::remove_cvref_t<D>, ConnectedPeer> ||
    std::same_as<std::remove_cvref_t<D>, Endpoint> ||
    std::same_as<std::remove_cvref_t<D>, Endpoint*> ||
    std::same_as<std::remove_cvref_t<D>, const Endpoint*> ||
    std::same_as<std::remove_cvref_t<D>, std::reference_wrapper<Endpoint>> ||
    std::same_as<std::remove_cvref_t<D>, std::reference_wrapper<const Endpoint>>;

//! The options of a datagram in a batch element: a SendOptions by value or reference, a
//! std::reference_wrapper of one, or a pointer to one (null: default options).
template <class O>
concept OptionsRef = std::same_as<std::remove_cvref_t<O>, SendOptions> ||
    std::same_as<std::remove_cvref_t<O>, SendOptions*> ||
    std::same_as<std::remove_cvref_t<O>, const SendOptions*> ||
    std::same_as<std::remove_cvref_t<O>, std::reference_wrapper<SendOptions>> ||
    std::same_as<std::remove_cvref_t<O>, std::reference_wrapper<const SendOptions>>;

namespace detail {
template <class E>
constexpr std::size_t arity() {
    if constexpr (requires { std::tuple_size<E>::value; }) return std::tuple_size<E>::value;
    else return 0;
}
} // namespace detail

//! An element of a batch: a payload alone (for the connected peer, as connected_peer),
//! or, read with std::get, pair-like (payload, destination) or tuple-like (payload,
//! destination, options).
template <class E>
concept BatchElement = ByteBuffer<E> || (requires(const E& e) {
    { std::get<0>(e) } -> ByteBuffer;
    { std::get<1>(e) } -> Destination;
} && (detail::arity<E>() != 3 || requires(const E& e) {
    { std::get<2>(e) } -> OptionsRef;
}));

//! A batch for batch_send: a sized range of batch elements.
template <class R>
concept SendBatch = std::ranges::input_range<const R> && std::ranges::sized_range<const R> &&
    BatchElement<std::ranges::range_value_t<const R>>;

//! A destination list for multi_target_send: a sized range of destinations.
template <class R>
concept DestinationList = std::ranges::input_range<const R> && std::ranges::sized_range<const R> &&
    Destination<std::ranges::range_reference_t<const R>>;

} // namespace mmsg

#endif // MMSG_SEND_BATCH_HPP
