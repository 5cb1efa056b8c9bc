// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Packets, bytes, sizes and oversize frames per interface and direction, from tc clsact.
 *
 * No per-packet event leaves the kernel: each run adds to the per-CPU counters of the
 * interface's slot. User space assigns slots (dense, reused only after a grace period) and
 * publishes ifindex -> slot in tc_slots; an interface without a slot is not counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tc_stats.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TIF_TC_ACT_UNSPEC (-1) /* "no opinion": the next filter or the default decides */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, TIF_DIRECT_IFINDEX);
    __type(key, __u32);
    __type(value, struct tif_tc_slot);
} tc_slot_direct SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024); /* set to --iface.max before load */
    __type(key, __u32);
    __type(value, struct tif_tc_slot);
} tc_slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4096); /* 2 directions x slots, set before load */
    __type(key, __u32);
    __type(value, struct tif_tc_counts);
} tc_counts SEC(".maps");

/* Bucket of a packet of len bytes: 0 for <= 64, i for (64 << (i-1), 64 << i], capped. A
 * branchy fls() on purpose: no loop, and a handful of instructions. */
static __always_inline __u32 size_bucket(__u32 len) {
    if (len <= TIF_SIZE_FIRST_BOUND)
        return 0;
    __u32 x = (len - 1) >> 6, r = 0;
    if (x >= 1u << 8) {
        x >>= 8;
        r += 8;
    }
    if (x >= 1u << 4) {
        x >>= 4;
        r += 4;
    }
    if (x >= 1u << 2) {
        x >>= 2;
        r += 2;
    }
    if (x >= 1u << 1) {
        x >>= 1;
        r += 1;
    }
    r += x; /* x is 0 or 1 here: fls() of the original value */
    return r < TIF_SIZE_BUCKETS - 1 ? r : TIF_SIZE_BUCKETS - 1;
}

static __always_inline int account(struct __sk_buff* skb, __u32 dir) {
    __u32 ifindex = skb->ifindex;
    struct tif_tc_slot* s;
    if (ifindex < TIF_DIRECT_IFINDEX)
        s = bpf_map_lookup_elem(&tc_slot_direct, &ifindex);
    else
        s = bpf_map_lookup_elem(&tc_slots, &ifindex);
    if (!s || s->max_len == 0)
        return TIF_TC_ACT_UNSPEC;
    __u32 idx = s->slot * 2 + dir;
    struct tif_tc_counts* c = bpf_map_lookup_elem(&tc_counts, &idx);
    if (!c)
        return TIF_TC_ACT_UNSPEC;
    __u32 len = skb->len;
    /* Per-CPU value: plain adds, no atomics. */
    c->packets += 1;
    c->bytes += len;
    if (len > s->max_len)
        c->oversize += 1;
    c->size_hist[size_bucket(len)] += 1;
    return TIF_TC_ACT_UNSPEC;
}

SEC("tc")
int tif_tc_ingress(struct __sk_buff* skb) {
    return account(skb, TIF_TC_INGRESS);
}

SEC("tc")
int tif_tc_egress(struct __sk_buff* skb) {
    return account(skb, TIF_TC_EGRESS);
}
