//! The asynchronous form of LendingReceiver on Boost.Asio: async_receive, for every
//! completion token (a readiness wait on the socket, as <mmsg/asio.hpp>'s receives).
#ifndef MMSG_ASIO_LENDING_RECEIVER_HPP
#define MMSG_ASIO_LENDING_RECEIVER_HPP

#include <mmsg/asio.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/async_ops.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/lending_receiver.hpp>
#include <mmsg/lent_packet.hpp>

#if MMSG_HAS_IO_URING

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

namespace mmsg {

namespace detail {

/*! The round of async_receive: one LendingReceiver::try_receive; completes after the first
    that lent datagrams or failed with anything but would-block. Waits for readability of
    the socket in between: the kernel moves datagrams into the receiver's buffers only during
    its calls (io_uring with DEFER_TASKRUN, or recvmmsg), so while it has none received the
    datagrams wait in the socket and make it readable. Nothing is lent before the wait ends:
    every cancellation type is honoured.
*/
class LendStep {
public:
    static constexpr auto wait = boost::asio::socket_base::wait_read;

    LendStep(LendingReceiver& r, std::span<LentPacket> out) noexcept : r_(&r), out_(out) {}

    boost::asio::cancellation_state cancellation(boost::asio::cancellation_slot slot) const {
        return {slot, boost::asio::enable_total_cancellation()};
    }
    template <class Socket>
    bool attempt(Socket&, boost::system::error_code& ec) {
        std::error_code e;
        got_ = r_->try_receive(out_, e);
        if (got_ == 0 && is_would_block(e) && e != std::errc::no_buffer_space) return false;
        ec = to_boost(e);
        return true;
    }
    std::size_t progress() const noexcept { return got_; }

private:
    LendingReceiver* r_;
    std::span<LentPacket> out_;
    std::size_t got_ = 0;
};

} // namespace detail

/*! Waits until `receiver` has datagrams to lend, then lends them into out[0, n), up to
    out.size(), as LendingReceiver::try_receive does (first releasing what `out` holds).
    `s` is the socket the receiver serves, as an AsyncSocket (a boost::asio::ip::udp::socket).

    Completion: void(boost::system::error_code ec, std::size_t n). ec: empty;
    operation_aborted (cancel(), close(), any cancellation through the token's slot:
    nothing is lent before the wait ends); no_buffer_space when every buffer is lent (no
    wait could end that: release packets); operation_canceled after stop(); or the socket's
    error. `receiver` and `out` must stay alive, and unused by anything else, until the
    handler runs. The receiver belongs to the thread that set it up: run it on one thread.
*/
template <AsyncSocket Socket,
          class Token = boost::asio::default_completion_token_t<typename Socket::executor_type>>
auto async_receive(LendingReceiver& receiver, Socket& s, std::span<LentPacket> out,
                   Token&& token = {}) {
    return boost::asio::async_initiate<Token, async_recv_signature>(
        detail::InitiateReadiness<Socket>{&s}, token, detail::LendStep(receiver, out));
}

} // namespace mmsg

#endif // MMSG_HAS_IO_URING
#endif // MMSG_ASIO_LENDING_RECEIVER_HPP
