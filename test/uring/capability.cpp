// io_uring_capability(): what of io_uring this process may use, found by using it. Checked
// against liburing's own opcode list and an independent ring set-up, and cached.
#include <mmsg/io_uring_capability.hpp>

#include <mmsg/config.hpp>

#define BOOST_TEST_MODULE uring_capability
#include <boost/test/unit_test.hpp>

#include <system_error>

using namespace mmsg;

#if MMSG_HAS_IO_URING

#include <liburing.h>

BOOST_AUTO_TEST_CASE(the_probe_agrees_with_the_kernels_own_answers) {
    const IoUringCapability c = probe_io_uring();
    io_uring ring;
    const int e = io_uring_queue_init(4, &ring, 0);
    if (e < 0) {
        // Refused here: the probe must say so, with the same error, and claim nothing.
        BOOST_TEST_MESSAGE("io_uring refused here (" << std::generic_category().message(-e) << ")");
        BOOST_TEST(c.ring.value() == -e);
        BOOST_TEST(!c.sends());
        BOOST_TEST(!c.receives());
        BOOST_TEST(!c.lends());
        BOOST_TEST(static_cast<bool>(c.why_not_lending()));
        return;
    }
    BOOST_TEST(!c.ring);
    if (io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
        BOOST_TEST(c.sendmsg == (io_uring_opcode_supported(p, IORING_OP_SENDMSG) != 0));
        BOOST_TEST(c.recvmsg == (io_uring_opcode_supported(p, IORING_OP_RECVMSG) != 0));
        BOOST_TEST(c.async_cancel == (io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL) != 0));
        io_uring_free_probe(p);
    }
    io_uring_queue_exit(&ring);
    io_uring deferred;
    const int d =
        io_uring_queue_init(4, &deferred, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    BOOST_TEST(c.defer_taskrun == (d == 0));
    if (d == 0) io_uring_queue_exit(&deferred);
    // Multishot receive is claimed only where its parts are.
    if (c.multishot_recvmsg) BOOST_TEST((c.buffer_ring && c.recvmsg));
    BOOST_TEST(c.lends() == !c.why_not_lending());
    BOOST_TEST_MESSAGE("send_to " << c.send_to << ", buffer rings " << c.buffer_ring
                                  << ", multishot recvmsg " << c.multishot_recvmsg
                                  << ", DEFER_TASKRUN " << c.defer_taskrun);
}

BOOST_AUTO_TEST_CASE(the_result_is_probed_once_and_kept) {
    const IoUringCapability& a = io_uring_capability();
    const IoUringCapability& b = io_uring_capability();
    BOOST_TEST(&a == &b);
    const IoUringCapability again = probe_io_uring();
    BOOST_TEST(again.lends() == a.lends());
    BOOST_TEST(again.send_to == a.send_to);
}

#else

BOOST_AUTO_TEST_CASE(without_liburing_nothing_is_claimed) {
    const IoUringCapability c = probe_io_uring();
    BOOST_TEST(static_cast<bool>(c.ring));
    BOOST_TEST(!c.sends());
    BOOST_TEST(!c.lends());
}

#endif
