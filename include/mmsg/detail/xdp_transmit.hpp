//! detail::place_frames: XdpBackend's transmit loop (a datagram per frame into the transmit
//! ring, back-pressure when the ring or the frames run out), written over any ring with
//! XskSocket's transmit members, so that tests can hold frames in flight as a veth never
//! does (its kernel completes every frame within the kick).
#ifndef MMSG_DETAIL_XDP_TRANSMIT_HPP
#define MMSG_DETAIL_XDP_TRANSMIT_HPP

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include <linux/if_xdp.h>

namespace mmsg::detail {

//! Where one datagram goes: a frame, the socket's kernel path, or nowhere (its error).
enum class FrameRoute : std::uint8_t { frame, kernel, failed };

//! What place_frames did.
struct Placed {
    SendOutcome out{};        //!< done from the front; error: would-block when the ring was full
    std::size_t frames = 0;   //!< datagrams put in the ring as frames
    bool kernel_next = false; //!< it stopped at items[out.done] because that one is the kernel's
};

/*! Puts a frame for each datagram of `items`, in order, into `ring`, until one goes through
    the kernel (kernel_next), the ring or its frames run out, or all are placed. When room
    runs out at the first datagram, `wait_room(at)` may wait for it; when it cannot, that is
    back-pressure (would-block: this datagram and the rest are unsent). When it runs out
    later, the call stops there: with would-block if `may_wait` is false, else short (the
    sender calls again, and that call waits at its first datagram).
      route(i, ec)  -> FrameRoute: datagram i's path; for failed, its error in `ec` (the batch
                       goes on, or stops after it when the error is fatal);
      write(i, frame) -> its frame's length, written at `frame`;
      wait_room(at) -> whether the call may wait and got room (a descriptor reserved at `at`).
    Before reporting back-pressure the frames built so far are submitted, the kernel kicked
    and completed frames taken back. Publishes and kicks what it placed; returns a kick's
    error (the socket is unusable) in the outcome of every datagram it had placed.
*/
template <class Ring, class RouteFn, class WriteFn, class WaitFn>
Placed place_frames(Ring& ring, std::span<const SendItem> items, std::span<std::error_code> errors, RouteFn&& route,
                    WriteFn&& write, bool may_wait, WaitFn&& wait_room) {
    Placed p;
    std::uint32_t pending = 0; // reserved and written, not yet submitted
    std::size_t i = 0;
    ring.reclaim();
    for (; i < items.size(); ++i) {
        std::error_code ec;
        const FrameRoute r = route(i, ec);
        if (r == FrameRoute::kernel) {
            p.kernel_next = true;
            break;
        }
        if (r == FrameRoute::failed) {
            errors[i] = ec;
            if (is_fatal(ec)) {
                ++i;
                break;
            }
            continue;
        }
        std::uint32_t at = 0;
        if (!ring.reserve(at)) {
            ring.submit(pending); // what is built goes now; the kernel may then free frames
            pending = 0;
            ring.kick();
            ring.reclaim();
            if (!ring.reserve(at) && !(i == 0 && wait_room(at))) {
                if (i == 0 || !may_wait) p.out.error = would_block_code(); // back-pressure: unsent
                break;
            }
        }
        const std::uint64_t addr = ring.take_frame();
        xdp_desc& d = ring.descriptor(at);
        d.addr = addr;
        d.len = static_cast<std::uint32_t>(write(i, ring.frame(addr)));
        d.options = 0;
        errors[i].clear();
        ++pending;
        ++p.frames;
    }
    ring.submit(pending);
    if (p.frames > 0) {
        if (const std::error_code e = ring.kick()) {
            // The socket is unusable (the device went away): no frame of this call leaves.
            for (std::size_t j = 0; j < i; ++j)
                if (!errors[j]) errors[j] = e;
            p.frames = 0;
        }
    }
    p.out.done = i;
    return p;
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_XDP_TRANSMIT_HPP
