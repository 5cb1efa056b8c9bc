/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* An interface name from its two 8-byte words, as the probes read it with plain loads: the
 * bytes before the first NUL kept, the rest zeroed (after a rename the bytes past the NUL still
 * hold the old name, and the name is part of map keys). Plain C, shared with the unit tests. */
#ifndef TRACEIFACE_IFNAME_WORDS_H
#define TRACEIFACE_IFNAME_WORDS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "iface_ref.h" /* TIF_IFNAMSIZ */

#define TIF_BYTES_01 0x0101010101010101ULL
#define TIF_BYTES_80 0x8080808080808080ULL

/* (w - 0x01..) & ~w & 0x80.. marks bit 7 of each zero byte; the lowest mark is exactly the
 * first NUL (borrows only run towards later bytes), and the machines we run on are
 * little-endian: byte 0 is the lowest. ((z & -z) >> 7) - 1 is then the bits below it, all ones
 * when there is none. No branch, no loop: the verifier sees a few ALU instructions. */
static inline __attribute__((always_inline)) void tif_name_words(char out[TIF_IFNAMSIZ], __u64 w0,
                                                                 __u64 w1) {
    __u64 z0 = (w0 - TIF_BYTES_01) & ~w0 & TIF_BYTES_80;
    __u64 z1 = (w1 - TIF_BYTES_01) & ~w1 & TIF_BYTES_80;
    __u64 keep0 = ((z0 & -z0) >> 7) - 1;
    __u64 keep1 = (((z1 & -z1) >> 7) - 1) & -(__u64)(z0 == 0); /* nothing after a NUL in w0 */
    __u64 name[2] = {w0 & keep0, w1 & keep1};
    __builtin_memcpy(out, name, TIF_IFNAMSIZ);
}

#endif
