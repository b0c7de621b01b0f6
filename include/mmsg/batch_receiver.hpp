//! Defines mmsg::BatchReceiver, the batching receive algorithm, and the free functions
//! mmsg::recv_mmsg / mmsg::recv_mmsg_exact on the default backend.
//! (Over 300 lines: the algorithm and every public form of it, kept in one place.)
#ifndef MMSG_BATCH_RECEIVER_HPP
#define MMSG_BATCH_RECEIVER_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/packet_block.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/socket_state.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <new>
#include <ranges>
#include <span>
#include <system_error>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace mmsg {

namespace detail {
template <class T>
struct is_basic_packet : std::false_type {};
template <std::size_t N>
struct is_basic_packet<BasicPacket<N>> : std::true_type {};
template <class T>
struct is_coalesced_packet : std::false_type {};
template <std::size_t N>
struct is_coalesced_packet<BasicCoalescedPacket<N>> : std::true_type {};

// A throwing receive into `packets` packets: an empty range is refused (invalid_argument:
// nothing could ever be received into it), else `receive(ec)` runs and its error is thrown
// as std::system_error naming `what`.
template <class Receive>
std::size_t receive_or_throw(std::size_t packets, const char* what, Receive&& receive) {
    if (packets == 0)
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                std::string(what) +
                                    ": the packet range is empty, so nothing can be received "
                                    "into it (a vector that was reserve()d, not resize()d?)");
    std::error_code ec;
    const std::size_t n = receive(ec);
    if (ec) throw std::system_error(ec, what);
    return n;
}

template <class T>
struct is_packet_block_view : std::false_type {};
template <std::size_t N>
struct is_packet_block_view<BasicPacketBlockView<N>> : std::true_type {};
template <class T>
struct is_packet_block : std::false_type {};
template <std::size_t N>
struct is_packet_block<BasicPacketBlock<N>> : std::true_type {};

// What the receives work on: a span of packets, or a block view (same interface: size(),
// subspan(from), the slots of its first n packets).
template <class Packets>
auto packet_span(Packets& p) noexcept {
    using P = std::remove_cvref_t<Packets>;
    if constexpr (is_packet_block_view<P>::value) return p;
    else if constexpr (is_packet_block<P>::value) return p.view();
    else
        return std::span<std::ranges::range_value_t<Packets>>(std::ranges::data(p), std::ranges::size(p));
}
} // namespace detail

//! A receive target of recv_coalesced: a contiguous, sized range of mutable
//! BasicCoalescedPacket<N>.
template <class R>
concept CoalescedPacketRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    detail::is_coalesced_packet<std::remove_cv_t<std::ranges::range_value_t<R>>>::value &&
    !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>;

//! A receive target: a contiguous, sized range of mutable BasicPacket<N>.
template <class R>
concept PacketRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    detail::is_basic_packet<std::remove_cv_t<std::ranges::range_value_t<R>>>::value &&
    !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>;

//! A receive target that keeps its packets' buffers back to back: a BasicPacketBlockView<N>
//! (by value: it refers to the packets) or a mutable BasicPacketBlock<N>.
template <class R>
concept PacketBlockTarget = detail::is_packet_block_view<std::remove_cvref_t<R>>::value ||
    (detail::is_packet_block<std::remove_cvref_t<R>>::value && !std::is_const_v<std::remove_reference_t<R>>);

//! What recv_mmsg and its forms receive into: a PacketRange or a PacketBlockTarget.
template <class R>
concept ReceiveTarget = PacketRange<R> || PacketBlockTarget<R>;

//! The exception of the throwing recv_mmsg_exact: the error, and how many packets were
//! filled before it (they stay filled).
class ReceiveError : public std::system_error {
public:
    ReceiveError(std::error_code ec, std::size_t received, const char* what)
        : std::system_error(ec, what), received_(received) {}
    //! Packets filled from the front before the error.
    std::size_t received() const noexcept { return received_; }

private:
    std::size_t received_;
};

/*! The receive half of mmsg: takes every queued datagram (up to num_rcvmmsgs) with one
    backend call, into the caller's packets.

    - recv_mmsg waits as the socket says (blocking mode, SO_RCVTIMEO, spent across signals)
      for one datagram, then takes all queued. A timeout or an empty non-blocking socket is
      operation_would_block, never a hang. An empty range returns 0 with no system call
      (the throwing recv_mmsg throws: in a loop it is a mistake that would spin).
    - Each filled packet's meta is assigned anew (size, source, flags, metadata, wire_size).
    - An error after some datagrams is kept in the socket's state and reported by the next
      call on that socket; the datagrams are never lost to it. EINTR is retried; the
      socket's blocking mode is never changed. After the first call, no call allocates.
    - Per-socket state comes with the socket when it carries one (doc/socket_state.adoc).
*/
template <class Backend = DefaultBackend>
class BatchReceiver {
    static_assert(RecvBackend<Backend>,
                  "mmsg::BatchReceiver<Backend>: Backend does not model mmsg::RecvBackend. It "
                  "needs a member `std::size_t recv(int or mmsg::SocketRef, "
                  "std::span<const RecvSlot>, WaitMode, std::error_code&)` (see "
                  "mmsg/backend_concepts.hpp).");

public:
    using backend_type = Backend;

