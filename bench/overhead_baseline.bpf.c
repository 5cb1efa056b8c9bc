// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Bench only: empty programs on the hooks traceiface uses. bench/overhead_bench.sh attaches
 * them (bench/overhead_baseline) in a mode of their own, so each traceiface program's average
 * run time can be shown next to what the same hook costs with a program that does nothing:
 * kernel.bpf_stats_enabled's own clock reads, the dispatch and the cold instruction fetch. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int base_tc_ingress(struct __sk_buff* skb) {
    return -1; /* TC_ACT_UNSPEC, as ours */
}

SEC("tc")
int base_tc_egress(struct __sk_buff* skb) {
    return -1;
}

SEC("tp_btf/tcp_probe")
int base_tcp_probe(u64* ctx) {
    return 0;
}

SEC("tp_btf/inet_sock_set_state")
int base_inet_sock_set_state(u64* ctx) {
    return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int base_tcp_retransmit_skb(u64* ctx) {
    return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int base_tcp_retransmit_synack(u64* ctx) {
    return 0;
}
