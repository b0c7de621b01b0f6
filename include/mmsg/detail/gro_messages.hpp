//! detail::GroMessages: the recvmmsg messages of LinuxGsoBackend's receives, laid out over
//! the caller's packets (and a spill area for what does not fit them) in arrays made once
//! and reused, and what was received split into the packets (detail/gro_split.hpp).
#ifndef MMSG_DETAIL_GRO_MESSAGES_HPP
#define MMSG_DETAIL_GRO_MESSAGES_HPP

#include <mmsg/config.hpp>

#if MMSG_HAS_UDP_GSO

#include <mmsg/backend_concepts.hpp>
#include <mmsg/detail/gro_split.hpp>
#include <mmsg/detail/recv_decode.hpp>
#include <mmsg/detail/scratch.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/socket_state.hpp>

#include <cstddef>
#include <memory>
#include <span>

#include <sys/socket.h>
#include <sys/uio.h>

namespace mmsg::detail {

class GroMessages {
public:
    static constexpr std::size_t max_recv = num_rcvmmsgs;
    //! Receive room per message: enough for any coalesced datagram (IP total length <= 64 KiB).
    static constexpr std::size_t coalesced_room = 65536;

    mmsghdr* headers() noexcept { return arrays().hdr; }

    //! Message 0 over every slot in order, then spill area 0: a coalesced datagram whose
    //! segments have the slots' capacity lands in place. Slots that lie back to back in
    //! memory share one iovec (the kernel copies per iovec: one copy instead of many).
    void lay_train(std::span<const RecvSlot> slots) noexcept {
        Arrays& a = arrays();
        std::size_t k = 0;
        a.train[0] = iovec{slots[0].data, slots[0].capacity};
        for (std::size_t i = 1; i < slots.size(); ++i) {
            iovec& last = a.train[k];
            if (static_cast<std::byte*>(last.iov_base) + last.iov_len == slots[i].data)
                last.iov_len += slots[i].capacity;
            else
                a.train[++k] = iovec{slots[i].data, slots[i].capacity};
        }
        a.train[++k] = iovec{spill_.p.get(), coalesced_room};
        reset(a.hdr[0].msg_hdr, a.train, k + 1);
    }
    //! Message j over slot j, then its own spill area: plain datagrams land in place.
    void lay_pairs(std::span<const RecvSlot> slots) noexcept {
        Arrays& a = arrays();
        for (std::size_t j = 0; j < slots.size(); ++j) {
            a.pair[j][0] = iovec{slots[j].data, slots[j].capacity};
            reset(a.hdr[j].msg_hdr, a.pair[j], 2);
        }
    }
    //! Message j over slot j alone: a datagram whole, coalesced or not.
    void lay_whole(std::span<const CoalescedSlot> slots) noexcept {
        Arrays& a = arrays();
        for (std::size_t j = 0; j < slots.size(); ++j) {
            a.pair[j][0] = iovec{slots[j].data, slots[j].capacity};
            reset(a.hdr[j].msg_hdr, a.pair[j], 1);
        }
    }

    /*! Decodes `got` messages laid out over `slots` (by lay_train when `train`, else by
        lay_pairs) and splits them into the slots; segments beyond them go to `kept`, what
        the control messages say about the socket to `state`. Returns the slots filled.
    */
    std::size_t split(std::size_t got, std::span<const RecvSlot> slots, bool train,
                      KeptSegments& kept, SocketState& state) {
        Arrays& a = arrays();
        std::size_t total = 0;
        for (std::size_t j = 0; j < got; ++j)
            total += decode_gro(a.hdr[j].msg_hdr, a.hdr[j].msg_len, total, a.info[j], state);
        const GroLayout layout{slots, spill_.p.get(), coalesced_room, train};
        return split_gro(layout, std::span<const GroMessage>(a.info, got), total, kept);
    }
    //! Segments of message 0 after split(): how many the call received in it.
    std::size_t first_count() noexcept { return arrays().info[0].count; }

    //! Assigns `got` messages laid out by lay_whole to their slots, whole.
    void deliver_whole(std::size_t got, std::span<const CoalescedSlot> slots, SocketState& state) {
        Arrays& a = arrays();
        for (std::size_t j = 0; j < got; ++j) {
            GroMessage m;
            decode_gro(a.hdr[j].msg_hdr, a.hdr[j].msg_len, 0, m, state);
            const CoalescedSlot& slot = slots[j];
            assign_meta(*slot.meta, m.len, slot.capacity, m.addr,
                        m.flags | (m.cut ? PacketFlags::truncated : PacketFlags::none), m.meta);
            *slot.segment_size = m.count > 1 ? m.seg : slot.meta->size;
        }
    }

private:
    static constexpr std::size_t control_room = recv_control_room;
    struct Arrays {
        mmsghdr hdr[max_recv];
        iovec pair[max_recv][2];   // one message per packet: the packet, then its spill area
        iovec train[max_recv + 1]; // one message over every packet, then spill area 0
        sockaddr_storage addr[max_recv];
        alignas(cmsghdr) unsigned char ctl[max_recv][control_room];
        GroMessage info[max_recv];
    };

    // The kernel writes the address and control data and shrinks their lengths: reset them.
    static void reset(msghdr& h, iovec* iov, std::size_t n) noexcept {
        h.msg_iov = iov;
        h.msg_iovlen = n;
        h.msg_namelen = sizeof(sockaddr_storage);
        h.msg_controllen = control_room;
    }

    Arrays& arrays() {
        const bool fresh = !arrays_.allocated();
        Arrays& a = *arrays_.get(1);
        if (fresh) {
            spill_.p = std::make_unique_for_overwrite<std::byte[]>(max_recv * coalesced_room);
            for (std::size_t j = 0; j < max_recv; ++j) {
                a.hdr[j].msg_hdr.msg_name = &a.addr[j];
                a.hdr[j].msg_hdr.msg_control = a.ctl[j];
                a.pair[j][1] = iovec{spill_.p.get() + j * coalesced_room, coalesced_room};
            }
        }
        return a;
    }

    Scratch<Arrays> arrays_;
    // Uninitialised (never zeroed, so untouched pages cost nothing); a copy starts empty,
    // like the Scratch arrays it goes with.
    struct Spill {
        Spill() = default;
        Spill(const Spill&) noexcept {}
        Spill(Spill&&) noexcept = default;
        Spill& operator=(const Spill&) noexcept { return *this; }
        Spill& operator=(Spill&&) noexcept = default;
        std::unique_ptr<std::byte[]> p;
    };
    Spill spill_;
};

} // namespace mmsg::detail

#endif // MMSG_HAS_UDP_GSO
#endif // MMSG_DETAIL_GRO_MESSAGES_HPP
