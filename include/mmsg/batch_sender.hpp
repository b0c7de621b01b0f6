//! Defines mmsg::BatchSender, the batching send algorithm, and the free functions
//! mmsg::batch_send / mmsg::multi_target_send on the default backend.
#ifndef MMSG_BATCH_SENDER_HPP
#define MMSG_BATCH_SENDER_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/native_handle.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_items.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_result.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace mmsg {

//! A batch for batch_send: a sized range of pair-like (payload, destination) elements.
template <class R>
concept SendBatch = std::ranges::input_range<const R> && std::ranges::sized_range<const R> &&
    detail::BatchElement<std::ranges::range_value_t<const R>>;

//! A destination list for multi_target_send: a sized range of destinations.
template <class R>
concept DestinationList = std::ranges::input_range<const R> && std::ranges::sized_range<const R> &&
    Destination<std::ranges::range_reference_t<const R>>;

namespace detail {
inline void check_status(std::span<std::error_code> status, std::size_t n) {
    if (status.size() < n)
        throw std::invalid_argument("mmsg::BatchSender: the status span has " +
                                    std::to_string(status.size()) + " elements but the batch has " +
                                    std::to_string(n) + "; nothing was sent");
}
} // namespace detail

/*! The send half of mmsg: sends batches of datagrams through `Backend`, many per system
    call, and accounts for every datagram exactly once, in input order.

    - A datagram the kernel rejects (EACCES, EAFNOSUPPORT, ENETUNREACH, EMSGSIZE, ...) is
      counted failed and the batch goes on with the next one.
    - EINTR is retried. EAGAIN/EWOULDBLOCK/ENOBUFS stop the batch: the rest is `unsent`
      (resume from SendResult::resume_index()).
    - A socket-level error (EBADF, ENOTSOCK, EFAULT, EPIPE, EOPNOTSUPP, EDESTADDRREQ) stops
      the batch with `fatal`; that datagram and all after it count as failed with it.
    - Batches of any size are cut into chunks of max_send_batch; a failure in one chunk
      never stops later chunks. An empty batch makes no system call.
    - After the first call, no call allocates: the item arrays are kept and reused.
    - Dense rejections do not make a batch quadratic. A backend builds its arrays for every
      datagram it is offered, and the kernel stops at each rejected one, so a batch where
      most datagrams fail would rebuild ~n/2 headers per datagram. When fewer than 64
      datagrams were accepted since the previous rejection, the next call offers 64, and
      four times more after each call that takes all it was offered. Rejections at least
      64 apart, and the first rejection of a batch, change nothing: every call offers all
      the rest of the chunk.

    `Buffer` is the payload type of multi_target_send; batch_send takes any byte buffer.
    Not thread-safe: use one BatchSender per thread (they are cheap until first used).
*/
template <class Backend = DefaultBackend, class Buffer = std::span<const std::byte>>
class BatchSender {
    static_assert(SendBackend<Backend>,
                  "mmsg::BatchSender<Backend>: Backend does not model mmsg::SendBackend. It needs "
                  "a member `SendOutcome send(int, std::span<const SendItem>, "
                  "std::span<std::error_code>, WaitMode)` (see mmsg/backend_concepts.hpp).");
    static_assert(ByteBuffer<Buffer>, "mmsg::BatchSender<Backend, Buffer>: Buffer must be a "
                                      "contiguous, sized range of one-byte elements");

public:
    using backend_type = Backend;
    using buffer_type = Buffer;

    BatchSender() requires std::default_initializable<Backend> = default;
    explicit BatchSender(Backend b) : backend_(std::move(b)) {}

    Backend& backend() noexcept { return backend_; }
    const Backend& backend() const noexcept { return backend_; }

    //! Sends packets[i].first to packets[i].second for every i, in order. Blocks as the
    //! socket's mode says. Throws only std::bad_alloc (on first use).
    template <SocketLike Socket, SendBatch Packets>
    SendResult batch_send(Socket&& s, const Packets& packets) {
        return send_batch(detail::native(s), packets, {}, WaitMode::socket_default);
    }

