//! Defines the datagram helpers that the conformance kit and mmsg's own tests share:
//! numbered payloads (order and integrity checkable), byte comparison, a raw sendto that
//! bypasses mmsg, and MMSG_CHECK_ERRC (a Boost.Test check of an error code).
#ifndef MMSG_TESTING_DATAGRAMS_HPP
#define MMSG_TESTING_DATAGRAMS_HPP

#include <mmsg/endpoint.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

#include <sys/socket.h>

//! Checks (with BOOST_TEST, so Boost.Test must be included where it is used) that an error
//! code matches a std::errc condition, printing both when it does not.
#define MMSG_CHECK_ERRC(ec, errc_value)                                                            \
    BOOST_TEST(((ec) == (errc_value)),                                                             \
               "error is '" << (ec).message() << "' (" << (ec).value() << "), expected '"          \
                            << std::make_error_code(errc_value).message() << "'")

namespace mmsg::testing {

using Bytes = std::vector<std::byte>;

//! A payload of `size` bytes that carries `index` in its first four bytes (as far as it has
//! room) and a pattern derived from it after that, so order and integrity both show.
inline Bytes numbered(std::size_t size, std::uint32_t index) {
    Bytes p(size);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = static_cast<std::byte>((index * 31u + i * 7u + 1u) & 0xffu);
    if (size > 0) std::memcpy(p.data(), &index, std::min<std::size_t>(size, sizeof index));
    return p;
}

//! `n` payloads of `size` bytes numbered first, first + 1, ...
inline std::vector<Bytes> numbered_payloads(std::size_t n, std::size_t size,
                                            std::uint32_t first = 0) {
    std::vector<Bytes> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(numbered(size, first + static_cast<std::uint32_t>(i)));
    return v;
}

//! The index a numbered() payload of at least four bytes carries.
inline std::uint32_t number_of(std::span<const std::byte> payload) {
    std::uint32_t index = 0;
    std::memcpy(&index, payload.data(), std::min(payload.size(), sizeof index));
    return index;
}

//! True when `got` holds exactly the bytes of `want`.
inline bool same_bytes(std::span<const std::byte> got, std::span<const std::byte> want) {
    return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

//! One plain sendto(2) from descriptor `fd`, independent of mmsg (to feed a receive under
//! test). Returns 0, or the errno of the failure.
inline int send_raw(int fd, const Endpoint& to, std::span<const std::byte> payload) {
    const auto r = ::sendto(fd, payload.data(), payload.size(), 0,
                            static_cast<const sockaddr*>(static_cast<const void*>(to.data())),
                            static_cast<socklen_t>(to.size()));
    return r < 0 ? errno : 0;
}

//! True when nothing is queued on descriptor `fd` (a non-waiting receive would block).
inline bool nothing_queued(int fd) {
    std::byte b[1];
    const auto r = ::recv(fd, b, sizeof b, MSG_DONTWAIT | MSG_PEEK);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace mmsg::testing

#endif // MMSG_TESTING_DATAGRAMS_HPP
