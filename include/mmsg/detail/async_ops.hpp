//! The composed operations behind <mmsg/asio.hpp>: one backend call per round, wait for
//! readiness in between, SendResults of the rounds merged into one.
#ifndef MMSG_DETAIL_ASYNC_OPS_HPP
#define MMSG_DETAIL_ASYNC_OPS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/native_handle.hpp>
#include <mmsg/send_result.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <iterator>
#include <ranges>
#include <span>
#include <system_error>
#include <utility>

namespace mmsg::detail {

//! std::error_code -> boost::system::error_code, keeping errno values comparable with
//! boost::asio::error::* and std::errc.
inline boost::system::error_code to_boost(const std::error_code& e) noexcept {
    if (!e) return {};
    if (e.category() == std::system_category())
        return {e.value(), boost::system::system_category()};
    if (e.category() == std::generic_category())
        return {e.value(), boost::system::generic_category()};
    return boost::system::error_code(e);
}

//! Adds one round's result to the running total. Rounds are consecutive pieces of one
//! batch: sent and failed add up, the last round's unsent is what is left.
inline void merge(SendResult& total, const SendResult& round) noexcept {
    total.sent += round.sent;
    total.failed += round.failed;
    total.unsent = round.unsent;
    if (!total.first_error) total.first_error = round.first_error;
    total.fatal = total.fatal || round.fatal;
}

//! The operation's error for a round that ended on a socket-level error. SendResult keeps
//! the first failure; when an earlier datagram of the same round failed for another
//! reason, the socket error itself is not known any more and EIO stands for it.
inline boost::system::error_code fatal_error(const SendResult& round) noexcept {
    if (is_fatal(round.first_error)) return to_boost(round.first_error);
    return {EIO, boost::system::system_category()};
}

//! A sized view of [first, last) with the iterator and references of the range it came
//! from. (Not std::ranges::subrange: Clang 14 cannot use libstdc++ 12's.)
template <class It, class Sentinel>
struct TailView {
    It first;
    Sentinel last;
    std::size_t count;
    It begin() const { return first; }
    Sentinel end() const { return last; }
    std::size_t size() const noexcept { return count; }
};

//! The elements [from, size) of a sized range, as a sized range of the same references.
template <class R>
auto tail(const R& r, std::size_t from) {
    auto first = std::ranges::begin(r);
    const std::size_t n = std::ranges::size(r);
    std::ranges::advance(first, static_cast<std::ranges::range_difference_t<const R>>(from));
    return TailView<decltype(first), decltype(std::ranges::end(r))>{first, std::ranges::end(r),
                                                                      n - from};
}

/*! async_batch_send / async_multi_target_send. `round(fd, from)` makes one non-blocking
    BatchSender call for the datagrams [from, n) and returns its SendResult.

    Start: one speculative round (the socket is usually writable); if it finished, the
    completion is posted (never run inside the initiating function). Otherwise wait for
    wait_write and run the next round from resume_index(). Cancellation (terminal or
    partial: datagrams may already be sent) or a failed wait completes with the progress
    so far; the datagrams not attempted are `unsent`, exactly as the last round said.
*/
template <class Socket, class Round>
class AsyncSendOp {
public:
    AsyncSendOp(Socket& s, Round round) : socket_(s), round_(std::move(round)) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        switch (state_) {
        case State::start:
            self.reset_cancellation_state(boost::asio::enable_partial_cancellation());
            if (attempt()) {
                state_ = State::done;
                boost::asio::post(std::move(self));
                return;
            }
            break;
        case State::waiting:
            if (!ec && self.cancelled() != boost::asio::cancellation_type::none)
                ec = boost::asio::error::operation_aborted;
            if (ec) return self.complete(ec, result_);
            if (attempt()) return self.complete(ec_, result_);
            break;
        case State::done:
            return self.complete(ec_, result_);
        }
        state_ = State::waiting;
        socket_.async_wait(boost::asio::socket_base::wait_write, std::move(self));
    }

private:
    enum class State { start, waiting, done };

    // One backend round; true when the operation is finished.
    bool attempt() {
        const SendResult r = round_(native(socket_), result_.resume_index());
        merge(result_, r);
        if (r.fatal) {
            ec_ = fatal_error(r);
            return true;
        }
        return r.unsent == 0;
    }

    Socket& socket_;
    Round round_;
    SendResult result_{};
    boost::system::error_code ec_{};
    State state_ = State::start;
};

/*! async_recv_mmsg / async_recv_mmsg_exact. `receive(fd, packets, ec)` is one
    non-blocking BatchReceiver::receive.

    Start: one speculative receive; if nothing is queued, wait for wait_read and receive
    again (a wake-up with nothing to read waits again). recv_mmsg completes after the first
    receive that got datagrams; recv_mmsg_exact goes on until every packet is filled.
    Cancellation of a recv_mmsg consumes nothing, so every type is honoured; for
    recv_mmsg_exact, terminal and partial (the count filled so far is reported).
*/
template <class Socket, class Receive, std::size_t N>
class AsyncRecvOp {
public:
    AsyncRecvOp(Socket& s, std::span<BasicPacket<N>> packets, bool exact, Receive receive)
        : socket_(s), packets_(packets), receive_(std::move(receive)), exact_(exact) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        switch (state_) {
        case State::start:
            if (exact_) self.reset_cancellation_state(boost::asio::enable_partial_cancellation());
            else self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            if (attempt()) {
                state_ = State::done;
                boost::asio::post(std::move(self));
                return;
            }
            break;
        case State::waiting:
            if (!ec && self.cancelled() != boost::asio::cancellation_type::none)
                ec = boost::asio::error::operation_aborted;
            if (ec) return self.complete(ec, filled_);
            if (attempt()) return self.complete(ec_, filled_);
            break;
        case State::done:
            return self.complete(ec_, filled_);
        }
        state_ = State::waiting;
        socket_.async_wait(boost::asio::socket_base::wait_read, std::move(self));
    }

private:
    enum class State { start, waiting, done };

    // Receives what is queued; true when the operation is finished.
    bool attempt() {
        const int fd = native(socket_);
        for (;;) {
            std::error_code e;
            filled_ += receive_(fd, packets_.subspan(filled_), e);
            if (e) {
                if (is_would_block(e)) return false;
                ec_ = to_boost(e);
                return true;
            }
            if (!exact_ || filled_ == packets_.size()) return true;
        }
    }

    Socket& socket_;
    std::span<BasicPacket<N>> packets_;
    Receive receive_;
    std::size_t filled_ = 0;
    boost::system::error_code ec_{};
    bool exact_;
    State state_ = State::start;
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ASYNC_OPS_HPP
