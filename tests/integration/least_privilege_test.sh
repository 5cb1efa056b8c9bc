#!/usr/bin/env bash
# Least privilege: the exporter runs as an unprivileged user holding only CAP_BPF, CAP_PERFMON
# and CAP_NET_ADMIN, starts every probe, counts real retransmits, and watches an interface that
# appears afterwards.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_require_cmd setpriv
tif_make_netns_pair tlp
first_if=$TIF_HOST_IF first_ns=$TIF_NS first_ip=$TIF_NS_IP
tif_tbf "$first_if"
chmod 0711 "$TIF_TMP"
mkdir -m 0777 "$TIF_TMP/run"
port=$(tif_free_port)
url="http://127.0.0.1:$port"
caps=+bpf,+perfmon,+net_admin
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps" --ambient-caps="$caps" \
    "$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" \
    --span.socket="$TIF_TMP/run/span.sock" --iface.include='^tl[pq].*' \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
TIF_EXPORTER_PID=$!
tif_cleanup_push "tif_kill_wait $TIF_EXPORTER_PID 5"
tif_wait_http "$url/-/ready" 20 "$TIF_EXPORTER_PID" ||
    tif_fail "not ready as uid 65534: $(grep -m3 error "$TIF_TMP/exporter.out")"

status=/proc/$TIF_EXPORTER_PID/status
[[ $(awk '/^Uid:/ { print $2 }' "$status") == 65534 ]] || tif_fail "not running as uid 65534"
eff=$(awk '/^CapEff:/ { print $2 }' "$status")
prm=$(awk '/^CapPrm:/ { print $2 }' "$status")
# CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39): nothing else.
want=$(((1 << 12) | (1 << 38) | (1 << 39)))
[[ $((16#$eff)) == "$want" && $((16#$prm)) == "$want" ]] ||
    tif_fail "capabilities: effective $eff permitted $prm, want CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"
for p in tcp_retransmit tcp_latency tc_packets span_socket; do
    tif_assert_cmp "$(tif_metric_sum "$url/metrics" "traceiface_probe_up\\{probe=\"$p\"\\}")" \
        "==" 1 "probe $p up without root"
done

rtx_iperf_upload "$first_ns" "$first_ip" 3 host
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    "traceiface_tcp_retransmit_segments_total\\{[^}]*iface=\"$first_if\"")" ">" 0 \
    "retransmits counted without root"

# An interface that appears later is watched too.
tif_make_netns_pair tlq
for _ in 1 2 3; do timeout 2 bash -c ">/dev/tcp/$TIF_NS_IP/9" 2>/dev/null || true; done
sleep 0.5
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    "traceiface_packets_total\\{[^}]*iface=\"$TIF_HOST_IF\"[^}]*direction=\"egress\"")" ">=" 3 \
    "packets on $TIF_HOST_IF, created after start"
rtx_assert_clean_stop
echo "PASS: uid 65534 with only CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"
