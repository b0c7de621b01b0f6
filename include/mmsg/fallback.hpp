//! Defines mmsg::Fallback<Primary, Secondary...>: a backend that serves each socket with the
//! first of its backends that the socket and the kernel support, decided once per socket.
#ifndef MMSG_FALLBACK_HPP
#define MMSG_FALLBACK_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/one_segment_each.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_items.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/hana/at.hpp>
#include <boost/hana/size.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

namespace mmsg {

//! A backend that can say whether it serves socket `fd`: `b.probe(fd)` returns an empty
//! error_code when it does, the reason when it does not. Optional: a backend without it
//! serves every socket.
template <class B>
concept ProbingBackend = requires(B& b, int fd) {
    { b.probe(fd) } -> std::convertible_to<std::error_code>;
};

/*! A backend made of backends: each socket is served by the first of Primary,
    Secondary... whose probe accepts it (a backend without probe() accepts every socket),
    e.g. `Fallback<IoUringBackend, LinuxMmsgBackend, PortableBackend>`.

    The choice is made by probing on a socket's first call and kept in the socket's
    SocketState, so it lives and dies with the socket. If no backend accepts the socket, the
    call fails with the last backend's probe error. Every backend must model SendBackend
    (for send) / RecvBackend (for recv). Fallback takes trains whole (send_trains) when one
    of its backends does, and receives coalesced datagrams (recv_coalesced) when one of them
    can, so `Fallback<IoUringGsoBackend, LinuxGsoBackend, LinuxMmsgBackend>` keeps both
    paths of the GSO backends; a socket served by a backend without them gets the same
    datagrams one by one. Allocates once per socket (its state), and once for the scratch
    of those one-by-one forms; never per call after. Not thread-safe (like every backend).
*/
template <class Primary, class... Secondary>
class Fallback {
public:
    static constexpr std::size_t count = 1 + sizeof...(Secondary);
    //! True only when every alternative carries per-datagram metadata.
    static constexpr bool carries_metadata =
        carries_metadata_v<Primary> && (carries_metadata_v<Secondary> && ...);
    //! Returned by chosen() for a socket no backend accepts.
    static constexpr std::size_t none = count;

    Fallback() requires(std::default_initializable<Primary> &&
                        (std::default_initializable<Secondary> && ...)) = default;
    explicit Fallback(Primary p, Secondary... s) : backends_(std::move(p), std::move(s)...) {}

    //! The i-th backend (0: Primary).
    template <std::size_t I>
    auto& get() noexcept {
        return boost::hana::at_c<I>(backends_);
    }

    /*! Which backend serves socket `s` (0: Primary, ... ; none if no backend accepts it),
        probing now if this is its first use. `why` receives the last refusal: why the
        backend before the chosen one did not serve it (empty when Primary does), or, when
        none accept, the last backend's reason. A plain descriptor uses this backend's own
        state for it (see SocketRef).
    */
    std::size_t chosen(SocketRef s, std::error_code& why) {
        s = implicit_.resolve(s);
        Choice& c = s.state->get<Choice>();
        if (!c.made) {
            c.index = static_cast<std::uint8_t>(probe_from<0>(s.fd, c.why));
            c.made = true;
        }
        why = c.why;
        return c.index;
    }
    std::size_t chosen(SocketRef s) {
        std::error_code ignored;
        return chosen(s, ignored);
    }

    //! Fallback's own probe: accepts a socket when one of its backends does.
    std::error_code probe(int fd) {
        std::error_code why;
        if (probe_from<0>(fd, why) != none) why.clear();
        return why;
    }

    SendOutcome send(SocketRef s, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        return serve(s, refused_send, [&](auto& b, SocketRef r) { return b.send(r, items, errors, mode); });
    }

    std::size_t recv(SocketRef s, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        return serve(s, refused_recv(ec), [&](auto& b, SocketRef r) {
            ec.clear();
            return b.recv(r, slots, mode, ec);
        });
    }

