// A user-written backend, made only from the requirements table in doc/backends.adoc:
// one sendto(2) per datagram and one recvmsg(2) per slot, which logs (counts) what it does.
// It plugs into BatchSender / BatchReceiver, composes with Fallback, Counting and
// FaultInjecting, and proves itself with the conformance kit. Run as a test.
#define BOOST_TEST_MODULE example_custom_backend // before the kit, which includes Boost.Test
#include <mmsg/testing/conformance.hpp>

// tag::includes[]
#include <mmsg.hpp>                 // BatchSender, BatchReceiver, the backend concepts
#include <mmsg/counting.hpp>        // Counting<Inner>
#include <mmsg/fallback.hpp>        // Fallback<Primary, Secondary...>
#include <mmsg/fault_injecting.hpp> // FaultInjecting<Inner>
// end::includes[]

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

// tag::backend[]
//! Step 1: a class with send() and recv() as the requirements table says.
class LoggingBackend {
public:
    // It sends no SendOptions and reads no control messages: it says so, and the
    // conformance kit checks that the metadata fields stay at their defaults.
    static constexpr bool carries_metadata = false;

    // Step 2: send "some" datagrams from the front of `items`; report how far it got.
    mmsg::SendOutcome send(mmsg::SocketRef s, std::span<const mmsg::SendItem> items,
                           std::span<std::error_code> errors, mmsg::WaitMode mode) {
        if (const std::error_code e = refuse_non_datagram(s)) return {0, e};
        const int fd = s.fd;
        const int flags = MSG_NOSIGNAL | (mode == mmsg::WaitMode::never ? MSG_DONTWAIT : 0);
        for (std::size_t i = 0; i < items.size(); ++i) {
            const mmsg::SendItem& it = items[i];
            ++log_.send_calls;
            // A null destination is the connected peer (mmsg::connected_peer).
            if (::sendto(fd, it.data, it.size, flags, it.dest ? it.dest->data() : nullptr,
                         it.dest ? static_cast<socklen_t>(it.dest->size()) : 0) < 0)
                // Stop at the first failure: items[i] gets its error through `error`;
                // BatchSender decides (retry on EINTR, unsent on EAGAIN, skip, fatal).
                return {i, std::error_code(errno, std::system_category())};
            errors[i].clear(); // datagram i: accepted
        }
        return {items.size(), {}};
    }

    // Step 3: fill "some" slots from the front; assign each filled slot's meta completely.
    std::size_t recv(mmsg::SocketRef s, std::span<const mmsg::RecvSlot> slots, mmsg::WaitMode mode,
                     std::error_code& ec) {
        if ((ec = refuse_non_datagram(s))) return 0;
        const int fd = s.fd;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            sockaddr_storage from{};
            iovec iov{slots[i].data, slots[i].capacity};
            msghdr h{};
            h.msg_name = &from;
            h.msg_namelen = sizeof from;
            h.msg_iov = &iov;
            h.msg_iovlen = 1;
            // Wait (as the socket says) for the first datagram only, then take what is queued.
            const bool wait = i == 0 && mode == mmsg::WaitMode::socket_default;
            ++log_.recv_calls;
            // MSG_TRUNC: the datagram's length on the wire, even when it did not fit.
            const ssize_t r = ::recvmsg(fd, &h, MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT));
            if (r < 0) {
                const std::error_code e(errno, std::system_category());
                // Would-block after some datagrams is the normal end of a batch.
                if (i > 0 && e == std::errc::resource_unavailable_try_again)
                    ec.clear();
                else
                    ec = e;
                return i;
            }
            mmsg::Meta& m = *slots[i].meta;
            m.wire_size = static_cast<std::size_t>(r);
            m.size = std::min(m.wire_size, slots[i].capacity);
            m.flags =
                (h.msg_flags & MSG_TRUNC) ? mmsg::PacketFlags::truncated : mmsg::PacketFlags::none;
            m.addr = mmsg::Endpoint{};
            std::memcpy(m.addr.data(), &from,
                        from.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        }
        ec.clear();
        return slots.size();
    }

    struct Log {
        std::size_t send_calls = 0;
        std::size_t recv_calls = 0;
    };
    const Log& log() const noexcept { return log_; }

