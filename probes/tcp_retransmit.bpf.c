// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP retransmits per interface.
 *
 * Counting happens here, in a per-CPU hash keyed by interface (a counter per kind in each):
 * the counter matches the kernel's TcpRetransSegs even when user space falls behind. Each
 * retransmit is also sent to user space as one ring-buffer event for the JSON log, unless the
 * interface is over the log limit (see over_log_limit); a full buffer is counted. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "iface_resolve.bpf.h"
#include "kernel_compat.bpf.h"
#include "span_binding.bpf.h"
#include "tcp_retransmit.h"
#include "tif_stats.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TIF_AF_INET 2
#define TIF_AF_INET6 10
#define TIF_TCPHDR_SYN 0x02
#define TIF_TCP_CA_RECOVERY 3
#define TIF_TCP_CA_LOSS 4
#define TIF_TCP_SYN_RECV 3
#define TIF_EBUSY 16
#define TIF_ENOMEM 12
#define TIF_EAGAIN 11
#define TIF_EHOSTUNREACH 113

/* Set before load: whether tcp_retransmit_skb carries the `err` argument (kernel 6.13+). */
const volatile bool tp_has_err = false;
/* Set before load: bpf_sk_storage_get is callable from tracing programs (5.11+). */
const volatile bool have_sk_storage = true;
/* Set before load: jiffies per second (the kernel's HZ). */
const volatile __u32 jiffies_per_sec = 250;

/* The log limit (--log.event-rate, --log.event-burst; rate 0 = none), written by user space
 * after load and on every reload (the .bss map is mmapped). */
__u32 log_event_rate = 0;
__u32 log_event_burst = 0;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct tif_rtx_key);
    __type(value, struct tif_rtx_counts);
} rtx_counts SEC(".maps");

/* User space's alone (exporter/net/carry_store.h): counts of vanished interfaces' deleted keys
 * that rtx_counts' series still show, pinned with it so a restart keeps them. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4097); /* rtx_counts' + 1, set before load */
    __type(key, struct tif_rtx_key);
    __type(value, struct tif_rtx_counts);
} rtx_carry SEC(".maps");

/* The socket's total_retrans when this probe last saw it (see retransmitted_segs). */
struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, __u32);
} rtx_seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} rtx_events SEC(".maps");

/* Adds to the interface's counters of this kind and returns them; when the map is full the
 * segments go to the overflow entry (ifindex 0, empty name, netns 0) which user space
 * pre-creates, so none is lost. */
static __always_inline struct tif_rtx_counts* count(const struct tif_rtx_key* key, __u32 kind,
                                                    __u32 segs) {
    struct tif_rtx_counts* c = bpf_map_lookup_elem(&rtx_counts, key);

    if (!c) {
        struct tif_rtx_counts zero = {};
        /* EEXIST from a racing CPU is fine: the lookup below finds its entry. */
        bpf_map_update_elem(&rtx_counts, key, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&rtx_counts, key);
        if (!c) {
            struct tif_rtx_key overflow = {};
            tif_stat_inc(TIF_STAT_MAP_FULL);
            c = bpf_map_lookup_elem(&rtx_counts, &overflow);
            if (!c)
                return 0;
        }
    }
    if (kind < TIF_RTX_KIND_MAX) {
        c->segs[kind] += segs;
        c->events[kind] += 1;
    }
    return c;
}

/* The pre-limiter. In a retransmit storm most events would reach user space only for the log
 * limiter to hold their lines back, yet each costs a ring-buffer record, a clock read and
 * the cache lines they touch, the larger part of this program's run time. So each CPU keeps
 * a token bucket per interface with the exporter's own rate and burst, and an event over it
 * stays here, counted in `held`. Each CPU alone may pass the full rate: whenever the
 * interface has that many events, user space still gets at least as many as it writes lines
 * for, and its own limiter picks them as before. Jiffies, not a clock: one load. */
