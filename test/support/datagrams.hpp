//! Test support: numbered payloads, raw loopback sends and error-code checks shared by the
//! core and backend suites. Only loopback addresses are ever used (the project's network rule).
#ifndef MMSG_TEST_SUPPORT_DATAGRAMS_HPP
#define MMSG_TEST_SUPPORT_DATAGRAMS_HPP

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

//! Checks that an error code matches a std::errc condition, printing the actual error.
//! (Boost.Test is not included here: the test file includes it after BOOST_TEST_MODULE.)
#define MMSG_CHECK_ERRC(ec, errc_value)                                                        \
    BOOST_TEST(((ec) == (errc_value)), "error is '" << (ec).message() << "' (" << (ec).value() \
                                                    << "), expected '"                         \
                                                    << std::make_error_code(errc_value).message() << "'")

namespace mmsg::test {

//! A payload of `size` bytes that carries `index` in its first four bytes (when it has room)
//! and a pattern derived from it after that, so order and integrity can both be checked.
inline std::vector<std::byte> numbered(std::size_t size, std::uint32_t index) {
    std::vector<std::byte> p(size);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = static_cast<std::byte>((index * 31u + i * 7u + 1u) & 0xffu);
    if (size > 0) std::memcpy(p.data(), &index, std::min<std::size_t>(size, sizeof index));
    return p;
}

//! True when `got` holds exactly the bytes of `want`.
inline bool same_bytes(std::span<const std::byte> got, std::span<const std::byte> want) {
    return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

//! One plain sendto(2), independent of mmsg, for receive tests. Returns errno or 0.
inline int send_raw(int fd, const Endpoint& to, std::span<const std::byte> payload) {
    const auto r = ::sendto(fd, payload.data(), payload.size(), 0,
                            static_cast<const sockaddr*>(static_cast<const void*>(to.data())),
                            static_cast<socklen_t>(to.size()));
    return r < 0 ? errno : 0;
}

//! True when nothing is queued on `fd` (a non-waiting receive would block).
inline bool nothing_queued(int fd) {
    std::byte b[1];
    const auto r = ::recv(fd, b, sizeof b, MSG_DONTWAIT | MSG_PEEK);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_DATAGRAMS_HPP
