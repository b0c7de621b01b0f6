//! Reads a backend's SendOutcome (see backend_concepts.hpp) once, for every layer that needs
//! its meaning: BatchSender's accounting, Counting's counters, FaultInjecting's script.
#ifndef MMSG_DETAIL_SEND_OUTCOME_HPP
#define MMSG_DETAIL_SEND_OUTCOME_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace mmsg::detail {

//! Why a send call stopped before the end of what it was offered.
enum class SendStop : std::uint8_t {
    finished,    //!< every datagram offered has its outcome
    short_call,  //!< stopped without a reason (as sendmmsg after a partial send): call again
    interrupted, //!< EINTR: items[done] was not attempted
    would_block, //!< back-pressure: items[done] was not attempted
    rejected,    //!< items[done] was attempted and rejected with `error` (maybe fatally)
};

//! What one backend send call did, read from its SendOutcome.
struct SendCall {
    std::size_t done = 0;     //!< datagrams with a final outcome: errors[0, done)
    std::size_t accepted = 0; //!< of those, the ones the kernel accepted
    SendStop stop = SendStop::finished;
    std::error_code error{};  //!< the stop's error (interrupted, would_block, rejected)

    //! Datagrams the call attempted: its outcomes, and the rejected one it stopped at.
    std::size_t attempted() const noexcept { return done + (stop == SendStop::rejected ? 1 : 0); }
};

//! How many of `errors` are empty (accepted datagrams).
inline std::size_t count_accepted(std::span<const std::error_code> errors) noexcept {
    // Runs over every datagram of every call: counted in locals, four at a time.
    std::size_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    std::size_t i = 0;
    const std::size_t n = errors.size();
    for (; i + 4 <= n; i += 4) {
        a0 += errors[i].value() == 0;
        a1 += errors[i + 1].value() == 0;
        a2 += errors[i + 2].value() == 0;
        a3 += errors[i + 3].value() == 0;
    }
    for (; i < n; ++i)
        a0 += errors[i].value() == 0;
    return a0 + a1 + a2 + a3;
}

//! Reads the outcome of a call that was offered `offered` datagrams and wrote `errors`.
//! A `done` beyond `offered` is clamped (a backend must not claim more than it was given).
inline SendCall read_send(const SendOutcome& out, std::span<const std::error_code> errors,
                          std::size_t offered) noexcept {
    SendCall c;
    c.done = std::min(out.done, offered);
    if (out.accepted != SendOutcome::unknown && out.done <= offered) {
        c.accepted = out.accepted; // the backend counted them (checked in debug builds)
        assert(c.accepted == count_accepted(errors.first(c.done)));
    } else {
        c.accepted = count_accepted(errors.first(c.done));
    }
    if (c.done == offered) return c;
    c.error = out.error;
    if (!out.error) c.stop = SendStop::short_call;
    else if (is_interrupted(out.error)) c.stop = SendStop::interrupted;
    else if (is_would_block(out.error)) c.stop = SendStop::would_block;
    else c.stop = SendStop::rejected;
    return c;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SEND_OUTCOME_HPP