static __always_inline bool over_log_limit(struct tif_rtx_counts* c) {
    const __u64 rate = log_event_rate;

    if (!rate)
        return false;
    const __u64 hz = jiffies_per_sec;
    const __u64 cap = (log_event_burst ? log_event_burst : rate) * hz;
    const __u64 now = bpf_jiffies64();
    __u64 elapsed = now - c->refill_jiffies; /* huge for a new entry: it starts full */
    if (elapsed > cap)
        elapsed = cap; /* rate >= 1: the bucket is full anyway, and the product cannot wrap */
    __u64 tokens = c->tokens + elapsed * rate;
    if (tokens > cap)
        tokens = cap;
    c->refill_jiffies = now;
    if (tokens >= hz) {
        c->tokens = tokens - hz;
        return false;
    }
    c->tokens = tokens;
    return true;
}

/* skc: a tp_btf argument's (typed pointer): plain loads, no helper call each (a helper call
 * costs ~0.1 us here with the cold caches a retransmit runs with). */
static __always_inline void fill_addrs(struct tif_rtx_event* e, const struct sock_common* skc) {
    e->family = skc->skc_family;
    e->state = skc->skc_state;
    e->sport = skc->skc_num;
    e->dport = __builtin_bswap16(skc->skc_dport);
    if (e->family == TIF_AF_INET) {
        __u32 saddr = skc->skc_rcv_saddr, daddr = skc->skc_daddr;
        __builtin_memcpy(e->saddr, &saddr, 4);
        __builtin_memcpy(e->daddr, &daddr, 4);
    } else if (e->family == TIF_AF_INET6) {
        __builtin_memcpy(e->saddr, &skc->skc_v6_rcv_saddr, 16);
        __builtin_memcpy(e->daddr, &skc->skc_v6_daddr, 16);
    }
}

/* The socket's cgroup v2 id: sk_cgrp_data.cgroup is set when the socket is created (5.15+:
 * a plain pointer; earlier kernels packed it with the v1 ids and are not read). Only for the
 * lines that are written, so the probe reads are off the counting path. */
static __always_inline __u64 sk_cgroup_id(const struct sock* sk) {
    if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
        return 0;
    const struct cgroup* cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
    if (!cg)
        return 0;
    return BPF_CORE_READ(cg, kn, id);
}

/* Errors __tcp_retransmit_skb returns before it adds to TcpRetransSegs: those retransmits
 * never happened and the kernel does not count them, so neither do we. */
static __always_inline bool counted_by_kernel(int err) {
    return err != -TIF_EBUSY && err != -TIF_ENOMEM && err != -TIF_EAGAIN &&
           err != -TIF_EHOSTUNREACH;
}

/* The segments this retransmit added to TcpRetransSegs. The kernel adds the skb's segment count
 * before it sends; by the tracepoint, after the send, an ACK may have trimmed the skb, so its
 * count can be smaller (measured: up to 0.8% of the segments of a lossy upload, 2.7% on a busier
 * machine). tp->total_retrans grows by exactly what the kernel counted, so from a socket's
 * second retransmit on the difference to the last one seen is exact; the first (and every one
 * on kernels before 5.11, which lack socket storage for tracing programs) takes the skb's. */
static __always_inline __u32 retransmitted_segs(const struct sock* sk, const struct tcp_sock* tp,
                                                __u32 skb_segs) {
    if (!have_sk_storage || !tp)
        return skb_segs;
    __u32* seen = bpf_sk_storage_get(&rtx_seen, (struct sock*)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!seen)
        return skb_segs;
    const __u32 total = tp->total_retrans;
    const __u32 segs = *seen ? total - *seen : skb_segs;
    *seen = total;
    return segs;
}

static __always_inline __u8 data_kind(const struct tcp_sock* tp, const struct tcp_skb_cb* cb) {
    if (cb->tcp_flags & TIF_TCPHDR_SYN)
        return TIF_RTX_SYN;
    if (!tp)
        return TIF_RTX_OTHER;
    switch (BPF_CORE_READ_BITFIELD(&tp->inet_conn, icsk_ca_state)) {
    case TIF_TCP_CA_LOSS:
        return TIF_RTX_RTO;
    case TIF_TCP_CA_RECOVERY:
        return TIF_RTX_FAST;
    default:
        return TIF_RTX_OTHER;
    }
}

