//! Defines the backend contract: SendItem, RecvSlot, SendOutcome, WaitMode and the
//! SendBackend / RecvBackend concepts that BatchSender and BatchReceiver require (and the
//! optional TrainSendBackend).
//! This header is the authoritative statement of what a backend must do.
#ifndef MMSG_BACKEND_CONCEPTS_HPP
#define MMSG_BACKEND_CONCEPTS_HPP

#include <mmsg/endpoint.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_state.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace mmsg {

//! One datagram to send, as BatchSender hands it to a backend.
//! Pointers stay valid for the duration of the backend call only.
struct SendItem {
    const std::byte* data = nullptr;
    std::size_t size = 0;
    //! Where it goes; null: the socket's connected peer (no msg_name, see connected_peer).
    const Endpoint* dest = nullptr;
    //! Its options (ECN, DSCP, source, interface), or null for none. A backend that cannot
    //! carry them sends the datagram as if they were default (see doc/backends.adoc).
    const SendOptions* options = nullptr;
};

//! One packet to receive into, as BatchReceiver hands it to a backend.
struct RecvSlot {
    std::byte* data = nullptr;
    std::size_t capacity = 0;
    Meta* meta = nullptr; //!< the backend assigns *meta completely for each datagram it fills
};

//! One datagram-whole receive buffer, as BatchReceiver::recv_coalesced hands it to a backend:
//! a coalesced datagram (UDP GRO) lands whole, its segment size in *segment_size.
struct CoalescedSlot {
    std::byte* data = nullptr;
    std::size_t capacity = 0;
    Meta* meta = nullptr;               //!< assigned completely, size = all segments' bytes
    std::size_t* segment_size = nullptr; //!< bytes per segment; meta->size for one datagram
};

//! Whether a backend call may wait. `socket_default` follows the socket's own mode (and
//! SO_RCVTIMEO / SO_SNDTIMEO); `never` adds MSG_DONTWAIT, for event loops and try_ forms.
//! Backends never change a socket's blocking mode.
enum class WaitMode : std::uint8_t { socket_default, never };

//! What one backend send call did.
//!
//! `done` datagrams from the front have a final outcome, written to errors[0, done): an empty
//! error_code for each one the kernel accepted, its own error for each one it rejected.
//! If done < items.size(), `error` says why the call stopped at items[done]:
//!  - EINTR or would-block (EAGAIN/EWOULDBLOCK/ENOBUFS): items[done] was not attempted;
//!  - any other error: items[done] was attempted and rejected with it (the sender
//!    classifies socket-level errors such as EBADF as fatal);
//!  - empty: the call stopped short without a reason (as sendmmsg does after a partial
//!    send); the sender calls again from items[done].
//! `accepted` is optional: a backend that knows, without counting, how many of
//! errors[0, done) are empty may say so, and the sender then does not count them again.
struct SendOutcome {
    static constexpr std::size_t unknown = static_cast<std::size_t>(-1);
    std::size_t done = 0;
    std::error_code error{};
    std::size_t accepted = unknown;
};

/*! A send backend: moves "some" datagrams from the front of `items` with (ideally) one
    system call and reports how far it got. All retry, skip, chunking and accounting
    policy lives in BatchSender, never in a backend.

    Requirements, for `B& b`, `SocketRef s`, `std::span<const SendItem> items` (never empty),
    `std::span<std::error_code> errors` (errors.size() >= items.size()) and `WaitMode w`:
      b.send(s, items, errors, w)  -> SendOutcome   (see SendOutcome for the contract)
    The member may take the socket as an `int` (SocketRef converts to its descriptor) or,
    to keep per-socket state in s.state, as a SocketRef.
*/
template <class B>
concept SendBackend = std::move_constructible<B> &&
    requires(B& b, SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
             WaitMode w) {
        { b.send(s, items, errors, w) } -> std::same_as<SendOutcome>;
    };

