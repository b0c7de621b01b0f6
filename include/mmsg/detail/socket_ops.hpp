//! Thin wrappers over the socket system calls: the only place that reads errno. The one
//! policy here is the socket's own timeout: an interrupted blocking call spends what is
//! left of SO_RCVTIMEO / SO_SNDTIMEO rather than starting it over (see interruptible);
//! every other EINTR goes back to BatchSender/BatchReceiver, which retry it. (Over 300
//! lines: it is every system call mmsg makes on a socket, on purpose in one file.)
#ifndef MMSG_DETAIL_SOCKET_OPS_HPP
#define MMSG_DETAIL_SOCKET_OPS_HPP

#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/ip/udp.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

namespace mmsg::detail {

//! The sockaddr of an endpoint, for msg_name. The kernel only reads it.
inline void* sockaddr_of(const Endpoint& ep) noexcept {
    return const_cast<void*>(static_cast<const void*>(ep.data()));
}

//! Sets the destination of an outgoing message: `dest`, or none (the connected peer) when
//! `dest` is null.
inline void set_destination(msghdr& h, const Endpoint* dest) noexcept {
    h.msg_name = dest != nullptr ? sockaddr_of(*dest) : nullptr;
    h.msg_namelen = dest != nullptr ? static_cast<socklen_t>(dest->size()) : 0;
}

//! Decodes a kernel-written source address; an unknown family (or a short length) gives
//! a default Endpoint rather than garbage.
inline Endpoint endpoint_from(const sockaddr_storage& ss, socklen_t len) noexcept {
    Endpoint ep;
    if (ss.ss_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        std::memcpy(ep.data(), &ss, sizeof(sockaddr_in));
    } else if (ss.ss_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        std::memcpy(ep.data(), &ss, sizeof(sockaddr_in6));
    }
    return ep;
}

inline int flags_for(bool dont_wait) noexcept { return dont_wait ? MSG_DONTWAIT : 0; }

//! Flags of every receive: MSG_TRUNC makes the kernel report a datagram's length on the wire
//! even when it was longer than the buffer (so a truncation says by how much).
inline int recv_flags(bool dont_wait) noexcept { return MSG_TRUNC | flags_for(dont_wait); }

//! A coarse monotonic time in nanoseconds (CLOCK_MONOTONIC_COARSE: a few ms resolution,
//! about 10 ns to read), enough to account for a socket timeout.
inline std::int64_t coarse_now_ns() noexcept {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

//! The socket's SO_RCVTIMEO / SO_SNDTIMEO (`which`) in nanoseconds; 0: none (or unknown).
inline std::int64_t socket_timeout_ns(int fd, int which) noexcept {
    timeval tv{};
    socklen_t len = sizeof tv;
    if (::getsockopt(fd, SOL_SOCKET, which, &tv, &len) != 0) return 0;
    return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 +
           static_cast<std::int64_t>(tv.tv_usec) * 1000;
}

/*! Makes the blocking socket call `call(flags)` (returns < 0 with errno set when it fails)
    so that an interruption spends the socket's own timeout instead of restarting it.

    A socket call with SO_RCVTIMEO / SO_SNDTIMEO that a signal interrupts fails with EINTR
    (SA_RESTART or not); called again, the kernel would start the whole timeout over, so a
    periodic signal (a profiler's SIGPROF) would keep a timed receive from ever timing out.
    Here, after EINTR: wait with ppoll for `events` (POLLIN / POLLOUT) for what is left of
    the timeout since the first call began, then make the call again without waiting
    (MSG_DONTWAIT). Time used up is EAGAIN, as the kernel reports a timeout; a socket without
    a timeout waits as long as it takes. With MSG_DONTWAIT in `flags` the call cannot wait:
    it is made once and may still return EINTR.
*/
template <class Call>
long interruptible(int fd, short events, int flags, Call&& call) noexcept {
    if (flags & MSG_DONTWAIT) return call(flags);
    const std::int64_t since = coarse_now_ns();
    long r = call(flags);
    if (r >= 0 || errno != EINTR) return r;
    const std::int64_t timeout = socket_timeout_ns(fd, events == POLLIN ? SO_RCVTIMEO : SO_SNDTIMEO);
    for (;;) {
        timespec left{};
        const timespec* limit = nullptr;
        if (timeout > 0) {
            const std::int64_t rest = timeout - (coarse_now_ns() - since);
            if (rest <= 0) {
                errno = EAGAIN;
                return -1;
            }
            left.tv_sec = static_cast<time_t>(rest / 1'000'000'000);
            left.tv_nsec = static_cast<long>(rest % 1'000'000'000);
            limit = &left;
        }
        pollfd p{fd, events, 0};
        const int k = ::ppoll(&p, 1, limit, nullptr);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) {
            errno = EAGAIN;
            return -1;
        }
        r = call(flags | MSG_DONTWAIT);
        // Another reader may have taken what made the socket ready: wait again.
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return r;
    }
}

//! sendto(2); a null `dest` sends to the connected peer.
inline long sys_sendto(int fd, const void* data, std::size_t size, const Endpoint* dest, int flags,
                    std::error_code& ec) noexcept {
    const long r = interruptible(fd, POLLOUT, flags, [&](int f) {
        return static_cast<long>(::sendto(
            fd, data, size, f | MSG_NOSIGNAL,
            dest != nullptr ? static_cast<const sockaddr*>(sockaddr_of(*dest)) : nullptr,
            dest != nullptr ? static_cast<socklen_t>(dest->size()) : 0));
    });
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return r;
}

inline long sys_recvmsg(int fd, msghdr* msg, int flags, std::error_code& ec) noexcept {
    const long r = interruptible(fd, POLLIN, flags, [&](int f) {
        return static_cast<long>(::recvmsg(fd, msg, f));
    });
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return r;
}

/*! Waits as a receive on `fd` would (blocking mode, SO_RCVTIMEO spent across signals) until
    a datagram is queued, taking nothing: a zero-byte MSG_PEEK. Returns false with `ec`
    (would-block for a timeout or a non-blocking socket, or the socket's error) when none
    came.
*/
inline bool sys_wait_readable(int fd, std::error_code& ec) noexcept {
    const long r = interruptible(fd, POLLIN, 0, [&](int f) {
        return static_cast<long>(::recv(fd, nullptr, 0, f | MSG_PEEK));
    });
    if (r < 0) {
        ec = errno_code(errno);
        return false;
    }
    ec.clear();
    return true;
}

inline long sys_sendmsg(int fd, const msghdr* msg, int flags, std::error_code& ec) noexcept {
    const long r = interruptible(fd, POLLOUT, flags, [&](int f) {
        return static_cast<long>(::sendmsg(fd, msg, f | MSG_NOSIGNAL));
    });
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return r;
}

//! A descriptor closed when it goes out of scope.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    int release() noexcept {
        const int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

//! A new UDP socket of `family` (AF_INET, AF_INET6), close-on-exec; -1 and `ec` on failure.
inline int open_udp(int family, std::error_code& ec) noexcept {
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) ec = errno_code(errno);
    else ec.clear();
    return fd;
}

//! Binds `fd` to `local`.
inline std::error_code bind_to(int fd, const Endpoint& local) noexcept {
    if (::bind(fd, static_cast<const sockaddr*>(static_cast<const void*>(local.data())),
               static_cast<socklen_t>(local.size())) == 0)
        return {};
    return errno_code(errno);
}

//! Connects `fd` to `peer` (a UDP socket: only sets its default destination and filter).
inline std::error_code connect_to(int fd, const Endpoint& peer) noexcept {
    if (::connect(fd, static_cast<const sockaddr*>(static_cast<const void*>(peer.data())),
                  static_cast<socklen_t>(peer.size())) == 0)
        return {};
    return errno_code(errno);
}

//! The address `fd` is bound to (getsockname), in `out`.
inline std::error_code local_endpoint_of(int fd, Endpoint& out) noexcept {
    socklen_t len = static_cast<socklen_t>(out.capacity());
    if (::getsockname(fd, static_cast<sockaddr*>(static_cast<void*>(out.data())), &len) != 0)
        return errno_code(errno);
    out.resize(len);
    return {};
}

//! The address family of the socket behind `fd` (AF_INET, AF_INET6, ...); 0 when unknown.
inline int family_of(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    return ss.ss_family;
}

//! Sets SO_RCVTIMEO (or, with `which` = SO_SNDTIMEO, the send timeout) to `usec` microseconds.
inline std::error_code set_timeout(int fd, int which, long usec) noexcept {
    timeval tv{static_cast<time_t>(usec / 1'000'000), static_cast<suseconds_t>(usec % 1'000'000)};
    if (::setsockopt(fd, SOL_SOCKET, which, &tv, sizeof tv) == 0) return {};
    return errno_code(errno);
}

//! Sets an int-valued socket option; returns the error, if any.
inline std::error_code set_int_option(int fd, int level, int name, int value) noexcept {
    if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return {};
    return errno_code(errno);
}

//! Reads an int-valued socket option into `value`; returns the error, if any.
inline std::error_code get_int_option(int fd, int level, int name, int& value) noexcept {
    socklen_t len = sizeof value;
    if (::getsockopt(fd, level, name, &value, &len) == 0) return {};
    return errno_code(errno);
}

//! The socket's type (SO_TYPE: SOCK_DGRAM, SOCK_STREAM, ...) in `type`; the error when
//! `fd` is not a socket or not open.
inline std::error_code socket_type(int fd, int& type) noexcept {
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) return {};
    return errno_code(errno);
}

/*! The kernel's identity of the socket behind `fd` (SO_COOKIE): unique for the life of the
    system, so a reused descriptor number is told apart from the socket that had it before.
    0 when unknown (not a socket, or no SO_COOKIE).
*/
inline std::uint64_t socket_cookie(int fd) noexcept {
#ifdef SO_COOKIE
    std::uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0) return cookie;
#else
    (void)fd;
#endif
    return 0;
}

