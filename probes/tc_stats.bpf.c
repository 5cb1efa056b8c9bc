// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Packets, bytes, sizes and oversize frames per interface and direction, from tc clsact.
 *
 * No per-packet event leaves the kernel: each run adds to the per-CPU counters of the
 * interface's slot. User space assigns slots (dense, reused only after a grace period) and
 * publishes ifindex -> slot in tc_slots; an interface without a slot is not counted. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tc_stats.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TIF_TC_ACT_UNSPEC (-1) /* "no opinion": the next filter or the default decides */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, TIF_SLOT_POSITIONS);
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

/* Keeps clang from turning the arithmetic below back into compare-and-branch. */
#define TIF_OPAQUE(v) asm volatile("" : "+r"(v))

/* Bucket of a packet of len bytes: 0 for <= 64, i for (64 << (i-1), 64 << i], capped: fls() of
 * min((len - 1) >> 6, 1024), a binary search without branches. With x < 2^32, (C - x) >> 63
 * is 1 exactly when x > C: each step is a few ALU instructions and no jump, so alternating
 * sizes cost no mispredictions and the program stays short (fewer cold i-cache lines a run). */
static __always_inline __u32 size_bucket(__u32 len) {
    if (len <= TIF_SIZE_FIRST_BOUND)
        return 0;
    __u64 x = (len - 1) >> 6, d, s, r;
    d = 1024 - x; /* the last bucket is fls(1024) = TIF_SIZE_BUCKETS - 1 */
    TIF_OPAQUE(d);
    s = -(d >> 63); /* all ones when x > 1024 */
    x = (x & ~s) | (1024 & s);
    d = 0xFF - x;
    TIF_OPAQUE(d);
    s = (d >> 63) << 3;
    x >>= s;
    r = s;
    d = 0xF - x;
    TIF_OPAQUE(d);
    s = (d >> 63) << 2;
    x >>= s;
    r |= s;
    d = 0x3 - x;
    TIF_OPAQUE(d);
    s = (d >> 63) << 1;
    x >>= s;
    r |= s;
    return (r | x >> 1) + 1; /* x is 1..3 here: fls() */
}

/* The slot of an interface whose position in the direct table is taken: out of line, so that the
 * array lookup below keeps a call site of its own. With one call site for both maps the verifier
 * cannot inline the array lookup; it then costs a helper call and an indirect call through the
 * map's ops, more than the rest of the program. */
static __noinline struct tif_tc_slot* hashed_slot(__u32 ifindex) {
    return bpf_map_lookup_elem(&tc_slots, &ifindex);
}

#define TIF_ETH_P_IP 0x0800
#define TIF_ETH_P_IPV6 0x86DD
#define TIF_IPPROTO_TCP 6

/* A local TCP socket's segment leaving the interface resends data when it starts below the
 * socket's snd_nxt: the kernel advances snd_nxt only after a new segment has been handed to
 * the device (tcp_write_xmit, tcp_connect), and the egress hook of a bridge port or bond slave
 * runs within that hand-over, as bridges and bonds queue nothing (noqueue, their default). A
 * qdisc that holds packets on the master itself would let new segments pass the port after
 * snd_nxt moved on; docs/metrics.md says so. Pure ACKs, window and keepalive probes carry no
 * sequence space and are never counted; SYN-ACKs come from request sockets and are skipped.
 * Forwarded packets have no socket: the first test returns. */
static __always_inline void count_resent(struct __sk_buff* skb, const struct tif_tc_slot* s,
                                         struct tif_tc_counts* c) {
    struct bpf_sock* sk = skb->sk;
    if (!sk)
        return;
    sk = bpf_sk_fullsock(sk);
    if (!sk || sk->protocol != TIF_IPPROTO_TCP)
        return;
    struct bpf_tcp_sock* tp = bpf_tcp_sock(sk);
    if (!tp)
        return;
    void* data = (void*)(long)skb->data;
    void* end = (void*)(long)skb->data_end;
    __u32 l3 = s->l2_len ? 14 : 0; /* a constant the verifier can bound */
    __u32 l4;                      /* offset of the TCP header */
    if (skb->protocol == bpf_htons(TIF_ETH_P_IP)) {
        struct iphdr* ip = data + l3;
        if ((void*)(ip + 1) > end || ip->protocol != TIF_IPPROTO_TCP)
            return;
        l4 = l3 + ip->ihl * 4;
    } else if (skb->protocol == bpf_htons(TIF_ETH_P_IPV6)) {
        struct ipv6hdr* ip6 = data + l3;
        if ((void*)(ip6 + 1) > end || ip6->nexthdr != TIF_IPPROTO_TCP)
            return;
        l4 = l3 + sizeof(*ip6);
    } else {
        return;
    }
    if (l4 > 14 + 60)
        return;
    struct tcphdr* th = data + l4;
    if ((void*)(th + 1) > end)
        return;
    /* Sequence space: payload bytes (skb->len covers every GSO segment), SYN, FIN. */
    if (skb->len <= l4 + th->doff * 4 && !th->syn && !th->fin)
        return;
    if ((__s32)(bpf_ntohl(th->seq) - tp->snd_nxt) >= 0)
        return; /* new data */
    __u32 segs = skb->gso_segs;
    c->tcp_resent_segs += segs ? segs : 1;
}

/* Cache lines a run touches: the skb, the interface's slot entry, the per-CPU pointer of its
 * counters (in the map) and the counters themselves. */
static __always_inline int account(struct __sk_buff* skb, __u32 dir) {
    __u32 ifindex = skb->ifindex;
    __u32 pos = ifindex & (TIF_SLOT_POSITIONS - 1);
    struct tif_tc_slot* s = bpf_map_lookup_elem(&tc_slot_direct, &pos); /* inlined */
    if (!s)
        return TIF_TC_ACT_UNSPEC;
    if (s->ifindex != ifindex)
        s = hashed_slot(ifindex); /* the position is another interface's (or free) */
    if (!s || s->max_len == 0)
        return TIF_TC_ACT_UNSPEC;
    __u32 idx = s->slot * 2 + dir;
    struct tif_tc_counts* c = bpf_map_lookup_elem(&tc_counts, &idx); /* inlined too */
    if (!c)
        return TIF_TC_ACT_UNSPEC;
    __u32 len = skb->len;
    /* Per-CPU value: plain adds, no atomics. */
    c->packets += 1;
    c->bytes += len;
    if (len > s->max_len)
        c->oversize += 1;
    __u32 b = size_bucket(len);
    /* b < TIF_SIZE_BUCKETS always, but older verifiers (5.10) cannot follow size_bucket's bit
     * arithmetic that far: a check the compiler must keep shows them the bound. */
    TIF_OPAQUE(b);
    if (b < TIF_SIZE_BUCKETS)
        c->size_hist[b] += 1;
    if (dir == TIF_TC_EGRESS)
        count_resent(skb, s, c);
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
