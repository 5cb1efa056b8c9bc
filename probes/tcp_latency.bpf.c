// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP latency per interface: the kernel's smoothed RTT of established flows and the time an
 * active open takes, as log2 histograms aggregated here in per-CPU maps; failed active opens
 * counted by reason. Nothing goes to user space per event: /metrics reads the maps.
 *
 * RTT sampling policy: tp_btf/tcp_probe fires in tcp_rcv_established for every incoming
 * segment. A flow gives a sample when it has data in flight (packets_out > 0: its srtt is being
 * refreshed by the ACKs; a receive-only flow keeps the value of its handshake forever) and a
 * measured srtt, and at most once per `rtt_sample_interval_ns` (0 = every such segment). The
 * time of a flow's last sample lives in socket-local storage, which dies with the socket. */
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

/* Set before load: minimum time between two RTT samples of one flow, in ns. */
const volatile __u64 rtt_sample_interval_ns = 1000000000ull;

/* Per-socket state; lives exactly as long as the socket. */
struct tif_sk_lat {
    __u64 syn_sent_ns; /* CLOSE -> SYN_SENT time, 0 when not connecting */
    __u64 rtt_last_ns; /* time of this flow's last RTT sample */
};

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct tif_sk_lat);
} sk_lat SEC(".maps");

/* Set before load: bpf_sk_storage_get is callable from tracing programs (5.11+). Older
 * kernels keep the same state in sk_lat_compat, keyed by the socket's address and deleted
 * when it reaches TCP_CLOSE (every TCP socket passes there before it is freed); user space
 * shrinks whichever map is unused to one entry. */
const volatile bool have_sk_storage = true;

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 32768); /* an evicted flow just gets its next sample sooner */
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
    if (have_sk_storage)
        return; /* socket-local storage dies with the socket */
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

SEC("tp_btf/tcp_probe")
int tif_tcp_probe(u64* ctx) {
    struct sock* sk = (void*)ctx[0];
    /* A typed pointer: its fields are read directly (CO-RE relocated), without a helper call
     * per field, which matters on a path that runs for every incoming segment. */
    const struct tcp_sock* tp = bpf_skc_to_tcp_sock(sk);

    if (!tp)
        return 0;
    __u32 srtt_us = tp->srtt_us >> 3;
    if (srtt_us == 0 || tp->packets_out == 0)
        return 0;
    if (rtt_sample_interval_ns) {
        struct tif_sk_lat* st = sk_lat_get(sk, true);
        if (!st)
            return 0;
        /* The flow's own clock, tcp_clock_cache: the CLOCK_MONOTONIC ns of its latest send or
         * receive (tcp_mstamp_refresh), one load instead of a helper call and a clock read.
         * It lags real time by the flow's idle time before this segment: a flow with data in
         * flight refreshes it at least every RTO, so samples stay one per interval of the
         * flow's clock, never more often than after the idle time it was silent. */
        __u64 now =
            bpf_core_field_exists(tp->tcp_clock_cache) ? tp->tcp_clock_cache : bpf_ktime_get_ns();
        /* Runs under the socket's lock: no other CPU samples this flow concurrently. */
        if (st->rtt_last_ns && now - st->rtt_last_ns < rtt_sample_interval_ns)
            return 0;
        st->rtt_last_ns = now;
    }
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

SEC("tp_btf/inet_sock_set_state")
int tif_inet_sock_set_state(u64* ctx) {
    struct sock* sk = (void*)ctx[0];
    int oldstate = (int)ctx[1];
    int newstate = (int)ctx[2];

    if (sk->sk_protocol != TIF_IPPROTO_TCP)
        return 0;
    if (newstate == TIF_TCP_CLOSE)
        sk_lat_forget(sk);
    if (newstate == TIF_TCP_SYN_SENT) {
        struct tif_sk_lat* st = sk_lat_get(sk, true);
        if (st)
            st->syn_sent_ns = bpf_ktime_get_ns();
        return 0;
    }
    if (oldstate != TIF_TCP_SYN_SENT)
        return 0;
    if (newstate == TIF_TCP_ESTABLISHED) {
        struct tif_sk_lat* st = sk_lat_get(sk, false);
        if (!st || !st->syn_sent_ns) /* connect began before we attached */
            return 0;
        __u64 us = (bpf_ktime_get_ns() - st->syn_sent_ns) / 1000;
        st->syn_sent_ns = 0;
        observe(sk, TIF_HIST_CONNECT, us, 0);
    } else if (newstate == TIF_TCP_CLOSE) {
        count_failure(sk);
    }
    return 0;
}