private:
    // Step 4: refuse a socket that is not a datagram socket (a TCP socket would take the
    // payloads into its stream), checked once per socket: what a backend remembers about
    // a socket lives in the socket's mmsg::SocketState.
    struct DatagramChecked {
        bool yes = false;
    };
    static std::error_code refuse_non_datagram(mmsg::SocketRef s) {
        DatagramChecked* checked = s.state ? &s.state->get<DatagramChecked>() : nullptr;
        if (checked && checked->yes) return {};
        int type = 0;
        socklen_t len = sizeof type;
        if (::getsockopt(s.fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
            return {errno, std::system_category()};
        if (type != SOCK_DGRAM) return std::make_error_code(std::errc::wrong_protocol_type);
        if (checked) checked->yes = true;
        return {};
    }

    Log log_;
};

// Step 5: let the compiler check it against the concepts.
static_assert(mmsg::SendBackend<LoggingBackend> && mmsg::RecvBackend<LoggingBackend>);
// end::backend[]

BOOST_AUTO_TEST_CASE(the_custom_backend_sends_and_receives_through_batch_sender_and_receiver) {
    // tag::use[]
    boost::asio::io_context io;
    boost::asio::ip::udp::socket rx(io, {boost::asio::ip::address_v4::loopback(), 0});
    boost::asio::ip::udp::socket tx(io, {boost::asio::ip::address_v4::loopback(), 0});
    const std::vector<std::byte> hello(5, std::byte{'h'});
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(
        3, {std::span<const std::byte>(hello), rx.local_endpoint()});

    mmsg::BatchSender<LoggingBackend> sender;
    const mmsg::SendResult r = sender.batch_send(tx, batch);

    mmsg::BatchReceiver<LoggingBackend> receiver;
    std::array<mmsg::Packet, 3> packets{};
    const std::size_t n = receiver.recv_mmsg_exact(rx, packets);
    // end::use[]
    BOOST_TEST(r.ok());
    BOOST_TEST(sender.backend().log().send_calls == 3u);
    BOOST_TEST(n == 3u);
    BOOST_TEST(packets[2].meta.size == 5u);
}

BOOST_AUTO_TEST_CASE(the_custom_backend_composes_with_the_three_policies) {
    // tag::compose[]
    // Count what it does, on top of a fault script, behind a fallback:
    using Composed = mmsg::Counting<mmsg::FaultInjecting<mmsg::Fallback<LoggingBackend>>>;
    mmsg::BatchSender<Composed> sender;
    sender.backend().inner().fail_nth(1, std::make_error_code(std::errc::permission_denied));
    // end::compose[]
    boost::asio::io_context io;
    boost::asio::ip::udp::socket rx(io, {boost::asio::ip::address_v4::loopback(), 0});
    boost::asio::ip::udp::socket tx(io, {boost::asio::ip::address_v4::loopback(), 0});
    const std::vector<std::byte> p(8, std::byte{1});
    std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch(
        4, {std::span<const std::byte>(p), rx.local_endpoint()});
    const mmsg::SendResult r = sender.batch_send(tx, batch);
    BOOST_TEST(r.sent == 3u);
    BOOST_TEST(r.failed == 1u);
    BOOST_TEST(sender.backend().stats().datagrams_sent == 3u);
    BOOST_TEST(sender.backend().stats().datagrams_failed == 1u);
    BOOST_TEST(sender.backend().inner().inner().get<0>().log().send_calls == 3u);
}

// tag::kit[]
BOOST_AUTO_TEST_CASE(the_custom_backend_passes_the_conformance_kit) {
    mmsg::testing::check_loopback<LoggingBackend>();
    mmsg::testing::check_loopback<mmsg::Counting<LoggingBackend>>();
    mmsg::testing::check_loopback<mmsg::FaultInjecting<LoggingBackend>>();
    mmsg::testing::check_loopback<mmsg::Fallback<LoggingBackend, mmsg::PortableBackend>>();
}
// end::kit[]