    BatchReceiver() requires std::default_initializable<Backend> = default;
    explicit BatchReceiver(Backend b) : backend_(std::move(b)) {}

    Backend& backend() noexcept { return backend_; }
    const Backend& backend() const noexcept { return backend_; }

    //! Receives into packets from the front; returns how many were filled. On error returns
    //! 0 with `ec` set (operation_would_block for a timeout or an empty non-blocking socket).
    //! An empty range returns 0 with no error and no system call.
    template <SocketLike Socket, ReceiveTarget Packets>
    std::size_t recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive(s, detail::packet_span(packets), WaitMode::socket_default, ec);
    }
    //! Same; throws std::system_error on error, and for an empty packet range
    //! (invalid_argument: nothing could ever be received into it).
    template <SocketLike Socket, ReceiveTarget Packets>
    std::size_t recv_mmsg(Socket&& s, Packets&& packets) {
        return detail::receive_or_throw(std::ranges::size(packets), "mmsg::recv_mmsg",
                                        [&](std::error_code& ec) { return recv_mmsg(s, packets, ec); });
    }

    //! Fills every packet, calling recv_mmsg until full. On error returns the count filled
    //! so far with `ec` set.
    template <SocketLike Socket, ReceiveTarget Packets>
    std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        auto all = detail::packet_span(packets);
        std::size_t filled = 0;
        ec.clear();
        while (filled < all.size()) {
            filled += receive(s, all.subspan(filled), WaitMode::socket_default, ec);
            if (ec) break;
        }
        return filled;
    }
    //! Same; throws ReceiveError (a std::system_error that says how many packets were
    //! filled before the error; they stay filled). An empty range is already full: 0.
    template <SocketLike Socket, ReceiveTarget Packets>
    std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets) {
        std::error_code ec;
        const std::size_t n = recv_mmsg_exact(s, packets, ec);
        if (ec) throw ReceiveError(ec, n, "mmsg::recv_mmsg_exact");
        return n;
    }

    //! Non-blocking form for any event loop: never waits, even on a blocking socket.
    //! Returns 0 with operation_would_block when nothing is queued: wait until the socket
    //! is readable and call again.
    template <SocketLike Socket, ReceiveTarget Packets>
    std::size_t try_recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive(s, detail::packet_span(packets), WaitMode::never, ec);
    }

    /*! Receives datagrams whole, as UDP GRO coalesced them: each packet one datagram or a
        run of segments from one sender (see BasicCoalescedPacket::segments()), with no
        split and no copy. Otherwise as recv_mmsg (blocking, errors, metadata, at most
        num_rcvmmsgs packets). On a backend that never coalesces, every packet is one
        datagram. Segments kept by an earlier split receive on the socket come first, each
        as its own packet. Returns how many packets were filled.
    */
    template <SocketLike Socket, CoalescedPacketRange Packets>
    std::size_t recv_coalesced(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive_coalesced(s, detail::packet_span(packets), WaitMode::socket_default, ec);
    }
    //! Same; throws std::system_error on error, and for an empty packet range.
    template <SocketLike Socket, CoalescedPacketRange Packets>
    std::size_t recv_coalesced(Socket&& s, Packets&& packets) {
        return detail::receive_or_throw(std::ranges::size(packets), "mmsg::recv_coalesced",
                                        [&](std::error_code& ec) { return recv_coalesced(s, packets, ec); });
    }
    //! Non-blocking form of recv_coalesced.
    template <SocketLike Socket, CoalescedPacketRange Packets>
    std::size_t try_recv_coalesced(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive_coalesced(s, detail::packet_span(packets), WaitMode::never, ec);
    }

    //! The SocketState this receiver uses for `s`: the one `s` carries, else the one it
    //! keeps for plain descriptors (bound to `s` from now on).
    template <SocketLike Socket>
    SocketState& socket_state(Socket&& s) {
        return *detail::socket_ref(s, implicit_).state;
    }
    //! Datagrams owed to a plain descriptor (GRO segments kept for its next receive) that
    //! were dropped because the receiver was used on another plain descriptor before it
    //! got them (see doc/socket_state.adoc). Always 0 with sockets that carry their state.
    std::uint64_t discarded() const noexcept { return implicit_.discarded(); }

