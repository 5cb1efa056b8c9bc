/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_retransmit.bpf.c <-> exporter: the retransmit event and the in-kernel counter. */
#ifndef TRACEIFACE_TCP_RETRANSMIT_H
#define TRACEIFACE_TCP_RETRANSMIT_H

#include "iface_ref.h"
#include "span_binding.h"

/* What kind of retransmit the kernel made, told apart from the socket's own state. */
enum tif_rtx_kind {
    TIF_RTX_SYN = 0,    /* our SYN again: the peer did not answer */
    TIF_RTX_SYNACK = 1, /* a listener's SYN-ACK again (tcp_retransmit_synack) */
    TIF_RTX_RTO = 2,    /* data, retransmission timeout (congestion state Loss) */
    TIF_RTX_FAST = 3,   /* data, fast retransmit / recovery (state Recovery) */
    TIF_RTX_OTHER = 4,  /* data in any other state: tail loss probes, RACK reordering, ... */
    TIF_RTX_KIND_MAX = 5,
};

/* Key of the per-CPU counter map: segments are summed in the kernel, so /metrics is exact
 * even when the event ring buffer overflows. One entry per interface, every kind in it: the
 * pre-limiter's bucket (below) is per interface, like the exporter's log limiter. */
struct tif_rtx_key {
    struct tif_iface_ref iface;
};

struct tif_rtx_counts {
    __u64 segs[TIF_RTX_KIND_MAX];   /* retransmitted segments, as TcpRetransSegs counts them */
    __u64 events[TIF_RTX_KIND_MAX]; /* retransmit calls (one skb can carry several segments) */
    /* Events kept in the kernel: the pre-limiter found this interface over the log limit
     * (--log.event-rate), so their lines would have been held back anyway. */
    __u64 held;
    /* This CPU's token bucket of the pre-limiter, in 1/HZ of an event, and the jiffy it was
     * last refilled at. Per-CPU state: their sums over CPUs mean nothing. */
    __u64 tokens;
    __u64 refill_jiffies;
};

/* One retransmit, for the JSON log line. The reader decides from the first 40 bytes alone
 * (interface, bound, kind) whether a line is written at all: in a storm most are held back by
 * the log limiter, and then only that one cache line of the record is read. */
struct tif_rtx_event {
    __u64 ts_boot_ns;           /* bpf_ktime_get_boot_ns() */
    struct tif_iface_ref iface; /* where it is counted: the host-side interface */
    __u8 bound;                 /* a span binding was live; trace_id... below are valid */
    __u8 kind;                  /* enum tif_rtx_kind */
    __u8 state;                 /* TCP_ESTABLISHED, ... */
    __u8 trace_flags;
    __u32 segs;
    /* ---- end of the reader's fast path ---- */
    __u64 sock_cookie; /* SO_COOKIE of the socket; 0 for SYN-ACKs (no full socket yet) */
    struct tif_iface_ref route_iface; /* the socket's own route device, maybe in another netns */
    __u8 saddr[16];                   /* IPv4 in the first 4 bytes, or IPv6 */
    __u8 daddr[16];
    __u16 sport; /* host byte order */
    __u16 dport; /* host byte order */
    __u16 family;
    __u16 _pad;
    __u32 srtt_us; /* smoothed RTT of the flow at that moment */
    __s32 err;     /* what the retransmit returned (kernels with the err argument) */
    /* The socket's cgroup v2 id (the creating task's cgroup; its directory's inode number):
     * names hostNetwork pods' sockets. The v2 root's id where the node runs cgroup v1; 0 for
     * SYN-ACKs and kernels without sk_cgrp_data.cgroup. */
    __u64 sk_cgroup_id;
    /* The socket's span binding (span_binding.h) when `bound` is set. */
    __u8 trace_id[TIF_TRACE_ID_LEN];
    __u8 span_id[TIF_SPAN_ID_LEN];
    char span_name[TIF_SPAN_NAME_LEN];
};

#endif
