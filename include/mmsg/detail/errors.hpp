//! Classification of send/receive errors: the one place that decides what is fatal,
//! what is back-pressure and what is an interruption.
#ifndef MMSG_DETAIL_ERRORS_HPP
#define MMSG_DETAIL_ERRORS_HPP

#include <cerrno>
#include <system_error>

namespace mmsg::detail {

inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

inline std::error_code would_block_code() noexcept {
    return std::make_error_code(std::errc::operation_would_block);
}

//! EINTR: retried, never a failure.
inline bool is_interrupted(const std::error_code& ec) noexcept {
    return ec == std::errc::interrupted;
}

//! EAGAIN/EWOULDBLOCK/ENOBUFS: back-pressure, never a failure.
inline bool is_would_block(const std::error_code& ec) noexcept {
    return ec == std::errc::operation_would_block ||
           ec == std::errc::resource_unavailable_try_again ||
           ec == std::errc::no_buffer_space;
}

//! Errors that say the socket itself is unusable, so no later datagram can succeed.
inline bool is_fatal(const std::error_code& ec) noexcept {
    return ec == std::errc::bad_file_descriptor || ec == std::errc::not_a_socket ||
           ec == std::errc::wrong_protocol_type || // not a datagram socket (EPROTOTYPE)
           ec == std::errc::bad_address || ec == std::errc::broken_pipe ||
           ec == std::errc::operation_not_supported ||
           ec == std::errc::destination_address_required;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ERRORS_HPP
