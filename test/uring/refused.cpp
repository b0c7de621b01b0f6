// Where io_uring is refused: a child process installs a seccomp filter that makes the io_uring
// system calls fail (ENOSYS as on a kernel without io_uring, EPERM as under Docker's default
// profile or kernel.io_uring_disabled) and then checks that io_uring_capability() says so,
// that Fallback<IoUring..., LinuxGsoBackend, LinuxMmsgBackend> chooses the next backend and
// still sends and receives over 127.0.0.1, and that LendingReceiver fills its buffers with
// recvmmsg. The child reports each check on a pipe; the parent asserts. (A child, because a
// seccomp filter cannot be removed, and because io_uring_capability() is probed once per
// process: nothing in this test's own process probes it before the fork.)
#include <mmsg/io_uring_capability.hpp>

#include <mmsg/backend/io_uring.hpp>
#include <mmsg/backend/io_uring_gso.hpp>
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/lending_receiver.hpp>
#include <mmsg/lent_packet.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/testing/loopback.hpp>

#define BOOST_TEST_MODULE uring_refused
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if MMSG_HAS_IO_URING && defined(__x86_64__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace mmsg;
using namespace mmsg::testing;

#if MMSG_HAS_IO_URING && defined(__x86_64__)

namespace {

// Installs a filter under which io_uring_setup, io_uring_enter and io_uring_register fail
// with `err` and every other system call is allowed. Returns 0 or the errno of the refusal.
int refuse_io_uring(int err) {
    sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return errno;
    return 0;
}

// The child's report: one line per check, "ok <what>" or "FAIL <what>: <why>".
class Report {
public:
    explicit Report(int fd) : fd_(fd) {}
    void check(bool ok, const std::string& what, const std::string& why = {}) {
        const std::string line =
            (ok ? "ok " : "FAIL ") + what + (ok || why.empty() ? "" : ": " + why) + "\n";
        if (!ok) failed_ = true;
        std::size_t at = 0;
        while (at < line.size()) {
            const ssize_t w = ::write(fd_, line.data() + at, line.size() - at);
            if (w <= 0) break;
            at += static_cast<std::size_t>(w);
        }
    }
    bool failed() const noexcept { return failed_; }

private:
    int fd_;
    bool failed_ = false;
};

// Sends `d` with `sender` to a fresh loopback socket and receives them with `receiver`;
// says whether every datagram arrived, byte-exact, in order, from the sender.
template <class Sender, class Receiver>
bool round_trip(Sender& sender, Receiver& receiver, const std::vector<Bytes>& d, std::string& why) {
    LoopbackPair p(1 << 20);
    std::vector<std::pair<std::span<const std::byte>, Endpoint>> b;
    for (const Bytes& x : d)
        b.emplace_back(x, p.rx_ep);
    const SendResult r = sender.batch_send(p.tx, b);
    if (!r.ok()) {
        why = "send: " + r.first_error.message();
        return false;
    }
    std::vector<Packet> packets(16);
    std::size_t got = 0;
    for (int rounds = 0; got < d.size() && rounds < 1000; ++rounds) {
        std::error_code ec;
        const std::size_t n = receiver.recv_mmsg(p.rx, packets, ec);
        if (ec) {
            why = "receive after " + std::to_string(got) + ": " + ec.message();
            return false;
        }
        for (std::size_t i = 0; i < n; ++i, ++got) {
            if (got >= d.size() || !same_bytes(packets[i].data(), d[got]) ||
                packets[i].meta.addr != p.tx_ep) {
                why = "datagram " + std::to_string(got) + " differs";
                return false;
            }
        }
    }
    if (got != d.size()) why = "only " + std::to_string(got) + " arrived";
    return got == d.size();
}

// What the child checks once io_uring is refused with `err`.
void checks_without_io_uring(int err, Report& report) {
    const std::error_condition refused = std::make_error_condition(static_cast<std::errc>(err));
    const IoUringCapability c = io_uring_capability();
    report.check(c.ring == refused, "io_uring_capability().ring is the refusal", c.ring.message());
    report.check(!c.sends() && !c.receives() && !c.lends(), "no io_uring feature is claimed");
    report.check(LendingReceiver::available() == refused, "LendingReceiver::available() says why",
                 LendingReceiver::available().message());

    const std::vector<Bytes> d = numbered_payloads(40, 1200);
    {
        using F = Fallback<IoUringGsoBackend, LinuxGsoBackend, LinuxMmsgBackend>;
        BatchSender<F> sender;
        BatchReceiver<F> receiver;
        LoopbackPair p;
        report.check(sender.backend().chosen(p.tx.native_handle()) == 1,
                     "Fallback<IoUringGsoBackend, LinuxGsoBackend, LinuxMmsgBackend> chooses "
                     "LinuxGsoBackend");
        std::string why;
        report.check(round_trip(sender, receiver, d, why), "it sends and receives over 127.0.0.1",
                     why);
    }
    {
        using F = Fallback<IoUringBackend, LinuxMmsgBackend>;
        BatchSender<F> sender;
        BatchReceiver<F> receiver;
        LoopbackPair p;
        report.check(sender.backend().chosen(p.tx.native_handle()) == 1,
                     "Fallback<IoUringBackend, LinuxMmsgBackend> chooses LinuxMmsgBackend");
        std::string why;
        report.check(round_trip(sender, receiver, d, why), "it sends and receives over 127.0.0.1",
                     why);
    }
    {
        LoopbackPair p;
        LendingReceiver lender(p.rx);
        for (const Bytes& x : d)
            if (send_raw(p.tx.native_handle(), p.rx_ep, x) != 0)
                report.check(false, "feeding the lender");
        std::vector<LentPacket> out(16);
        std::size_t got = 0;
        bool same = true;
        for (int rounds = 0; got < d.size() && rounds < 1000; ++rounds) {
            std::error_code ec;
            const std::size_t n = lender.receive(out, ec);
            if (ec) break;
            for (std::size_t i = 0; i < n; ++i, ++got)
                same = same && got < d.size() && same_bytes(out[i].data(), d[got]) &&
                       out[i].meta().addr == p.tx_ep;
        }
        report.check(!lender.uses_io_uring(), "LendingReceiver fills its buffers with recvmmsg");
        report.check(same && got == d.size(), "and lends every datagram, in order",
                     std::to_string(got) + " lent");
        LendingOptions forced;
        forced.engine = LendEngine::io_uring;
        LendingReceiver ring(p.rx, forced);
        std::error_code ec;
        const std::size_t n = ring.try_receive(out, ec);
        report.check(n == 0 && ec == refused, "LendEngine::io_uring is refused with the reason",
                     ec.message());
    }
}

// Forks a child that refuses io_uring with `err`, runs the checks there, and asserts its
// report here. Where seccomp filters cannot be installed the child says so and it passes.
void run_refused(int err) {
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        Report report(fds[1]);
        if (const int e = refuse_io_uring(err)) {
            report.check(true, std::string("SKIP seccomp refused: ") + std::strerror(e));
            ::_exit(0);
        }
        try {
            checks_without_io_uring(err, report);
        } catch (const std::exception& e) {
            report.check(false, "no exception", e.what());
        }
        ::_exit(report.failed() ? 1 : 0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[512];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    BOOST_TEST_MESSAGE("child, io_uring refused with " << std::strerror(err) << ":\n" << out);
    std::size_t at = 0, lines = 0;
    while (at < out.size()) {
        const std::size_t end = out.find('\n', at);
        const std::string line = out.substr(at, end - at);
        BOOST_TEST(line.rfind("ok ", 0) == 0u, line);
        ++lines;
        at = end == std::string::npos ? out.size() : end + 1;
    }
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    if (out.find("SKIP") == std::string::npos) BOOST_TEST(lines == 10u); // every check reported
}

} // namespace

BOOST_AUTO_TEST_CASE(where_io_uring_does_not_exist_the_fallback_uses_the_next_backend) {
    run_refused(ENOSYS);
}

BOOST_AUTO_TEST_CASE(where_io_uring_is_forbidden_the_fallback_uses_the_next_backend) {
    run_refused(EPERM);
}

#else

BOOST_AUTO_TEST_CASE(io_uring_refusal_is_not_tested_here) {
    BOOST_TEST_MESSAGE(
        "liburing headers absent or not x86-64: the seccomp refusal test is not built");
}

#endif
