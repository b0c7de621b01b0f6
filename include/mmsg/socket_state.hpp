//! Defines mmsg::SocketState (what mmsg remembers about one socket), mmsg::SocketRef (a
//! socket as a backend sees it) and the StatefulSocket concept. (Over 300 lines: the state,
//! its parts' storage and the ways a socket reaches it belong together.)
#ifndef MMSG_SOCKET_STATE_HPP
#define MMSG_SOCKET_STATE_HPP

#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/socket_like.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsg {

/*! What mmsg remembers about one socket, in one object with the socket's lifetime (see
    doc/socket_state.adoc): the receiver's kept error, GSO trains turned off, GRO turned on
    and GRO segments kept for the next call, a Fallback's choice, the kernel's drop counter,
    whether the descriptor was checked to be a datagram socket.

    Each layer keeps its own part, a value of a type of its own made on first use
    (`get<T>()`), so a backend written by a user can keep per-socket state here too. Parts
    are few (one to three per socket) and small ones are kept inside the SocketState, so
    finding one is a short scan of memory the socket owns, with no lookup by descriptor.

    A SocketState belongs to one socket. Reach it from a socket argument by passing an
    mmsg::Socket, or `mmsg::with_state(socket, state)`, or any object with `mmsg_state()`;
    a plain descriptor or Asio socket uses the state its sender/receiver keeps for the
    socket it served last (see doc/socket_state.adoc). Not thread-safe: one thread at a
    time per socket, as for the sender and receiver that use it. Movable, not copyable.
*/
class SocketState {
public:
    SocketState() = default;
    SocketState(SocketState&& o) noexcept { take(o); }
    SocketState& operator=(SocketState&& o) noexcept {
        if (this != &o) {
            clear();
            take(o);
        }
        return *this;
    }
    SocketState(const SocketState&) = delete;
    SocketState& operator=(const SocketState&) = delete;
    ~SocketState() { clear(); }

    //! The part of type T, value-initialised on first use. Throws std::bad_alloc (first
    //! use only, for a part too large to be kept inside the SocketState).
    template <class T>
    T& get() {
        if (T* p = find<T>()) return *p;
        if constexpr (fits_inline<T>) {
            if (used_ < inline_parts) {
                T* p = ::new (static_cast<void*>(room_[used_])) T();
                kinds_[used_++] = &kind_of<T>;
                return *p;
            }
        }
        more_.push_back(HeapPart{&kind_of<T>, std::unique_ptr<void, void (*)(void*)>(
                                                  new T(), [](void* q) { delete static_cast<T*>(q); })});
        return *static_cast<T*>(more_.back().p.get());
    }
    //! The part of type T if it was made, else nullptr.
    template <class T>
    T* find() noexcept {
        for (std::size_t i = 0; i < used_; ++i)
            if (kinds_[i] == &kind_of<T>) return std::launder(reinterpret_cast<T*>(room_[i]));
        for (HeapPart& part : more_)
            if (part.kind == &kind_of<T>) return static_cast<T*>(part.p.get());
        return nullptr;
    }
    template <class T>
    const T* find() const noexcept {
        return const_cast<SocketState*>(this)->find<T>();
    }

    /*! Datagrams a part still owes the socket's next receive (GRO segments kept for it):
        the sum of `pending()` over the parts that have that member.
    */
    std::size_t pending() const noexcept {
        std::size_t n = 0;
        each([&](const Kind& k, const void* p) {
            if (k.pending) n += k.pending(p);
        });
        return n;
    }
    //! Whether a part owes the socket's next call something: datagrams (pending()) or an
    //! error kept for it (a part with `bool owes() const` that says so).
    bool owes() const noexcept {
        bool any = false;
        each([&](const Kind& k, const void* p) {
            any = any || (k.pending && k.pending(p) > 0) || (k.owes && k.owes(p));
        });
        return any;
    }

