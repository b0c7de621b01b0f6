//! Turns the completion results of one io_uring batch into the backend contract's terms
//! (pure functions, tested without a kernel): which datagrams were sent, failed or left
//! unsent, and which were received, with holes closed.
#ifndef MMSG_DETAIL_URING_COMPLETIONS_HPP
#define MMSG_DETAIL_URING_COMPLETIONS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/settle_messages.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>

#include <sys/socket.h>

namespace mmsg::detail {

//! A completion result (-errno) that means "not done for lack of room or time", not a
//! rejection: back-pressure or an interruption, as detail/errors.hpp classifies them.
inline bool uring_would_block(int res) noexcept {
    if (res >= 0) return false;
    const std::error_code e = errno_code(-res);
    return is_would_block(e) || is_interrupted(e);
}

/*! Settles a batch of sends, one datagram per submission, from their completion results
    `res` (bytes sent, or -errno), in submission order: settle_messages's rules. Would-block
    results after the last accepted datagram are the unsent suffix: `done` stops before them
    and `error` is the first one's. A would-block result *before* an accepted datagram cannot
    be left unsent (a later datagram already went): it is reported as failed with ENOBUFS.
    Writes errors[0, done).
*/
inline SendOutcome settle_sends(std::span<const int> res,
                                std::span<std::error_code> errors) noexcept {
    if (res.empty()) return {0, {}};
    const SettledMessages s = settle_messages(
        res.size(),
        [res](std::size_t j) { return res[j] < 0 ? errno_code(-res[j]) : std::error_code{}; },
        [](std::size_t j) {
            return MessageSpan{j, 1};
        },
        errors);
    return {s.done, s.error, s.accepted};
}

//! What settle_receives found: `got` datagrams in slots[0, got); `stop`: the first error
//! that is not would-block (0: none).
struct SettledReceives {
    std::size_t got = 0;
    int stop = 0;
};

/*! Settles a batch of receives: `res[i]` (bytes, or -errno) is the result of the
    submission that read into slots[i] with message header hdr[i]. The submissions ran in
    order, so the datagrams are in queue order; one that found the queue empty for an
    instant leaves a hole, closed by moving later datagrams (payload and meta) up. Every
    datagram received is delivered, even after an error. Assigns *slots[k].meta for k < got;
    what the control messages say about the socket goes to `state`.
*/
inline SettledReceives settle_receives(std::span<const int> res, std::span<const RecvSlot> slots,
                                       std::span<const msghdr> hdr, SocketState& state) noexcept {
    SettledReceives s;
    for (std::size_t i = 0; i < res.size(); ++i) {
        const int r = res[i];
        if (r < 0) {
            if (!uring_would_block(r) && s.stop == 0) s.stop = r;
            continue;
        }
        if (s.got != i) {
            const std::size_t len =
                std::min({static_cast<std::size_t>(r), slots[i].capacity, slots[s.got].capacity});
            std::memmove(slots[s.got].data, slots[i].data, len);
        }
        decode_received(hdr[i], static_cast<std::size_t>(r), slots[s.got].capacity,
                        *slots[s.got].meta, state);
        ++s.got;
    }
    return s;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_URING_COMPLETIONS_HPP
