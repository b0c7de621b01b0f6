//! detail::send_in_trains: one send call of a GSO backend (LinuxGsoBackend, IoUringGsoBackend):
//! plan and build the messages, hand them to the system-call layer, settle their results,
//! and resend a train the path refused as plain datagrams. The one place the train fallback
//! lives; the system call is a parameter.
#ifndef MMSG_DETAIL_TRAIN_SEND_HPP
#define MMSG_DETAIL_TRAIN_SEND_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_UDP_GSO

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/send_items.hpp>
#include <mmsg/detail/settle_messages.hpp>
#include <mmsg/detail/train_messages.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/send_train.hpp>

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>

#include <sys/socket.h>

namespace mmsg::detail {

//! What a GSO backend remembers about a socket's trains (a SocketState part of each).
struct TrainsOff {
    bool off = false; //!< a train failed for lack of offload: no more trains on the socket
};

template <class Submit>
SettledMessages submit_trains(TrainMessages& trains, std::size_t m, std::span<std::error_code> errors,
                              bool suspect, TrainsOff& off, Submit& submit, bool write_accepted);

/*! Sends `items` (not empty, at most TrainMessages::max_send) in trains within `lim`, through
    `submit(v, m, linked_from, results)`: hand the m messages v[0, m) to the kernel, in order,
    and write each one's outcome to results[j] (empty: accepted; its error; ECANCELED for one
    the kernel did not reach, e.g. after the message a sendmmsg stopped at). Messages from
    `linked_from` on must behave as a sendmmsg does: none is attempted after one that failed
    (io_uring links them). It is 0 when the messages hold a train, so that nothing goes
    after a train that failed (it can be resent in order) or would block (it stays unsent:
    back-pressure is never a failure); m when they are all plain datagrams, which a layer
    may then send independently, each with its own outcome.

    The results are settled by settle_messages. A train the path refused (EIO, EINVAL,
    EMSGSIZE) is sent again at once as plain datagrams, in the same call (counted in
    `fallbacks`); if the first of them then goes through alone after EIO or EINVAL, the
    offload was at fault and `off` is set: the socket builds no more trains. Returns the
    call's SendOutcome (with its accepted count); errors[0, done) are written (only the
    failed ones when `write_accepted` is false: see FailuresOnly).
*/
template <class Submit>
SendOutcome send_in_trains(TrainMessages& trains, std::span<const SendItem> items,
                           std::span<std::error_code> errors, const GsoLimits& lim, TrainsOff& off,
                           std::size_t& fallbacks, Submit&& submit, bool write_accepted = true,
                           std::size_t plain_prefix = 0, bool suspect = false) {
    // plain_prefix: datagrams at items[base] that must go one per message; suspect: a train
    // failed for its offload and its datagrams go plain (both set when a train was refused).
    std::size_t base = 0;     // datagrams settled by earlier rounds of this call
    std::size_t accepted = 0; // of those, the accepted ones
    for (;;) {
        std::error_code refused;
        const std::size_t m = trains.build(items.subspan(base), off.off ? GsoLimits::none() : lim,
                                           plain_prefix, refused);
        if (m == 0) return {base, refused, accepted}; // the first datagram's options are refused
        const SettledMessages s =
            submit_trains(trains, m, errors.subspan(base), suspect, off, submit, write_accepted);
        accepted += s.accepted;
        if (s.resend == 0) return {base + s.done, s.error, accepted};
        ++fallbacks;
        base += s.done;
        plain_prefix = s.resend;
        suspect = s.offload_suspect;
    }
}

/*! send_in_trains for trains given whole (SendTrain, at most TrainMessages::max_send datagrams
    are taken): no planning per datagram. A train the path refuses, and what follows it, go
    on as send_in_trains sends them, the refused one as plain datagrams, through `spill` (room
    for TrainMessages::max_send items).
*/
template <class Submit>
SendOutcome send_whole_trains(TrainMessages& trains, std::span<const SendTrain> whole,
                              std::span<std::error_code> errors, const GsoLimits& lim, TrainsOff& off,
                              std::size_t& fallbacks, std::span<SendItem> spill, Submit&& submit,
                              bool write_accepted = true) {
    std::error_code refused;
    const std::size_t m = trains.build_trains(whole, off.off ? GsoLimits::none() : lim, refused);
    if (m == 0) return {0, refused}; // the first train's options are refused
    const SettledMessages s = submit_trains(trains, m, errors, false, off, submit, write_accepted);
    if (s.resend == 0) return {s.done, s.error, s.accepted};
    ++fallbacks;
    const PlannedMessage& last = trains.plan(m - 1);
    const std::size_t n = train_items(whole, s.done, last.first + last.count - s.done, spill);
    const SendOutcome rest = send_in_trains(trains, spill.first(n), errors.subspan(s.done), lim, off,
                                            fallbacks, submit, write_accepted, s.resend,
                                            s.offload_suspect);
    return {s.done + rest.done, rest.error, s.accepted + rest.accepted};
}

//! One round of the two above: hands the m messages built to `submit` and settles them
//! (settle_messages). When `suspect` and the first message (a datagram of a refused train,
//! alone) went through, the offload was at fault, not the destination: no more trains on
//! this socket.
template <class Submit>
SettledMessages submit_trains(TrainMessages& trains, std::size_t m, std::span<std::error_code> errors,
                              bool suspect, TrainsOff& off, Submit& submit, bool write_accepted) {
    std::size_t linked_from = m;
    for (std::size_t j = 0; j < m && linked_from == m; ++j)
        if (trains.plan(j).count > 1) linked_from = 0;
    std::error_code* res = trains.results();
    submit(trains.headers(), m, linked_from, res);
    const SettledMessages s = settle_messages(
        m, [res](std::size_t j) { return res[j]; },
        [&trains](std::size_t j) {
            const PlannedMessage& p = trains.plan(j);
            return MessageSpan{p.first, p.count};
        },
        errors, write_accepted);
    if (suspect && !res[0]) off.off = true;
    return s;
}

/*! The `submit` of send_in_trains for a sendmmsg-like call `send(v, m, ec)` (messages sent
    from the front, or -1 and ec): every message it took is accepted, the one it stopped at
    failed with ec (when it took none), the rest were not reached.
*/
template <class SendMmsg>
void submit_as_sendmmsg(SendMmsg&& send, mmsghdr* v, std::size_t m, std::error_code* res) {
    std::error_code ec;
    const int r = send(v, static_cast<unsigned>(m), ec);
    std::size_t j = 0;
    if (r < 0) res[j++] = ec ? ec : errno_code(EIO); // (a layer that failed without saying why)
    for (; j < static_cast<std::size_t>(r > 0 ? r : 0); ++j)
        res[j] = {};
    for (; j < m; ++j)
        res[j] = std::make_error_code(std::errc::operation_canceled);
}

} // namespace mmsg::detail

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_DETAIL_TRAIN_SEND_HPP
