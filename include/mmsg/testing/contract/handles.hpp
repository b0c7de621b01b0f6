//! Defines the conformance kit's handles on the backend under test: Sender and Receiver run
//! BatchSender<B> and BatchReceiver<B> behind virtual calls, and BackendUnderTest makes
//! them. The checks hold only these handles, so they are compiled once per transport (rig),
//! not once per backend: the kit on eight backends used to compile its checks eight times,
//! most of a conformance program's compile time. What runs is still BatchSender<B> and
//! BatchReceiver<B>, on the same kinds of socket argument as before.
#ifndef MMSG_TESTING_CONTRACT_HANDLES_HPP
#define MMSG_TESTING_CONTRACT_HANDLES_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/packet_block.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket_state.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace mmsg::testing::contract {

//! A batch element as the checks send it: (payload view, destination) ...
using BatchElement = std::pair<std::span<const std::byte>, Endpoint>;
//! ... or with per-datagram SendOptions.
using OptionsElement = std::tuple<std::span<const std::byte>, Endpoint, SendOptions>;
//! The packets the checks receive into: full-size ones, and small ones for many datagrams.
using SmallPacket = BasicPacket<64>;
//! What recv_coalesced receives into in the checks: room for a train of a few datagrams.
using KitCoalescedPacket = BasicCoalescedPacket<16384>;

/*! The socket argument of one call, as the checks give it: the rig's own socket (`rig`; on
    the mock network that is a descriptor, so `fd`), the same with a SocketState of its own
    (`stateful`, with_state()), a plain descriptor (`fd`), or a TCP stream (`stream`,
    loopback only).
*/
template <class Socket>
struct On {
    enum class Kind { rig, stateful, fd, stream };
    Kind kind = Kind::fd;
    Socket* socket = nullptr;
    SocketState* state = nullptr;
    int fd = -1;
    boost::asio::ip::tcp::socket* stream = nullptr;
};

//! `s` as the socket argument of a call on a rig whose sockets are `Socket`s.
template <class Socket, class S>
On<Socket> on(S& s) {
    using T = std::remove_cv_t<S>;
    using K = typename On<Socket>::Kind;
    if constexpr (std::same_as<T, int>) {
        return {K::fd, nullptr, nullptr, s, nullptr};
    } else if constexpr (std::same_as<T, Socket>) {
        return {K::rig, &s, nullptr, -1, nullptr};
    } else if constexpr (std::same_as<T, WithState<Socket>>) {
        return {K::stateful, &s.socket(), &s.mmsg_state(), -1, nullptr};
    } else {
        static_assert(std::same_as<T, boost::asio::ip::tcp::socket>,
                      "the kit calls a backend on the rig's sockets, descriptors and TCP streams");
        return {K::stream, nullptr, nullptr, -1, &s};
    }
}

//! Calls f with the socket argument `o` stands for, if its kind is one `Allowed` (a Kinds)
//! lets through; else throws std::logic_error (a check used a socket kind its call does not
//! take). Each allowed kind instantiates the call on one more socket type, so each call
//! allows only the kinds some check uses.
template <class Allowed, class Socket, class F>
decltype(auto) dispatch(const On<Socket>& o, F&& f) {
    using K = typename On<Socket>::Kind;
    if constexpr (Allowed::rig && std::same_as<Socket, int>) { // the mock's sockets are descriptors
        if (o.kind == K::fd) return f(o.fd);
    } else if constexpr (Allowed::rig) {
        if (o.kind == K::rig) return f(*o.socket);
    }
    if constexpr (Allowed::stateful)
        if (o.kind == K::stateful) return f(with_state(*o.socket, *o.state));
    if constexpr (Allowed::fd)
        if (o.kind == K::fd) return f(o.fd);
    if constexpr (Allowed::stream && !std::same_as<Socket, int>)
        if (o.kind == K::stream) return f(*o.stream);
    throw std::logic_error("conformance kit: a socket argument this call does not take");
}

//! The socket kinds a call takes (dispatch's first template argument).
template <bool Rig, bool Stateful, bool Fd, bool Stream>
struct Kinds {
    static constexpr bool rig = Rig, stateful = Stateful, fd = Fd, stream = Stream;
};
using AnySocket = Kinds<true, true, true, true>;
using PlainSocket = Kinds<true, false, true, true>; // not with_state
using RigSocket = Kinds<true, false, false, false>; // the rig's own only
using StatefulSocket = Kinds<false, true, false, false>;

//! Whether B is FaultInjecting<...> (a sender that can be told to block).
template <class B>
inline constexpr bool is_fault_injecting = false;
template <class B>
inline constexpr bool is_fault_injecting<FaultInjecting<B>> = true;

