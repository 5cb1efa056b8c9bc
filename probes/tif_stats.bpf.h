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

#endif
