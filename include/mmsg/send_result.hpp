//! Defines mmsg::SendResult, the per-batch account of a send.
#ifndef MMSG_SEND_RESULT_HPP
#define MMSG_SEND_RESULT_HPP

#include <cstddef>
#include <system_error>

namespace mmsg {

//! What happened to a batch. Every datagram is counted exactly once:
//! sent + failed + unsent == batch size.
struct SendResult {
    std::size_t sent = 0;   //!< datagrams the kernel accepted
    std::size_t failed = 0; //!< datagrams rejected, each with its own error
    std::size_t unsent = 0; //!< not attempted because the socket would block; they are the
                            //!< suffix starting at index sent + failed
    std::error_code first_error{}; //!< error of the first failed datagram
    bool fatal = false;            //!< the socket itself is unusable (EBADF, ENOTSOCK, ...)

    [[nodiscard]] bool ok() const noexcept { return failed == 0 && unsent == 0; }
    //! Index of the first datagram not attempted: where a resumed send starts.
    [[nodiscard]] std::size_t resume_index() const noexcept { return sent + failed; }
    //! Datagrams accounted for (sent + failed + unsent).
    [[nodiscard]] std::size_t total() const noexcept { return sent + failed + unsent; }

    friend bool operator==(const SendResult&, const SendResult&) = default;
};

} // namespace mmsg

#endif // MMSG_SEND_RESULT_HPP
