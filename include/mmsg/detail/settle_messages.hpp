//! Turns the results of one send of several messages (a sendmmsg, or a batch of io_uring
//! sends) into the backend contract's terms: which datagrams were sent or failed, where the
//! call stopped and why, and whether a refused train must be resent as plain datagrams.
//! Pure: tested and fuzzed without a kernel. The one place these rules live, for
//! LinuxGsoBackend, IoUringGsoBackend and IoUringBackend.
#ifndef MMSG_DETAIL_SETTLE_MESSAGES_HPP
#define MMSG_DETAIL_SETTLE_MESSAGES_HPP

#include <mmsg/detail/errors.hpp>

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>

namespace mmsg::detail {

//! The datagrams [first, first + count) of a call, sent as one message (a UDP_SEGMENT train
//! when count > 1).
struct MessageSpan {
    std::size_t first = 0;
    std::size_t count = 1;
};

//! The result of a message the kernel did not attempt: back-pressure, an interruption, or
//! ECANCELED, which stands for "not reached" (a linked io_uring send after a failed one, a
//! message after the one a sendmmsg stopped at).
inline bool not_attempted(const std::error_code& e) noexcept {
    return is_would_block(e) || is_interrupted(e) || e == std::errc::operation_canceled;
}

//! Errors for which a train, refused as a whole, is resent as plain datagrams: the path has
//! no segmentation offload (EIO, EINVAL), or the train is too large for it (EMSGSIZE).
inline bool train_refused(const std::error_code& e) noexcept {
    return e == std::errc::io_error || e == std::errc::invalid_argument ||
           e == std::errc::message_size;
}

//! What settle_messages found.
struct SettledMessages {
    //! Datagrams from the front with a final outcome (errors[0, done) written).
    std::size_t done = 0;
    //! Why the call stopped at items[done], as SendOutcome::error says (when resend == 0).
    std::error_code error{};
    //! Non-zero: the train at items[done] (this many datagrams) was refused as a whole
    //! (train_refused) and nothing after it went: send them again, as plain datagrams.
    std::size_t resend = 0;
    //! That refusal was the offload's (EIO, EINVAL), not the size's (EMSGSIZE).
    bool offload_suspect = false;
    //! Of errors[0, done), the empty ones (accepted datagrams).
    std::size_t accepted = 0;
};

/*! Settles `m` messages (m > 0) sent in order: message j carried the datagrams `shape(j)`
    (a MessageSpan; together they cover the call's datagrams from the front, in order), and
    `result(j)` is its outcome: empty when the kernel accepted it, else its error. Writes
    errors[i] for the datagrams with a final outcome (not for accepted ones when
    `write_accepted` is false: errors is then empty on entry, see FailuresOnly):
      - an accepted message: empty for each of its datagrams;
      - a message not attempted (not_attempted) stops the call there, unless a later message
        was accepted: then it cannot stay unsent (nothing may go twice or out of order), and
        each of its datagrams fails, with ENOBUFS (back-pressure) or ECANCELED;
      - a socket-level error (is_fatal) stops the call there, unless a later message went;
      - a train refused as a whole (train_refused) with nothing accepted after it stops
        there, asking for a resend (SettledMessages::resend);
      - any other error is the message's own: each of its datagrams fails with it. A plain
        datagram's error followed by a message not reached (ECANCELED) stops the call at
        that datagram, reported as its error, as sendmmsg reports it.
*/
template <class Result, class Shape>
SettledMessages settle_messages(std::size_t m, Result result, Shape shape,
                                std::span<std::error_code> errors,
                                bool write_accepted = true) noexcept {
    std::size_t last_sent = m; // the last accepted message (m: none)
    for (std::size_t j = m; j-- > 0;)
        if (!result(j)) {
            last_sent = j;
            break;
        }
    // `e` by value: a store into errors cannot change it, so the loop need not reload it
    // (by reference, 1.5 -> 1.0 ns a datagram in mmsg-perf's library rows at batches of 64).
    auto fill = [&](const MessageSpan& p, const std::error_code e) {
        std::error_code* const out = errors.data() + p.first;
        for (std::size_t i = 0; i < p.count; ++i) out[i] = e;
    };
    std::size_t accepted = 0;
    for (std::size_t j = 0; j < m; ++j) {
        const MessageSpan p = shape(j);
        const std::error_code e = result(j);
        if (!e) {
            if (write_accepted) fill(p, {}); // else they are empty already (FailuresOnly)
            accepted += p.count;
            continue;
        }
        const bool later_sent = last_sent != m && last_sent > j;
        if (not_attempted(e)) {
            if (!later_sent)
                return {p.first, e == std::errc::operation_canceled ? std::error_code{} : e, 0,
                        false, accepted};
            fill(p, e == std::errc::operation_canceled ? e : errno_code(ENOBUFS));
            continue;
        }
        if (!later_sent) {
            if (is_fatal(e)) return {p.first, e, 0, false, accepted};
            if (p.count > 1 && train_refused(e))
                return {p.first, {}, p.count, e != std::errc::message_size, accepted};
            if (p.count == 1 && j + 1 < m && result(j + 1) == std::errc::operation_canceled)
                return {p.first, e, 0, false, accepted};
        }
        fill(p, e);
    }
    const MessageSpan last = shape(m - 1);
    return {last.first + last.count, {}, 0, false, accepted};
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SETTLE_MESSAGES_HPP
