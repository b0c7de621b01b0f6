//! Defines mmsg::BatchSender, the batching send algorithm, and the free functions
//! mmsg::batch_send / mmsg::multi_target_send / mmsg::send_trains on the default backend.
//! (Over 300 lines: the algorithm and every public form of it, kept in one place.)
#ifndef MMSG_BATCH_SENDER_HPP
#define MMSG_BATCH_SENDER_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_chunks.hpp>
#include <mmsg/detail/send_items.hpp>
#include <mmsg/detail/send_outcome.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/send_batch.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/socket_state.hpp>

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

namespace detail {
inline void check_status(std::span<std::error_code> status, std::size_t n) {
    if (status.size() < n)
        throw std::invalid_argument("mmsg::BatchSender: the status span has " +
                                    std::to_string(status.size()) + " elements but the batch has " +
                                    std::to_string(n) + "; nothing was sent");
}
} // namespace detail

/*! The send half of mmsg: sends batches through `Backend`, many datagrams per system call,
    and accounts for every datagram exactly once, in input order (SendResult, and on request
    each datagram's own outcome).

    - A datagram the kernel rejects (EACCES, EAFNOSUPPORT, EMSGSIZE, ...) fails alone; the
      batch goes on. EINTR is retried. Back-pressure (EAGAIN, ENOBUFS) stops the batch: the
      rest is `unsent`, to resume from resume_index(). A socket-level error (EBADF,
      ENOTSOCK, EPROTOTYPE, EFAULT, EPIPE, EOPNOTSUPP, EDESTADDRREQ) stops it with `fatal`.
    - Batches of any size are cut into chunks of max_send_batch; an empty batch makes no
      system call; dense rejections never make a batch quadratic (doc/semantics.adoc).
    - Per-socket state comes with the socket when it carries one (doc/socket_state.adoc).
    - After the first call on a socket, no call allocates. Not thread-safe: one BatchSender
      per thread (cheap until first used). `Buffer` is multi_target_send's payload type.
*/
template <class Backend = DefaultBackend, class Buffer = std::span<const std::byte>>
class BatchSender {
    static_assert(SendBackend<Backend>,
                  "mmsg::BatchSender<Backend>: Backend does not model mmsg::SendBackend. It needs "
                  "a member `SendOutcome send(int or mmsg::SocketRef, std::span<const SendItem>, "
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
        return send_batch(s, packets, {}, WaitMode::socket_default);
    }

    //! Same, and status[i] receives datagram i's outcome: {} sent, its error if it failed,
    //! std::errc::operation_would_block if unsent. Throws std::invalid_argument (and sends
    //! nothing) if status.size() < packets.size().
    template <SocketLike Socket, SendBatch Packets>
    SendResult batch_send(Socket&& s, const Packets& packets, std::span<std::error_code> status) {
        detail::check_status(status, std::ranges::size(packets));
        return send_batch(s, packets, status, WaitMode::socket_default);
    }

