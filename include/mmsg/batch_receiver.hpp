//! Defines mmsg::BatchReceiver, the batching receive algorithm, and the free functions
//! mmsg::recv_mmsg / mmsg::recv_mmsg_exact on the default backend.
#ifndef MMSG_BATCH_RECEIVER_HPP
#define MMSG_BATCH_RECEIVER_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/native_handle.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

namespace mmsg {

namespace detail {
template <class T>
struct is_basic_packet : std::false_type {};
template <std::size_t N>
struct is_basic_packet<BasicPacket<N>> : std::true_type {};

template <class Packets>
auto packet_span(Packets& p) noexcept {
    return std::span<std::ranges::range_value_t<Packets>>(std::ranges::data(p), std::ranges::size(p));
}
} // namespace detail

//! A receive target: a contiguous, sized range of mutable BasicPacket<N>.
template <class R>
concept PacketRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    detail::is_basic_packet<std::remove_cv_t<std::ranges::range_value_t<R>>>::value &&
    !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>;

/*! The receive half of mmsg: takes every queued datagram (up to num_rcvmmsgs) with one
    backend call.

    - recv_mmsg blocks as the socket says (blocking mode, SO_RCVTIMEO) until one datagram
      is there, then takes all that are queued, up to min(packets.size(), num_rcvmmsgs).
      A timeout or an empty non-blocking socket is operation_would_block, never a hang.
    - Each filled packet's meta is assigned anew: size, source address (IPv4 and IPv6),
      flags (PacketFlags::truncated when the datagram was longer than the buffer).
    - An error that comes after some datagrams were received is kept and reported by the
      next call on the same socket, so the datagrams are never lost to it. (The same
      socket: if its descriptor number was closed and reused meanwhile, SO_COOKIE tells
      them apart and the error is dropped with the socket it belonged to.)
    - EINTR is retried. The socket's blocking mode is never changed. After the first call,
      no call allocates.
*/
template <class Backend = DefaultBackend>
class BatchReceiver {
    static_assert(RecvBackend<Backend>,
                  "mmsg::BatchReceiver<Backend>: Backend does not model mmsg::RecvBackend. It "
                  "needs a member `std::size_t recv(int, std::span<const RecvSlot>, WaitMode, "
                  "std::error_code&)` (see mmsg/backend_concepts.hpp).");

public:
    using backend_type = Backend;

    BatchReceiver() requires std::default_initializable<Backend> = default;
    explicit BatchReceiver(Backend b) : backend_(std::move(b)) {}

    Backend& backend() noexcept { return backend_; }
    const Backend& backend() const noexcept { return backend_; }

    //! Receives into packets from the front; returns how many were filled. On error returns
    //! 0 with `ec` set (operation_would_block for a timeout or an empty non-blocking socket).
    template <SocketLike Socket, PacketRange Packets>
    std::size_t recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive(detail::native(s), detail::packet_span(packets), WaitMode::socket_default, ec);
    }
    //! Same; throws std::system_error on error.
    template <SocketLike Socket, PacketRange Packets>
    std::size_t recv_mmsg(Socket&& s, Packets&& packets) {
        std::error_code ec;
        const std::size_t n = recv_mmsg(s, packets, ec);
        if (ec) throw std::system_error(ec, "mmsg::recv_mmsg");
        return n;
    }

    //! Fills every packet, calling recv_mmsg until full. On error returns the count filled
    //! so far with `ec` set.
    template <SocketLike Socket, PacketRange Packets>
    std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        const int fd = detail::native(s);
        auto all = detail::packet_span(packets);
        std::size_t filled = 0;
        ec.clear();
        while (filled < all.size()) {
            filled += receive(fd, all.subspan(filled), WaitMode::socket_default, ec);
            if (ec) break;
        }
        return filled;
    }
    //! Same; throws std::system_error on error (the packets filled so far stay filled).
    template <SocketLike Socket, PacketRange Packets>
    std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets) {
        std::error_code ec;
        const std::size_t n = recv_mmsg_exact(s, packets, ec);
        if (ec) throw std::system_error(ec, "mmsg::recv_mmsg_exact");
        return n;
    }

    //! Non-blocking form for any event loop: never waits, even on a blocking socket.
    //! Returns 0 with operation_would_block when nothing is queued: wait until the socket
    //! is readable and call again.
    template <SocketLike Socket, PacketRange Packets>
    std::size_t try_recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
        return receive(detail::native(s), detail::packet_span(packets), WaitMode::never, ec);
    }

    //! The algorithm itself, for layers built on BatchReceiver (the asynchronous one).
    template <std::size_t N>
    std::size_t receive(int fd, std::span<BasicPacket<N>> packets, WaitMode mode,
                        std::error_code& ec) noexcept {
        ec.clear();
        const std::size_t n = std::min(packets.size(), num_rcvmmsgs);
        if (n == 0) return 0;
        if (pending_ && pending_fd_ == fd) {
            const std::error_code kept = std::exchange(pending_, {});
            // Only for the socket that met it: the number may have been closed and reused.
            if (pending_cookie_ == detail::socket_cookie(fd)) {
                ec = kept;
                return 0;
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            slots_[i] = RecvSlot{packets[i].buffer.data(), N, &packets[i].meta};
        for (;;) {
            std::size_t got = 0;
            try {
                got = std::min(backend_.recv(fd, std::span<const RecvSlot>(slots_.data(), n), mode, ec), n);
            } catch (const std::bad_alloc&) {
                ec = std::make_error_code(std::errc::not_enough_memory);
                return 0;
            }
            if (got == 0) {
                if (detail::is_interrupted(ec)) continue;
                // A backend that returns nothing and no error would leave the caller
                // blocked-looking forever; report it as would-block.
                if (!ec) ec = detail::would_block_code();
                return 0;
            }
            if (ec && !detail::is_interrupted(ec) && !detail::is_would_block(ec)) {
                pending_ = ec;
                pending_fd_ = fd;
                pending_cookie_ = detail::socket_cookie(fd);
            }
            ec.clear();
            return got;
        }
    }

private:
    Backend backend_{};
    std::array<RecvSlot, num_rcvmmsgs> slots_{};
    std::error_code pending_{};
    int pending_fd_ = -1;
    std::uint64_t pending_cookie_ = 0; // SO_COOKIE of that socket (0: unknown, e.g. the mock)
};

namespace detail {
inline BatchReceiver<DefaultBackend>& thread_receiver() {
    thread_local BatchReceiver<DefaultBackend> r;
    return r;
}
} // namespace detail

//! recv_mmsg on DefaultBackend. See BatchReceiver::recv_mmsg.
template <SocketLike Socket, PacketRange Packets>
std::size_t recv_mmsg(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
    return detail::thread_receiver().recv_mmsg(s, packets, ec);
}
template <SocketLike Socket, PacketRange Packets>
std::size_t recv_mmsg(Socket&& s, Packets&& packets) {
    return detail::thread_receiver().recv_mmsg(s, packets);
}

//! recv_mmsg_exact on DefaultBackend. See BatchReceiver::recv_mmsg_exact.
template <SocketLike Socket, PacketRange Packets>
std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets, std::error_code& ec) noexcept {
    return detail::thread_receiver().recv_mmsg_exact(s, packets, ec);
}
template <SocketLike Socket, PacketRange Packets>
std::size_t recv_mmsg_exact(Socket&& s, Packets&& packets) {
    return detail::thread_receiver().recv_mmsg_exact(s, packets);
}

} // namespace mmsg

#endif // MMSG_BATCH_RECEIVER_HPP
