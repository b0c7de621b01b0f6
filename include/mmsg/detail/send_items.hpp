//! Turns user batch elements (payload, destination) into SendItems.
#ifndef MMSG_DETAIL_SEND_ITEMS_HPP
#define MMSG_DETAIL_SEND_ITEMS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/endpoint.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

namespace mmsg {

//! A payload: a contiguous range of one-byte elements (std::byte, char, unsigned char, ...).
template <class B>
concept ByteBuffer = std::ranges::contiguous_range<const B> && std::ranges::sized_range<const B> &&
    sizeof(std::ranges::range_value_t<const B>) == 1 &&
    std::is_trivially_copyable_v<std::ranges::range_value_t<const B>>;

//! A destination: an Endpoint (by value or reference), a pointer to one, or a
//! std::reference_wrapper of one.
template <class D>
concept Destination = std::same_as<std::remove_cvref_t<D>, Endpoint> ||
    std::same_as<std::remove_cvref_t<D>, Endpoint*> ||
    std::same_as<std::remove_cvref_t<D>, const Endpoint*> ||
    std::same_as<std::remove_cvref_t<D>, std::reference_wrapper<Endpoint>> ||
    std::same_as<std::remove_cvref_t<D>, std::reference_wrapper<const Endpoint>>;

namespace detail {

template <ByteBuffer B>
std::span<const std::byte> bytes_of(const B& b) noexcept {
    return {reinterpret_cast<const std::byte*>(std::ranges::data(b)), std::ranges::size(b)};
}

template <Destination D>
const Endpoint* endpoint_ptr(const D& d) noexcept {
    using T = std::remove_cvref_t<D>;
    if constexpr (std::same_as<T, Endpoint>) return &d;
    else if constexpr (std::is_pointer_v<T>) return d;
    else return &d.get();
}

//! An element of a batch: pair-like (payload, destination), read with std::get.
template <class E>
concept BatchElement = requires(const E& e) {
    { std::get<0>(e) } -> ByteBuffer;
    { std::get<1>(e) } -> Destination;
};

// Items must point into storage that outlives the call: an element the range makes on the
// fly (a prvalue) may only carry a view payload and a pointer-like destination.
template <class R, class E = std::ranges::range_value_t<const R>>
inline constexpr bool elements_are_stable =
    std::is_lvalue_reference_v<std::ranges::range_reference_t<const R>> ||
    (std::ranges::borrowed_range<std::tuple_element_t<0, E>> &&
     !std::same_as<std::remove_cvref_t<std::tuple_element_t<1, E>>, Endpoint>);

template <class E>
SendItem item_of(const E& e) noexcept {
    const auto b = bytes_of(std::get<0>(e));
    return {b.data(), b.size(), endpoint_ptr(std::get<1>(e))};
}

} // namespace detail
} // namespace mmsg

#endif // MMSG_DETAIL_SEND_ITEMS_HPP