    //! Sends `payload` to every destination, in order.
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests) {
        return send_multi(s, payload, dests, {}, WaitMode::socket_default);
    }
    //! Same, with a per-destination status (see batch_send).
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests,
                                 std::span<std::error_code> status) {
        detail::check_status(status, std::ranges::size(dests));
        return send_multi(s, payload, dests, status, WaitMode::socket_default);
    }
    //! Sends `payload` to every destination, every datagram with `options` (see SendOptions).
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests,
                                 const SendOptions& options) {
        return send_multi(s, payload, dests, {}, WaitMode::socket_default, &options);
    }
    //! Same, with a per-destination status.
    template <SocketLike Socket, DestinationList Dests>
    SendResult multi_target_send(Socket&& s, const Buffer& payload, const Dests& dests,
                                 const SendOptions& options, std::span<std::error_code> status) {
        detail::check_status(status, std::ranges::size(dests));
        return send_multi(s, payload, dests, status, WaitMode::socket_default, &options);
    }

    //! Non-blocking forms for any event loop: never wait, even on a blocking socket (every
    //! call uses MSG_DONTWAIT). When the socket is full, the rest is reported `unsent`;
    //! wait until it is writable, then call again with the batch from resume_index().
    template <SocketLike Socket, SendBatch Packets>
    SendResult try_batch_send(Socket&& s, const Packets& packets,
                              std::span<std::error_code> status = {}) {
        if (!status.empty()) detail::check_status(status, std::ranges::size(packets));
        return send_batch(s, packets, status, WaitMode::never);
    }
    //! (Any byte buffer is taken as the payload here, not only `Buffer`.)
    template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
    SendResult try_multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                                     std::span<std::error_code> status = {}) {
        if (!status.empty()) detail::check_status(status, std::ranges::size(dests));
        return send_multi(s, payload, dests, status, WaitMode::never);
    }
    template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
    SendResult try_multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                                     const SendOptions& options,
                                     std::span<std::error_code> status = {}) {
        if (!status.empty()) detail::check_status(status, std::ranges::size(dests));
        return send_multi(s, payload, dests, status, WaitMode::never, &options);
    }

    //! Sends every datagram of every train, in order (SendTrain: datagrams back to back in one
    //! buffer, as a QUIC stack writes them). A backend that takes trains whole
    //! (TrainSendBackend: LinuxGsoBackend, IoUringGsoBackend) plans nothing per datagram;
    //! any other gets one SendItem per datagram. Accounted in datagrams as batch_send is:
    //! status[i] is datagram i's outcome, counted across the trains, and resume_index() a
    //! datagram index. Throws std::invalid_argument (and sends nothing) if `status` is not
    //! empty and has fewer elements than the trains have datagrams.
    template <SocketLike Socket, SendTrainRange Trains>
    SendResult send_trains(Socket&& s, const Trains& trains, std::span<std::error_code> status = {}) {
        return send_train_range(s, trains, status, WaitMode::socket_default);
    }
    //! The same, never waiting (see try_batch_send).
    template <SocketLike Socket, SendTrainRange Trains>
    SendResult try_send_trains(Socket&& s, const Trains& trains,
                               std::span<std::error_code> status = {}) {
        return send_train_range(s, trains, status, WaitMode::never);
    }

    //! The SocketState this sender uses for `s`: the one `s` carries, else the one it keeps
    //! for plain descriptors (bound to `s` from now on).
    template <SocketLike Socket>
    SocketState& socket_state(Socket&& s) {
        return *detail::socket_ref(s, implicit_).state;
    }

