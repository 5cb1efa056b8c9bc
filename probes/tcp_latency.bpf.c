// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP latency per interface: the kernel's smoothed RTT of established flows and the time an
 * active open takes, as log2 histograms aggregated here in per-CPU maps; failed active opens
 * counted by reason. Nothing goes to user space per event: /metrics reads the maps.
 *
 * RTT sampling policy: tp_btf/tcp_probe fires in tcp_rcv_established for every incoming
 * segment. A flow gives a sample when it has data in flight (packets_out > 0: its srtt is being
 * refreshed by the ACKs; a receive-only flow keeps the value of its handshake forever), a
 * measured srtt, and this is its first such segment or its first after a boundary of its
 * sampling interval: one sample per flow per interval it is active in, and at least one per
 * flow. The interval is counted in
 * jiffies from a per-flow phase, and "the first segment after a boundary" is read from the
 * flow's own receive stamps, so the hot path keeps no state, calls no helper on new kernels
 * (bpf_jiffies64 is inlined) and allocates nothing per flow.
 *
 * Connect latency: first SYN sent -> SYN-ACK received, read at SYN_SENT -> ESTABLISHED. When no
 * SYN was retransmitted it is the handshake's RTT sample, which the kernel has just taken as
 * the flow's first srtt. Otherwise the first SYN's time is needed: the kernel keeps it in
 * retrans_stamp until the SYN-ACK (which may clear it), so the first SYN retransmission copies
 * it into socket-local storage. Only those rare sockets get state.
 *
 * The socket-state program also deletes a closing socket's span binding (span_binding.bpf.h):
 * one program on that hook for both jobs. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "iface_resolve.bpf.h"
#include "kernel_compat.bpf.h"
#include "span_binding.bpf.h"
#include "tcp_latency.h"
#include "tif_stats.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TIF_IPPROTO_TCP 6
#define TIF_TCP_ESTABLISHED 1
#define TIF_TCP_SYN_SENT 2
#define TIF_TCP_CLOSE 7
#define TIF_ETIMEDOUT 110
#define TIF_ECONNREFUSED 111

/* Set before load: the RTT sampling interval in jiffies (user space converts
 * --tcp.rtt-sample-interval with the kernel's tick); 0 = every segment with data in flight. */
const volatile __u32 rtt_sample_interval_jiffies = 250;

/* State of an active open whose SYN was retransmitted; deleted when the open ends. */
struct tif_sk_lat {
    __u64 first_syn_us; /* the first SYN's send time, on the flow's clock (tcp_mstamp, us) */
};

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct tif_sk_lat);
} sk_lat SEC(".maps");

/* Set before load: bpf_sk_storage_get/delete are callable from tracing programs (5.11+). Older
 * kernels keep the same state in sk_lat_compat, keyed by the socket's address; user space
 * shrinks whichever map is unused to one entry. */
const volatile bool have_sk_storage = true;

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 32768); /* only opens with a retransmitted SYN, alive at once */
    __type(key, __u64);
    __type(value, struct tif_sk_lat);
} sk_lat_compat SEC(".maps");

static __always_inline struct tif_sk_lat* sk_lat_get(struct sock* sk, bool create) {
    if (have_sk_storage)
        return bpf_sk_storage_get(&sk_lat, sk, 0, create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
    __u64 key = (__u64)sk;
    struct tif_sk_lat* st = bpf_map_lookup_elem(&sk_lat_compat, &key);
    if (st || !create)
        return st;
    static const struct tif_sk_lat zero;
    bpf_map_update_elem(&sk_lat_compat, &key, &zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(&sk_lat_compat, &key);
}

static __always_inline void sk_lat_forget(struct sock* sk) {
    if (have_sk_storage) {
        bpf_sk_storage_delete(&sk_lat, sk);
        return;
    }
    __u64 key = (__u64)sk;
    bpf_map_delete_elem(&sk_lat_compat, &key);
}

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct tif_lat_key);
    __type(value, struct tif_lat_hist_val);
} lat_hist SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct tif_lat_key);
    __type(value, struct tif_conn_fail_val);
} conn_fail SEC(".maps");

/* User space's alone (exporter/net/carry_store.h): counts of vanished interfaces' deleted keys
 * of lat_hist and conn_fail that their series still show, pinned with them. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4097); /* lat_hist's + 1, set before load */
    __type(key, struct tif_lat_key);
    __type(value, struct tif_lat_hist_val);
} lat_carry SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4097); /* conn_fail's + 1, set before load */
    __type(key, struct tif_lat_key);
    __type(value, struct tif_conn_fail_val);
} fail_carry SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} rtt_exemplars SEC(".maps");

