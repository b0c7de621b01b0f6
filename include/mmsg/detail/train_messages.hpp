//! detail::TrainMessages: the sendmmsg messages of one LinuxGsoBackend send call, built from
//! planned trains (detail::plan_trains) in arrays made once and reused: iovecs, staging
//! copies of small scattered trains, UDP_SEGMENT and options control messages.
#ifndef MMSG_DETAIL_TRAIN_MESSAGES_HPP
#define MMSG_DETAIL_TRAIN_MESSAGES_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_UDP_GSO

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/gso_trains.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/detail/send_control.hpp>
#include <mmsg/detail/socket_ops.hpp>
#include <mmsg/detail/udp_segment.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/send_train.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::detail {

class TrainMessages {
public:
    static constexpr std::size_t max_send = max_send_batch;
    //! Trains of datagrams up to this size that are not already contiguous in memory are
    //! copied into one run before the system call (doc/gso.adoc has the measurement).
    static constexpr std::size_t stage_max = 1024;

    /*! Plans the messages of `items` and writes their headers; returns how many. A message
        whose options are refused (options_error) ends the call before it: `refused` is its
        error, and 0 is returned when it is the first.
    */
    std::size_t build(std::span<const SendItem> items, const GsoLimits& lim,
                      std::size_t plain_prefix, std::error_code& refused) {
        Arrays& a = arrays();
        const std::size_t m = plan_trains(items, lim, plain_prefix, a.plan);
        std::byte* staged = nullptr;
        std::size_t staged_used = 0;
        for (std::size_t j = 0; j < m; ++j) {
            const PlannedMessage& p = a.plan[j];
            const std::span<const SendItem> d = items.subspan(p.first, p.count);
            msghdr& h = a.hdr[j].msg_hdr;
            h.msg_iov = &a.iov[p.first];
            set_destination(h, d[0].dest);
            // The options' messages go after the UDP_SEGMENT one (which only trains carry).
            std::size_t options_len = 0;
            if (has_options(d[0].options)) {
                if ((refused = options_error(*d[0].options, d[0].dest))) return j;
                options_len = write_send_control(a.ctl[j] + gso_cmsg_space, *d[0].options, d[0].dest);
            }
            if (p.count == 1) {
                a.iov[p.first] = iovec{const_cast<std::byte*>(d[0].data), d[0].size};
                h.msg_iovlen = 1;
                set_control(a, j, 0, options_len);
                continue;
            }
            const std::size_t len = p.bytes;
            if (p.contiguous) {
                // Slices of one buffer: the train is already one run.
                a.iov[p.first] = iovec{const_cast<std::byte*>(d[0].data), len};
                h.msg_iovlen = 1;
            } else if (p.segment <= stage_max) {
                if (staged == nullptr) staged = stage_.get(max_send * stage_max);
                std::byte* run = staged + staged_used;
                std::size_t at = 0;
                for (const SendItem& it : d) {
                    std::memcpy(run + at, it.data, it.size);
                    at += it.size;
                }
                staged_used += len;
                a.iov[p.first] = iovec{run, len};
                h.msg_iovlen = 1;
            } else {
                for (std::size_t i = 0; i < p.count; ++i)
                    a.iov[p.first + i] = iovec{const_cast<std::byte*>(d[i].data), d[i].size};
                h.msg_iovlen = p.count;
            }
            set_control(a, j, p.segment, options_len);
        }
        return m;
    }

