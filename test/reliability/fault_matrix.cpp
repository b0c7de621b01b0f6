// The fault matrix: every injected errno x position (first, middle, last, a whole chunk) x
// backend, run for real, and what the caller sees, written as an Asciidoctor table. The
// committed doc/fault_matrix.adoc must equal what this test generates, so the document
// cannot drift from the behaviour. To regenerate it after a deliberate change:
//   MMSG_UPDATE_FAULT_MATRIX=1 b2 --build-dir=... test/reliability//reliability_fault_matrix
// (the file to compare or write is this program's first argument; the Jamfile passes it).
#include <mmsg/batch_sender.hpp>

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/testing/mock_network.hpp>
#include <mmsg/testing/mock_gso_ops.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/config.hpp>
#include <mmsg/detail/errors.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/gso_capability.hpp>

#include "../support/backends.hpp"
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/core/demangle.hpp>
#include <boost/asio/ip/v6_only.hpp>

#define BOOST_TEST_MODULE reliability_fault_matrix
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace mmsg;
using mmsg::testing::v4_loopback;
using Batch = std::vector<std::pair<std::span<const std::byte>, Endpoint>>;

namespace {

struct Errno {
    int value;
    const char* name;
    const char* kind; // how mmsg classifies it
};
// Per-datagram errors, socket (fatal) errors, back-pressure and interruption.
constexpr Errno errnos[] = {
    {EACCES, "EACCES", "datagram"},        {EPERM, "EPERM", "datagram"},
    {EAFNOSUPPORT, "EAFNOSUPPORT", "datagram"}, {ENETUNREACH, "ENETUNREACH", "datagram"},
    {EHOSTUNREACH, "EHOSTUNREACH", "datagram"}, {EMSGSIZE, "EMSGSIZE", "datagram"},
    {ECONNREFUSED, "ECONNREFUSED", "datagram"}, {EINVAL, "EINVAL", "datagram"},
    {EIO, "EIO", "datagram"},              {EBADF, "EBADF", "fatal"},
    {ENOTSOCK, "ENOTSOCK", "fatal"},       {EFAULT, "EFAULT", "fatal"},
    {EPIPE, "EPIPE", "fatal"},             {EOPNOTSUPP, "EOPNOTSUPP", "fatal"},
    {EDESTADDRREQ, "EDESTADDRREQ", "fatal"}, {EPROTOTYPE, "EPROTOTYPE", "fatal"},
    {EAGAIN, "EAGAIN", "back-pressure"},
    {ENOBUFS, "ENOBUFS", "back-pressure"}, {EINTR, "EINTR", "interrupted"},
};

std::string name_of(const std::error_code& ec) {
    if (!ec) return "ok";
    if (ec == std::errc::operation_would_block) return "unsent";
    for (const Errno& e : errnos)
        if (ec == detail::errno_code(e.value)) return e.name;
    return ec.message();
}

enum class Position { first, middle, last, chunk };
constexpr std::pair<Position, const char*> positions[] = {
    {Position::first, "first of 8"},
    {Position::middle, "middle (#4 of 8)"},
    {Position::last, "last of 8"},
    {Position::chunk, "every datagram of chunk 1 of 2 (1024 of 2048)"},
};

struct Cell {
    SendResult r;
    std::size_t n = 0;
    std::error_code faulted; // status of the (first) faulted datagram
    std::string others;      // what happened to the datagrams that were not faulted
    std::size_t delivered = 0;
    std::size_t calls = 0;
};

// Summarises the outcomes of the datagrams outside [lo, hi): "ok", or a run list.
std::string summarise_others(const std::vector<std::error_code>& status, std::size_t lo,
                             std::size_t hi) {
    std::size_t ok = 0, unsent = 0, failed = 0;
    for (std::size_t i = 0; i < status.size(); ++i) {
        if (i >= lo && i < hi) continue;
        if (!status[i]) ++ok;
        else if (status[i] == std::errc::operation_would_block) ++unsent;
        else ++failed;
    }
    std::ostringstream os;
    const char* sep = "";
    if (ok) os << sep << ok << " sent", sep = ", ";
    if (failed) os << sep << failed << " failed", sep = ", ";
    if (unsent) os << sep << unsent << " unsent", sep = ", ";
    if (!ok && !failed && !unsent) os << "(none)";
    return os.str();
}

std::pair<std::size_t, std::size_t> faulted_range(Position pos) {
    switch (pos) {
    case Position::first: return {0, 1};
    case Position::middle: return {4, 5};
    case Position::last: return {7, 8};
    case Position::chunk: return {0, max_send_batch};
    }
    return {0, 1};
}

// One cell on a backend running over a MockNetwork (`make` builds it): the datagrams at
// `pos` fail with `err` (MockNetwork::fail_nth).
template <class Make>
Cell run_on_mock_network(const Errno& err, Position pos, Make make) {
    MockNetwork net;
    auto sender = make(net);
    const int tx = net.open(v4_loopback());
    const int rx = net.open(v4_loopback());
    const Endpoint to = net.local_endpoint(rx);
    const std::vector<std::byte> payload = mmsg::testing::numbered(32, 1000);

    Cell c;
    c.n = pos == Position::chunk ? 2 * max_send_batch : 8;
    const auto [lo, hi] = faulted_range(pos);
    // fail_nth counts attempts: a datagram that was retried (EINTR) has a later number. The
    // first `lo` attempts are the datagrams before the faulted ones (nothing fails there).
    for (std::size_t k = lo; k < hi; ++k) net.fail_nth(k, detail::errno_code(err.value));

    Batch batch(c.n, {payload, to});
    std::vector<std::error_code> status(c.n);
    c.r = sender.batch_send(tx, batch, status);
    c.faulted = status[lo];
    c.others = summarise_others(status, lo, hi);
    c.delivered = net.queued(rx);
    c.calls = net.calls();

    // The accounting invariants hold in every cell.
    BOOST_TEST(c.r.sent + c.r.failed + c.r.unsent == c.n, err.name);
    BOOST_TEST(c.delivered == c.r.sent, err.name);
    return c;
}

Cell run_mock(const Errno& err, Position pos) {
    return run_on_mock_network(err, pos, [](MockNetwork& net) {
        return BatchSender<MockBackend>{MockBackend(net)};
    });
}

#if MMSG_HAS_UDP_GSO
// LinuxGsoBackend's own code over the mock network: the 8 or 2048 equal datagrams to one
// destination go as UDP_SEGMENT trains, and the faults hit datagrams inside them.
Cell run_mock_gso(const Errno& err, Position pos) {
    return run_on_mock_network(err, pos, [](MockNetwork& net) {
        return BatchSender<MockGsoBackend>{MockGsoBackend(MockGsoOps(net))};
    });
}
#endif

// ---- real backends with FaultInjecting<B>: the same script, on loopback sockets -----------

namespace asio = boost::asio;
using udp = asio::ip::udp;

// Drains `rx` and returns how many datagrams reached it: received, or dropped by the kernel
// and counted (SO_RXQ_OVFL); `receiver` must have drop counting enabled on it.
std::size_t reached(asio::io_context& io, udp::socket& rx, BatchReceiver<LinuxMmsgBackend>& receiver,
                    std::size_t expected) {
    std::vector<Packet> packets(64);
    std::error_code ec;
    std::size_t received = 0;
    for (;;) {
        const std::size_t k = receiver.try_recv_mmsg(rx, packets, ec);
        if (ec) break;
        received += k;
    }
    if (receiver.socket_state(rx).dropped() > 0 || received < expected) {
        // The counter comes with a datagram: one more into the drained queue.
        udp::socket m(io, rx.local_endpoint().protocol());
        m.send_to(asio::buffer("m", 1), rx.local_endpoint());
        received += receiver.recv_mmsg(rx, packets) - 1;
    }
    return received + receiver.socket_state(rx).dropped();
}

template <class B>
Cell run_injected(const Errno& err, Position pos) {
    asio::io_context io;
    udp::socket rx = mmsg::testing::bound_socket(io, v4_loopback());
    mmsg::testing::set_rcvbuf(rx, 8 << 20);
    BatchReceiver<LinuxMmsgBackend> receiver;
    BOOST_REQUIRE(!mmsg::enable_drop_count(rx));
    udp::socket tx = mmsg::testing::bound_socket(io, v4_loopback());
    const std::vector<std::byte> payload(1, std::byte{1});

    Cell c;
    c.n = pos == Position::chunk ? 2 * max_send_batch : 8;
    const auto [lo, hi] = faulted_range(pos);
    BatchSender<FaultInjecting<B>> sender;
    for (std::size_t k = lo; k < hi; ++k) sender.backend().fail_nth(k, detail::errno_code(err.value));
    Batch batch(c.n, {payload, rx.local_endpoint()});
    std::vector<std::error_code> status(c.n);
    c.r = sender.batch_send(tx, batch, status);
    c.faulted = status[lo];
    c.others = summarise_others(status, lo, hi);
    c.calls = sender.backend().calls();
    c.delivered = reached(io, rx, receiver, c.r.sent);
    BOOST_TEST(c.r.sent + c.r.failed + c.r.unsent == c.n, err.name);
    BOOST_TEST(c.delivered == c.r.sent, err.name);
    return c;
}

// ---- real backends: the kernel's own errors, provoked on loopback --------------------------

// Counts backend calls (the system calls of sendmmsg-like backends); forwards everything.
template <class B>
struct Counted {
    B inner;
    std::size_t* calls;
    SendOutcome send(int fd, std::span<const SendItem> items, std::span<std::error_code> errors,
                     WaitMode mode) {
        ++*calls;
        return inner.send(fd, items, errors, mode);
    }
};

// Errnos a real socket on loopback gives without any injection, and how to provoke them.
constexpr Errno kernel_errnos[] = {
    {EACCES, "EACCES", "datagram"},   // 255.255.255.255 without SO_BROADCAST
    {EAFNOSUPPORT, "EAFNOSUPPORT", "datagram"}, // IPv6 destination, IPv4 socket
    {ENETUNREACH, "ENETUNREACH", "datagram"},   // IPv4-mapped destination, IPv6-only socket
    {EMSGSIZE, "EMSGSIZE", "datagram"}, // 65508-byte payload
    {EINVAL, "EINVAL", "datagram"},     // destination port 0
    {EBADF, "EBADF", "fatal"},          // a closed descriptor
    {ENOTSOCK, "ENOTSOCK", "fatal"},    // /dev/null
    {EPROTOTYPE, "EPROTOTYPE", "fatal"}, // a TCP socket: not a datagram socket
};

template <class B>
Cell run_real(const Errno& err, Position pos) {
    asio::io_context io;
    const bool v6 = err.value == ENETUNREACH;
    udp::socket rx = mmsg::testing::bound_socket(io, v6 ? mmsg::testing::v6_loopback() : v4_loopback());
    mmsg::testing::set_rcvbuf(rx, 8 << 20); // holds a whole chunk as root; drops are counted anyway
    BatchReceiver<LinuxMmsgBackend> receiver;
    BOOST_REQUIRE(!mmsg::enable_drop_count(rx));
    const Endpoint good = rx.local_endpoint();

    udp::socket tx(io, v6 ? udp::v6() : udp::v4());
    if (v6) tx.set_option(asio::ip::v6_only(true));
    else tx.bind(v4_loopback());
    asio::ip::tcp::socket tcp(io, asio::ip::tcp::v4());
    mmsg::testing::DevNull dev_null;
    udp::socket doomed(io, udp::v4());
    int fd = tx.native_handle();
    Endpoint bad = good;
    const std::vector<std::byte> small(1, std::byte{1});
    std::vector<std::byte> bad_payload = small;
    switch (err.value) {
    case EACCES: bad = mmsg::testing::broadcast(); break;
    case EAFNOSUPPORT: bad = mmsg::testing::v6_loopback(9); break;
    case ENETUNREACH:
        bad = Endpoint(asio::ip::make_address_v6(asio::ip::v4_mapped, asio::ip::address_v4::loopback()), 9);
        break;
    case EMSGSIZE: bad_payload.assign(65508, std::byte{2}); break;
    case EINVAL: bad = v4_loopback(0); break;
    case EBADF: // a closed number far above those in use, so nothing reuses it
        fd = ::fcntl(doomed.native_handle(), F_DUPFD_CLOEXEC, 1000);
        ::close(fd);
        break;
    case ENOTSOCK: fd = dev_null.fd; break;
    case EPROTOTYPE: fd = tcp.native_handle(); break;
    }
    const bool socket_level = std::string(err.kind) == "fatal";

    Cell c;
    c.n = pos == Position::chunk ? 2 * max_send_batch : 8;
    std::size_t lo = 0, hi = 1;
    switch (pos) {
    case Position::first: lo = 0, hi = 1; break;
    case Position::middle: lo = 4, hi = 5; break;
    case Position::last: lo = 7, hi = 8; break;
    case Position::chunk: lo = 0, hi = max_send_batch; break;
    }
    Batch batch(c.n, {small, good});
    if (!socket_level)
        for (std::size_t k = lo; k < hi; ++k) batch[k] = {bad_payload, bad};
    BatchSender<Counted<B>> sender{Counted<B>{B{}, &c.calls}};
    std::vector<std::error_code> status(c.n);
    c.r = sender.batch_send(fd, batch, status);
    c.faulted = status[lo];
    c.others = summarise_others(status, lo, hi);

    c.delivered = reached(io, rx, receiver, c.r.sent);
    BOOST_TEST(c.r.sent + c.r.failed + c.r.unsent == c.n, err.name);
    BOOST_TEST(c.delivered == c.r.sent, err.name);
    return c;
}

struct Backend {
    const char* name;
    std::function<Cell(const Errno&, Position)> run;
    std::span<const Errno> errnos;
};

// "mmsg::LinuxMmsgBackend" -> "LinuxMmsgBackend (loopback, kernel errors)"
template <class B>
std::string real_name() {
    std::string n = boost::core::demangle(typeid(B).name());
    if (n.find("UringGsoOps") != std::string::npos) return "IoUringGsoBackend"; // an alias too
    n = n.substr(0, n.find('<')); // BasicLinuxGsoBackend<detail::KernelGsoOps> -> its name
    if (auto p = n.rfind("::"); p != std::string::npos) n = n.substr(p + 2);
    if (n.rfind("Basic", 0) == 0) n = n.substr(5); // the alias users know (LinuxGsoBackend)
    return n;
}

// What the machine-dependent sections depend on, in the words the document uses.
std::string machine() {
    std::ostringstream os;
    const GsoCapability& c = gso_capability(boost::asio::ip::udp::v4());
    if (c.gso())
        os << "UDP GSO works, trains of at most " << c.limits.max_segments << " datagrams and "
           << c.limits.max_bytes << " bytes";
    else
        os << "no UDP GSO (" << static_cast<int>(c.send) << ")";
#if MMSG_HAS_IO_URING
    const std::error_code u = IoUringBackend::available();
    os << "; io_uring " << (u ? "unavailable: " + u.message() : std::string("available"));
#else
    os << "; io_uring not compiled";
#endif
    return os.str();
}

// The document without its machine-dependent sections (and the line naming the machine):
// what must match on any machine.
std::string portable_part(const std::string& doc) {
    std::string out;
    bool skipping = false;
    std::istringstream in(doc);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("== ", 0) == 0)
            skipping = line.find("(loopback") != std::string::npos &&
                       (line.find("LinuxGsoBackend") != std::string::npos ||
                        line.find("IoUring") != std::string::npos); // IoUringBackend, IoUringGsoBackend
        if (line.rfind("generated where: ", 0) == 0) continue;
        if (!skipping) out += line + '\n';
    }
    return out;
}