SEC("tp_btf/tcp_retransmit_skb")
int tif_tcp_retransmit_skb(u64* ctx) {
    const struct sock* sk = (const void*)ctx[0];
    const struct sk_buff* skb = (const void*)ctx[1];
    int err = 0;

    if (tp_has_err)
        err = (int)ctx[2];
    if (!counted_by_kernel(err))
        return 0;

    /* Typed pointers all the way (skb->cb is read in place, the socket as the tcp_sock it is):
     * plain loads instead of a helper call per field. */
    const struct tcp_skb_cb* cb = (const void*)&skb->cb[0];
    const struct tcp_sock* tp = tif_tcp_sk(sk); /* this hook only sees full TCP sockets */
    __u32 skb_segs = cb->tcp_gso_segs;
    if (skb_segs == 0)
        skb_segs = 1;
    const __u32 segs = retransmitted_segs(sk, tp, skb_segs);
    if (segs == 0)
        return 0; /* nothing counted (a failure the kernel did not count, see above) */

    const __u8 kind = data_kind(tp, cb);
    struct tif_rtx_key key = {};
    struct tif_iface_ref route = {};
    if (!tif_resolve_route_dev(sk, &key.iface, &route))
        key.iface.netns_ino = sk->__sk_common.skc_net.net->ns.inum;
    struct tif_rtx_counts* c = count(&key, kind, segs);

    /* Bound sockets already have a cookie: one made just now cannot have a binding. */
    __u64 had_cookie = tif_existing_cookie(sk);
    const struct tif_span_binding* b = 0;
    if (c && over_log_limit(c)) {
        /* A bound socket's retransmit goes up all the same: it is its trace's exemplar. */
        b = tif_span_lookup(had_cookie);
        if (!b) {
            c->held += 1;
            return 0;
        }
    }
    struct tif_rtx_event* e = tif_ringbuf_reserve(&rtx_events, sizeof(*e));
    if (!e)
        return 0;
    __builtin_memset(e, 0, sizeof(*e));
    e->ts_boot_ns = bpf_ktime_get_boot_ns();
    e->sock_cookie = tif_socket_cookie(sk);
    e->iface = key.iface;
    e->route_iface = route;
    fill_addrs(e, &sk->__sk_common);
    e->kind = kind;
    e->segs = segs;
    e->srtt_us = tp ? tp->srtt_us >> 3 : 0;
    e->err = err;
    e->sk_cgroup_id = sk_cgroup_id(sk);
    if (!b)
        b = tif_span_lookup(had_cookie);
    if (b) {
        __builtin_memcpy(e->trace_id, b->trace_id, sizeof(e->trace_id));
        __builtin_memcpy(e->span_id, b->span_id, sizeof(e->span_id));
        __builtin_memcpy(e->span_name, b->name, sizeof(e->span_name));
        e->trace_flags = b->flags;
        e->bound = 1;
    }
    tif_ringbuf_submit(&rtx_events, e, sizeof(*e));
    return 0;
}

/* A SYN-ACK has no cached route: the listener's request only remembers the interface the SYN
 * came in by (ir_iif), and often not even that. ifindex 0 then means "route unknown". */
SEC("tp_btf/tcp_retransmit_synack")
int tif_tcp_retransmit_synack(u64* ctx) {
    const struct sock* sk = (const void*)ctx[0];
    const struct request_sock* req = (const void*)ctx[1];

    struct tif_rtx_key key = {};
    key.iface.netns_ino = sk->__sk_common.skc_net.net->ns.inum;
    key.iface.ifindex = req->__req_common.skc_bound_dev_if /* ir_iif */;
    struct tif_rtx_counts* c = count(&key, TIF_RTX_SYNACK, 1);
    if (c && over_log_limit(c)) { /* a request socket has no span binding */
        c->held += 1;
        return 0;
    }

    struct tif_rtx_event* e = tif_ringbuf_reserve(&rtx_events, sizeof(*e));
    if (!e)
        return 0;
    __builtin_memset(e, 0, sizeof(*e));
    e->ts_boot_ns = bpf_ktime_get_boot_ns();
    e->iface = key.iface;
    e->route_iface = key.iface;
    fill_addrs(e, &req->__req_common);
    e->state = TIF_TCP_SYN_RECV; /* the request's own state, not the listener's */
    e->kind = TIF_RTX_SYNACK;
    e->segs = 1;
    tif_ringbuf_submit(&rtx_events, e, sizeof(*e));
    return 0;
}