#if MMSG_HAS_MMSG
//! sendmmsg(2), with its contract (messages sent, msg_len of each set; -1 and `ec` when the
//! first fails). One message goes by sendmsg(2), which the kernel does with less work
//! (doc/gso.adoc, "One message, one sendmsg").
inline int sys_sendmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
    if (n == 1) {
        const long r = sys_sendmsg(fd, &v->msg_hdr, flags, ec);
        if (r < 0) return -1;
        v->msg_len = static_cast<unsigned>(r);
        return 1;
    }
    const long r = interruptible(fd, POLLOUT, flags, [&](int f) {
        return static_cast<long>(::sendmmsg(fd, v, n, f | MSG_NOSIGNAL));
    });
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return static_cast<int>(r);
}

inline int sys_recvmmsg(int fd, mmsghdr* v, unsigned n, int flags, std::error_code& ec) noexcept {
    // The timeout argument is never used: the kernel checks it only between datagrams, so
    // a quiet socket would block past it. SO_RCVTIMEO is honoured, signals or not.
    const long r = interruptible(fd, POLLIN, flags, [&](int f) {
        return static_cast<long>(::recvmmsg(fd, v, n, f, nullptr));
    });
    if (r < 0) ec = errno_code(errno);
    else ec.clear();
    return static_cast<int>(r);
}
#endif

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SOCKET_OPS_HPP