std::string generate() {
    // Names live in `names` (stable addresses: reserved up front).
    std::vector<std::string> names;
    names.reserve(64);
    std::vector<Backend> backends{{"MockBackend (MockNetwork::fail_nth)", run_mock, errnos}};
#if MMSG_HAS_UDP_GSO
    backends.push_back({"LinuxGsoBackend on MockNetwork (MockGsoBackend, fail_nth)", run_mock_gso, errnos});
#endif
    std::apply(
        [&](auto... b) {
            ((names.push_back("FaultInjecting<" + real_name<decltype(b)>() +
                              "> (loopback, fail_nth)"),
              backends.push_back({names.back().c_str(), run_injected<decltype(b)>, errnos})),
             ...);
            ((names.push_back(real_name<decltype(b)>() + " (loopback, the kernel's own errors)"),
              backends.push_back({names.back().c_str(), run_real<decltype(b)>, kernel_errnos})),
             ...);
        },
        mmsg::test::RealBackends{});
    std::ostringstream os;
    os << "// GENERATED by test/reliability/fault_matrix.cpp from the real behaviour: do not edit.\n"
          "// Regenerate: MMSG_UPDATE_FAULT_MATRIX=1 b2 test/reliability//reliability_fault_matrix\n"
          "[[fault-matrix]]\n"
          "= Fault matrix\n\n"
          "What the caller of `BatchSender::batch_send` sees when the system call fails with a\n"
          "given errno at a given position in the batch. Each row was produced by running that\n"
          "case (see `test/reliability/fault_matrix.cpp`); the test fails if this file differs\n"
          "from what it produces, so the table cannot drift from the code.\n\n"
          "* *class*: how mmsg classifies the errno: `datagram` (that datagram failed, the batch\n"
          "  goes on), `fatal` (the socket is unusable: that datagram and every later one fail\n"
          "  with it), `back-pressure` (the rest is `unsent`; resume from `sent + failed`),\n"
          "  `interrupted` (retried, never an outcome).\n"
          "* *faulted datagram*: its entry in the status span (`ok`: sent; `unsent`:\n"
          "  `std::errc::operation_would_block`; otherwise its error).\n"
          "* *delivered*: datagrams that reached the receiving socket (always `sent`).\n"
          "* *calls*: backend calls the batch took (for the kernel backends, one `sendmmsg`\n"
          "  or one `sendto` loop each).\n\n"
          "Sections: `MockBackend` and `LinuxGsoBackend`'s own code (as trains: the batch is\n"
          "equal datagrams to one destination) on the mock network, every errno injected with\n"
          "`MockNetwork::fail_nth`; every real backend wrapped in `FaultInjecting<>` on\n"
          "loopback sockets, with the same script; and every real backend with the kernel's\n"
          "own errors, provoked on loopback with no injection:\n"
          "EACCES (255.255.255.255 without `SO_BROADCAST`), EAFNOSUPPORT (IPv6 destination on an\n"
          "IPv4 socket), ENETUNREACH (IPv4-mapped destination on an IPv6-only socket), EMSGSIZE\n"
          "(65508-byte payload), EINVAL (destination port 0), and the socket-level EBADF (closed\n"
          "descriptor), ENOTSOCK (`/dev/null`), EPROTOTYPE (a TCP socket, refused before any\n"
          "system call). `sendmmsg`\n"
          "reports an error only for the first datagram of a call, hence one more call when a\n"
          "datagram in the middle fails.\n\n"
          "The sections of `LinuxGsoBackend`, `IoUringBackend` and `IoUringGsoBackend` on\n"
          "loopback depend on the machine (the kernel's train limits, whether io_uring may be\n"
          "used); this file was generated where: "
       << machine() << ".\n\n";
    std::size_t rows = 0;
    std::size_t injected = 0;
    for (const Backend& b : backends) {
        if (b.errnos.data() == errnos) ++injected;
        os << "== " << b.name << "\n\n"
           << "[cols=\"2,3,2,1,1,1,1,2,2,2,1,1\",options=\"header\"]\n"
           << "|===\n"
           << "|errno |position |class |sent |failed |unsent |fatal |first_error "
              "|faulted datagram |other datagrams |delivered |calls\n";
        for (const Errno& e : b.errnos)
            for (const auto& [pos, pos_name] : positions) {
                // A socket-level error is not about a datagram: one row, for the whole batch.
                const bool socket_level = b.errnos.data() == kernel_errnos && std::string(e.kind) == "fatal";
                if (socket_level && pos != Position::first) continue;
                const Cell c = b.run(e, pos);
                os << "|" << e.name << " |" << (socket_level ? "the socket itself (all 8)" : pos_name)
                   << " |" << e.kind << " |" << c.r.sent
                   << " |" << c.r.failed << " |" << c.r.unsent << " |" << (c.r.fatal ? "yes" : "no")
                   << " |" << (c.r.first_error ? name_of(c.r.first_error) : "-") << " |"
                   << name_of(c.faulted) << " |" << c.others << " |" << c.delivered << " |"
                   << c.calls << "\n";
                ++rows;
            }
        os << "|===\n\n";
    }
    os << "Matrix size: " << rows << " cases: " << std::size(errnos) << " injected errnos x "
       << std::size(positions) << " positions on each of " << injected
       << " backends, and " << std::size(kernel_errnos)
       << " errnos of the kernel's own (per-datagram ones at each position) on each of "
       << std::tuple_size_v<mmsg::test::RealBackends> << " real backends.\n";
    return os.str();
}

} // namespace