//! What the checks call on BatchSender<B>, behind virtual functions (SenderOf implements it).
template <class Socket>
class SenderCalls {
public:
    virtual ~SenderCalls() = default;
    //! batch_send, with a status span when `status` is not null.
    virtual SendResult batch_send(const On<Socket>& s, std::span<const BatchElement> batch,
                                  std::span<std::error_code>* status) = 0;
    virtual SendResult batch_send(const On<Socket>& s, std::span<const OptionsElement> batch) = 0;
    //! multi_target_send, with a status span when `status` is not null.
    virtual SendResult multi_target_send(const On<Socket>& s, std::span<const std::byte> payload,
                                         std::span<const Endpoint> dests,
                                         std::span<std::error_code>* status) = 0;
    //! send_trains, with a status span when `status` is not null.
    virtual SendResult send_trains(const On<Socket>& s, std::span<const SendTrain> trains,
                                   std::span<std::error_code>* status) = 0;
    //! FaultInjecting's back-pressure (only a sender from BackendUnderTest::faulty_sender()).
    virtual void would_block_after(std::size_t n) = 0;
    virtual void clear_would_block() = 0;
};

/*! A sender under test, with BatchSender's member names: batch_send, multi_target_send and
    send_trains on any socket argument of the rig (see On), with or without a status span.
*/
template <class Socket>
class Sender {
public:
    explicit Sender(std::unique_ptr<SenderCalls<Socket>> calls) : calls_(std::move(calls)) {}

    template <class S>
    SendResult batch_send(S&& s, std::span<const BatchElement> batch) {
        return calls_->batch_send(on<Socket>(s), batch, nullptr);
    }
    template <class S>
    SendResult batch_send(S&& s, std::span<const BatchElement> batch,
                          std::span<std::error_code> status) {
        return calls_->batch_send(on<Socket>(s), batch, &status);
    }
    template <class S>
    SendResult batch_send(S&& s, std::span<const OptionsElement> batch) {
        return calls_->batch_send(on<Socket>(s), batch);
    }
    template <class S>
    SendResult multi_target_send(S&& s, std::span<const std::byte> payload,
                                 std::span<const Endpoint> dests) {
        return calls_->multi_target_send(on<Socket>(s), payload, dests, nullptr);
    }
    template <class S>
    SendResult multi_target_send(S&& s, std::span<const std::byte> payload,
                                 std::span<const Endpoint> dests, std::span<std::error_code> status) {
        return calls_->multi_target_send(on<Socket>(s), payload, dests, &status);
    }
    template <class S>
    SendResult send_trains(S&& s, std::span<const SendTrain> trains) {
        return calls_->send_trains(on<Socket>(s), trains, nullptr);
    }
    template <class S>
    SendResult send_trains(S&& s, std::span<const SendTrain> trains,
                           std::span<std::error_code> status) {
        return calls_->send_trains(on<Socket>(s), trains, &status);
    }
    void would_block_after(std::size_t n) { calls_->would_block_after(n); }
    void clear_would_block() { calls_->clear_would_block(); }

private:
    std::unique_ptr<SenderCalls<Socket>> calls_;
};

//! What the checks call on BatchReceiver<B>, behind virtual functions (ReceiverOf
//! implements it). The throwing forms are those without an error_code.
template <class Socket>
class ReceiverCalls {
public:
    virtual ~ReceiverCalls() = default;
    virtual std::size_t recv_mmsg(const On<Socket>& s, std::span<Packet> p, std::error_code& ec) = 0;
    virtual std::size_t recv_mmsg(const On<Socket>& s, std::span<Packet> p) = 0;
    virtual std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<Packet> p,
                                        std::error_code& ec) = 0;
    virtual std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<Packet> p) = 0;
    virtual std::size_t try_recv_mmsg(const On<Socket>& s, std::span<Packet> p,
                                      std::error_code& ec) = 0;
    virtual std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<SmallPacket> p,
                                        std::error_code& ec) = 0;
    virtual std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<SmallPacket> p) = 0;
    virtual std::size_t try_recv_mmsg(const On<Socket>& s, std::span<SmallPacket> p,
                                      std::error_code& ec) = 0;
    virtual std::size_t recv_mmsg_exact(const On<Socket>& s, PacketBlockView p,
                                        std::error_code& ec) = 0;
    //! recv_coalesced, or try_recv_coalesced when `wait` is false.
    virtual std::size_t recv_coalesced(const On<Socket>& s, std::span<KitCoalescedPacket> p,
                                       std::error_code& ec, bool wait) = 0;
    virtual SocketState& socket_state(const On<Socket>& s) = 0;
    virtual std::uint64_t discarded() const noexcept = 0;
};

