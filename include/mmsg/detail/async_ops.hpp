//! The composed operations behind <mmsg/asio.hpp>: one backend call per round, wait for
//! readiness in between, SendResults of the rounds merged into one.
#ifndef MMSG_DETAIL_ASYNC_OPS_HPP
#define MMSG_DETAIL_ASYNC_OPS_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
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
#include <type_traits>
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

/*! The datagrams [from, end) of a range of SendTrains, as a range of SendTrains: the trains
    wholly before datagram `from` left out, the one it falls in cut to start there (made on
    the fly: the range's elements are values), the rest as they are.
*/
template <class It, class Sentinel>
class TrainTail {
public:
    class iterator {
    public:
        using value_type = SendTrain;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;

        iterator() = default;
        iterator(It it, std::size_t skip) : it_(std::move(it)), skip_(skip) {}
        SendTrain operator*() const {
            const SendTrain t = *it_;
            return skip_ == 0 ? t : t.slice(skip_, t.datagrams());
        }
        iterator& operator++() {
            ++it_;
            skip_ = 0;
            return *this;
        }
        iterator operator++(int) {
            iterator was = *this;
            ++*this;
            return was;
        }
        friend bool operator==(const iterator& a, const iterator& b) { return a.it_ == b.it_; }
        friend bool operator==(const iterator& a, const Sentinel& end) { return a.it_ == end; }

    private:
        It it_{};
        std::size_t skip_ = 0; // datagrams of *it_ left out (the first train only)
    };

    TrainTail(It first, Sentinel last, std::size_t skip) : first_(first), last_(last), skip_(skip) {}
    iterator begin() const { return {first_, skip_}; }
    Sentinel end() const { return last_; }

private:
    It first_;
    Sentinel last_;
    std::size_t skip_;
};

//! The datagrams [from, end) of `trains` (see TrainTail).
template <class R>
auto train_tail(const R& trains, std::size_t from) {
    auto first = std::ranges::begin(trains);
    const auto last = std::ranges::end(trains);
    const std::size_t before = seek_datagram(first, last, from);
    return TrainTail<decltype(first), std::remove_const_t<decltype(last)>>(first, last, from - before);
}

/*! One asynchronous operation of <mmsg/asio.hpp>: the loop every operation shares. `Step`
    does the work of one round: `attempt(fd, ec)` makes one non-blocking backend call (or a
    few, for an exact receive) and returns true when the operation is finished (with `ec`
    set if it failed); `progress()` is what the handler receives; `cancellation(slot)` makes
    the cancellation state with the types the operation honours; `Step::wait` is the
    readiness it waits for.

    Start: one speculative round (the socket is usually ready); otherwise wait for readiness
    and run the next round. Cancellation or a failed wait completes with the progress so far.

    Lifetime (Asio's own order): the operation holds no work of the I/O executor itself;
    each pending wait does, and the socket releases it on an I/O thread. A wait's completion
    runs this operation on the handler's associated executor, where the handler is then
    invoked directly. A round that finishes at once is not completed inside the initiating
    function: the handler is posted through the socket's executor, which dispatches it to
    the handler's own. So once the result can be observed (a future is ready, a strand runs
    the handler), nothing of the operation touches the I/O executor, the socket or the
    io_context again, whatever the completion token.
*/
template <class Socket, class Step, class Handler>
class ReadinessOp {
public:
    using executor_type =
        boost::asio::associated_executor_t<Handler, typename Socket::executor_type>;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    using cancellation_slot_type = boost::asio::cancellation_slot;

    ReadinessOp(Socket& s, Step step, Handler handler)
        : socket_(&s), step_(std::move(step)), handler_(std::move(handler)),
          cancel_(step_.cancellation(boost::asio::get_associated_cancellation_slot(handler_))) {}

    executor_type get_executor() const noexcept {
        return boost::asio::get_associated_executor(handler_, socket_->get_executor());
    }
    allocator_type get_allocator() const noexcept {
        return boost::asio::get_associated_allocator(handler_);
    }
    //! The slot a wait installs its cancellation handler in: the handler's, filtered by
    //! the cancellation types the operation honours.
    cancellation_slot_type get_cancellation_slot() const noexcept { return cancel_.slot(); }

    //! The first round, in the initiating function.
    void start() {
        boost::system::error_code ec;
        if (!step_.attempt(*socket_, ec)) return wait();
        auto result = step_.progress();
        boost::asio::post(socket_->get_executor(),
                          boost::asio::append(std::move(handler_), ec, std::move(result)));
    }

    //! A wait completed: runs on the handler's associated executor.
    void operator()(boost::system::error_code ec) {
        cancel_.slot().clear(); // the wait's own cancellation handler, if it left one
        if (!ec && cancel_.cancelled() != boost::asio::cancellation_type::none)
            ec = boost::asio::error::operation_aborted;
        if (!ec && !step_.attempt(*socket_, ec)) return wait();
        auto result = step_.progress();
        Handler h(std::move(handler_));
        std::move(h)(ec, std::move(result));
    }

