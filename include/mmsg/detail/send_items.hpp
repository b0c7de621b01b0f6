//! Turns user batch elements (payload, destination) into SendItems.
#ifndef MMSG_DETAIL_SEND_ITEMS_HPP
#define MMSG_DETAIL_SEND_ITEMS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_batch.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

namespace mmsg {

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
