/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_latency.bpf.c <-> exporter: per-interface latency histograms and connect failures.
 * Plain C, fixed-width types only; the exporter static_asserts the sizes. */
#ifndef TRACEIFACE_TCP_LATENCY_H
#define TRACEIFACE_TCP_LATENCY_H

#include "iface_ref.h"

/* Log2 buckets of microseconds: bucket i counts values v with 2^(i-1) < v <= 2^i us (bucket 0:
 * v <= 1 us), so the upper bounds run 1 us, 2 us, ... 2^25 us = 33.55 s. Anything above lands
 * in the last slot, +Inf. */
#define TIF_LAT_FINITE_BUCKETS 26
#define TIF_LAT_SLOTS (TIF_LAT_FINITE_BUCKETS + 1)

enum tif_lat_hist {
    TIF_HIST_RTT = 0,     /* tcp_sock.srtt_us >> 3 of established flows, sampled */
    TIF_HIST_CONNECT = 1, /* active open: SYN_SENT -> ESTABLISHED */
    TIF_HIST_MAX = 2,
};

enum tif_connect_fail {
    TIF_CONN_REFUSED = 0,   /* sk_err ECONNREFUSED: the peer answered with a RST */
    TIF_CONN_TIMED_OUT = 1, /* sk_err ETIMEDOUT: SYN retries exhausted */
    TIF_CONN_OTHER = 2,     /* anything else (unreachable, closed by the application, ...) */
    TIF_CONN_FAIL_MAX = 3,
};

/* Key of both per-CPU maps: `which` is an enum tif_lat_hist for the histogram map and an enum
 * tif_connect_fail for the failure counters. */
struct tif_lat_key {
    struct tif_iface_ref iface;
    __u32 which;
};

/* One histogram, summed over CPUs by user space. Buckets are not cumulative. */
struct tif_lat_hist_val {
    __u64 slots[TIF_LAT_SLOTS];
    __u64 sum_us;
    __u64 count;
};

struct tif_conn_fail_val {
    __u64 count;
};

/* An RTT sample of a socket bound to a trace (span-context socket): the exemplar of the RTT
 * histogram. Only bound, sampled flows produce one, so the ring buffer stays quiet. */
struct tif_rtt_exemplar_event {
    __u64 ts_boot_ns;
    struct tif_iface_ref iface; /* the histogram series it belongs to */
    __u32 srtt_us;
    __u32 _pad;
    __u8 trace_id[16];
    __u8 span_id[8];
};

/* The slot of a value in microseconds: the smallest i with v <= 2^i, or the +Inf slot.
 * Loop-free so the BPF verifier and the unit tests run the very same code. */
static inline __u32 tif_lat_slot(__u64 v) {
    __u32 r = 0, s;

    if (v <= 1)
        return 0;
    v -= 1; /* ceil(log2(v)) = floor(log2(v - 1)) + 1 for v >= 2 */
    s = (v > 0xFFFFFFFFull) << 5;
    v >>= s;
    r |= s;
    s = (v > 0xFFFF) << 4;
    v >>= s;
    r |= s;
    s = (v > 0xFF) << 3;
    v >>= s;
    r |= s;
    s = (v > 0xF) << 2;
    v >>= s;
    r |= s;
    s = (v > 0x3) << 1;
    v >>= s;
    r |= s;
    r |= (__u32)(v >> 1);
    r += 1;
    return r < TIF_LAT_FINITE_BUCKETS ? r : TIF_LAT_FINITE_BUCKETS;
}

#endif
