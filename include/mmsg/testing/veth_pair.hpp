//! Defines mmsg::testing::VethPair: two network namespaces of the calling process's own,
//! joined by a veth pair, for tests and benchmarks of XdpBackend (and anything that must
//! cross a real link without touching the host's network). Addresses come from
//! 198.18.0.0/15 and exist only inside those namespaces; everything goes with the object.
//! Uses `ip` (iproute2) and rtnetlink, and needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root).
#ifndef MMSG_TESTING_VETH_PAIR_HPP
#define MMSG_TESTING_VETH_PAIR_HPP

#include <mmsg/detail/netlink_paths.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/endpoint.hpp>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mmsg::testing {

/*! Namespace A holds device "mmsg-xa" with 198.18.0.1/24, namespace B "mmsg-xb" with
    198.18.0.2/24, both up (and each namespace's loopback), and each side has resolved
    the other's link-layer address (a neighbour entry). A thread enters one with in_a()
    / in_b() (setns there and back again): sockets and XdpQueues made inside stay in that
    namespace whichever thread uses them later. Destroying the object drops the namespaces
    and with them the veth pair and the addresses. Not thread-safe: make and destroy it on
    one thread, and enter namespaces from one thread at a time per VethPair.
*/
class VethPair {
public:
    static constexpr const char* a_name = "mmsg-xa";
    static constexpr const char* b_name = "mmsg-xb";

    /*! Makes the pair; null with `why` set when the kernel refuses (no namespaces, no veth,
        not root) or a step fails.
    */
    static std::unique_ptr<VethPair> make(std::string& why) {
        std::unique_ptr<VethPair> p(new VethPair);
        why = p->build();
        if (!why.empty()) p.reset();
        return p;
    }

    VethPair(const VethPair&) = delete;
    VethPair& operator=(const VethPair&) = delete;
    ~VethPair() {
        for (int fd : {a_, b_, home_})
            if (fd >= 0) ::close(fd);
    }

    //! Runs `f()` with the calling thread in namespace A (B), then back where it was.
    template <class F>
    std::invoke_result_t<F> in_a(F&& f) const { return in(a_, std::forward<F>(f)); }
    template <class F>
    std::invoke_result_t<F> in_b(F&& f) const { return in(b_, std::forward<F>(f)); }

    //! Runs the shell command `cmd` (`ip ...`, `tc ...`) in namespace A (B); true when it
    //! exits 0. Its output is discarded.
    bool run_a(const std::string& cmd) const { return in_a([&] { return run(cmd); }); }
    bool run_b(const std::string& cmd) const { return in_b([&] { return run(cmd); }); }

    /*! Waits, at most `limit`, until side A's (B's) neighbour entry for `addr` can be sent to
        (the kernel's notifications, not a sleep); first asks the kernel to resolve it when
        `solicit`. True when it can be.
    */
    bool wait_neighbour(bool a, const boost::asio::ip::address_v4& addr, std::chrono::milliseconds limit,
                        bool solicit = false) const {
        auto wait = [&] {
            std::error_code ec;
            detail::UniqueFd changes = detail::netlink::open_route_socket(ec, RTMGRP_NEIGH);
            if (ec) return false;
            detail::UniqueFd requests = detail::netlink::open_route_socket(ec);
            if (ec) return false;
            detail::IpBytes want{};
            const auto b = addr.to_bytes();
            std::memcpy(want.data(), b.data(), 4);
            const std::uint32_t ifindex = if_nametoindex(a ? a_name : b_name);
            if (solicit && detail::solicit_neighbour(requests.get(), false, want, ifindex)) return false;
            const auto deadline = std::chrono::steady_clock::now() + limit;
            for (;;) {
                detail::NeighbourInfo n; // asked after subscribing: no change falls between
                if (!detail::neighbour_of(requests.get(), false, want, ifindex, n) && n.usable()) return true;
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) return false;
                pollfd p{changes.get(), POLLIN, 0};
                if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
                unsigned char buf[8192];
                while (::recv(changes.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
                }
            }
        };
        return a ? in_a(wait) : in_b(wait);
    }

    static boost::asio::ip::address a_address() { return boost::asio::ip::make_address("198.18.0.1"); }
    static boost::asio::ip::address b_address() { return boost::asio::ip::make_address("198.18.0.2"); }
    //! An address of the link's subnet that no host has (its neighbour never resolves).
    static boost::asio::ip::address absent_address() { return boost::asio::ip::make_address("198.18.0.99"); }

private:
    VethPair() = default;

    static bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

    template <class F>
    std::invoke_result_t<F> in(int ns, F&& f) const {
        struct Back {
            int home;
            ~Back() { ::setns(home, CLONE_NEWNET); }
        } back{home_};
        ::setns(ns, CLONE_NEWNET);
        return f();
    }

    // A new namespace's descriptor (the calling thread goes back home after).
    int fresh() const {
        if (::unshare(CLONE_NEWNET) != 0) return -1;
        const int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        ::setns(home_, CLONE_NEWNET);
        return fd;
    }

    std::string build() {
        home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home_ < 0) return "no /proc/thread-self/ns/net";
        if ((a_ = fresh()) < 0 || (b_ = fresh()) < 0) return "network namespaces are refused here (not root?)";
        if (!run_a("ip link set lo up") || !run_b("ip link set lo up")) return "cannot bring loopback up (no `ip`?)";
        // The peer goes to B by a path to B's descriptor that the `ip` child process can open.
        const std::string b_path = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(b_);
        if (!run_a(std::string("ip link add ") + a_name + " type veth peer name " + b_name + " netns " + b_path))
            return "no veth pair (ip link add ... type veth failed)";
        if (!run_a(std::string("ip addr add 198.18.0.1/24 dev ") + a_name) ||
            !run_a(std::string("ip link set ") + a_name + " up") ||
            !run_b(std::string("ip addr add 198.18.0.2/24 dev ") + b_name) ||
            !run_b(std::string("ip link set ") + b_name + " up"))
            return "cannot configure the veth pair";
        if (!wait_neighbour(true, b_address().to_v4(), std::chrono::seconds(5), true) ||
            !wait_neighbour(false, a_address().to_v4(), std::chrono::seconds(5), true))
            return "the veth neighbours did not resolve within 5 s";
        return {};
    }

    int home_ = -1;
    int a_ = -1;
    int b_ = -1;
};

} // namespace mmsg::testing

#endif // MMSG_TESTING_VETH_PAIR_HPP