    /*! The same for trains given whole (SendTrain): each cut into messages as plan_trains
        cuts a run (one per datagram when `lim` allows no train or its datagrams are over
        65,535 bytes), at most max_send datagrams in all (the last train taken cut). As in
        plan_trains, a shorter datagram may end a message: the train's own last, or the next
        train's first when it lies right behind in memory with the same destination and
        options. plan(j) counts datagrams from the first of `trains`. No copy.
    */
    std::size_t build_trains(std::span<const SendTrain> trains, const GsoLimits& lim,
                             std::error_code& refused) {
        Arrays& a = arrays();
        std::size_t m = 0;
        std::size_t first = 0;  // datagrams planned so far
        std::size_t pulled = 0; // datagrams of trains[ti] already planned (at most 1)
        for (std::size_t ti = 0; ti < trains.size() && first < max_send; ++ti) {
            if (pulled == 1 && trains[ti].one_datagram()) { // taken whole by the last message
                pulled = 0;
                continue;
            }
            const SendTrain t = trains[ti].slice(pulled, max_send);
            pulled = 0;
            const std::size_t n = t.datagrams();
            const std::size_t size = n > 1 ? t.segment : t.payload.size(); // a full datagram's
            const bool can_train = lim.max_segments > 1 && size > 0 && size <= 0xffff;
            const std::size_t per =
                can_train ? std::max<std::size_t>(1, std::min(lim.max_segments, lim.max_bytes / size)) : 1;
            if (has_options(t.options) && (refused = options_error(*t.options, t.dest))) return m;
            for (std::size_t k = 0; k < n && first < max_send; ++m) {
                std::size_t c = std::min({per, n - k, max_send - first});
                std::span<const std::byte> run = t.slice(k, c).payload;
                // A shorter datagram ends the message when the count and byte limits allow.
                if (can_train && c < lim.max_segments && first + c < max_send) {
                    std::span<const std::byte> next;
                    if (k + c + 1 == n) {
                        next = t.datagram(n - 1); // the train's own shorter last
                    } else if (k + c == n && ti + 1 < trains.size() && run.size() == c * size) {
                        const SendTrain& u = trains[ti + 1];
                        if (same_destination(u.dest, t.dest) && same_options(u.options, t.options))
                            next = u.datagram(0);
                        if (next.data() == run.data() + run.size()) pulled = 1;
                        else next = {};
                    }
                    if (!next.empty() && next.size() < size && c * size + next.size() <= lim.max_bytes) {
                        run = {run.data(), run.size() + next.size()};
                        ++c;
                    } else {
                        pulled = 0;
                    }
                }
                msghdr& h = a.hdr[m].msg_hdr;
                set_destination(h, t.dest);
                a.iov[m] = iovec{const_cast<std::byte*>(run.data()), run.size()};
                h.msg_iov = &a.iov[m];
                h.msg_iovlen = 1;
                const std::size_t options_len =
                    has_options(t.options)
                        ? write_send_control(a.ctl[m] + gso_cmsg_space, *t.options, t.dest)
                        : 0;
                set_control(a, m, c > 1 ? size : 0, options_len);
                a.plan[m] = PlannedMessage{first, c, c > 1 ? size : 0, run.size(), true};
                first += c;
                k += c;
            }
        }
        return m;
    }

    mmsghdr* headers() noexcept { return arrays_.get(1)->hdr; }
    //! Message j of the last build().
    const PlannedMessage& plan(std::size_t j) noexcept { return arrays_.get(1)->plan[j]; }
    //! Room for one outcome per message of the last build() (see detail::send_in_trains).
    std::error_code* results() noexcept { return arrays_.get(1)->results; }

private:
    // A message's control buffer: the UDP_SEGMENT message (trains), then the options'.
    static constexpr std::size_t control = gso_cmsg_space + send_control_room;
    struct Arrays {
        mmsghdr hdr[max_send];
        iovec iov[max_send];
        PlannedMessage plan[max_send];
        std::error_code results[max_send];
        alignas(cmsghdr) unsigned char ctl[max_send][control];
    };

    // Message j's control: its UDP_SEGMENT message when `segment` is not 0 (written once in
    // arrays(); only the size changes), then `options_len` bytes of options.
    static void set_control(Arrays& a, std::size_t j, std::size_t segment,
                            std::size_t options_len) noexcept {
        msghdr& h = a.hdr[j].msg_hdr;
        if (segment == 0) {
            h.msg_control = a.ctl[j] + gso_cmsg_space;
            h.msg_controllen = options_len;
            return;
        }
        set_segment_cmsg(a.ctl[j], static_cast<std::uint16_t>(segment));
        h.msg_control = a.ctl[j];
        h.msg_controllen = gso_cmsg_space + options_len;
    }

    Arrays& arrays() {
        const bool fresh = !arrays_.allocated();
        Arrays& a = *arrays_.get(1);
        if (fresh)
            for (std::size_t j = 0; j < max_send; ++j) {
                write_segment_cmsg(a.ctl[j], 0);
                a.hdr[j].msg_hdr.msg_control = a.ctl[j];
            }
        return a;
    }

    Scratch<Arrays> arrays_;
    Scratch<std::byte> stage_;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_DETAIL_TRAIN_MESSAGES_HPP
