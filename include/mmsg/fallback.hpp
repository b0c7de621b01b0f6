//! Defines mmsg::Fallback<Primary, Secondary...>: a backend that serves each socket with the
//! first of its backends that the socket and the kernel support, decided once per socket.
#ifndef MMSG_FALLBACK_HPP
#define MMSG_FALLBACK_HPP

#include <mmsg/backend_concepts.hpp>

#include <boost/hana/at.hpp>
#include <boost/hana/size.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

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

    The choice is made by probing on a socket's first call and kept for that descriptor
    until forget(fd) (call it if a descriptor number is closed and reused for a different
    kind of socket). If no backend accepts the socket, the call fails with the last
    backend's probe error. Every backend must model SendBackend (for send) / RecvBackend
    (for recv). May allocate once per new socket (the choice table); never per call after.
    Not thread-safe (like every backend).
*/
template <class Primary, class... Secondary>
class Fallback {
public:
    static constexpr std::size_t count = 1 + sizeof...(Secondary);
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

    /*! Which backend serves `fd` (0: Primary, ... ; none if no backend accepts it), probing
        now if this is its first use. `why` receives the last probe error when none accept.
    */
    std::size_t chosen(int fd, std::error_code& why) {
        if (fd == last_fd_) {
            why = last_why_;
            return last_index_;
        }
        auto it =
            std::find_if(table_.begin(), table_.end(), [&](const Entry& e) { return e.fd == fd; });
        if (it == table_.end()) {
            Entry e{fd, static_cast<std::uint8_t>(none), {}};
            e.index = static_cast<std::uint8_t>(probe_all(fd, e.why));
            table_.push_back(e);
            it = table_.end() - 1;
        }
        last_fd_ = fd;
        last_index_ = it->index;
        last_why_ = it->why;
        why = it->why;
        return it->index;
    }
    std::size_t chosen(int fd) {
        std::error_code ignored;
        return chosen(fd, ignored);
    }

    //! Forgets the choice made for `fd`: its next call probes again.
    void forget(int fd) noexcept {
        std::erase_if(table_, [&](const Entry& e) { return e.fd == fd; });
        if (fd == last_fd_) last_fd_ = -1;
    }

    //! Fallback's own probe: accepts a socket when one of its backends does.
    std::error_code probe(int fd) {
        std::error_code why;
        chosen(fd, why);
        return why;
    }

    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        std::error_code why;
        const std::size_t i = chosen(fd, why);
        if (i == none) return {0, why};
        return dispatch(i, [&](auto& b) { return b.send(fd, items, errors, mode); });
    }

    std::size_t recv(int fd, std::span<const RecvSlot> slots, WaitMode mode, std::error_code& ec) {
        const std::size_t i = chosen(fd, ec);
        if (i == none) return 0;
        return dispatch(i, [&](auto& b) { return b.recv(fd, slots, mode, ec); });
    }

private:
    struct Entry {
        int fd;
        std::uint8_t index;
        std::error_code why;
    };

    template <class B>
    static std::error_code probe_one(B& b, int fd) {
        if constexpr (ProbingBackend<B>)
            return b.probe(fd);
        else
            return {};
    }

    std::size_t probe_all(int fd, std::error_code& why) { return probe_from<0>(fd, why); }
    template <std::size_t I>
    std::size_t probe_from(int fd, std::error_code& why) {
        if constexpr (I == count) {
            return none;
        } else {
            if (std::error_code e = probe_one(boost::hana::at_c<I>(backends_), fd); e) {
                why = e;
                return probe_from<I + 1>(fd, why);
            }
            why.clear();
            return I;
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
    std::vector<Entry> table_;
    int last_fd_ = -1;
    std::size_t last_index_ = none;
    std::error_code last_why_{};
};

} // namespace mmsg

#endif // MMSG_FALLBACK_HPP
