//! Walking the control messages of a msghdr, written once for every reader (received
//! metadata, error-queue reports, the mock's view of outgoing options): bounds-checked
//! against msg_controllen before anything is read, so a malformed buffer is never overrun.
#ifndef MMSG_DETAIL_CMSG_WALK_HPP
#define MMSG_DETAIL_CMSG_WALK_HPP

#include <cstddef>
#include <cstring>
#include <type_traits>

#include <sys/socket.h>

namespace mmsg::detail {

/*! Calls `on(level, type, data, len)` for each well-formed control message of `h`, in
    order (`data`: its payload, `len` bytes). Stops at the first message whose cmsg_len is
    too short or overruns msg_controllen, or when `on` returns false (if it returns bool).
    Walks by hand rather than with CMSG_NXTHDR so that every bound is checked first.
*/
template <class On>
void for_each_cmsg(const msghdr& h, On&& on) noexcept(noexcept(on(0, 0, nullptr, std::size_t{}))) {
    if (h.msg_control == nullptr) return;
    const auto* base = static_cast<const unsigned char*>(h.msg_control);
    const std::size_t total = h.msg_controllen;
    const std::size_t head = CMSG_LEN(0); // the payload starts after the aligned header
    for (std::size_t off = 0; total - off >= sizeof(cmsghdr);) {
        cmsghdr c;
        std::memcpy(&c, base + off, sizeof c);
        if (c.cmsg_len < head || c.cmsg_len > total - off) return;
        const unsigned char* data = base + off + head;
        const std::size_t len = c.cmsg_len - head;
        if constexpr (std::is_same_v<decltype(on(c.cmsg_level, c.cmsg_type, data, len)), bool>) {
            if (!on(c.cmsg_level, c.cmsg_type, data, len)) return;
        } else {
            on(c.cmsg_level, c.cmsg_type, data, len);
        }
        const std::size_t step = CMSG_ALIGN(c.cmsg_len);
        if (step == 0 || step > total - off) return;
        off += step;
    }
}

namespace control {
//! The payload of one message, if it has at least sizeof(T) bytes, copied into `out`.
template <class T>
bool read(const unsigned char* data, std::size_t len, T& out) noexcept {
    if (len < sizeof(T)) return false;
    std::memcpy(&out, data, sizeof(T));
    return true;
}
} // namespace control

} // namespace mmsg::detail

#endif // MMSG_DETAIL_CMSG_WALK_HPP
