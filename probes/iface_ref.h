/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by every probe and the exporter. Plain C, fixed-width types only:
 * the exporter includes this header as is and never re-declares these structs. */
#ifndef TRACEIFACE_IFACE_REF_H
#define TRACEIFACE_IFACE_REF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TIF_IFNAMSIZ 16

/* An interface as the kernel saw it when the event happened. ifindex is only unique inside
 * its network namespace, so it always travels with the namespace's inode number. */
struct tif_iface_ref {
    __u32 netns_ino;
    __u32 ifindex;
    char name[TIF_IFNAMSIZ]; /* empty when the kernel gave us no device to read it from */
};

/* Slots of the per-CPU `tif_stats` array every probe object carries: what was produced and
 * what was lost, counted in the kernel so that no loss is silent. */
enum tif_stat {
    TIF_STAT_RB_PRODUCED = 0, /* ring-buffer reservations attempted */
    TIF_STAT_RB_LOST = 1,     /* bpf_ringbuf_reserve failed: buffer full */
    TIF_STAT_MAP_FULL = 2,    /* aggregation map full: counted in the overflow slot instead */
    TIF_STAT_MAX = 3,
};

#endif
