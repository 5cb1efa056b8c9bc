// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A probe the verifier must refuse: it uses a map lookup result without the NULL check. The
 * test loads it through the exporter's own path and expects the verifier's reason in the log. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH); /* an array with a constant key is never NULL on 6.x */
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

SEC("tp_btf/tcp_retransmit_skb")
int reject_me(u64* ctx) {
    __u32 key = 0;
    __u64* v = bpf_map_lookup_elem(&counters, &key);
    *v += 1; /* no NULL check: "invalid mem access 'map_value_or_null'" */
    return 0;
}
