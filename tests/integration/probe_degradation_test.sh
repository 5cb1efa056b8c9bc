#!/usr/bin/env bash
# One probe fails to start, for a real reason (its socket path cannot be created): the daemon
# keeps going, traceiface_probe_up says which one is down, /-/ready answers 503 while /metrics
# and /-/healthy keep serving, and the other probes still count real retransmits.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_make_netns_pair tid
tif_tbf "$TIF_HOST_IF"
port=$(tif_free_port)
url="http://127.0.0.1:$port"
# /proc refuses new files: the span socket cannot be bound there.
"$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" \
    --span.socket=/proc/traceiface-test/span.sock --iface.include="^$TIF_HOST_IF$" --bpf.pin-path= \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
TIF_EXPORTER_PID=$!
tif_cleanup_push "tif_kill_wait $TIF_EXPORTER_PID 5"
tif_wait_http "$url/-/healthy" 20 "$TIF_EXPORTER_PID" || tif_fail "exporter did not come up"

code=$(curl -s -o /dev/null -w '%{http_code}' "$url/-/ready")
tif_assert_cmp "$code" "==" 503 "/-/ready while a probe is down"
up() { tif_metric_sum "$url/metrics" "traceiface_probe_up\\{probe=\"$1\"\\}"; }
tif_assert_cmp "$(up span_socket)" "==" 0 "probe_up of the failed probe"
for p in tcp_retransmit tcp_latency tc_packets; do
    tif_assert_cmp "$(up $p)" "==" 1 "probe_up of $p"
done
grep -q '"msg":"probe failed to start; continuing without it".*"probe":"span_socket"' \
    "$TIF_TMP/exporter.out" || tif_fail "no error line naming the failed probe"

rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 3 host
got=$(tif_metric_sum "$url/metrics" \
    "traceiface_tcp_retransmit_segments_total\\{[^}]*iface=\"$TIF_HOST_IF\"")
tif_assert_cmp "$got" ">" 0 "the other probes keep counting"
echo "PASS: span_socket down, the rest up and counting ($got retransmitted segments)"
