//! Turns user batch elements (payload, destination[, options], or a payload alone), and the
//! datagrams of SendTrains, into SendItems.
#ifndef MMSG_DETAIL_SEND_ITEMS_HPP
#define MMSG_DETAIL_SEND_ITEMS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_batch.hpp>
#include <mmsg/send_train.hpp>

#include <algorithm>
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
    if constexpr (std::same_as<T, ConnectedPeer>) return nullptr;
    else if constexpr (std::same_as<T, Endpoint>) return &d;
    else if constexpr (std::is_pointer_v<T>) return d;
    else return &d.get();
}

template <OptionsRef O>
const SendOptions* options_ptr(const O& o) noexcept {
    using T = std::remove_cvref_t<O>;
    if constexpr (std::same_as<T, SendOptions>) return &o;
    else if constexpr (std::is_pointer_v<T>) return o;
    else return &o.get();
}

template <class E>
constexpr bool options_by_value() {
    if constexpr (arity<E>() == 3)
        return std::same_as<std::remove_cvref_t<std::tuple_element_t<2, E>>, SendOptions>;
    else
        return false;
}

// Items must point into storage that outlives the call: an element the range makes on the
// fly (a prvalue) may only carry a view payload, a pointer-like destination and options
// that are not held by value.
template <class E>
constexpr bool element_is_stable() {
    if constexpr (ByteBuffer<E>)
        return std::ranges::borrowed_range<E>;
    else
        return std::ranges::borrowed_range<std::tuple_element_t<0, E>> &&
               !std::same_as<std::remove_cvref_t<std::tuple_element_t<1, E>>, Endpoint> &&
               !options_by_value<E>();
}
template <class R, class E = std::ranges::range_value_t<const R>>
inline constexpr bool elements_are_stable =
    std::is_lvalue_reference_v<std::ranges::range_reference_t<const R>> || element_is_stable<E>();

template <class E>
SendItem item_of(const E& e) noexcept {
    if constexpr (ByteBuffer<E>) {
        const auto b = bytes_of(e);
        return {b.data(), b.size(), nullptr}; // a payload alone: to the connected peer
    } else {
    const auto b = bytes_of(std::get<0>(e));
    if constexpr (arity<E>() == 3)
        return {b.data(), b.size(), endpoint_ptr(std::get<1>(e)), options_ptr(std::get<2>(e))};
    else
        return {b.data(), b.size(), endpoint_ptr(std::get<1>(e))};
    }
}

//! Datagram i of train t as a SendItem.
inline SendItem train_item(const SendTrain& t, std::size_t i) noexcept {
    const std::span<const std::byte> d = t.datagram(i);
    return {d.data(), d.size(), t.dest, t.options};
}

//! Walks the datagrams of a range of SendTrains from `it`, one SendItem each (for backends
//! that do not take trains whole).
template <class It>
class TrainDatagrams {
public:
    explicit TrainDatagrams(It it) : it_(std::move(it)) {}
    SendItem operator*() const { return train_item(*it_, i_); }
    TrainDatagrams& operator++() {
        if (n_ == 0) n_ = (*it_).datagrams();
        if (++i_ == n_) {
            ++it_;
            i_ = n_ = 0;
        }
        return *this;
    }

private:
    It it_;
    std::size_t i_ = 0; // datagram of *it_
    std::size_t n_ = 0; // datagrams of *it_ (0: not counted yet)
};

//! Writes datagrams [from, from + count) of `trains` (counted across them, in order) to
//! `out` as SendItems, at most out.size() of them and no further than the trains' end;
//! returns how many.
inline std::size_t train_items(std::span<const SendTrain> trains, std::size_t from,
                               std::size_t count, std::span<SendItem> out) noexcept {
    std::size_t total = 0;
    for (const SendTrain& t : trains) total += t.datagrams();
    if (from >= total) return 0;
    count = std::min({count, out.size(), total - from});
    TrainDatagrams d(trains.begin());
    for (std::size_t i = 0; i < from; ++i) ++d; // (a refused train's fallback only)
    for (std::size_t k = 0; k < count; ++k, ++d) out[k] = *d;
    return count;
}

} // namespace detail
} // namespace mmsg

#endif // MMSG_DETAIL_SEND_ITEMS_HPP