    //! Datagrams the kernel dropped on this socket for lack of receive-buffer room, as it
    //! reported with the last datagram received (SO_RXQ_OVFL, see enable_drop_count);
    //! counted across the kernel's 32-bit wrap.
    std::uint64_t dropped() const noexcept { return dropped_; }
    //! Records the kernel's raw drop counter reported with a received datagram.
    void note_drops(std::uint32_t raw) noexcept {
        dropped_ += static_cast<std::uint32_t>(raw - last_raw_drops_);
        last_raw_drops_ = raw;
    }

    /*! Datagrams mmsg took off this socket and then dropped without handing them out: those
        a LendingReceiver had received but not yet lent when it was destroyed (stop() it and
        receive until it says so to lose none). Nothing else is ever dropped this way.
    */
    std::uint64_t discarded() const noexcept { return discarded_; }
    //! Records `n` such datagrams.
    void note_discarded(std::uint64_t n) noexcept { discarded_ += n; }

    //! Forgets everything: the socket is used as if for the first time.
    void clear() noexcept {
        for (std::size_t i = 0; i < used_; ++i) kinds_[i]->destroy(room_[i]);
        used_ = 0;
        more_.clear();
        last_raw_drops_ = 0;
        dropped_ = 0;
        discarded_ = 0;
    }

private:
    // What the SocketState needs to know about a part's type; one static table per type.
    struct Kind {
        void (*destroy)(void*) noexcept;
        void (*relocate)(void* from, void* to) noexcept; // move-construct at `to`, destroy `from`
        std::size_t (*pending)(const void*) noexcept;
        bool (*owes)(const void*) noexcept;
    };
    using PendingFn = std::size_t (*)(const void*) noexcept;
    using OwesFn = bool (*)(const void*) noexcept;
    template <class T>
    static constexpr PendingFn pending_of() {
        if constexpr (requires(const T& t) {
                          { t.pending() } -> std::convertible_to<std::size_t>;
                      })
            return [](const void* p) noexcept -> std::size_t { return static_cast<const T*>(p)->pending(); };
        else
            return nullptr;
    }
    template <class T>
    static constexpr OwesFn owes_of() {
        if constexpr (requires(const T& t) {
                          { t.owes() } -> std::convertible_to<bool>;
                      })
            return [](const void* p) noexcept -> bool { return static_cast<const T*>(p)->owes(); };
        else
            return nullptr;
    }
    template <class T>
    static constexpr Kind kind_of = {
        [](void* p) noexcept { static_cast<T*>(p)->~T(); },
        [](void* from, void* to) noexcept {
            if constexpr (std::is_nothrow_move_constructible_v<T>) {
                T* f = static_cast<T*>(from);
                ::new (to) T(std::move(*f));
                f->~T();
            }
        },
        pending_of<T>(),
        owes_of<T>(),
    };

    // Small parts are kept inside the SocketState, so reaching one touches no other memory.
    static constexpr std::size_t inline_parts = 4;
    static constexpr std::size_t inline_room = 96;
    template <class T>
    static constexpr bool fits_inline = sizeof(T) <= inline_room &&
        alignof(T) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<T>;

    struct HeapPart {
        const Kind* kind;
        std::unique_ptr<void, void (*)(void*)> p;
    };

    template <class F>
    void each(F f) const {
        for (std::size_t i = 0; i < used_; ++i) f(*kinds_[i], room_[i]);
        for (const HeapPart& part : more_) f(*part.kind, part.p.get());
    }
    void take(SocketState& o) noexcept {
        for (std::size_t i = 0; i < o.used_; ++i) {
            o.kinds_[i]->relocate(o.room_[i], room_[i]);
            kinds_[i] = o.kinds_[i];
        }
        used_ = std::exchange(o.used_, 0);
        more_ = std::move(o.more_);
        last_raw_drops_ = o.last_raw_drops_;
        dropped_ = o.dropped_;
        discarded_ = o.discarded_;
    }

    const Kind* kinds_[inline_parts] = {};
    std::size_t used_ = 0;
    std::uint32_t last_raw_drops_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t discarded_ = 0;
    alignas(std::max_align_t) unsigned char room_[inline_parts][inline_room];
    std::vector<HeapPart> more_;
};

