//! detail::XdpAttachment: XdpQueue's receive program (detail/xdp_program.hpp) loaded with
//! libbpf and attached to a device through a BPF link, so that it goes away with the
//! process, and the two maps that steer it: which socket receives (configure) and which
//! AF_XDP socket each queue redirects to (set_socket).
#ifndef MMSG_DETAIL_XDP_ATTACH_HPP
#define MMSG_DETAIL_XDP_ATTACH_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_XDP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/xdp_program.hpp>
#include <mmsg/xdp_options.hpp>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

namespace mmsg::detail {

//! The program's configuration (struct mmsg_xdp_config of xdp_program.bpf.c, same layout).
struct XdpProgramConfig {
    std::uint32_t v4 = 0;        //!< network order; 0: any
    std::uint8_t v6[16] = {};    //!< all zero: any
    std::uint16_t port = 0;      //!< network order; 0: redirect nothing
    std::uint8_t families = 0;   //!< bit 0 IPv4, bit 1 IPv6
    std::uint8_t pad = 0;
    std::uint32_t max_l3 = 0;    //!< the device MTU
};
static_assert(sizeof(XdpProgramConfig) == 28, "must match struct mmsg_xdp_config");

class XdpAttachment {
public:
    XdpAttachment() = default;
    XdpAttachment(const XdpAttachment&) = delete;
    XdpAttachment& operator=(const XdpAttachment&) = delete;
    ~XdpAttachment() { detach(); }

    /*! Loads the program (both variants) and its maps into the kernel, attached nowhere.
        Errors: XdpErrc::no_permission, or libbpf's.
    */
    std::error_code load() {
        if (object_ != nullptr) return {};
        const auto quiet = libbpf_set_print(nullptr); // errors are returned, not printed
        const std::error_code ec = load_object();
        libbpf_set_print(quiet);
        if (ec) detach();
        return ec;
    }

    /*! Loads the program and attaches it to device `ifindex` in `mode`: the multi-buffer
        variant first (generic mode needs it, or GSO trains are dropped before it runs), the
        plain one where the driver refuses that. Errors: XdpErrc::no_permission,
        program_present (another program is attached), driver_refused.
    */
    std::error_code attach(std::uint32_t ifindex, XdpMode mode) {
        std::error_code ec = load();
        if (!ec) ec = link(ifindex, mode);
        if (ec) detach();
        return ec;
    }

    //! The loaded program's descriptor: the multi-buffer variant or the plain one.
    int program_fd(bool multi_buffer) const noexcept {
        const bpf_program* p =
            object_ != nullptr ? bpf_object__find_program_by_name(object_, multi_buffer ? "mmsg_xdp_frags" : "mmsg_xdp") : nullptr;
        return p != nullptr ? bpf_program__fd(p) : -1;
    }

    //! Steers the program: which datagrams go to the AF_XDP socket (port 0: none).
    std::error_code configure(const XdpProgramConfig& c) noexcept {
        const std::uint32_t key = 0;
        if (bpf_map_update_elem(config_fd_, &key, &c, BPF_ANY) != 0) return errno_code(errno);
        return {};
    }
    //! Makes queue `queue`'s datagrams go to the AF_XDP socket `xsk_fd`.
    std::error_code set_socket(std::uint32_t queue, int xsk_fd) noexcept {
        if (bpf_map_update_elem(xsks_fd_, &queue, &xsk_fd, BPF_ANY) != 0) return errno_code(errno);
        return {};
    }
    //! Empties queue `queue`'s slot: its datagrams go on to the kernel.
    std::error_code clear_socket(std::uint32_t queue) noexcept {
        if (bpf_map_delete_elem(xsks_fd_, &queue) != 0) return errno_code(errno);
        return {};
    }
    bool attached() const noexcept { return link_fd_ >= 0; }
    //! Whether the multi-buffer variant is the one attached.
    bool frags() const noexcept { return frags_; }

    void detach() noexcept {
        if (link_fd_ >= 0) ::close(link_fd_); // the link's last reference: the program is detached
        link_fd_ = -1;
        if (object_ != nullptr) bpf_object__close(object_);
        object_ = nullptr;
        config_fd_ = xsks_fd_ = -1;
    }

private:
    std::error_code load_object() {
        bpf_object_open_opts open_opts{};
        open_opts.sz = sizeof open_opts;
        open_opts.object_name = "mmsg_xdp";
        object_ = bpf_object__open_mem(xdp_program_object, sizeof xdp_program_object, &open_opts);
        if (object_ == nullptr) return errno_code(errno);
        if (const int e = bpf_object__load(object_); e < 0) return loading_error(-e);
        config_fd_ = bpf_object__find_map_fd_by_name(object_, "mmsg_config");
        xsks_fd_ = bpf_object__find_map_fd_by_name(object_, "mmsg_xsks");
        if (config_fd_ < 0 || xsks_fd_ < 0) return errno_code(ENOENT);
        return {};
    }
    std::error_code link(std::uint32_t ifindex, XdpMode mode) {
        bpf_link_create_opts link_opts{};
        link_opts.sz = sizeof link_opts;
        link_opts.flags = mode == XdpMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
        int e = 0;
        for (const bool multi_buffer : {true, false}) {
            link_fd_ = bpf_link_create(program_fd(multi_buffer), static_cast<int>(ifindex), BPF_XDP, &link_opts);
            if (link_fd_ >= 0) {
                frags_ = multi_buffer;
                return {};
            }
            e = errno;
            if (e != EOPNOTSUPP && e != EINVAL) break; // the plain variant would fail the same way
        }
        return loading_error(e);
    }
    static std::error_code loading_error(int e) noexcept {
        switch (e) {
        case EPERM:
        case EACCES: return XdpErrc::no_permission;
        case EBUSY:
        case EEXIST: return XdpErrc::program_present;
        case EOPNOTSUPP:
        case EINVAL: return XdpErrc::driver_refused;
        case ENODEV: return XdpErrc::no_such_interface;
        default: return errno_code(e);
        }
    }

    bpf_object* object_ = nullptr;
    int config_fd_ = -1;
    int xsks_fd_ = -1;
    int link_fd_ = -1;
    bool frags_ = false;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_XDP
#endif // MMSG_DETAIL_XDP_ATTACH_HPP