/*! A receiver under test, with BatchReceiver's member names, on any socket argument of the
    rig (see On), into any contiguous range of Packet (or, for the exact and try forms,
    SmallPacket; for the exact form with an error_code, a PacketBlockView too).
*/
template <class Socket>
class Receiver {
public:
    explicit Receiver(std::unique_ptr<ReceiverCalls<Socket>> calls) : calls_(std::move(calls)) {}

    template <class S, class P>
    std::size_t recv_mmsg(S&& s, P&& packets, std::error_code& ec) {
        return calls_->recv_mmsg(on<Socket>(s), std::span(packets), ec);
    }
    template <class S, class P>
    std::size_t recv_mmsg(S&& s, P&& packets) {
        return calls_->recv_mmsg(on<Socket>(s), std::span(packets));
    }
    template <class S, class P>
    std::size_t recv_mmsg_exact(S&& s, P&& packets, std::error_code& ec) {
        if constexpr (std::is_convertible_v<P, PacketBlockView>)
            return calls_->recv_mmsg_exact(on<Socket>(s), PacketBlockView(packets), ec);
        else
            return calls_->recv_mmsg_exact(on<Socket>(s), std::span(packets), ec);
    }
    template <class S, class P>
    std::size_t recv_mmsg_exact(S&& s, P&& packets) {
        return calls_->recv_mmsg_exact(on<Socket>(s), std::span(packets));
    }
    template <class S, class P>
    std::size_t try_recv_mmsg(S&& s, P&& packets, std::error_code& ec) {
        return calls_->try_recv_mmsg(on<Socket>(s), std::span(packets), ec);
    }
    template <class S>
    std::size_t recv_coalesced(S&& s, std::span<KitCoalescedPacket> packets, std::error_code& ec) {
        return calls_->recv_coalesced(on<Socket>(s), packets, ec, true);
    }
    template <class S>
    std::size_t try_recv_coalesced(S&& s, std::span<KitCoalescedPacket> packets,
                                   std::error_code& ec) {
        return calls_->recv_coalesced(on<Socket>(s), packets, ec, false);
    }
    template <class S>
    SocketState& socket_state(S&& s) {
        return calls_->socket_state(on<Socket>(s));
    }
    std::uint64_t discarded() const noexcept { return calls_->discarded(); }

private:
    std::unique_ptr<ReceiverCalls<Socket>> calls_;
};

//! SenderCalls on BatchSender<B>: every call is BatchSender's own, on the socket argument
//! the check gave.
template <class Socket, class B>
class SenderOf final : public SenderCalls<Socket> {
public:
    explicit SenderOf(B backend) : sender_(std::move(backend)) {}

    SendResult batch_send(const On<Socket>& s, std::span<const BatchElement> batch,
                          std::span<std::error_code>* status) override {
        return dispatch<PlainSocket>(s, [&](auto&& socket) {
            return status ? sender_.batch_send(socket, batch, *status)
                          : sender_.batch_send(socket, batch);
        });
    }
    SendResult batch_send(const On<Socket>& s, std::span<const OptionsElement> batch) override {
        return dispatch<RigSocket>(s, [&](auto&& socket) { return sender_.batch_send(socket, batch); });
    }
    SendResult multi_target_send(const On<Socket>& s, std::span<const std::byte> payload,
                                 std::span<const Endpoint> dests,
                                 std::span<std::error_code>* status) override {
        return dispatch<PlainSocket>(s, [&](auto&& socket) {
            return status ? sender_.multi_target_send(socket, payload, dests, *status)
                          : sender_.multi_target_send(socket, payload, dests);
        });
    }
    SendResult send_trains(const On<Socket>& s, std::span<const SendTrain> trains,
                           std::span<std::error_code>* status) override {
        return dispatch<PlainSocket>(s, [&](auto&& socket) {
            return status ? sender_.send_trains(socket, trains, *status)
                          : sender_.send_trains(socket, trains);
        });
    }
    void would_block_after(std::size_t n) override {
        if constexpr (is_fault_injecting<B>)
            sender_.backend().would_block_after(n);
        else
            throw std::logic_error("conformance kit: back-pressure asked of a plain sender");
    }
    void clear_would_block() override {
        if constexpr (is_fault_injecting<B>)
            sender_.backend().clear_would_block();
        else
            throw std::logic_error("conformance kit: back-pressure asked of a plain sender");
    }

private:
    BatchSender<B> sender_;
};

//! ReceiverCalls on BatchReceiver<B>.
template <class Socket, class B>
class ReceiverOf final : public ReceiverCalls<Socket> {
public:
    explicit ReceiverOf(B backend) : receiver_(std::move(backend)) {}

