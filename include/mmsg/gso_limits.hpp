//! Defines mmsg::GsoLimits, how large a UDP_SEGMENT train LinuxGsoBackend may build.
#ifndef MMSG_GSO_LIMITS_HPP
#define MMSG_GSO_LIMITS_HPP

#include <cstddef>

namespace mmsg {

/*! The kernel's limits on one UDP_SEGMENT train (one sendmsg of several datagrams).

    `max_segments` is the most datagrams per train (the kernel's UDP_MAX_SEGMENTS: 64 on
    older kernels, 128 since Linux 6.9ish); 1 means "never build trains". `max_bytes` is the
    most payload bytes per train (65507 for IPv4: 65535 - 20 - 8; the IPv6 limit is larger,
    so the IPv4 one serves both). gso_capability() probes both; LinuxGsoBackend uses the
    probed values unless it is given others.
*/
struct GsoLimits {
    std::size_t max_segments = 1; //!< datagrams per train; 1 disables trains
    std::size_t max_bytes = 0;    //!< payload bytes per train

    //! Conservative values for when nothing could be probed: the oldest kernel's limits.
    static constexpr GsoLimits conservative() noexcept { return {64, 65507}; }
    //! No trains at all: every datagram goes as its own message.
    static constexpr GsoLimits none() noexcept { return {1, 0}; }

    //! True when trains of two or more datagrams may be built.
    constexpr bool trains() const noexcept { return max_segments > 1 && max_bytes > 1; }

    friend constexpr bool operator==(const GsoLimits&, const GsoLimits&) = default;
};

} // namespace mmsg

#endif // MMSG_GSO_LIMITS_HPP
