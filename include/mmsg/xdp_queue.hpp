//! Defines mmsg::XdpQueue: one AF_XDP socket on one queue of one interface, with its UMEM,
//! its four rings, its receive program and the kernel's routes and neighbours for its
//! frames; what XdpBackend sends and receives through. Needs libxdp and libbpf
//! (MMSG_HAS_XDP); link with -lxdp -lbpf.
#ifndef MMSG_XDP_QUEUE_HPP
#define MMSG_XDP_QUEUE_HPP

#include <mmsg/config.hpp>
#include <mmsg/xdp_options.hpp>

#if MMSG_HAS_XDP

#include <mmsg/detail/ethtool_features.hpp>
#include <mmsg/detail/next_hop.hpp>
#include <mmsg/detail/xdp_attach.hpp>
#include <mmsg/detail/xsk_socket.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <linux/if_arp.h>
#include <net/if.h>

namespace mmsg {

class XdpBackend;

//! What an XdpQueue counted: the kernel's counters of its AF_XDP socket and its own.
struct XdpStatistics {
    std::uint64_t rx_dropped = 0;         //!< redirected datagrams dropped: no free receive frame
    std::uint64_t rx_ring_full = 0;       //!< ... dropped: the receive ring was full
    std::uint64_t rx_invalid = 0;         //!< ... dropped: longer than a frame
    std::uint64_t tx_invalid = 0;         //!< transmit descriptors the kernel refused
    std::uint64_t stray = 0;              //!< received for a socket that no longer receives here
    std::uint64_t frames_sent = 0;        //!< datagrams sent as frames
    std::uint64_t frames_received = 0;    //!< datagrams received from the ring
    std::uint64_t through_kernel = 0;     //!< datagrams handed to the socket's kernel path
};

/*! One AF_XDP socket on queue `options.queue` of `options.interface`, made by open() and
    shared (std::shared_ptr) by the XdpBackend objects that use it: a sender and a receiver
    may use one queue from two threads at once (transmit and receive share nothing), never
    two senders or two receivers.

    Set up once: the UMEM (options.frames frames, half transmit, half lent to the kernel for
    receive), the four rings, the receive program (unless options.receive is false) attached
    through a BPF link (detached when the queue goes, or the process), and rtnetlink sockets
    of the calling thread's network namespace for routes, neighbours and their changes.
    The queue receives for one UDP socket at a time (the first XdpBackend receives on;
    doc/xdp.adoc); it sends for any number.

    Destroying it flushes the transmit ring (what was reported sent is given to the device),
    detaches the program and releases the queue; the kernel needs about 20 ms more before
    the queue can be bound again (open retries that window, options.busy_retry).
*/
class XdpQueue {
public:
    /*! Opens the queue. On failure returns null and sets `ec`: an XdpErrc saying why
        (no_such_interface, not_ethernet, no_permission, driver_refused, zero_copy_refused,
        program_present, queue_busy, coalescing_interface, bad_options) or the kernel's error.
    */
    static std::shared_ptr<XdpQueue> open(const XdpOptions& options, std::error_code& ec) {
        std::shared_ptr<XdpQueue> q(new XdpQueue(options));
        ec = q->start();
        if (ec) q.reset();
        return q;
    }
    //! Same; throws std::system_error.
    static std::shared_ptr<XdpQueue> open(const XdpOptions& options) {
        std::error_code ec;
        auto q = open(options, ec);
        if (ec) throw std::system_error(ec, "mmsg::XdpQueue::open(" + options.interface + ")");
        return q;
    }

    XdpQueue(const XdpQueue&) = delete;
    XdpQueue& operator=(const XdpQueue&) = delete;
    ~XdpQueue() {
        for (int i = 0; i < 4 && !xsk_.ring_empty(); ++i) xsk_.kick();
    }

    //! The AF_XDP socket: readable when a datagram for the receiving socket is in the ring.
    int native_handle() const noexcept { return xsk_.fd(); }
    std::uint32_t interface_index() const noexcept { return ifindex_; }
    const XdpOptions& options() const noexcept { return options_; }
    //! Whether the receive program is attached (options.receive).
    bool receives() const noexcept { return program_.attached(); }
    //! Whether the attached program is the multi-buffer variant (generic mode needs it).
    bool multi_buffer_program() const noexcept { return program_.frags(); }
    //! The UDP port it receives for now (network order ignored: host order), 0 for none.
    std::uint16_t receiving_port() const noexcept { return receiving_port_.load(std::memory_order_relaxed); }

    XdpStatistics statistics() const noexcept {
        const xdp_statistics k = xsk_.statistics();
        XdpStatistics s;
        s.rx_dropped = k.rx_dropped + k.rx_fill_ring_empty_descs;
        s.rx_ring_full = k.rx_ring_full;
        s.rx_invalid = k.rx_invalid_descs;
        s.tx_invalid = k.tx_invalid_descs;
        s.stray = stray_.load(std::memory_order_relaxed);
        s.frames_sent = frames_sent_.load(std::memory_order_relaxed);
        s.frames_received = frames_received_.load(std::memory_order_relaxed);
        s.through_kernel = through_kernel_.load(std::memory_order_relaxed);
        return s;
    }

private:
    friend class XdpBackend;

