/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tc_stats.bpf.c <-> exporter: per-interface packet counters aggregated in the kernel. */
#ifndef TRACEIFACE_TC_STATS_H
#define TRACEIFACE_TC_STATS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Our tc filters are recognised by this handle and priority (plus the program name): a
 * restarted exporter finds a crashed predecessor's filters there and replaces them. Priority 1
 * runs first on the hook, so packets a later filter drops or redirects are still counted; the
 * programs always return TC_ACT_UNSPEC, which hands the packet on unchanged. */
#define TIF_TC_HANDLE 0x74696600u /* "tif\0" */
#define TIF_TC_PRIORITY 1

#define TIF_TC_INGRESS 0
#define TIF_TC_EGRESS 1

/* Packet sizes in log2 buckets: bucket i counts packets of at most 64 << i bytes, the last
 * one everything above 64 KiB (only GSO/GRO super-packets or big-TCP frames get there). */
#define TIF_SIZE_BUCKETS 12
#define TIF_SIZE_FIRST_BOUND 64

/* ifindex -> slot is a direct-mapped table: an interface's entry is at position
 * ifindex & (TIF_SLOT_POSITIONS - 1) of the array tc_slot_direct, whose lookup the verifier
 * inlines, and carries the ifindex that owns it. An interface whose position another one holds
 * goes to the hash tc_slots instead, whose lookup alone costs more than the whole program
 * otherwise (~60 ns under load here). Keyed by position rather than by ifindex below a bound,
 * because ifindexes only grow: a node that has created many devices (pod churn) gives its new
 * veths ifindexes in the tens of thousands, and those must take the fast path too. */
#define TIF_SLOT_POSITIONS 16384

/* Value of tc_slot_direct (at ifindex's position) and of tc_slots (keyed by ifindex): where
 * this interface's counters live. max_len == 0 marks a free entry. */
struct tif_tc_slot {
    __u32 ifindex; /* the owner of the entry (tc_slot_direct holds many ifindexes' positions) */
    __u32 slot;    /* counters at index slot * 2 + direction of tc_counts */
    __u32 max_len; /* longest frame that fits the MTU (MTU + L2 header); longer = oversize */
    __u32 l2_len;  /* bytes before the IP header at tc: 14 (Ethernet, loopback) or 0 */
};

/* Value of the per-CPU array tc_counts; u64 fields only (summed over CPUs by the exporter). */
struct tif_tc_counts {
    __u64 packets;
    __u64 bytes; /* skb->len: the whole frame including the L2 header, as the device counts */
    __u64 oversize;
    __u64 size_hist[TIF_SIZE_BUCKETS];
    /* Egress only: TCP segments of local sockets that resend sequence space the socket has sent
     * before (seq below its snd_nxt), an skb counting its GSO segments. Where the socket's
     * route is a bridge or bond, this is the retransmits split by the port or slave that
     * carried them (tc_stats.bpf.c says when it is exact). */
    __u64 tcp_resent_segs;
};

#endif