private:
    template <class Socket, class Packets>
    SendResult send_batch(Socket& s, const Packets& packets, std::span<std::error_code> status,
                          WaitMode mode) {
        static_assert(detail::elements_are_stable<Packets>,
                      "mmsg::batch_send: the range makes its elements on the fly and they own "
                      "their payload or endpoint; pass a container (or a view of one) instead");
        return run(detail::socket_ref(s, implicit_),
                   item_chunks(std::ranges::begin(packets),
                               [](const auto& e) { return detail::item_of(e); }),
                   std::ranges::size(packets), status, mode);
    }
    // The chunk source for elements: gathered into trains where the backend takes them
    // whole (detail::ElementChunks), else one SendItem each.
    template <class It, class MakeItem>
    auto item_chunks(It it, MakeItem make) {
        if constexpr (TrainSendBackend<Backend> && std::forward_iterator<It>)
            return detail::ElementChunks<Backend, It, MakeItem>{
                {&backend_, trains_.get(max_send_batch)}, std::move(it), std::move(make),
                items_.get(max_send_batch)};
        else
            return detail::ItemChunks<Backend, It, MakeItem>{&backend_, std::move(it),
                                                             std::move(make),
                                                             items_.get(max_send_batch)};
    }

    template <class Socket, class Payload, class Dests>
    SendResult send_multi(Socket& s, const Payload& payload, const Dests& dests,
                          std::span<std::error_code> status, WaitMode mode,
                          const SendOptions* options = nullptr) {
        static_assert(!std::same_as<std::ranges::range_reference_t<const Dests>, Endpoint>,
                      "mmsg::multi_target_send: the range makes Endpoints on the fly; pass a "
                      "container of endpoints (or of pointers to them) instead");
        const auto bytes = detail::bytes_of(payload);
        return run(detail::socket_ref(s, implicit_),
                   item_chunks(std::ranges::begin(dests),
                               [bytes, options](const auto& d) {
                                   return SendItem{bytes.data(), bytes.size(),
                                                   detail::endpoint_ptr(d), options};
                               }),
                   std::ranges::size(dests), status, mode);
    }
    template <class Socket, class Trains>
    SendResult send_train_range(Socket& s, const Trains& trains, std::span<std::error_code> status,
                                WaitMode mode) {
        std::size_t n = 0;
        for (const SendTrain& t : trains) n += t.datagrams();
        if (!status.empty()) detail::check_status(status, n);
        const SocketRef sock = detail::socket_ref(s, implicit_);
        if constexpr (TrainSendBackend<Backend>)
            return run(sock,
                       detail::TrainChunks<Backend, std::ranges::iterator_t<const Trains>>{
                           {&backend_, trains_.get(max_send_batch)}, std::ranges::begin(trains)},
                       n, status, mode);
        else
            return run(sock,
                       item_chunks(detail::TrainDatagrams(std::ranges::begin(trains)),
                                   [](const SendItem& i) { return i; }),
                       n, status, mode);
    }

    // Empties `errs` when it is the sender's own outcome array in the FailuresOnly form,
    // which must be empty on entry to every call.
    static void clear_scratch(bool failures_only, std::span<std::error_code> errs) noexcept {
        if (failures_only) std::fill(errs.begin(), errs.end(), std::error_code{});
    }
    // source.send(...). Should it throw (std::bad_alloc) after writing failures into the
    // sender's own outcome array, empties that first.
    template <class Chunks>
    static SendOutcome send_keeping_scratch_clean(Chunks& source, SocketRef sock, std::size_t off,
                                                  std::size_t offer, std::span<std::error_code> errs,
                                                  WaitMode mode, bool failures_only) {
        try {
            return source.send(sock, off, offer, errs, mode, failures_only);
        } catch (...) {
            clear_scratch(failures_only, errs);
            throw;
        }
    }

    template <class Chunks>
    SendResult run(SocketRef sock, Chunks source, std::size_t n, std::span<std::error_code> status,
                   WaitMode mode) {
        SendResult r;
        if (n == 0) return r;
        std::error_code* scratch = errors_.get(max_send_batch);
        // Without a status span the outcomes go to `scratch`, which stays empty between calls
        // (every entry read is cleared again), so a backend may write only failures
        // (FailuresOnly): after a system call, writing every accepted datagram's empty
        // outcome costs a cache miss per four datagrams.
        const bool failures_only = status.empty();
        // After a call that did not simply accept all it was offered, clear_scratch empties
        // what it may have written (its offer, not only its `done`, to be safe against a
        // backend that wrote the outcome of the datagram it stopped at).

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

        // Datagrams offered per call, and accepted since the last rejection. sendmmsg stops
        // at each rejected datagram and a backend builds headers for all it is offered, so
        // after a rejection that followed fewer than resume_window accepted datagrams a call
        // offers resume_window, four times more after each call that takes all it was offered.
        std::size_t window = max_send_batch;
        std::size_t accepted = max_send_batch;
        for (std::size_t base = 0; base < n;) {
            const std::size_t chunk = std::min(n - base, max_send_batch);
            source.load(chunk);

            std::size_t off = 0;
            std::size_t stalls = 0;
            while (off < chunk) {
                const std::size_t offer = std::min(chunk - off, window);
                std::span<std::error_code> errs =
                    status.empty() ? std::span<std::error_code>(scratch + off, offer)
                                   : status.subspan(base + off, offer);
                const detail::SendCall call = detail::read_send(
                    send_keeping_scratch_clean(source, sock, off, offer, errs, mode, failures_only),
                    errs, offer);
                accepted += call.done;
                r.sent += call.accepted;
                if (call.accepted < call.done) {
                    for (std::size_t j = 0; j < call.done; ++j) {
                        if (!errs[j]) continue;
                        fail(errs[j]);
                        if (detail::is_fatal(errs[j])) {
                            // Outcomes up to `done` are final; nothing after it will be tried.
                            for (std::size_t k = j + 1; k < call.done; ++k)
                                if (errs[k]) fail(errs[k]);
                            const std::error_code fatal = errs[j];
                            clear_scratch(failures_only, errs);
                            return finish_rest(base + off + call.done, fatal, false);
                        }
                    }
                }
                if (call.accepted < call.done || call.done < offer) clear_scratch(failures_only, errs);
                off += call.done;
                switch (call.stop) {
                case detail::SendStop::finished:
                    window = std::min(window * 4, max_send_batch);
                    continue;
                case detail::SendStop::short_call:
                    // A backend that moves nothing and says nothing would spin us forever:
                    // after a few tries, treat it as back-pressure.
                    if (call.done == 0 && ++stalls > 3)
                        return finish_rest(base + off, detail::would_block_code(), true);
                    continue;
                case detail::SendStop::interrupted:
                    stalls = 0;
                    continue;
                case detail::SendStop::would_block:
                    return finish_rest(base + off, detail::would_block_code(), true);
                case detail::SendStop::rejected:
                    stalls = 0;
                    if (detail::is_fatal(call.error)) return finish_rest(base + off, call.error, false);
                    // That one datagram was rejected: count it and go on with the next one.
                    fail(call.error);
                    if (!status.empty()) status[base + off] = call.error;
                    ++off;
                    window = accepted < resume_window ? resume_window : max_send_batch;
                    accepted = 0;
                    continue;
                }
            }
            base += chunk;
        }
        return r;
    }

    //! What a call offers after dense rejections (see run()).
    static constexpr std::size_t resume_window = 64;

    Backend backend_{};
    detail::Scratch<SendItem> items_;
    detail::Scratch<SendTrain> trains_;
    detail::Scratch<std::error_code> errors_;
    detail::ImplicitState implicit_;
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
    return detail::thread_sender().multi_target_send(s, detail::bytes_of(payload), dests);
}
template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
SendResult multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                             std::span<std::error_code> status) {
    return detail::thread_sender().multi_target_send(s, detail::bytes_of(payload), dests, status);
}
//! The same, every datagram with `options` (see SendOptions).
template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
SendResult multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                             const SendOptions& options) {
    return detail::thread_sender().multi_target_send(s, detail::bytes_of(payload), dests, options);
}
template <SocketLike Socket, ByteBuffer Payload, DestinationList Dests>
SendResult multi_target_send(Socket&& s, const Payload& payload, const Dests& dests,
                             const SendOptions& options, std::span<std::error_code> status) {
    return detail::thread_sender().multi_target_send(s, detail::bytes_of(payload), dests, options,
                                                     status);
}

//! send_trains on DefaultBackend (one SendItem per datagram: it takes no trains whole; for
//! segmentation offload use a BatchSender<LinuxGsoBackend>). See BatchSender::send_trains.
template <SocketLike Socket, SendTrainRange Trains>
SendResult send_trains(Socket&& s, const Trains& trains) {
    return detail::thread_sender().send_trains(s, trains);
}
template <SocketLike Socket, SendTrainRange Trains>
SendResult send_trains(Socket&& s, const Trains& trains, std::span<std::error_code> status) {
    return detail::thread_sender().send_trains(s, trains, status);
}

} // namespace mmsg

#endif // MMSG_BATCH_SENDER_HPP
