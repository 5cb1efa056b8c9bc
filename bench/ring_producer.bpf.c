// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Bench-only producer for bench/ring_bench.cpp: each run writes one record shaped like the
 * real retransmit event (struct tif_rtx_event) through the probes' own reserve/submit helpers
 * (tif_stats.bpf.h), so the ring, its batched wakeups and the produced/lost accounting are
 * exactly the daemon's. Run with BPF_PROG_TEST_RUN and `repeat`, which is why it is a tc
 * program: the event does not depend on the packet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tcp_retransmit.h"

/* Wakeups the submit helper asked for (read by the bench between runs). */
__u64 wakeups = 0;
#define TIF_RB_ON_WAKEUP() __sync_fetch_and_add(&wakeups, 1)
#include "tif_stats.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TIF_AF_INET 2
#define TIF_TCP_ESTABLISHED 1

/* The reader's namespace: the labels are then plain host interface names, as for most
 * retransmits, and no name lookup is needed (the kernel copied the name). */
const volatile __u32 host_netns_ino = 0;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024); /* set to the daemon's --bpf.ringbuf-bytes before load */
} events SEC(".maps");

static __always_inline struct tif_rtx_event* fill(void) {
    struct tif_rtx_event* e = tif_ringbuf_reserve(&events, sizeof(*e));
    if (!e)
        return 0;
    __builtin_memset(e, 0, sizeof(*e));
    e->ts_boot_ns = bpf_ktime_get_boot_ns();
    /* Four interfaces, so the log limiter keeps several buckets as in a real storm. */
    __u32 n = (e->ts_boot_ns >> 6) & 3;
    e->sock_cookie = 0x1000 + n;
    e->iface.netns_ino = host_netns_ino;
    e->iface.ifindex = 2 + n;
    e->iface.name[0] = 'e';
    e->iface.name[1] = 't';
    e->iface.name[2] = 'h';
    e->iface.name[3] = '0' + n;
    e->route_iface = e->iface;
    e->family = TIF_AF_INET;
    e->saddr[0] = 10;
    e->saddr[3] = 1;
    e->daddr[0] = 10;
    e->daddr[3] = 2 + n;
    e->sport = 40000 + n;
    e->dport = 443;
    e->state = TIF_TCP_ESTABLISHED;
    e->kind = TIF_RTX_FAST;
    e->segs = 1;
    e->srtt_us = 1200;
    return e;
}

SEC("tc")
int tif_ring_produce(struct __sk_buff* skb) {
    struct tif_rtx_event* e = fill();
    if (e)
        tif_ringbuf_submit(&events, e, sizeof(*e));
    return 0;
}

/* The submit the probes had before the batched wakeups: the kernel wakes the reader whenever
 * it had caught up, i.e. for every event while it keeps up. For the before/after figure. */
SEC("tc")
int tif_ring_produce_wakeup_each(struct __sk_buff* skb) {
    struct tif_rtx_event* e = fill();
    if (e)
        bpf_ringbuf_submit(e, 0);
    return 0;
}