    //! Same, and status[i] receives datagram i's outcome: {} sent, its error if it failed,
    //! std::errc::operation_would_block if unsent. Throws std::invalid_argument (and sends
    //! nothing) if status.size() < packets.size().
    template <SocketLike Socket, SendBatch Packets>
    SendResult batch_send(Socket&& s, const Packets& packets, std::span<std::error_code> status) {
        check_status(status, std::ranges::size(packets));
        return send_batch(detail::native(s), packets, status, WaitMode::socket_default);
    }

    //! Sends `payload` to every destination, in order.
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests) {
        return send_multi(detail::native(s), payload, dests, {}, WaitMode::socket_default);
    }
    //! Same, with a per-destination status (see batch_send).
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests,
                                 std::span<std::error_code> status) {
        check_status(status, std::ranges::size(dests));
        return send_multi(detail::native(s), payload, dests, status, WaitMode::socket_default);
    }

    //! Non-blocking forms for any event loop: never wait, even on a blocking socket (every
    //! call uses MSG_DONTWAIT). When the socket is full, the rest is reported `unsent`;
    //! wait until it is writable, then call again with the batch from resume_index().
    template <SocketLike Socket, SendBatch Packets>
    SendResult try_batch_send(Socket&& s, const Packets& packets,
                              std::span<std::error_code> status = {}) {
        if (!status.empty()) check_status(status, std::ranges::size(packets));
        return send_batch(detail::native(s), packets, status, WaitMode::never);
    }
    template <SocketLike Socket, DestinationList Dests>
    SendResult try_multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests,
                                     std::span<std::error_code> status = {}) {
        if (!status.empty()) check_status(status, std::ranges::size(dests));
        return send_multi(detail::native(s), payload, dests, status, WaitMode::never);
    }

    //! The algorithm itself, for layers built on BatchSender (the asynchronous one): sends
    //! the batch with the given wait mode. An empty `status` means "not wanted".
    template <SendBatch Packets>
    SendResult send_batch(int fd, const Packets& packets, std::span<std::error_code> status,
                          WaitMode mode) {
        static_assert(detail::elements_are_stable<Packets>,
                      "mmsg::batch_send: the range makes its elements on the fly and they own "
                      "their payload or endpoint; pass a container (or a view of one) instead");
        return run(fd, std::ranges::begin(packets), std::ranges::size(packets), status, mode,
                   [](const auto& e) { return detail::item_of(e); });
    }
    template <ByteBuffer Payload, DestinationList Dests>
    SendResult send_multi(int fd, const Payload& payload, const Dests& dests,
                          std::span<std::error_code> status, WaitMode mode) {
        static_assert(!std::same_as<std::ranges::range_reference_t<const Dests>, Endpoint>,
                      "mmsg::multi_target_send: the range makes Endpoints on the fly; pass a "
                      "container of endpoints (or of pointers to them) instead");
        const auto bytes = detail::bytes_of(payload);
        return run(fd, std::ranges::begin(dests), std::ranges::size(dests), status, mode,
                   [bytes](const auto& d) {
                       return SendItem{bytes.data(), bytes.size(), detail::endpoint_ptr(d)};
                   });
    }

