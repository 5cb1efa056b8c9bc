/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The span-binding table: which trace and span are using which TCP socket. The exporter
 * creates it (BPF_MAP_TYPE_LRU_HASH keyed by the socket cookie) before any probe loads and
 * hands it to every probe object that declares `span_bindings` (bpf_map__reuse_fd), together
 * with its gate `span_in_use` (an array of one __u32): non-zero while the table may hold a
 * binding, so the probes look nothing up on nodes where nothing is bound. Only the exporter's
 * span strand writes either: it opens the gate before it adds a binding and closes it when a
 * sweep finds the table empty (the probes only ever delete from it).
 * Plain C, fixed-width types only; the exporter static_asserts the size. */
#ifndef TRACEIFACE_SPAN_BINDING_H
#define TRACEIFACE_SPAN_BINDING_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TIF_TRACE_ID_LEN 16
#define TIF_SPAN_ID_LEN 8
#define TIF_SPAN_NAME_LEN 32 /* not NUL-terminated when all 32 bytes are used */

struct tif_span_binding {
    __u8 trace_id[TIF_TRACE_ID_LEN];
    __u8 span_id[TIF_SPAN_ID_LEN];
    __u8 flags; /* W3C trace flags (bit 0: sampled) */
    __u8 _pad[7];
    char name[TIF_SPAN_NAME_LEN];
    __u64 expires_ns; /* bpf_ktime_get_boot_ns() clock (CLOCK_BOOTTIME) */
};

#endif
