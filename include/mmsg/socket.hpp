//! Defines mmsg::Socket: a UDP socket that owns its descriptor and its SocketState.
#ifndef MMSG_SOCKET_HPP
#define MMSG_SOCKET_HPP

#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/socket_state.hpp>

#include <system_error>
#include <utility>

namespace mmsg {

/*! A UDP socket that owns its descriptor and the SocketState mmsg keeps for it, so the
    state lives and dies with the socket: pass it wherever a socket is taken. Serving many
    sockets from one BatchSender / BatchReceiver costs no lookup (each call finds the state
    in the socket), and nothing kept for one socket (GRO segments, an error) can reach
    another. Closes the descriptor on destruction. Movable, not copyable; not thread-safe.
    For an Asio socket, keep a SocketState beside it and pass `with_state(socket, state)`.
*/
class Socket {
public:
    //! Not open.
    Socket() = default;
    //! Adopts `fd` (an open UDP socket): the Socket closes it.
    explicit Socket(int fd) noexcept : fd_(fd) {}
    //! Opens a UDP socket bound to `local` (port 0: any free port). Throws std::system_error.
    explicit Socket(const Endpoint& local) {
        std::error_code ec;
        *this = open(local, ec);
        if (ec) throw std::system_error(ec, "mmsg::Socket");
    }
    //! Opens a UDP socket bound to `local`; on failure returns a closed Socket with `ec` set.
    static Socket open(const Endpoint& local, std::error_code& ec) noexcept {
        detail::UniqueFd fd(detail::open_udp(local.protocol().family(), ec));
        if (ec) return {};
        if ((ec = detail::bind_to(fd.get(), local))) return {};
        return Socket(fd.release());
    }

    Socket(Socket&&) noexcept = default;
    Socket& operator=(Socket&&) noexcept = default;
    ~Socket() = default;

    int native_handle() const noexcept { return fd_.get(); }
    bool is_open() const noexcept { return fd_.get() >= 0; }
    SocketState& mmsg_state() noexcept { return state_; }
    const SocketState& mmsg_state() const noexcept { return state_; }

    //! The address the socket is bound to. Throws std::system_error (a closed socket).
    Endpoint local_endpoint() const {
        Endpoint ep;
        if (const std::error_code ec = detail::local_endpoint_of(fd_.get(), ep))
            throw std::system_error(ec, "mmsg::Socket::local_endpoint");
        return ep;
    }
    /*! Connects the socket to `peer`: datagrams sent to connected_peer (or as a payload
        alone) go there without an address, on the route the kernel keeps for the
        connection, and only datagrams from `peer` are received. Throws std::system_error.
    */
    void connect(const Endpoint& peer) {
        if (const std::error_code ec = detail::connect_to(fd_.get(), peer))
            throw std::system_error(ec, "mmsg::Socket::connect");
    }
    //! The same; returns the error instead.
    std::error_code connect(const Endpoint& peer, std::error_code& ec) noexcept {
        return ec = detail::connect_to(fd_.get(), peer);
    }

    //! Closes the descriptor and forgets the state.
    void close() noexcept {
        fd_.reset();
        state_.clear();
    }
    //! Gives the descriptor up (the caller closes it) and forgets the state.
    int release() noexcept {
        state_.clear();
        return fd_.release();
    }

private:
    detail::UniqueFd fd_;
    SocketState state_;
};

} // namespace mmsg

#endif // MMSG_SOCKET_HPP