    std::size_t recv_mmsg(const On<Socket>& s, std::span<Packet> p, std::error_code& ec) override {
        return dispatch<AnySocket>(s, [&](auto&& socket) { return receiver_.recv_mmsg(socket, p, ec); });
    }
    std::size_t recv_mmsg(const On<Socket>& s, std::span<Packet> p) override {
        return dispatch<RigSocket>(s, [&](auto&& socket) { return receiver_.recv_mmsg(socket, p); });
    }
    std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<Packet> p,
                                std::error_code& ec) override {
        return exact(s, p, &ec);
    }
    std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<Packet> p) override {
        return exact(s, p, nullptr);
    }
    std::size_t try_recv_mmsg(const On<Socket>& s, std::span<Packet> p,
                              std::error_code& ec) override {
        return attempt<AnySocket>(s, p, ec);
    }
    std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<SmallPacket> p,
                                std::error_code& ec) override {
        return exact(s, p, &ec);
    }
    std::size_t recv_mmsg_exact(const On<Socket>& s, std::span<SmallPacket> p) override {
        return exact(s, p, nullptr);
    }
    std::size_t try_recv_mmsg(const On<Socket>& s, std::span<SmallPacket> p,
                              std::error_code& ec) override {
        return attempt<RigSocket>(s, p, ec);
    }
    std::size_t recv_mmsg_exact(const On<Socket>& s, PacketBlockView p, std::error_code& ec) override {
        return dispatch<RigSocket>(s, [&](auto&& socket) { return receiver_.recv_mmsg_exact(socket, p, ec); });
    }
    std::size_t recv_coalesced(const On<Socket>& s, std::span<KitCoalescedPacket> p,
                               std::error_code& ec, bool wait) override {
        return dispatch<RigSocket>(s, [&](auto&& socket) {
            return wait ? receiver_.recv_coalesced(socket, p, ec)
                        : receiver_.try_recv_coalesced(socket, p, ec);
        });
    }
    SocketState& socket_state(const On<Socket>& s) override {
        return dispatch<StatefulSocket>(
            s, [&](auto&& socket) -> SocketState& { return receiver_.socket_state(socket); });
    }
    std::uint64_t discarded() const noexcept override { return receiver_.discarded(); }

private:
    //! recv_mmsg_exact into packets of either size: with an error_code when `ec` is not
    //! null, else the throwing form.
    template <class P>
    std::size_t exact(const On<Socket>& s, std::span<P> p, std::error_code* ec) {
        return dispatch<RigSocket>(s, [&](auto&& socket) {
            return ec ? receiver_.recv_mmsg_exact(socket, p, *ec) : receiver_.recv_mmsg_exact(socket, p);
        });
    }
    //! try_recv_mmsg into packets of either size, on the socket kinds `Allowed`.
    template <class Allowed, class P>
    std::size_t attempt(const On<Socket>& s, std::span<P> p, std::error_code& ec) {
        return dispatch<Allowed>(s, [&](auto&& socket) { return receiver_.try_recv_mmsg(socket, p, ec); });
    }

    BatchReceiver<B> receiver_;
};

//! What a check asks of the backend under test: senders and receivers of fresh backends.
template <class Socket>
class BackendUnderTest {
public:
    virtual ~BackendUnderTest() = default;
    virtual Sender<Socket> sender() = 0;
    //! A sender on FaultInjecting<B>, for checks of back-pressure (would_block_after).
    virtual Sender<Socket> faulty_sender() = 0;
    virtual Receiver<Socket> receiver() = 0;
    //! carries_metadata_v<B>: whether B delivers ECN, local address and the like.
    virtual bool carries_metadata() const noexcept = 0;
};

//! BackendUnderTest for B, each backend made by `make()`.
template <class Socket, class B, class Make>
class BackendOf final : public BackendUnderTest<Socket> {
public:
    explicit BackendOf(Make make) : make_(std::move(make)) {}

    Sender<Socket> sender() override {
        return Sender<Socket>(std::make_unique<SenderOf<Socket, B>>(make_()));
    }
    Sender<Socket> faulty_sender() override {
        return Sender<Socket>(
            std::make_unique<SenderOf<Socket, FaultInjecting<B>>>(FaultInjecting<B>{make_()}));
    }
    Receiver<Socket> receiver() override {
        return Receiver<Socket>(std::make_unique<ReceiverOf<Socket, B>>(make_()));
    }
    bool carries_metadata() const noexcept override { return carries_metadata_v<B>; }

private:
    Make make_;
};

//! A BackendOf<Socket, B, Make> on the heap.
template <class Socket, class B, class Make>
std::unique_ptr<BackendUnderTest<Socket>> backend_under_test(Make make) {
    return std::make_unique<BackendOf<Socket, B, Make>>(std::move(make));
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_HANDLES_HPP