/* The entry for `key` in `map`, created on first use; when the map is full, the overflow entry
 * (only `which` set) that user space pre-creates, so nothing is lost. */
static __always_inline void* entry(void* map, const struct tif_lat_key* key, void* zero) {
    void* v = bpf_map_lookup_elem(map, key);

    if (v)
        return v;
    /* EEXIST from a racing CPU is fine: the lookup below finds its entry. */
    bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
    v = bpf_map_lookup_elem(map, key);
    if (v)
        return v;
    struct tif_lat_key overflow = {.which = key->which};
    tif_stat_inc(TIF_STAT_MAP_FULL);
    return bpf_map_lookup_elem(map, &overflow);
}

/* The host-side interface of the socket's route, as the retransmit counters attribute it. */
static __always_inline void key_for(const struct sock* sk, __u32 which, struct tif_lat_key* key) {
    struct tif_iface_ref route = {};

    __builtin_memset(key, 0, sizeof(*key));
    key->which = which;
    if (!tif_resolve_route_dev(sk, &key->iface, &route))
        key->iface.netns_ino = sk->__sk_common.skc_net.net->ns.inum;
}

static __always_inline void observe(const struct sock* sk, __u32 which, __u64 us,
                                    struct tif_lat_key* out_key) {
    static const struct tif_lat_hist_val zero;
    struct tif_lat_key key;

    key_for(sk, which, &key);
    if (out_key)
        *out_key = key;
    struct tif_lat_hist_val* h = entry(&lat_hist, &key, (void*)&zero);
    if (!h)
        return;
    __u32 slot = tif_lat_slot(us);
    /* The compiler knows slot < TIF_LAT_SLOTS and would drop the check; older verifiers
     * (5.10) cannot prove it from tif_lat_slot's arithmetic, so the check must stay. */
    asm volatile("" : "+r"(slot));
    if (slot >= TIF_LAT_SLOTS)
        return;
    h->slots[slot] += 1; /* per-CPU value: no atomics needed */
    h->sum_us += us;
    h->count += 1;
}

/* Whether this segment gives a sample: the flow's first with data in flight, or its first
 * after a boundary of its sampling interval. The first: nothing but the handshake has been
 * delivered yet (`delivered` counts the SYN, or the SYN-ACK, as one), so a flow shorter than
 * the interval is sampled too. The previous segment is the later of two stamps the kernel
 * writes as it processes a segment, after this tracepoint: rcv_tstamp (tcp_ack, every
 * acceptable ACK) and lrcvtime (in-order data). A segment the kernel discards stamps neither,
 * so the one after it may be sampled too: a rare extra sample, never a missed interval. */
static __always_inline bool rtt_sample_due(const struct sock* sk, const struct tcp_sock* tp) {
    const __u32 interval = rtt_sample_interval_jiffies;

    if (!interval || tp->delivered <= 1)
        return true;
    __u64 now = bpf_jiffies64();
    /* u32 jiffies (tcp_jiffies32): the differences are right across the wrap. */
    __u32 since_ack = (__u32)now - tp->rcv_tstamp;
    __u32 since_data = (__u32)now - tp->inet_conn.icsk_ack.lrcvtime;
    __u32 idle = since_ack < since_data ? since_ack : since_data;
    /* The connection's hash as the phase spreads flows over the interval. jiffies start near
     * 2^32 (INITIAL_JIFFIES), so t - idle does not underflow. */
    __u64 t = now + sk->__sk_common.skc_hash;
    return t / interval != (t - idle) / interval;
}

SEC("tp_btf/tcp_probe")
int tif_tcp_probe(u64* ctx) {
    struct sock* sk = (void*)ctx[0];
    /* Fields are read directly (CO-RE relocated), without a helper call per field: this
     * runs for every incoming segment. */
    const struct tcp_sock* tp = tif_tcp_sk(sk);

    if (!tp)
        return 0;
    __u32 srtt_us = tp->srtt_us >> 3;
    if (srtt_us == 0 || tp->packets_out == 0 || !rtt_sample_due(sk, tp))
        return 0;
    struct tif_lat_key key;
    observe(sk, TIF_HIST_RTT, srtt_us, &key);

    /* A flow bound to a trace: this sample becomes an exemplar of its RTT bucket. */
    const struct tif_span_binding* b = tif_span_lookup(tif_existing_cookie(sk));
    if (!b)
        return 0;
    struct tif_rtt_exemplar_event* e = tif_ringbuf_reserve(&rtt_exemplars, sizeof(*e));
    if (!e)
        return 0;
    e->ts_boot_ns = bpf_ktime_get_boot_ns();
    e->iface = key.iface;
    e->srtt_us = srtt_us;
    e->_pad = 0;
    __builtin_memcpy(e->trace_id, b->trace_id, sizeof(e->trace_id));
    __builtin_memcpy(e->span_id, b->span_id, sizeof(e->span_id));
    tif_ringbuf_submit(&rtt_exemplars, e, sizeof(*e));
    return 0;
}

