// LendingReceiver allocates nothing per call (DESIGN 3): a counting global operator new
// watches receive() and the release of lent packets on real loopback sockets, on both
// engines, with and without GRO, after the first call has set the receiver up.
#include <mmsg/lending_receiver.hpp>

#include <mmsg/config.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include "../support/counting_new.hpp"

#define BOOST_TEST_MODULE uring_lending_allocation
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

using mmsg::test::allocations; // every global operator new, counted

using namespace mmsg;
using namespace mmsg::testing;

#if MMSG_HAS_IO_URING

namespace {

// Sends `count` datagrams of `size` bytes in slices that the receive buffer holds, receiving
// each slice with `r` into `out`; returns the allocations made by the receive calls only.
std::size_t allocations_while_receiving(LoopbackPair& p, LendingReceiver& r,
                                        std::span<LentPacket> out, std::size_t count,
                                        std::size_t size) {
    const std::vector<Bytes> d = numbered_payloads(64, size);
    std::size_t during = 0, got = 0;
    for (std::size_t sent = 0; sent < count; sent += d.size()) {
        for (const Bytes& x : d)
            BOOST_TEST_REQUIRE(send_raw(p.tx.native_handle(), p.rx_ep, x) == 0);
        const std::size_t want = sent + d.size();
        for (int rounds = 0; got < want && rounds < 1000; ++rounds) {
            std::error_code ec;
            const std::size_t before = allocations.load();
            const std::size_t n = r.receive(out, ec); // releases the packets of the call before
            during += allocations.load() - before;
            BOOST_TEST_REQUIRE(!ec, ec.message());
            got += n;
        }
        BOOST_TEST_REQUIRE(got == want);
    }
    return during;
}

void check_engine(LendEngine e, bool gro) {
    LoopbackPair p;
    LendingOptions o;
    o.engine = e;
    o.gro = gro;
    LendingReceiver r(p.rx, o);
    std::vector<LentPacket> out(16);
    std::error_code ec;
    const std::size_t before = allocations.load();
    r.try_receive(out, ec);                  // sets up (allocates the buffers, the ring's memory)
    BOOST_TEST(allocations.load() > before); // the counting sees the receiver's allocations
    BOOST_TEST_REQUIRE((!ec || ec == std::errc::operation_would_block), ec.message());
    BOOST_TEST(allocations_while_receiving(p, r, out, 640, 300) == 0u);
}

} // namespace

BOOST_AUTO_TEST_CASE(receiving_and_releasing_allocate_nothing) {
    for (bool gro : {false, true}) {
        check_engine(LendEngine::recvmmsg, gro);
        if (const std::error_code e = LendingReceiver::available())
            BOOST_TEST_MESSAGE("io_uring lending refused here (" << e.message() << "): skipped");
        else
            check_engine(LendEngine::io_uring, gro);
    }
}

#else

BOOST_AUTO_TEST_CASE(the_lending_receiver_is_not_built_without_liburing) {
    BOOST_TEST_MESSAGE("liburing headers absent: LendingReceiver not built, nothing to test");
}

#endif
