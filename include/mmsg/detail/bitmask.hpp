//! The bitwise operators of mmsg's flag enums (PacketFlags, Metadata), written once: an
//! enum opts in by specialising detail::bitmask_bits with the bits `~` keeps.
#ifndef MMSG_DETAIL_BITMASK_HPP
#define MMSG_DETAIL_BITMASK_HPP

#include <type_traits>

namespace mmsg {

namespace detail {
//! Specialise with `static constexpr E value` = every bit the enum uses.
template <class E>
struct bitmask_bits;

template <class E>
concept Bitmask = std::is_enum_v<E> && requires { bitmask_bits<E>::value; };

template <Bitmask E>
constexpr std::underlying_type_t<E> bits(E e) noexcept {
    return static_cast<std::underlying_type_t<E>>(e);
}
} // namespace detail

template <detail::Bitmask E>
constexpr E operator|(E a, E b) noexcept {
    return static_cast<E>(detail::bits(a) | detail::bits(b));
}
template <detail::Bitmask E>
constexpr E operator&(E a, E b) noexcept {
    return static_cast<E>(detail::bits(a) & detail::bits(b));
}
template <detail::Bitmask E>
constexpr E operator^(E a, E b) noexcept {
    return static_cast<E>(detail::bits(a) ^ detail::bits(b));
}
//! The complement within the enum's bits.
template <detail::Bitmask E>
constexpr E operator~(E a) noexcept {
    return static_cast<E>(~detail::bits(a) & detail::bits(detail::bitmask_bits<E>::value));
}
template <detail::Bitmask E>
constexpr E& operator|=(E& a, E b) noexcept {
    return a = a | b;
}
template <detail::Bitmask E>
constexpr E& operator&=(E& a, E b) noexcept {
    return a = a & b;
}
template <detail::Bitmask E>
constexpr E& operator^=(E& a, E b) noexcept {
    return a = a ^ b;
}

} // namespace mmsg

#endif // MMSG_DETAIL_BITMASK_HPP