static __always_inline void count_failure(const struct sock* sk) {
    static const struct tif_conn_fail_val zero;
    struct tif_lat_key key;
    int err = sk->sk_err;
    __u32 reason = err == TIF_ECONNREFUSED ? TIF_CONN_REFUSED
                   : err == TIF_ETIMEDOUT  ? TIF_CONN_TIMED_OUT
                                           : TIF_CONN_OTHER;

    key_for(sk, reason, &key);
    struct tif_conn_fail_val* c = entry(&conn_fail, &key, (void*)&zero);
    if (c)
        c->count += 1;
}

/* Microseconds since the first SYN, on the flow's clock. The kernel stamps retrans_stamp when
 * it sends the first SYN, in ms, or in us where the route enables TCP_USEC_TS (6.7+). */
static __always_inline __u64 first_syn_age_us(const struct tcp_sock* tp) {
    __u64 now_us = tp->tcp_mstamp;

    if (bpf_core_field_exists(tp->tcp_usec_ts) && BPF_CORE_READ_BITFIELD(tp, tcp_usec_ts))
        return (__u32)((__u32)now_us - tp->retrans_stamp);
    return (__u64)(__u32)((__u32)(now_us / 1000) - tp->retrans_stamp) * 1000;
}

/* The first retransmission of a SYN saves the first SYN's time, which the kernel may forget
 * when the SYN-ACK comes (retrans_stamp is cleared once nothing retransmitted is in flight). */
SEC("tp_btf/tcp_retransmit_skb")
int tif_syn_retransmit(u64* ctx) {
    struct sock* sk = (void*)ctx[0];

    if (sk->__sk_common.skc_state != TIF_TCP_SYN_SENT)
        return 0;
    const struct tcp_sock* tp = tif_tcp_sk(sk);
    if (!tp)
        return 0;
    struct tif_sk_lat* st = sk_lat_get(sk, true);
    if (!st || st->first_syn_us) /* saved at an earlier retransmission */
        return 0;
    st->first_syn_us = tp->tcp_mstamp - first_syn_age_us(tp);
    return 0;
}

/* The one program on the socket-state hook: the end of an active open (connect latency,
 * failures) and TCP_CLOSE (the span binding dies with its socket). One program rather than one
 * per job: each program on a hook this hot costs its own dispatch, ~2% of the connections/s
 * of a connect-heavy workload on the machines we measure on (bench/, README "Performance"). */
SEC("tp_btf/inet_sock_set_state")
int tif_inet_sock_set_state(u64* ctx) {
    struct sock* sk = (void*)ctx[0];
    int oldstate = (int)ctx[1];
    int newstate = (int)ctx[2];

    /* Every other transition returns here, before touching the socket. */
    if (oldstate != TIF_TCP_SYN_SENT && newstate != TIF_TCP_CLOSE)
        return 0;
    if (sk->sk_protocol != TIF_IPPROTO_TCP)
        return 0;
    if (newstate == TIF_TCP_CLOSE)
        tif_span_unbind(sk);
    if (oldstate != TIF_TCP_SYN_SENT)
        return 0;
    const struct tcp_sock* tp = tif_tcp_sk(sk);
    if (!tp)
        return 0;
    /* Also counts SYNs of an earlier connect() on this socket: then the lookup finds nothing
     * and this open goes unmeasured, as one begun before we attached does. */
    const bool syn_retransmitted = tp->total_retrans != 0;
    if (newstate == TIF_TCP_ESTABLISHED) {
        __u64 us;
        if (!syn_retransmitted) {
            /* The SYN's RTT sample (send -> SYN-ACK), the flow's first: srtt = 8 x sample. */
            if (tp->srtt_us == 0) /* no sample (a repaired socket) */
                return 0;
            us = tp->srtt_us >> 3;
        } else {
            struct tif_sk_lat* st = sk_lat_get(sk, false);
            if (!st || !st->first_syn_us) /* first SYN sent before we attached */
                return 0;
            /* tcp_mstamp: refreshed as the SYN-ACK arrived */
            us = tp->tcp_mstamp - st->first_syn_us;
            sk_lat_forget(sk);
        }
        observe(sk, TIF_HIST_CONNECT, us, 0);
    } else if (newstate == TIF_TCP_CLOSE) {
        count_failure(sk);
        if (syn_retransmitted)
            sk_lat_forget(sk);
    }
    return 0;
}
