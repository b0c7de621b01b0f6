//! Defines mmsg::XdpOptions (how an XdpQueue is opened: interface, queue, mode, copy or zero
//! copy, sizes), mmsg::XdpMode, and mmsg::XdpErrc, the errors that say why AF_XDP cannot
//! serve. Needs no library: a program can describe an XdpQueue where none can be opened.
#ifndef MMSG_XDP_OPTIONS_HPP
#define MMSG_XDP_OPTIONS_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

namespace mmsg {

//! Where the receive program runs: in the driver (native, XDP_FLAGS_DRV_MODE) or on the
//! kernel's socket buffers after the driver (generic, XDP_FLAGS_SKB_MODE: any device, slower).
enum class XdpMode : std::uint8_t { native, generic };

/*! How XdpQueue::open sets up one AF_XDP socket. Defaults: native mode, copy, receive on,
    16 MiB of UMEM (4096 frames of 4 KiB: half for transmit, half for receive).

    What attaching the receive program costs the interface's other traffic, by mode, is
    measured in doc/xdp.adoc: on a veth, native mode takes GRO away from every UDP flow of
    the interface; generic mode does not, but is slower for the served port. `receive = false`
    attaches nothing: the interface is left exactly as it was (transmit only).
*/
struct XdpOptions {
    std::string interface;            //!< the device, by name ("eth0")
    std::uint32_t queue = 0;          //!< its queue (veth has one: 0)
    XdpMode mode = XdpMode::native;   //!< where the receive program runs
    bool zero_copy = false;           //!< XDP_ZEROCOPY (refused, with XdpErrc::zero_copy_refused, where
                                      //!< the driver cannot); false: XDP_COPY, which every driver takes
    bool receive = true;              //!< attach the receive program; false: transmit only
    std::uint32_t frames = 4096;      //!< UMEM frames, a power of two; half transmit, half receive
    std::uint32_t frame_size = 4096;  //!< bytes per frame: 2048 or 4096
    std::uint32_t ring_size = 2048;   //!< entries of each of the four rings, a power of two
    std::uint32_t path_cache = 4096;  //!< destinations (and neighbours) remembered, a power of two
    //! How long open() retries a queue still held by a socket closed just before (the kernel
    //! releases it about 20 ms after the close). 0: fail at once with XdpErrc::queue_busy.
    std::chrono::milliseconds busy_retry{500};
    /*! Generic-mode receive on a device that can hand the program whole GSO trains or
        coalesced datagrams (a veth, the loopback, or a device with rx-gro-hw or
        rx-gro-list on): a train longer than the MTU is passed to the kernel whole, but one
        that fits in the MTU (small segments) cannot be told from one datagram and would
        reach the socket as one. Refused (XdpErrc::coalescing_interface) unless this is true:
        set it only where no sender towards the served port uses UDP GSO (tests, a lab).
    */
    bool allow_coalescing_interface = false;
};

//! Why an XdpQueue cannot be opened, or a socket cannot be served through it. Each compares
//! equal to the std::errc a program would test for (see the category's equivalence).
enum class XdpErrc {
    no_such_interface = 1, //!< no device of that name (ENODEV)
    not_ethernet,          //!< the device is neither Ethernet nor loopback (EPROTONOSUPPORT)
    no_permission,         //!< needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF (EPERM)
    driver_refused,        //!< the driver refuses XDP in this mode, or this queue (EOPNOTSUPP)
    zero_copy_refused,     //!< the driver refuses XDP_ZEROCOPY (EOPNOTSUPP)
    program_present,       //!< another XDP program is attached to the device (EBUSY)
    queue_busy,            //!< another AF_XDP socket holds the queue (EBUSY)
    coalescing_interface,  //!< generic receive could see GSO trains as datagrams (EOPNOTSUPP)
    bad_options,           //!< sizes not powers of two, a frame size other than 2048/4096 (EINVAL)
    socket_not_on_interface, //!< the socket is bound to an address of another device (EADDRNOTAVAIL)
    not_udp,               //!< the socket is not a UDP socket of IPv4 or IPv6 (EPROTOTYPE)
    no_libxdp,             //!< built without libxdp/libbpf (MMSG_HAS_XDP is 0) (ENOSYS)
};

namespace detail {
class XdpCategory : public std::error_category {
public:
    const char* name() const noexcept override { return "mmsg.xdp"; }
    std::string message(int e) const override {
        switch (static_cast<XdpErrc>(e)) {
        case XdpErrc::no_such_interface: return "AF_XDP: no such network interface";
        case XdpErrc::not_ethernet: return "AF_XDP: the interface is neither Ethernet nor loopback";
        case XdpErrc::no_permission:
            return "AF_XDP: not permitted (an AF_XDP socket needs CAP_NET_RAW, its program CAP_NET_ADMIN and CAP_BPF)";
        case XdpErrc::driver_refused: return "AF_XDP: the driver refuses XDP in this mode or on this queue";
        case XdpErrc::zero_copy_refused: return "AF_XDP: the driver refuses zero copy (XDP_ZEROCOPY); use copy mode";
        case XdpErrc::program_present: return "AF_XDP: another XDP program is attached to the interface";
        case XdpErrc::queue_busy:
            return "AF_XDP: another AF_XDP socket holds this queue (or one closed moments ago is still being released)";
        case XdpErrc::coalescing_interface:
            return "AF_XDP: generic receive on this interface could take a GSO train or coalesced datagrams for one "
                   "datagram (veth, loopback, rx-gro-hw or rx-gro-list); use native mode or receive = false";
        case XdpErrc::bad_options: return "AF_XDP: bad XdpOptions (sizes must be powers of two, frames 2048 or 4096 bytes)";
        case XdpErrc::socket_not_on_interface:
            return "AF_XDP: the socket is bound to an address that is not on the queue's interface";
        case XdpErrc::not_udp: return "AF_XDP: not a UDP socket of IPv4 or IPv6";
        case XdpErrc::no_libxdp: return "AF_XDP: mmsg was built without libxdp and libbpf";
        }
        return "AF_XDP: unknown error";
    }
    std::error_condition default_error_condition(int e) const noexcept override {
        switch (static_cast<XdpErrc>(e)) {
        case XdpErrc::no_such_interface: return std::errc::no_such_device;
        case XdpErrc::not_ethernet: return std::errc::protocol_not_supported;
        case XdpErrc::no_permission: return std::errc::operation_not_permitted;
        case XdpErrc::driver_refused:
        case XdpErrc::zero_copy_refused:
        case XdpErrc::coalescing_interface: return std::errc::operation_not_supported;
        case XdpErrc::program_present:
        case XdpErrc::queue_busy: return std::errc::device_or_resource_busy;
        case XdpErrc::bad_options: return std::errc::invalid_argument;
        case XdpErrc::socket_not_on_interface: return std::errc::address_not_available;
        case XdpErrc::not_udp: return std::errc::wrong_protocol_type;
        case XdpErrc::no_libxdp: return std::errc::function_not_supported;
        }
        return {e, *this};
    }
};
} // namespace detail

//! The category of XdpErrc.
inline const std::error_category& xdp_category() noexcept {
    static const detail::XdpCategory c;
    return c;
}
inline std::error_code make_error_code(XdpErrc e) noexcept { return {static_cast<int>(e), xdp_category()}; }

} // namespace mmsg

template <>
struct std::is_error_code_enum<mmsg::XdpErrc> : std::true_type {};

#endif // MMSG_XDP_OPTIONS_HPP
