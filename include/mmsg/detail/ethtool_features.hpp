//! detail::active_features: which of a device's offloads are on, by their ethtool names
//! ("rx-gro-hw", "rx-gro-list", ...), read with the SIOCETHTOOL ioctl (ETHTOOL_GFEATURES).
//! For set-up checks, never on a hot path.
#ifndef MMSG_DETAIL_ETHTOOL_FEATURES_HPP
#define MMSG_DETAIL_ETHTOOL_FEATURES_HPP

#include <mmsg/detail/errors.hpp>
#include <mmsg/detail/socket_ops.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <system_error>
#include <vector>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace mmsg::detail {

namespace ethtool {
inline std::error_code call(int fd, const char* ifname, void* data) noexcept {
    ifreq r{};
    std::strncpy(r.ifr_name, ifname, IFNAMSIZ - 1);
    r.ifr_data = static_cast<char*>(data);
    if (::ioctl(fd, SIOCETHTOOL, &r) != 0) return errno_code(errno);
    return {};
}
} // namespace ethtool

/*! For each name in `names`, whether that feature of device `ifname` is on (false for a
    name the device does not know). Returns the ioctl's error, if any.
*/
inline std::error_code active_features(const char* ifname, std::initializer_list<std::string_view> names,
                                       std::vector<bool>& on) {
    on.assign(names.size(), false);
    std::error_code ec;
    UniqueFd fd(open_udp(AF_INET, ec));
    if (ec) return ec;
    // How many features, then their names, then their state.
    alignas(ethtool_sset_info) unsigned char sset[sizeof(ethtool_sset_info) + sizeof(std::uint32_t)] = {};
    ethtool_sset_info info{};
    info.cmd = ETHTOOL_GSSET_INFO;
    info.sset_mask = 1ull << ETH_SS_FEATURES;
    std::memcpy(sset, &info, sizeof info);
    if ((ec = ethtool::call(fd.get(), ifname, sset))) return ec;
    std::memcpy(&info, sset, sizeof info);
    std::uint32_t n = 0;
    if (info.sset_mask != 0) std::memcpy(&n, sset + sizeof info, sizeof n);
    std::vector<unsigned char> strings(sizeof(ethtool_gstrings) + std::size_t{n} * ETH_GSTRING_LEN);
    ethtool_gstrings gs{};
    gs.cmd = ETHTOOL_GSTRINGS;
    gs.string_set = ETH_SS_FEATURES;
    gs.len = n;
    std::memcpy(strings.data(), &gs, sizeof gs);
    if ((ec = ethtool::call(fd.get(), ifname, strings.data()))) return ec;
    const std::uint32_t blocks = (n + 31) / 32;
    std::vector<unsigned char> state(sizeof(ethtool_gfeatures) + std::size_t{blocks} * sizeof(ethtool_get_features_block));
    ethtool_gfeatures gf{};
    gf.cmd = ETHTOOL_GFEATURES;
    gf.size = blocks;
    std::memcpy(state.data(), &gf, sizeof gf);
    if ((ec = ethtool::call(fd.get(), ifname, state.data()))) return ec;
    for (std::uint32_t i = 0; i < n; ++i) {
        const char* s = reinterpret_cast<const char*>(strings.data() + sizeof(ethtool_gstrings) + std::size_t{i} * ETH_GSTRING_LEN);
        const std::string_view name(s, ::strnlen(s, ETH_GSTRING_LEN));
        std::size_t k = 0;
        for (std::string_view want : names) {
            if (want == name) {
                ethtool_get_features_block b;
                std::memcpy(&b, state.data() + sizeof(ethtool_gfeatures) + (i / 32) * sizeof b, sizeof b);
                on[k] = (b.active >> (i % 32)) & 1u;
            }
            ++k;
        }
    }
    return {};
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_ETHTOOL_FEATURES_HPP
