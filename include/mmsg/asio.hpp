//! The asynchronous layer on Boost.Asio: async_batch_send, async_multi_target_send,
//! async_send_trains, async_recv_mmsg, async_recv_mmsg_exact and async_recv_coalesced (and
//! async_read_error_queue), for every completion token.
#ifndef MMSG_ASIO_HPP
#define MMSG_ASIO_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/detail/async_ops.hpp>
#include <mmsg/error_queue.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_datagram_socket.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>

#include <concepts>
#include <cstddef>
#include <ranges>
#include <span>
#include <system_error>
#include <type_traits>

namespace mmsg {

/*! A socket the asynchronous operations can use: it has an executor, a native handle the
    backend sends on, and `async_wait(boost::asio::socket_base::wait_type, handler)` with
    completion signature void(boost::system::error_code) that completes when the socket is
    ready (and with operation_aborted on cancel()/close() or a per-operation cancellation).
    boost::asio::ip::udp::socket is one (any executor); mmsg::MockSocket is one for
    MockBackend.
*/
template <class S>
concept AsyncSocket = requires(S& s) {
    typename S::executor_type;
    { s.get_executor() } -> std::convertible_to<typename S::executor_type>;
    { s.native_handle() } -> std::convertible_to<int>;
};

//! Completion signature of the asynchronous sends.
using async_send_signature = void(boost::system::error_code, SendResult);
//! Completion signature of the asynchronous receives.
using async_recv_signature = void(boost::system::error_code, std::size_t);

namespace detail {

template <class Packets>
inline constexpr bool outlives_call = std::is_lvalue_reference_v<Packets> ||
    std::ranges::borrowed_range<Packets> || is_packet_block_view<std::remove_cvref_t<Packets>>::value;

template <class Socket, class Round, class Token>
auto start_send(Socket& s, Round round, Token&& token) {
    return boost::asio::async_initiate<Token, async_send_signature>(
        InitiateReadiness<Socket>{&s}, token, SendStep<Round>(std::move(round)));
}

template <class Socket, class Receive, class Packets, class Token>
auto start_recv(Socket& s, Packets packets, bool exact, Receive receive, Token&& token) {
    return boost::asio::async_initiate<Token, async_recv_signature>(
        InitiateReadiness<Socket>{&s}, token,
        RecvStep<Receive, Packets>(packets, exact, std::move(receive)));
}

// A round is one non-blocking call of a sender or receiver on the socket itself, so the
// socket's own SocketState (or the sender's state for a plain socket) is used. `get()`
// returns the sender/receiver: the caller's, or the calling thread's for the default-backend
// forms (a round is one synchronous call, so nothing of theirs is held across a wait).
template <class Get, class Packets>
auto batch_round(Get get, const Packets& packets) {
    return [get, &packets](auto& socket, std::size_t from) {
        return get().try_batch_send(socket, tail(packets, from));
    };
}

template <class Get, class Payload, class Dests>
auto multi_round(Get get, const Payload& payload, const Dests& dests,
                 const SendOptions* options = nullptr) {
    return [get, &payload, &dests, options](auto& socket, std::size_t from) {
        if (options) return get().try_multi_target_send(socket, payload, tail(dests, from), *options);
        return get().try_multi_target_send(socket, payload, tail(dests, from));
    };
}

// `from` is a datagram index, counted across the trains.
template <class Get, class Trains>
auto trains_round(Get get, const Trains& trains) {
    return [get, &trains](auto& socket, std::size_t from) {
        return get().try_send_trains(socket, train_tail(trains, from));
    };
}

template <class Get>
auto receive_round(Get get) {
    return [get](auto& socket, auto packets, std::error_code& ec) {
        return get().try_recv_mmsg(socket, packets, ec);
    };
}
template <class Get>
auto coalesced_round(Get get) {
    return [get](auto& socket, auto packets, std::error_code& ec) {
        return get().try_recv_coalesced(socket, packets, ec);
    };
}

template <class T>
auto use(T& t) {
    return [&t]() -> T& { return t; };
}
inline auto thread_sender_of_this_thread() {
    return []() -> BatchSender<DefaultBackend>& { return thread_sender(); };
}
inline auto thread_receiver_of_this_thread() {
    return []() -> BatchReceiver<DefaultBackend>& { return thread_receiver(); };
}

} // namespace detail

// ---------------------------------------------------------------------------------------
// Any backend: a BatchSender / BatchReceiver first, then an AsyncSocket on its network.
// The sender or receiver must outlive the operation and must not be used by anything else
// until it completes.

/*! Sends packets[i].first to packets[i].second for every i, asynchronously, with
    `sender`'s backend: one backend call per round; when the socket would block, waits
    until it is writable and resumes from SendResult::resume_index(). Back-pressure is
    never a failure.

    Completion: void(boost::system::error_code ec, SendResult r). `ec` is about the
    operation: empty; operation_aborted (socket.cancel(), close(), or a terminal/partial
    cancellation through the token's slot); a socket-level error (r.fatal, see
    BatchSender). Per-datagram failures are in `r`, as with BatchSender::batch_send. After
    a cancellation, r.unsent datagrams from r.resume_index() were not attempted and no
    datagram counted unsent was sent. `packets` (and its payloads and endpoints) must
    stay alive and unchanged until the completion handler runs.
*/
template <class B, class Buf, AsyncSocket Socket, SendBatch Packets,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_batch_send(BatchSender<B, Buf>& sender, Socket& s, const Packets& packets,
                      Token&& token = {}) {
    return detail::start_send(s, detail::batch_round(detail::use(sender), packets), std::forward<Token>(token));
}

//! Sends `payload` to every destination, in order, asynchronously with `sender`'s backend.
//! Same completion and rules as async_batch_send; `payload` and `dests` must stay alive
//! until the handler runs.
template <class B, class Buf, AsyncSocket Socket, ByteBuffer Payload, DestinationList Dests,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_multi_target_send(BatchSender<B, Buf>& sender, Socket& s, const Payload& payload,
                             const Dests& dests, Token&& token = {})
    requires(!std::same_as<std::remove_cvref_t<Token>, SendOptions>) {
    return detail::start_send(s, detail::multi_round(detail::use(sender), payload, dests),
                              std::forward<Token>(token));
}

//! The same, every datagram with `options` (see SendOptions); `options` must stay alive
//! until the handler runs.
template <class B, class Buf, AsyncSocket Socket, ByteBuffer Payload, DestinationList Dests,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_multi_target_send(BatchSender<B, Buf>& sender, Socket& s, const Payload& payload,
                             const Dests& dests, const SendOptions& options, Token&& token = {}) {
    return detail::start_send(s, detail::multi_round(detail::use(sender), payload, dests, &options),
                              std::forward<Token>(token));
}

/*! Sends every datagram of every train, in order, asynchronously with `sender`'s backend
    (trains whole where it takes them: see BatchSender::send_trains). Same completion and
    rules as async_batch_send, counted in datagrams across the trains: a round after
    back-pressure resumes inside a train if that is where the last one stopped. `trains`
    (and the payloads and endpoints they point to) must stay alive and unchanged until the
    handler runs.
*/
template <class B, class Buf, AsyncSocket Socket, SendTrainRange Trains,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_send_trains(BatchSender<B, Buf>& sender, Socket& s, const Trains& trains,
                       Token&& token = {}) {
    return detail::start_send(s, detail::trains_round(detail::use(sender), trains),
                              std::forward<Token>(token));
}

/*! Waits until `s` is readable, then takes every queued datagram, up to
    min(packets.size(), num_rcvmmsgs), with one backend call of `receiver`. Each filled
    packet's meta is assigned anew (as BatchReceiver::recv_mmsg does).

    Completion: void(boost::system::error_code ec, std::size_t n): n packets filled from
    the front. ec: empty; operation_aborted (cancel(), close(), any cancellation type
    through the token's slot: nothing is consumed before the wait ends); or the socket's
    error (n == 0). An empty range completes with 0 at once (through the executor).
    `packets` must stay alive until the handler runs.
*/
template <class B, AsyncSocket Socket, ReceiveTarget Packets,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_recv_mmsg(BatchReceiver<B>& receiver, Socket& s, Packets&& packets, Token&& token = {}) {
    static_assert(detail::outlives_call<Packets>,
                  "mmsg::async_recv_mmsg: packets must outlive the operation; pass an lvalue");
    return detail::start_recv(s, detail::packet_span(packets), false,
                              detail::receive_round(detail::use(receiver)), std::forward<Token>(token));
}

/*! Fills every packet, waiting for readability as often as needed. Completion as
    async_recv_mmsg; on cancellation (terminal or partial) or a socket error, n is the
    count filled so far.
*/
template <class B, AsyncSocket Socket, ReceiveTarget Packets,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_recv_mmsg_exact(BatchReceiver<B>& receiver, Socket& s, Packets&& packets,
                           Token&& token = {}) {
    static_assert(
        detail::outlives_call<Packets>,
        "mmsg::async_recv_mmsg_exact: packets must outlive the operation; pass an lvalue");
    return detail::start_recv(s, detail::packet_span(packets), true,
                              detail::receive_round(detail::use(receiver)), std::forward<Token>(token));
}

/*! Waits until `s` is readable, then receives datagrams whole with one backend call of
    `receiver` (BatchReceiver::recv_coalesced: with UDP GRO a run of segments per packet).
    Completion as async_recv_mmsg. `packets` must stay alive until the handler runs.
*/
template <class B, AsyncSocket Socket, CoalescedPacketRange Packets,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_recv_coalesced(BatchReceiver<B>& receiver, Socket& s, Packets&& packets,
                          Token&& token = {}) {
    static_assert(detail::outlives_call<Packets>,
                  "mmsg::async_recv_coalesced: packets must outlive the operation; pass an lvalue");
    return detail::start_recv(s, detail::packet_span(packets), false,
                              detail::coalesced_round(detail::use(receiver)),
                              std::forward<Token>(token));
}

// ---------------------------------------------------------------------------------------
// DefaultBackend on a boost::asio UDP socket (any executor). Same semantics as above; each
// round uses the calling thread's sender/receiver, so these never allocate after first use.

//! async_batch_send on DefaultBackend. See the BatchSender overload.
template <class Executor, SendBatch Packets,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_batch_send(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                      const Packets& packets, Token&& token = {}) {
    return detail::start_send(s, detail::batch_round(detail::thread_sender_of_this_thread(), packets),
                              std::forward<Token>(token));
}

//! async_multi_target_send on DefaultBackend, payload type deduced. See the BatchSender
//! overload.
template <class Executor, ByteBuffer Payload, DestinationList Dests,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_multi_target_send(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                             const Payload& payload, const Dests& dests, Token&& token = {})
    requires(!std::same_as<std::remove_cvref_t<Token>, SendOptions>) {
    return detail::start_send(s, detail::multi_round(detail::thread_sender_of_this_thread(), payload, dests),
                              std::forward<Token>(token));
}

//! async_multi_target_send on DefaultBackend with `options` for every datagram; `options`
//! must stay alive until the handler runs.
template <class Executor, ByteBuffer Payload, DestinationList Dests,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_multi_target_send(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                             const Payload& payload, const Dests& dests, const SendOptions& options,
                             Token&& token = {}) {
    return detail::start_send(
        s, detail::multi_round(detail::thread_sender_of_this_thread(), payload, dests, &options),
        std::forward<Token>(token));
}

//! async_send_trains on DefaultBackend (one datagram at a time). See the BatchSender overload.
template <class Executor, SendTrainRange Trains,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_send_trains(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                       const Trains& trains, Token&& token = {}) {
    return detail::start_send(s, detail::trains_round(detail::thread_sender_of_this_thread(), trains),
                              std::forward<Token>(token));
}

//! async_recv_mmsg on DefaultBackend. See the BatchReceiver overload.
template <class Executor, ReceiveTarget Packets,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_recv_mmsg(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                     Packets&& packets, Token&& token = {}) {
    static_assert(detail::outlives_call<Packets>,
                  "mmsg::async_recv_mmsg: packets must outlive the operation; pass an lvalue");
    return detail::start_recv(s, detail::packet_span(packets), false,
                              detail::receive_round(detail::thread_receiver_of_this_thread()),
                              std::forward<Token>(token));
}

//! async_recv_mmsg_exact on DefaultBackend. See the BatchReceiver overload.
template <class Executor, ReceiveTarget Packets,
          class Token = boost::asio::default_completion_token_t<Executor>>
auto async_recv_mmsg_exact(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                           Packets&& packets, Token&& token = {}) {
    static_assert(
        detail::outlives_call<Packets>,
        "mmsg::async_recv_mmsg_exact: packets must outlive the operation; pass an lvalue");
    return detail::start_recv(s, detail::packet_span(packets), true,
                              detail::receive_round(detail::thread_receiver_of_this_thread()),
                              std::forward<Token>(token));
}

/*! Waits until the socket's error queue has reports (an error condition, POLLERR), then
    takes them, up to min(errors.size(), num_rcvmmsgs), with one ErrorQueueReader read (see
    <mmsg/error_queue.hpp>; enable_error_queue first). Completion: void(error_code, size_t
    n): n reports filled from the front; operation_aborted on cancellation (nothing is
    consumed before the wait ends); or the socket's error. `errors` must stay alive until
    the handler runs.
*/
template <class Executor, class Token = boost::asio::default_completion_token_t<Executor>>
auto async_read_error_queue(boost::asio::basic_datagram_socket<boost::asio::ip::udp, Executor>& s,
                            std::span<DatagramError> errors, Token&& token = {}) {
    auto read = [](int fd, std::span<DatagramError> e, std::error_code& ec) {
        return read_error_queue(fd, e, ec);
    };
    using Step = detail::ErrorQueueStep<decltype(read), DatagramError>;
    return boost::asio::async_initiate<Token, async_recv_signature>(
        detail::InitiateReadiness<std::remove_reference_t<decltype(s)>>{&s}, token,
        Step(errors, read));
}

} // namespace mmsg

#endif // MMSG_ASIO_HPP