    explicit XdpQueue(const XdpOptions& o) : options_(o) {}

    static bool power_of_two(std::uint32_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

    std::error_code start() {
        const XdpOptions& o = options_;
        if (!power_of_two(o.frames) || o.frames < 4 || !power_of_two(o.ring_size) || o.ring_size < o.frames / 2 ||
            (o.frame_size != 2048 && o.frame_size != 4096) || !power_of_two(o.path_cache))
            return XdpErrc::bad_options;
        ifindex_ = if_nametoindex(o.interface.c_str());
        if (ifindex_ == 0) return XdpErrc::no_such_interface;
        if (std::error_code ec = hops_.open(ifindex_, o.path_cache)) return ec;
        std::error_code ec;
        setup_ = detail::netlink::open_route_socket(ec);
        if (ec) return ec;
        const detail::LinkInfo& link = hops_.link();
        mtu_.store(link.mtu, std::memory_order_relaxed);
        if (link.type != ARPHRD_ETHER && link.type != ARPHRD_LOOPBACK) return XdpErrc::not_ethernet;
        if (o.receive && o.mode == XdpMode::generic && !o.allow_coalescing_interface && coalescing(link))
            return XdpErrc::coalescing_interface;
        if (std::error_code ec = xsk_.open(o, o.interface.c_str())) return ec;
        if (o.receive) {
            if (std::error_code ec = program_.attach(ifindex_, o.mode)) return ec;
            if (std::error_code ec = program_.set_socket(o.queue, xsk_.fd())) return ec;
            config_.max_l3 = link.mtu;
            if (std::error_code ec = program_.configure(config_)) return ec;
        }
        return {};
    }

    // Whether generic XDP on this device can be handed more than one datagram as one: a
    // veth or the loopback (GSO trains of senders on this host arrive whole), or a device
    // whose receive offloads coalesce.
    bool coalescing(const detail::LinkInfo& link) const {
        if ((link.flags & IFF_LOOPBACK) != 0 || link.kind == "veth") return true;
        std::vector<bool> on;
        if (detail::active_features(options_.interface.c_str(),
                                    {"rx-gro-hw", "rx-gro-list", "large-receive-offload"}, on))
            return false; // a device without ethtool features has none of them
        for (bool b : on)
            if (b) return true;
        return false;
    }

    // ---- the receiving socket (XdpBackend's part of that socket's SocketState holds it) ----

    bool claim(const void* owner, const detail::XdpProgramConfig& c, std::uint16_t port) {
        const std::lock_guard<std::mutex> lock(claim_mutex_);
        if (!program_.attached() || (receiver_ != nullptr && receiver_ != owner)) return false;
        detail::XdpProgramConfig cfg = c;
        cfg.max_l3 = hops_mtu_for_program();
        if (program_.configure(cfg)) return false;
        config_ = cfg;
        receiver_ = owner;
        receiving_port_.store(port, std::memory_order_relaxed);
        return true;
    }
    void release(const void* owner) noexcept {
        const std::lock_guard<std::mutex> lock(claim_mutex_);
        if (receiver_ != owner) return;
        config_.port = 0;
        program_.configure(config_);
        receiver_ = nullptr;
        receiving_port_.store(0, std::memory_order_relaxed);
    }
    std::uint32_t hops_mtu_for_program() const noexcept { return mtu_.load(std::memory_order_relaxed); }
    //! Whether `addr` is an address of the queue's device (a question of any thread).
    bool local_to_device(bool v6, const detail::IpBytes& addr) {
        const std::lock_guard<std::mutex> lock(claim_mutex_);
        std::error_code ec;
        for (const auto& [is_v6, a] : detail::addresses_of(setup_.get(), ifindex_, ec))
            if (is_v6 == v6 && a == addr) return true;
        return false;
    }
    // The sender saw the device change: the program's longest datagram follows its MTU.
    void link_changed() {
        const std::uint32_t mtu = hops_.link().mtu;
        mtu_.store(mtu, std::memory_order_relaxed);
        const std::lock_guard<std::mutex> lock(claim_mutex_);
        if (!program_.attached()) return;
        config_.max_l3 = mtu;
        program_.configure(config_);
    }

    XdpOptions options_;
    std::uint32_t ifindex_ = 0;
    detail::NextHops hops_;      // the sender's
    detail::UniqueFd setup_;     // rtnetlink, for set-up questions of any thread (claim_mutex_)
    detail::XskSocket xsk_;      // transmit half: the sender's; receive half: the receiver's
    detail::XdpAttachment program_;
    std::mutex claim_mutex_;
    const void* receiver_ = nullptr;
    detail::XdpProgramConfig config_{};
    std::atomic<std::uint32_t> mtu_{0};
    std::atomic<std::uint16_t> receiving_port_{0};
    std::atomic<std::uint64_t> stray_{0};
    std::atomic<std::uint64_t> frames_sent_{0};
    std::atomic<std::uint64_t> frames_received_{0};
    std::atomic<std::uint64_t> through_kernel_{0};
};

} // namespace mmsg

#endif // MMSG_HAS_XDP
#endif // MMSG_XDP_QUEUE_HPP