    //! Asio's scheduling hint: every wait after the first continues this operation.
    friend bool asio_handler_is_continuation(ReadinessOp* op) noexcept { return op->waited_; }

private:
    void wait() {
        waited_ = true;
        Socket& s = *socket_;
        s.async_wait(Step::wait, std::move(*this));
    }

    Socket* socket_;
    Step step_;
    Handler handler_;
    boost::asio::cancellation_state cancel_;
    bool waited_ = false;
};

//! The initiation of every operation of <mmsg/asio.hpp> on `Socket`.
template <class Socket>
struct InitiateReadiness {
    Socket* socket;

    using executor_type = typename Socket::executor_type;
    executor_type get_executor() const noexcept { return socket->get_executor(); }

    template <class Handler, class Step>
    void operator()(Handler&& handler, Step step) const {
        ReadinessOp<Socket, Step, std::decay_t<Handler>>(*socket, std::move(step),
                                                         std::forward<Handler>(handler))
            .start();
    }
};

/*! The round of async_batch_send / async_multi_target_send. `round(socket, from)` makes one
    non-blocking BatchSender call for the datagrams [from, n) and returns its SendResult;
    the rounds' results are merged, the next round starts at resume_index(). Cancellation
    is terminal or partial (datagrams may already be sent); the datagrams not attempted
    are `unsent`, exactly as the last round said.
*/
template <class Round>
class SendStep {
public:
    static constexpr auto wait = boost::asio::socket_base::wait_write;

    explicit SendStep(Round round) : round_(std::move(round)) {}

    static boost::asio::cancellation_state cancellation(boost::asio::cancellation_slot slot) {
        return {slot, boost::asio::enable_partial_cancellation()};
    }
    template <class Socket>
    bool attempt(Socket& socket, boost::system::error_code& ec) {
        const SendResult r = round_(socket, result_.resume_index());
        merge(result_, r);
        if (r.fatal) {
            ec = fatal_error(r);
            return true;
        }
        return r.unsent == 0;
    }
    const SendResult& progress() const noexcept { return result_; }

private:
    Round round_;
    SendResult result_{};
};

/*! The round of async_recv_mmsg / async_recv_mmsg_exact. `receive(socket, packets, ec)` is
    one non-blocking BatchReceiver::receive. recv_mmsg completes after the first receive
    that got datagrams (a wake-up with nothing to read waits again); recv_mmsg_exact goes
    on until every packet is filled. Cancellation of a recv_mmsg consumes nothing, so every
    type is honoured; for recv_mmsg_exact, terminal and partial (the count filled so far
    is reported).
*/
template <class Receive, class Packets>
class RecvStep {
public:
    static constexpr auto wait = boost::asio::socket_base::wait_read;

    //! `packets`: a std::span of BasicPacket<N> or a BasicPacketBlockView<N>.
    RecvStep(Packets packets, bool exact, Receive receive)
        : packets_(packets), receive_(std::move(receive)), exact_(exact) {}

    boost::asio::cancellation_state cancellation(boost::asio::cancellation_slot slot) const {
        if (exact_) return {slot, boost::asio::enable_partial_cancellation()};
        return {slot, boost::asio::enable_total_cancellation()};
    }
    template <class Socket>
    bool attempt(Socket& socket, boost::system::error_code& ec) {
        for (;;) {
            std::error_code e;
            filled_ += receive_(socket, packets_.subspan(filled_), e);
            if (e) {
                if (is_would_block(e)) return false;
                ec = to_boost(e);
                return true;
            }
            if (!exact_ || filled_ == packets_.size()) return true;
        }
    }
    std::size_t progress() const noexcept { return filled_; }

private:
    Packets packets_;
    Receive receive_;
    std::size_t filled_ = 0;
    bool exact_;
};

/*! The round of async_read_error_queue: one non-blocking read of the error queue (`read(fd,
    errors, ec)`); completes after the first read that got reports. Waits for an error
    condition (POLLERR) in between. Nothing is consumed before the wait ends: every
    cancellation type is honoured.
*/
template <class Read, class Error>
class ErrorQueueStep {
public:
    static constexpr auto wait = boost::asio::socket_base::wait_error;

    ErrorQueueStep(std::span<Error> errors, Read read) : errors_(errors), read_(std::move(read)) {}

    boost::asio::cancellation_state cancellation(boost::asio::cancellation_slot slot) const {
        return {slot, boost::asio::enable_total_cancellation()};
    }
    template <class Socket>
    bool attempt(Socket& socket, boost::system::error_code& ec) {
        std::error_code e;
        got_ = read_(native(socket), errors_, e);
        if (e && is_would_block(e)) return false;
        ec = to_boost(e);
        return true;
    }
    std::size_t progress() const noexcept { return got_; }

private:
    std::span<Error> errors_;
    Read read_;
    std::size_t got_ = 0;
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ASYNC_OPS_HPP