/*! A send backend that also takes trains whole (SendTrain): BatchSender::send_trains hands
    them over as they are, so the backend plans nothing per datagram. Other backends get the
    same datagrams one SendItem each. Same contract as send(), counted in datagrams: the
    trains hold at most errors.size() datagrams together, `done` and errors[0, done) are
    datagrams in order, and the call may take a prefix of them.
      b.send_trains(s, trains, errors, w)  -> SendOutcome      (trains never empty)
*/
template <class B>
concept TrainSendBackend = SendBackend<B> &&
    requires(B& b, SocketRef s, std::span<const SendTrain> trains, std::span<std::error_code> errors,
             WaitMode w) {
        { b.send_trains(s, trains, errors, w) } -> std::same_as<SendOutcome>;
    };

/*! Optional, for speed: a send backend may also take `FailuresOnly{}` as a fifth argument,
      b.send(s, items, errors, w, FailuresOnly{})          -> SendOutcome
      b.send_trains(s, trains, errors, w, FailuresOnly{})  -> SendOutcome   (if it has send_trains)
    Same contract, except that errors[0, items.size()) are all empty on entry and the
    backend writes only the outcomes of datagrams that failed (an accepted one's stays
    empty), and must count SendOutcome::accepted. BatchSender uses this form when the caller
    asked for no status span, keeps its own outcome array empty between calls, and reads it
    only when a call accepted fewer datagrams than it settled: a batch of 1024 outcomes is
    16 KiB written for nothing, into caches a system call has just cooled (doc/gso.adoc,
    "Batches of 64 at 64 bytes"). LinuxGsoBackend offers it.
*/
struct FailuresOnly {};

/*! A receive backend: fills "some" slots from the front with one system call.

    Requirements, for `B& b`, `SocketRef s` (an `int` or a SocketRef parameter, as for
    SendBackend), `std::span<const RecvSlot> slots` (never empty, at most num_rcvmmsgs),
    `WaitMode w` and `std::error_code& ec`:
      b.recv(s, slots, w, ec)  -> std::size_t
    returns how many slots it filled (assigning each filled slot's *meta completely: size,
    source address, flags) and sets `ec` when it stopped on an error (would-block, EINTR,
    a socket error), or clears it. A non-zero count with `ec` set means the error came
    after those datagrams; BatchReceiver reports it on the next call.
*/
template <class B>
concept RecvBackend = std::move_constructible<B> &&
    requires(B& b, SocketRef s, std::span<const RecvSlot> slots, WaitMode w, std::error_code& ec) {
        { b.recv(s, slots, w, ec) } -> std::same_as<std::size_t>;
    };

/*! Optional: a receive backend that can hand coalesced datagrams over whole (UDP GRO),
    for BatchReceiver::recv_coalesced; `b.recv_coalesced(s, slots, w, ec)` has recv's contract
    with CoalescedSlots. A backend without it serves recv_coalesced through recv, one
    datagram per slot.
*/
template <class B>
concept CoalescingRecvBackend = RecvBackend<B> &&
    requires(B& b, SocketRef s, std::span<const CoalescedSlot> slots, WaitMode w, std::error_code& ec) {
        { b.recv_coalesced(s, slots, w, ec) } -> std::same_as<std::size_t>;
    };

//! A backend that can both send and receive.
template <class B>
concept Backend = SendBackend<B> && RecvBackend<B>;

/*! Whether backend B carries per-datagram metadata (sends SendOptions, reports ECN, local
    address, interface and timestamps on receive): B::carries_metadata where B declares it,
    else true. A backend that does not sends options as if default and leaves those Meta
    fields at their defaults; the conformance kit checks the one or the other.
*/
template <class B>
inline constexpr bool carries_metadata_v = true;
template <class B>
    requires requires { { B::carries_metadata } -> std::convertible_to<bool>; }
inline constexpr bool carries_metadata_v<B> = B::carries_metadata;

} // namespace mmsg

#endif // MMSG_BACKEND_CONCEPTS_HPP