BOOST_AUTO_TEST_CASE(fault_matrix_document_matches_the_behaviour) {
    auto& suite = boost::unit_test::framework::master_test_suite();
    BOOST_TEST_REQUIRE(suite.argc >= 2, "usage: reliability_fault_matrix <path of doc/fault_matrix.adoc>");
    const std::string path = suite.argv[1];
    const std::string now = generate();

    const char* update = std::getenv("MMSG_UPDATE_FAULT_MATRIX");
    if (update && *update && std::string(update) != "0") {
        std::ofstream(path, std::ios::binary) << now;
        BOOST_TEST_MESSAGE("wrote " << path);
    }
    std::ifstream f(path, std::ios::binary);
    const std::string committed{std::istreambuf_iterator<char>(f), {}};
    BOOST_TEST(!committed.empty(), path << " is missing: run with MMSG_UPDATE_FAULT_MATRIX=1");
    // Where the machine differs from the one that generated the file, its GSO and io_uring
    // sections cannot match (their cells were still run and checked above); the rest must.
    const std::string here = machine();
    const bool same_machine =
        committed.find("generated where: " + here + ".\n") != std::string::npos;
    if (!same_machine)
        BOOST_TEST_MESSAGE("this machine (" << here << ") is not the one " << path
                                            << " was generated on: its LinuxGsoBackend and "
                                               "io_uring loopback sections are not compared");
    const bool same = same_machine ? committed == now : portable_part(committed) == portable_part(now);
    BOOST_TEST(same, path << " differs from the behaviour; if the change is intended, "
                             "regenerate it with MMSG_UPDATE_FAULT_MATRIX=1");
    if (!same) BOOST_TEST_MESSAGE("generated:\n" << now);
}

BOOST_AUTO_TEST_CASE(fault_classes_behave_as_documented_on_the_mock) {
    // Spot checks that do not depend on the document: one per class, middle position.
    const Cell datagram = run_mock(errnos[0], Position::middle); // EACCES
    BOOST_TEST(datagram.r.sent == 7u);
    BOOST_TEST(datagram.r.failed == 1u);
    BOOST_TEST(!datagram.r.fatal);
    const Cell fatal = run_mock(errnos[9], Position::middle); // EBADF
    BOOST_TEST(fatal.r.sent == 4u);
    BOOST_TEST(fatal.r.failed == 4u);
    BOOST_TEST(fatal.r.fatal);
    const Cell wouldblock = run_mock(errnos[16], Position::middle); // EAGAIN
    BOOST_TEST(wouldblock.r.sent == 4u);
    BOOST_TEST(wouldblock.r.unsent == 4u);
    const Cell intr = run_mock(errnos[18], Position::middle); // EINTR
    BOOST_TEST(intr.r.ok());
    BOOST_TEST(intr.r.sent == 8u);
}