private:
    //! An error met after some datagrams, for the next receive on that socket.
    struct KeptError {
        std::error_code error;
        bool owes() const noexcept { return static_cast<bool>(error); }
    };

    template <class Socket, class Packets>
    std::size_t receive(Socket& s, Packets packets, WaitMode mode, std::error_code& ec) noexcept {
        const std::size_t n = std::min(packets.size(), num_rcvmmsgs);
        lay_slots(packets, n);
        return run(s, n, ec, [&](SocketRef sock) {
            return backend_.recv(sock, std::span<const RecvSlot>(slots_.data(), n), mode, ec);
        });
    }
    // The slots are a function of where the packets are, so they are laid again only when
    // the packets differ from the last call's (a receive loop passes the same ones).
    struct Laid {
        const void* first = nullptr;
        const void* meta = nullptr;
        std::size_t n = 0;
        std::size_t capacity = 0;
        int kind = 0;
        friend bool operator==(const Laid&, const Laid&) = default;
    };
    static bool relay(Laid& laid, const Laid& now) noexcept {
        if (laid == now) return false;
        laid = now;
        return true;
    }
    template <class Packet>
    void lay_slots(std::span<Packet> packets, std::size_t n) noexcept {
        constexpr std::size_t N = Packet::capacity;
        if (n == 0 || !relay(laid_, {packets.data(), &packets[0].meta, n, N, 1})) return;
        for (std::size_t i = 0; i < n; ++i)
            slots_[i] = RecvSlot{packets[i].buffer.data(), N, &packets[i].meta};
    }
    template <std::size_t N>
    void lay_slots(BasicPacketBlockView<N> block, std::size_t n) noexcept {
        if (n == 0 || !relay(laid_, {block.bytes(), block.metas(), n, N, 2})) return;
        for (std::size_t i = 0; i < n; ++i)
            slots_[i] = RecvSlot{block.bytes() + i * N, N, block.metas() + i};
    }

    template <class Socket, std::size_t N>
    std::size_t receive_coalesced(Socket& s, std::span<BasicCoalescedPacket<N>> packets,
                                  WaitMode mode, std::error_code& ec) noexcept {
        const std::size_t n = std::min(packets.size(), num_rcvmmsgs);
        return run(s, n, ec, [&](SocketRef sock) -> std::size_t {
            if constexpr (CoalescingRecvBackend<Backend>) {
                if (relay(laid_coalesced_, {packets.data(), &packets[0].meta, n, N, 3}))
                    for (std::size_t i = 0; i < n; ++i)
                        coalesced_[i] = CoalescedSlot{packets[i].buffer.data(), N, &packets[i].meta,
                                                      &packets[i].segment_size};
                return backend_.recv_coalesced(sock, std::span<const CoalescedSlot>(coalesced_.data(), n),
                                               mode, ec);
            } else {
                // A backend that never coalesces: every datagram is one segment.
                lay_slots(packets, n);
                const std::size_t got =
                    backend_.recv(sock, std::span<const RecvSlot>(slots_.data(), n), mode, ec);
                for (std::size_t i = 0; i < got && i < n; ++i)
                    packets[i].segment_size = packets[i].meta.size;
                return got;
            }
        });
    }

    // The receive algorithm, once for every form: an error kept for the socket first, then
    // `call(sock)` (one backend call into `n` slots, setting ec) until it returns datagrams
    // or an error that is not EINTR; an error after datagrams is kept for the next call.
    template <class Socket, class Call>
    std::size_t run(Socket& s, std::size_t n, std::error_code& ec, Call call) noexcept {
        ec.clear();
        if (n == 0) return 0;
        try {
            const SocketRef sock = detail::socket_ref(s, implicit_);
            if (KeptError* kept = sock.state->find<KeptError>(); kept && kept->error) {
                ec = std::exchange(kept->error, {});
                return 0;
            }
            for (;;) {
                const std::size_t got = std::min(call(sock), n);
                if (got == 0) {
                    if (detail::is_interrupted(ec)) continue;
                    // A backend that returns nothing and no error would leave the caller
                    // blocked-looking forever; report it as would-block.
                    if (!ec) ec = detail::would_block_code();
                    return 0;
                }
                if (ec && !detail::is_interrupted(ec) && !detail::is_would_block(ec))
                    sock.state->get<KeptError>().error = ec;
                ec.clear();
                return got;
            }
        } catch (const std::bad_alloc&) {
            ec = std::make_error_code(std::errc::not_enough_memory);
            return 0;
        }
    }

    Backend backend_{};
    std::array<RecvSlot, num_rcvmmsgs> slots_{};
    std::array<CoalescedSlot, num_rcvmmsgs> coalesced_{};
    Laid laid_{};
    Laid laid_coalesced_{};
    detail::ImplicitState implicit_;
};

namespace detail {
inline BatchReceiver<DefaultBackend>& thread_receiver() {
    thread_local BatchReceiver<DefaultBackend> r;
    return r;
}
} // namespace detail

//! recv_mmsg on DefaultBackend. See BatchReceiver::recv_mmsg.
template <SocketLike Socket, ReceiveTarget Packets>
std::size_t recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
    return detail::thread_receiver().recv_mmsg(s, packets, ec);
}
template <SocketLike Socket, ReceiveTarget Packets>
std::size_t recv_mmsg(Socket&& s, Packets&& packets) {
    return detail::thread_receiver().recv_mmsg(s, packets);
}

//! recv_mmsg_exact on DefaultBackend. See BatchReceiver::recv_mmsg_exact.
template <SocketLike Socket, ReceiveTarget Packets>
std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
    return detail::thread_receiver().recv_mmsg_exact(s, packets, ec);
}
template <SocketLike Socket, ReceiveTarget Packets>
std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets) {
    return detail::thread_receiver().recv_mmsg_exact(s, packets);
}

} // namespace mmsg

#endif // MMSG_BATCH_RECEIVER_HPP
