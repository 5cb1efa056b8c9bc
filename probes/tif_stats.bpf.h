/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The per-CPU produced/lost counters every probe object carries (see enum tif_stat). */
#ifndef TRACEIFACE_TIF_STATS_BPF_H
#define TRACEIFACE_TIF_STATS_BPF_H

#include "iface_ref.h"

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, TIF_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} tif_stats SEC(".maps");

static __always_inline void tif_stat_inc(__u32 slot) {
    __u64* v = bpf_map_lookup_elem(&tif_stats, &slot);

    if (v)
        *v += 1; /* per-CPU slot: no atomic needed */
}

/* Reserves ring-buffer space, counting the attempt and, when the buffer is full, the loss. */
static __always_inline void* tif_ringbuf_reserve(void* rb, __u64 size) {
    tif_stat_inc(TIF_STAT_RB_PRODUCED);
    void* e = bpf_ringbuf_reserve(rb, size, 0);
    if (!e)
        tif_stat_inc(TIF_STAT_RB_LOST);
    return e;
}

/* Ring-buffer wakeups are batched. A wakeup (irq_work, then waking the reader's epoll) costs
 * about a microsecond, several times the event itself, and a reader that keeps up would get
 * one per event. So an event is submitted without a wakeup unless the unconsumed data has
 * just crossed a multiple of 1/2^TIF_RB_WAKEUP_SHIFT of the ring: a lagging reader is woken
 * with most of the ring still free, and again at each further step it falls behind (a
 * crossing missed by racing CPUs is caught at the next one). Crossing rather than "above the
 * threshold": while the reader is waking up, every submit would otherwise raise an interrupt.
 * Below the first step nobody is woken: the reader's flush timer (--bpf.ringbuf-flush-interval)
 * collects those events, so the timer, not a wakeup that may never come, bounds their delay. */
#define TIF_RB_WAKEUP_SHIFT 3
#define TIF_RB_HDR_SZ 8 /* BPF_RINGBUF_HDR_SZ: each record is its header + data, 8-aligned */
#ifndef TIF_RB_ON_WAKEUP
#define TIF_RB_ON_WAKEUP() /* bench/ring_producer.bpf.c counts them */
#endif

static __always_inline void tif_ringbuf_submit(void* rb, void* e, __u64 size) {
    __u64 step = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE) >> TIF_RB_WAKEUP_SHIFT;
    /* Includes this record: its space was taken at reserve time. */
    __u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
    __u64 rec = (size + TIF_RB_HDR_SZ + 7) & ~7ULL;
    __u64 flags = BPF_RB_NO_WAKEUP;

    if (step && avail >= rec && avail / step != (avail - rec) / step) {
        flags = BPF_RB_FORCE_WAKEUP;
        TIF_RB_ON_WAKEUP();
    }
    bpf_ringbuf_submit(e, flags);
}

#endif