/*! A socket as a backend sees it: its descriptor (a MockNetwork handle for the mock) and
    the SocketState of that socket. Converts to the descriptor, so a backend whose members
    take an `int` is called with it unchanged; a backend that keeps per-socket state takes
    a SocketRef. `state` is never null when BatchSender, BatchReceiver or a policy calls a
    backend; a backend called directly with a plain descriptor gets a null state and keeps
    one of its own for that descriptor (see detail::ImplicitState).
*/
struct SocketRef {
    int fd = -1;
    SocketState* state = nullptr;

    constexpr SocketRef() = default;
    constexpr SocketRef(int d, SocketState* s = nullptr) noexcept : fd(d), state(s) {}
    constexpr operator int() const noexcept { return fd; }
    constexpr int native_handle() const noexcept { return fd; }
};

//! A socket argument that carries its own SocketState: `s.mmsg_state()` returns it.
template <class S>
concept StatefulSocket = SocketLike<S> && requires(S& s) {
    { s.mmsg_state() } -> std::same_as<SocketState&>;
};

/*! A socket paired with a SocketState the caller keeps for it (as quinn-udp's
    UdpSocketState sits beside its socket): pass it wherever a socket is taken. Made by
    with_state(); holds references, so both must outlive it.
*/
template <class Socket>
class WithState {
public:
    WithState(Socket& s, SocketState& state) noexcept : socket_(&s), state_(&state) {}

    int native_handle() const noexcept { return detail::native(*socket_); }
    SocketState& mmsg_state() const noexcept { return *state_; }
    Socket& socket() const noexcept { return *socket_; }

private:
    Socket* socket_;
    SocketState* state_;
};

//! `socket` with the SocketState `state` the caller keeps for it (see WithState).
template <SocketLike Socket>
WithState<std::remove_reference_t<Socket>> with_state(Socket& socket, SocketState& state) noexcept {
    return {socket, state};
}

namespace detail {

//! The socket argument `s` as a SocketRef: its own state if it carries one, else `fallback`'s.
template <class Fallback, SocketLike S>
SocketRef socket_ref(S&& s, Fallback& fallback) {
    if constexpr (std::same_as<std::remove_cvref_t<S>, SocketRef>) return fallback.resolve(s);
    else if constexpr (StatefulSocket<S>) return {native(s), &s.mmsg_state()};
    else return fallback.bind(native(s));
}

/*! The state kept for plain descriptors (ints, Asio sockets), which carry none: one
    SocketState for the socket served last. A call on another descriptor starts it over: a
    plain descriptor has no lifetime mmsg can see, so what the state held for the socket
    before is forgotten. Datagrams it still owed that socket (GRO segments kept for its
    next receive) are counted in discarded(), never handed to another socket: while the
    state owes anything, each call checks that the descriptor still names the same socket
    (SO_COOKIE; a closed number can be reused by a new socket).
*/
class ImplicitState {
public:
    ImplicitState() = default;
    // A copy starts empty, like the scratch arrays it goes with: state is never shared.
    ImplicitState(const ImplicitState&) noexcept {}
    ImplicitState(ImplicitState&&) noexcept = default;
    ImplicitState& operator=(const ImplicitState& o) noexcept {
        if (this != &o) *this = ImplicitState();
        return *this;
    }
    ImplicitState& operator=(ImplicitState&&) noexcept = default;

    SocketRef bind(int fd) noexcept {
        if (fd != fd_ || (state_.owes() && socket_cookie(fd) != cookie_)) {
            discarded_ += state_.pending();
            state_.clear();
            fd_ = fd;
            cookie_ = socket_cookie(fd);
        }
        return {fd, &state_};
    }
    //! A SocketRef that has a state: `s` itself, or `s` bound to this implicit state.
    SocketRef resolve(SocketRef s) noexcept { return s.state ? s : bind(s.fd); }
    std::uint64_t discarded() const noexcept { return discarded_; }

private:
    int fd_ = -1;
    std::uint64_t cookie_ = 0;
    SocketState state_;
    std::uint64_t discarded_ = 0;
};

} // namespace detail
} // namespace mmsg

#endif // MMSG_SOCKET_STATE_HPP
