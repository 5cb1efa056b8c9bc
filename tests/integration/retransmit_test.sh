#!/usr/bin/env bash
# Real retransmits on a real veth: a tiny tbf rate on the host side of a veth pair drops
# segments of an iperf3 upload into a fresh netns. The oracle is the kernel's own
# TcpRetransSegs; the exporter's counter for that veth must match it within 2%, no other
# interface may gain what the kernel does not account for, every retransmit must be one JSON
# line, a real Prometheus must see a positive rate, and promtool must find the exposition clean.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/prometheus_lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_make_netns_pair tif
tif_tbf "$TIF_HOST_IF"
port=$(tif_free_port)
# Every retransmit must be a line here, so no line limit: BBR's loss bursts can pass the default
# 100 lines/s (held-back lines are counted, and log_rate_limit_test covers that; seen once in
# CI: lines for 1314 of 1386 segments).
tif_start_exporter "$port" --log.event-rate=0
metrics="http://127.0.0.1:$port/metrics"
tif_start_prometheus "127.0.0.1:$port"

before_kernel=$(tif_nstat_retrans)
rtx_snapshot "$metrics" >"$TIF_TMP/before.txt"
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 8 host
after_kernel=$(tif_nstat_retrans)
rtx_snapshot "$metrics" >"$TIF_TMP/after.txt"

kernel=$((after_kernel - before_kernel))
ours=$(rtx_delta "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$TIF_HOST_IF")
echo "kernel TcpRetransSegs delta: $kernel; traceiface{iface=$TIF_HOST_IF}: $ours"
tif_assert_cmp "$kernel" ">=" 50 "the induced loss must make retransmits to compare"
rtx_assert_host_total "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$TIF_HOST_IF" "$kernel"
rtx_assert_no_stray "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$TIF_HOST_IF" "$((kernel - ours))"

# Every retransmit is one JSON line, unless the kernel counted it as lost.
lost=$(tif_metric_sum "$metrics" 'traceiface_events_lost_total\{[^}]*probe="tcp_retransmit"')
tif_assert_cmp "$lost" "==" 0 "no event lost at this rate"
rtx_assert_json_lines "$TIF_TMP/exporter.out" "$TIF_HOST_IF" "$TIF_HOST_IP" "$TIF_NS_IP" "$ours"

# A real Prometheus scraped it, and PromQL sees the rate.
tif_prom_wait_positive "rate(traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\"}[20s])" 30
tif_promtool_check "$metrics"

# SIGTERM: detach everything, exit 0.
rtx_assert_clean_stop
echo "PASS: retransmit counts match the kernel on $TIF_HOST_IF ($ours segments)"
