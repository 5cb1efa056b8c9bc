/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The span-binding table as a probe sees it. The declarations only fix the layouts: the
 * exporter replaces both maps with its own (bpf_map__reuse_fd) before load, so every probe
 * shares one table and one gate. */
#ifndef TRACEIFACE_SPAN_BINDING_BPF_H
#define TRACEIFACE_SPAN_BINDING_BPF_H

#include "kernel_compat.bpf.h" /* tif_existing_cookie */
#include "span_binding.h"

/* Set before load: the daemon's table replaced the placeholder below (the span module is up).
 * Without it there is nothing to look up or delete. */
const volatile bool tif_have_span_table = false;

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1);
    __type(key, __u64);
    __type(value, struct tif_span_binding);
} span_bindings SEC(".maps");

/* The gate: entry 0 is non-zero while the table may hold a binding (span_binding.h). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} span_in_use SEC(".maps");

/* Whether the table may hold a binding. Most sockets that reach a probe have a cookie (the
 * retransmit event asks for one), so without the gate every held retransmit and every RTT
 * sample paid a miss in the LRU table (a helper call, a hash and a cold bucket: ~140 ns of a
 * retransmit run here) on nodes where nothing is bound; the gate is one inlined array load. */
static __always_inline bool tif_spans_in_use(void) {
    __u32 zero = 0;
    const __u32* v = bpf_map_lookup_elem(&span_in_use, &zero);

    return v && *v;
}

/* The live binding of a socket cookie, or NULL (none, or past its TTL). */
static __always_inline const struct tif_span_binding* tif_span_lookup(__u64 cookie) {
    const struct tif_span_binding* b;

    if (!tif_have_span_table || cookie == 0 || !tif_spans_in_use())
        return 0;
    b = bpf_map_lookup_elem(&span_bindings, &cookie);
    if (!b || b->expires_ns < bpf_ktime_get_boot_ns())
        return 0;
    return b;
}

/* A socket's binding dies with it (called at TCP_CLOSE, also the way into TIME_WAIT), so the
 * LRU table holds live connections rather than waiting for --span.ttl to evict the dead. */
static __always_inline void tif_span_unbind(const struct sock* sk) {
    if (!tif_have_span_table)
        return; /* a load-time constant: the whole body goes without a table */
    /* No cookie yet: never bound, nothing to delete (and no cookie made for nothing). */
    __u64 cookie = tif_existing_cookie(sk);
    if (cookie && tif_spans_in_use())
        bpf_map_delete_elem(&span_bindings, &cookie);
}

#endif