    /*! TrainSendBackend, when one of the backends is: trains go whole to the chosen backend
        if it takes them, else as one SendItem per datagram (at most max_send_batch of them
        per call, the rest left for the next call as the contract allows).
    */
    SendOutcome send_trains(SocketRef s, std::span<const SendTrain> trains,
                            std::span<std::error_code> errors, WaitMode mode)
        requires(TrainSendBackend<Primary> || (TrainSendBackend<Secondary> || ...))
    {
        return serve(s, refused_send, [&](auto& b, SocketRef r) {
            if constexpr (TrainSendBackend<std::remove_reference_t<decltype(b)>>) {
                return b.send_trains(r, trains, errors, mode);
            } else {
                SendItem* items = items_.get(max_send_batch);
                const std::size_t n = detail::train_items(trains, 0, max_send_batch,
                                                          std::span<SendItem>(items, max_send_batch));
                return b.send(r, std::span<const SendItem>(items, n), errors, mode);
            }
        });
    }

    /*! CoalescingRecvBackend, when one of the backends is: the chosen backend's
        recv_coalesced if it has one, else its recv, each datagram one segment (as
        BatchReceiver::recv_coalesced serves a backend that never coalesces).
    */
    std::size_t recv_coalesced(SocketRef s, std::span<const CoalescedSlot> slots, WaitMode mode,
                               std::error_code& ec)
        requires(CoalescingRecvBackend<Primary> || (CoalescingRecvBackend<Secondary> || ...))
    {
        return serve(s, refused_recv(ec), [&](auto& b, SocketRef r) -> std::size_t {
            ec.clear();
            if constexpr (CoalescingRecvBackend<std::remove_reference_t<decltype(b)>>) {
                return b.recv_coalesced(r, slots, mode, ec);
            } else {
                const std::size_t n = std::min(slots.size(), num_rcvmmsgs);
                return detail::recv_one_segment_each(b, r, slots.first(n), slots_.get(num_rcvmmsgs),
                                                     mode, ec);
            }
        });
    }

private:
    //! The SocketState part of this Fallback type: its choice for the socket.
    struct Choice {
        bool made = false;
        std::uint8_t index = static_cast<std::uint8_t>(none);
        std::error_code why{};
    };

    // Calls serve_it(backend, s) with the backend chosen for socket `s` (its state resolved
    // once here), or returns refused(why) when no backend accepts it: the one place every
    // call finds its backend.
    template <class Refused, class Serve>
    decltype(auto) serve(SocketRef s, Refused&& refused, Serve&& serve_it) {
        s = implicit_.resolve(s);
        std::error_code why;
        const std::size_t i = chosen(s, why);
        if (i == none) return refused(why);
        return dispatch(i, [&](auto& b) { return serve_it(b, s); });
    }
    // What send and send_trains return for a socket no backend accepts: nothing sent, the
    // refusal fatal for the whole call.
    static SendOutcome refused_send(std::error_code why) { return {0, why}; }
    // The same for the receives: nothing received, the refusal in `ec`.
    static auto refused_recv(std::error_code& ec) {
        return [&ec](std::error_code why) -> std::size_t {
            ec = why;
            return 0;
        };
    }

    template <class B>
    static std::error_code probe_one(B& b, int fd) {
        if constexpr (ProbingBackend<B>)
            return b.probe(fd);
        else
            return {};
    }

    template <std::size_t I>
    std::size_t probe_from(int fd, std::error_code& why) {
        if constexpr (I == count) {
            return none;
        } else {
            if (std::error_code e = probe_one(boost::hana::at_c<I>(backends_), fd); e) {
                why = e;
                return probe_from<I + 1>(fd, why);
            }
            return I; // `why` keeps the refusal of the backend before, if any
        }
    }

    // Calls f with backend i; one branch per backend, chosen at run time.
    template <class F, std::size_t I = 0>
    decltype(auto) dispatch(std::size_t i, F&& f) {
        if constexpr (I + 1 == count) {
            return f(boost::hana::at_c<I>(backends_));
        } else {
            if (i == I) return f(boost::hana::at_c<I>(backends_));
            return dispatch<F, I + 1>(i, std::forward<F>(f));
        }
    }

    boost::hana::tuple<Primary, Secondary...> backends_{};
    detail::ImplicitState implicit_; // for calls with a plain descriptor (no state)
    detail::Scratch<SendItem> items_; // send_trains to a backend without it
    detail::Scratch<RecvSlot> slots_; // recv_coalesced on a backend without it
};

} // namespace mmsg

#endif // MMSG_FALLBACK_HPP
