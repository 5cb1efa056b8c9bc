#!/usr/bin/env bash
# Cost of traceiface on the packet path: iperf3 over a veth pair into a netns, alternating runs
# without the exporter, with it at the default RTT sampling (1 s per flow) and with every ACK
# sampled (--tcp.rtt-sample-interval=0). The exporter has every probe attached: tc on the veth,
# the latency and retransmit tracepoints. With kernel.bpf_stats_enabled=1 (restored on exit) it
# prints each program's average run time (run_time_ns / run_cnt from bpftool) and the throughput
# of each mode relative to the runs without the exporter.
#
#   sudo bench/overhead_bench.sh [ROUNDS (3)] [SECONDS per run (5)]
# Env: TIF_BUILD_DIR (default build/), the exporter binary lives there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/integration/lib.sh"

ROUNDS=${1:-3}
SECS=${2:-5}
MODES=(off sampled every_ack)
PROGS=(tif_tc_ingress tif_tc_egress tif_tcp_probe tif_inet_sock_set_state tif_tcp_retransmit_skb)

tif_require_root_bpf
tif_require_cmd iperf3 jq curl
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
tif_cleanup_push "sysctl -qw kernel.bpf_stats_enabled=$old_stats"
tif_make_netns_pair tfb

tif_iperf_server "$TIF_NS" "$TIF_NS_IP"

declare -A bps runs prog_ns prog_cnt
# One iperf3 run; prints bits/s received.
iperf_once() {
    iperf3 -c "$TIF_NS_IP" -t "$SECS" -J 2>/dev/null | jq '.end.sum_received.bits_per_second'
}

# Adds run_time_ns and run_cnt of the exporter's programs to the mode's totals.
collect_prog_stats() {
    local mode=$1 id name ns cnt
    for id in $(grep -h '^prog_id:' /proc/"$TIF_EXPORTER_PID"/fdinfo/* 2>/dev/null |
        awk '{ print $2 }' | sort -u); do
        read -r name ns cnt < <(bpftool prog show id "$id" -j |
            jq -r '[.name, (.run_time_ns // 0), (.run_cnt // 0)] | @tsv')
        [[ " ${PROGS[*]} " == *" $name "* ]] || continue
        prog_ns[$mode/$name]=$((${prog_ns[$mode/$name]:-0} + ns))
        prog_cnt[$mode/$name]=$((${prog_cnt[$mode/$name]:-0} + cnt))
    done
}

for ((r = 1; r <= ROUNDS; r++)); do
    for mode in "${MODES[@]}"; do
        if [[ $mode != off ]]; then
            interval=1s
            [[ $mode == every_ack ]] && interval=0
            tif_start_exporter "$(tif_free_port)" --tcp.rtt-sample-interval="$interval"
        fi
        v=$(iperf_once) || tif_fail "iperf3 failed"
        bps[$mode]=$(awk -v a="${bps[$mode]:-0}" -v b="$v" 'BEGIN { printf "%.0f", a + b }')
        runs[$mode]=$((${runs[$mode]:-0} + 1))
        if [[ $mode != off ]]; then
            collect_prog_stats "$mode"
            tif_kill_wait "$TIF_EXPORTER_PID" 5
        fi
        printf 'round %d %-9s %8.0f Mbit/s\n' "$r" "$mode" "$(awk -v v="$v" 'BEGIN { print v / 1e6 }')"
    done
done

echo
echo "kernel $(uname -r), $(nproc) CPUs, $ROUNDS rounds of ${SECS}s iperf3 over a veth"
base=$(awk -v s="${bps[off]}" -v n="${runs[off]}" 'BEGIN { print s / n }')
for mode in "${MODES[@]}"; do
    avg=$(awk -v s="${bps[$mode]}" -v n="${runs[$mode]}" 'BEGIN { print s / n }')
    printf '%-9s throughput %8.0f Mbit/s  ratio to off %.3f\n' "$mode" \
        "$(awk -v v="$avg" 'BEGIN { print v / 1e6 }')" "$(awk -v a="$avg" -v b="$base" 'BEGIN { print a / b }')"
    [[ $mode == off ]] && continue
    for p in "${PROGS[@]}"; do
        ns=${prog_ns[$mode/$p]:-0} cnt=${prog_cnt[$mode/$p]:-0}
        printf '    %-24s runs %10d  avg %6.0f ns\n' "$p" "$cnt" \
            "$(awk -v a="$ns" -v b="$cnt" 'BEGIN { print b ? a / b : 0 }')"
    done
done
