// The system-call layer's send on real loopback sockets: detail::sys_sendmmsg keeps
// sendmmsg(2)'s contract whether it is given one message (which it sends with sendmsg(2))
// or several: messages sent from the front, each one's msg_len; -1 and the error when the
// first fails; a count short of n when a later one fails.
#include <mmsg/detail/socket_ops.hpp>

#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE core_socket_ops
#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <array>
#include <cstddef>
#include <system_error>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace mmsg;
using mmsg::testing::bound_socket;
using mmsg::testing::v4_loopback;

namespace {

struct Pair {
    boost::asio::io_context io;
    boost::asio::ip::udp::socket tx = bound_socket(io, v4_loopback());
    boost::asio::ip::udp::socket rx = bound_socket(io, v4_loopback());
    Endpoint to = rx.local_endpoint();
    Endpoint nowhere = mmsg::testing::broadcast(); // EACCES: no SO_BROADCAST
    std::array<std::byte, 100> a{};
    std::array<std::byte, 37> b{};
    iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    mmsghdr m[2]{};

    Pair() {
        a.fill(std::byte{1});
        b.fill(std::byte{2});
        aim(0, to);
        aim(1, to);
    }
    void aim(int i, Endpoint& e) {
        m[i].msg_hdr.msg_name = e.data();
        m[i].msg_hdr.msg_namelen = static_cast<socklen_t>(e.size());
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
        m[i].msg_len = 12345; // poison: must be overwritten for a message sent
    }
    // The size of the next datagram queued on rx, or -1 when none is.
    long next_size() {
        std::array<std::byte, 200> buf;
        return ::recv(rx.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(one_message_is_sent_and_its_length_set, Pair) {
    std::error_code ec = std::make_error_code(std::errc::io_error);
    BOOST_TEST(detail::sys_sendmmsg(tx.native_handle(), m, 1, 0, ec) == 1);
    BOOST_TEST(!ec);
    BOOST_TEST(m[0].msg_len == 100u);
    BOOST_TEST(m[1].msg_len == 12345u); // not offered, not touched
    BOOST_TEST(next_size() == 100);
    BOOST_TEST(next_size() == -1);
}

BOOST_FIXTURE_TEST_CASE(one_message_that_fails_returns_minus_one_and_its_error, Pair) {
    aim(0, nowhere);
    std::error_code ec;
    BOOST_TEST(detail::sys_sendmmsg(tx.native_handle(), m, 1, 0, ec) == -1);
    BOOST_TEST((ec == std::errc::permission_denied), ec.message());
    BOOST_TEST(next_size() == -1);
}

BOOST_FIXTURE_TEST_CASE(one_message_on_a_descriptor_that_is_no_socket_fails_with_enotsock, Pair) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    BOOST_REQUIRE(null >= 0);
    std::error_code ec;
    BOOST_TEST(detail::sys_sendmmsg(null, m, 1, MSG_DONTWAIT, ec) == -1);
    BOOST_TEST((ec == std::errc::not_a_socket), ec.message());
    ::close(null);
}

BOOST_FIXTURE_TEST_CASE(several_messages_go_in_one_call_until_one_fails, Pair) {
    std::error_code ec;
    BOOST_TEST(detail::sys_sendmmsg(tx.native_handle(), m, 2, 0, ec) == 2);
    BOOST_TEST(!ec);
    BOOST_TEST(m[0].msg_len == 100u);
    BOOST_TEST(m[1].msg_len == 37u);
    BOOST_TEST(next_size() == 100);
    BOOST_TEST(next_size() == 37);

    aim(1, nowhere); // the second fails: the call reports the first alone, as sendmmsg does
    BOOST_TEST(detail::sys_sendmmsg(tx.native_handle(), m, 2, 0, ec) == 1);
    BOOST_TEST(next_size() == 100);
    BOOST_TEST(next_size() == -1);
}
