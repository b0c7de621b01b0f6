// The receive program of mmsg::XdpQueue. It redirects to the queue's AF_XDP socket exactly
// the UDP datagrams addressed to the one socket the queue receives for, and only when the
// frame is surely one whole datagram; everything else goes on to the kernel (XDP_PASS),
// where the same socket receives it. Passed, not redirected:
//  - anything but Ethernet + IPv4 (no options) / IPv6 (no extension header) + UDP;
//  - IP fragments (the kernel reassembles them);
//  - a frame in several buffers, or an IP packet longer than the device MTU: a GSO train or
//    GRO-coalesced datagrams (generic mode hands them to XDP whole, and a train redirected
//    would reach user space as one datagram; without xdp.frags they were dropped whole).
// Built by build/xdp_program.sh into detail/xdp_program.hpp (the bytes XdpQueue loads);
// test/xdp/program.cpp checks that those bytes are this file's.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// What XdpQueue writes before it receives (all in network byte order but max_l3).
struct mmsg_xdp_config {
    __u32 v4;       // destination IPv4 address to accept; 0: any
    __u8 v6[16];    // destination IPv6 address to accept; all zero: any
    __u16 port;     // destination UDP port; 0: redirect nothing
    __u8 families;  // bit 0: IPv4, bit 1: IPv6
    __u8 pad;
    __u32 max_l3;   // the device MTU: the longest IP packet that is one datagram
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct mmsg_xdp_config);
} mmsg_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u32);
} mmsg_xsks SEC(".maps");

static __always_inline int mmsg_classify(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* end = (void*)(long)ctx->data_end;
    __u32 key = 0;
    struct mmsg_xdp_config* c = bpf_map_lookup_elem(&mmsg_config, &key);
    if (!c || c->port == 0) return XDP_PASS;
    if (data + 14 > end) return XDP_PASS;
    if (bpf_xdp_get_buff_len(ctx) != (__u64)(end - data)) return XDP_PASS; // several buffers
    __u16 type = *(__u16*)(data + 12);
    __u8* udp;
    if (type == bpf_htons(0x0800)) {
        __u8* ip = data + 14;
        if (!(c->families & 1) || (void*)(ip + 20) > end) return XDP_PASS;
        if (ip[0] != 0x45 || ip[9] != 17) return XDP_PASS;           // options, not UDP
        if (*(__u16*)(ip + 6) & bpf_htons(0x3fff)) return XDP_PASS;  // a fragment
        if (bpf_ntohs(*(__u16*)(ip + 2)) > c->max_l3) return XDP_PASS;
        if (c->v4 != 0 && *(__u32*)(ip + 16) != c->v4) return XDP_PASS;
        udp = ip + 20;
    } else if (type == bpf_htons(0x86dd)) {
        __u8* ip = data + 14;
        if (!(c->families & 2) || (void*)(ip + 40) > end) return XDP_PASS;
        if (ip[6] != 17) return XDP_PASS; // an extension header, or not UDP
        if (40 + (__u32)bpf_ntohs(*(__u16*)(ip + 4)) > c->max_l3) return XDP_PASS;
        __u64 want_hi, want_lo, hi, lo;
        __builtin_memcpy(&want_hi, c->v6, 8);
        __builtin_memcpy(&want_lo, c->v6 + 8, 8);
        __builtin_memcpy(&hi, ip + 24, 8);
        __builtin_memcpy(&lo, ip + 32, 8);
        if ((want_hi | want_lo) != 0 && (hi != want_hi || lo != want_lo)) return XDP_PASS;
        udp = ip + 40;
    } else {
        return XDP_PASS;
    }
    if ((void*)(udp + 8) > end || *(__u16*)(udp + 2) != c->port) return XDP_PASS;
    // An empty slot (no socket on this queue) passes it on: the kernel socket receives it.
    return bpf_redirect_map(&mmsg_xsks, ctx->rx_queue_index, XDP_PASS);
}

// For drivers that take multi-buffer programs (and generic mode, where a program without
// frags support has every GSO train longer than a page dropped before it runs).
SEC("xdp.frags")
int mmsg_xdp_frags(struct xdp_md* ctx) { return mmsg_classify(ctx); }

// For drivers that refuse a multi-buffer program.
SEC("xdp")
int mmsg_xdp(struct xdp_md* ctx) { return mmsg_classify(ctx); }

// The kernel asks every program for a license; this one calls no GPL-only helper.
char _license[] SEC("license") = "Dual BSD/GPL";