private:
    static void check_status(std::span<std::error_code> status, std::size_t n) {
        detail::check_status(status, n);
    }

    template <class It, class MakeItem>
    SendResult run(int fd, It it, std::size_t n, std::span<std::error_code> status, WaitMode mode,
                   MakeItem make) {
        SendResult r;
        if (n == 0) return r;
        SendItem* items = items_.get(max_send_batch);
        std::error_code* scratch = errors_.get(max_send_batch);

        auto fail = [&](std::error_code e) {
            ++r.failed;
            if (!r.first_error) r.first_error = e;
        };
        // Marks [from, n) with `e`: unsent (would-block) or failed (fatal).
        auto finish_rest = [&](std::size_t from, std::error_code e, bool unsent) {
            const std::size_t rest = n - from;
            if (unsent) r.unsent += rest;
            else {
                r.failed += rest;
                if (!r.first_error) r.first_error = e;
                r.fatal = true;
            }
            if (!status.empty()) std::fill(status.begin() + from, status.begin() + n, e);
            return r;
        };

        // Datagrams offered per call (see the class comment), and accepted since the last
        // rejection.
        std::size_t window = max_send_batch;
        std::size_t accepted = max_send_batch;
        for (std::size_t base = 0; base < n;) {
            const std::size_t chunk = std::min(n - base, max_send_batch);
            for (std::size_t i = 0; i < chunk; ++i, ++it) items[i] = make(*it);

            std::size_t off = 0;
            std::size_t stalls = 0;
            while (off < chunk) {
                const std::size_t offer = std::min(chunk - off, window);
                std::span<std::error_code> errs =
                    status.empty() ? std::span<std::error_code>(scratch + off, offer)
                                   : status.subspan(base + off, offer);
                const SendOutcome out =
                    backend_.send(fd, std::span<const SendItem>(items + off, offer), errs, mode);
                const std::size_t done = std::min(out.done, offer);
                accepted += done;
                for (std::size_t j = 0; j < done; ++j) {
                    if (!errs[j]) {
                        ++r.sent;
                        continue;
                    }
                    fail(errs[j]);
                    if (detail::is_fatal(errs[j])) {
                        // Outcomes up to `done` are final; nothing after it will be tried.
                        for (std::size_t k = j + 1; k < done; ++k)
                            errs[k] ? fail(errs[k]) : void(++r.sent);
                        return finish_rest(base + off + done, errs[j], false);
                    }
                }
                off += done;
                if (off == chunk) break;

                const std::error_code e = out.error;
                if (!e) {
                    // A backend that moves nothing and says nothing would spin us forever:
                    // after a few tries, treat it as back-pressure.
                    if (done == 0 && ++stalls > 3)
                        return finish_rest(base + off, detail::would_block_code(), true);
                    if (done == offer) window = std::min(window * 4, max_send_batch);
                    continue;
                }
                stalls = 0;
                if (detail::is_interrupted(e)) continue;
                if (detail::is_would_block(e))
                    return finish_rest(base + off, detail::would_block_code(), true);
                if (detail::is_fatal(e)) return finish_rest(base + off, e, false);
                // That one datagram was rejected: count it and go on with the next.
                fail(e);
                if (!status.empty()) status[base + off] = e;
                ++off;
                window = accepted < resume_window ? resume_window : max_send_batch;
                accepted = 0;
            }
            base += chunk;
        }
        return r;
    }

    //! What a call offers after dense rejections (see the class comment).
    static constexpr std::size_t resume_window = 64;

    Backend backend_{};
    detail::Scratch<SendItem> items_;
    detail::Scratch<std::error_code> errors_;
};

namespace detail {
// One sender per thread serves every free-function call: no allocation after first use.
inline BatchSender<DefaultBackend>& thread_sender() {
    thread_local BatchSender<DefaultBackend> s;
    return s;
}
} // namespace detail

//! batch_send on DefaultBackend. See BatchSender::batch_send.
template <SocketLike Socket, SendBatch Packets>
SendResult batch_send(Socket&& s, const Packets& packets) {
    return detail::thread_sender().batch_send(s, packets);
}
template <SocketLike Socket, SendBatch Packets>
SendResult batch_send(Socket&& s, const Packets& packets, std::span<std::error_code> status) {
    return detail::thread_sender().batch_send(s, packets, status);
}

//! multi_target_send on DefaultBackend, with the payload type deduced.
//! See BatchSender::multi_target_send.
template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
SendResult multi_target_send(Socket&& s, const Payload& payload, const Dests& dests) {
    return detail::thread_sender().send_multi(detail::native(s), payload, dests, {},
                                              WaitMode::socket_default);
}
template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
SendResult multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                             std::span<std::error_code> status) {
    detail::check_status(status, std::ranges::size(dests));
    return detail::thread_sender().send_multi(detail::native(s), payload, dests, status,
                                              WaitMode::socket_default);
}

} // namespace mmsg

#endif // MMSG_BATCH_SENDER_HPP
