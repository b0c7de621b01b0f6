//! Defines the SocketLike concept (a socket argument: a descriptor, or anything with
//! native_handle()) and detail::native, which turns one into its descriptor.
#ifndef MMSG_SOCKET_LIKE_HPP
#define MMSG_SOCKET_LIKE_HPP

#include <concepts>
#include <type_traits>

namespace mmsg {

//! A socket argument: a native handle, or an object whose native_handle() returns one
//! (boost::asio::ip::udp::socket, ...). For MockBackend, the handle MockNetwork::open returned.
template <class S>
concept SocketLike = std::integral<std::remove_cvref_t<S>> || requires(S& s) {
    { s.native_handle() } -> std::convertible_to<int>;
};

namespace detail {

template <SocketLike S>
int native(S&& s) noexcept(std::integral<std::remove_cvref_t<S>>) {
    if constexpr (std::integral<std::remove_cvref_t<S>>)
        return static_cast<int>(s);
    else
        return static_cast<int>(s.native_handle());
}

} // namespace detail
} // namespace mmsg

#endif // MMSG_SOCKET_LIKE_HPP
