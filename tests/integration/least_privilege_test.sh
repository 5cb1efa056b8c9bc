#!/usr/bin/env bash
# Least privilege: the exporter runs as an unprivileged user holding only CAP_BPF, CAP_PERFMON
# and CAP_NET_ADMIN, starts every probe, then keeps only CAP_NET_ADMIN (every thread), counts
# real retransmits, and watches an interface that appears after the drop. Killed with SIGKILL,
# a successor (same user, same pin directory) takes the tc programs over in place without
# CAP_SYS_ADMIN: the pinned tcx links (bpf_link_update), or the clsact filters (known by the
# program ids recorded in the pin directory) on kernels without tcx.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd setpriv jq
tif_make_netns_pair tlp
first_if=$TIF_HOST_IF first_ns=$TIF_NS first_ip=$TIF_NS_IP
tif_tbf "$first_if"
chmod 0711 "$TIF_TMP"
mkdir -m 0777 "$TIF_TMP/run"
# Pins in a bpffs of the test's own that the unprivileged user owns: /sys/fs/bpf is root's,
# mode 1700, so uid 65534 could not even reach a directory in it (a deployment runs as root
# without CAP_DAC_OVERRIDE, or mounts a bpffs for the daemon the same way).
mkdir "$TIF_TMP/bpffs"
mount -t bpf -o uid=65534,gid=65534,mode=0700 bpf "$TIF_TMP/bpffs"
tif_cleanup_push "umount '$TIF_TMP/bpffs'"
pin=$TIF_TMP/bpffs/traceiface
caps=+bpf,+perfmon,+net_admin
start_unprivileged() {
    port=$(tif_free_port)
    url="http://127.0.0.1:$port"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps" --ambient-caps="$caps" \
        "$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" \
        --span.socket="$TIF_TMP/run/span.sock" --iface.include='^tl[pq].*' --bpf.pin-path="$pin" \
        >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
    TIF_EXPORTER_PID=$!
    tif_cleanup_push "tif_kill_wait $TIF_EXPORTER_PID 5"
    tif_wait_http "$url/-/ready" 20 "$TIF_EXPORTER_PID" ||
        tif_fail "not ready as uid 65534: $(grep -m3 error "$TIF_TMP/exporter.out")"
}
start_unprivileged

status=/proc/$TIF_EXPORTER_PID/status
[[ $(awk '/^Uid:/ { print $2 }' "$status") == 65534 ]] || tif_fail "not running as uid 65534"
# Started with CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39); once every probe is loaded
# only CAP_NET_ADMIN is left (tc on interfaces that appear later), in every thread.
want=$((1 << 12))
for task in "/proc/$TIF_EXPORTER_PID"/task/*; do
    eff=$(awk '/^CapEff:/ { print $2 }' "$task/status")
    prm=$(awk '/^CapPrm:/ { print $2 }' "$task/status")
    amb=$(awk '/^CapAmb:/ { print $2 }' "$task/status")
    [[ $((16#$eff)) == "$want" && $((16#$prm)) == "$want" && $((16#$amb)) == 0 ]] ||
        tif_fail "thread ${task##*/}: effective $eff permitted $prm ambient $amb, want CAP_NET_ADMIN only"
done
grep -q '"msg":"capabilities dropped after start-up".*"effective":"CAP_NET_ADMIN"' \
    "$TIF_TMP/exporter.out" || tif_fail "no start-up line naming the capabilities kept"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" 'traceiface_capabilities\{set="effective"')" "==" 1 \
    "one effective capability in traceiface_capabilities"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    'traceiface_capabilities\{set="effective",capability="CAP_NET_ADMIN"\}')" "==" 1 \
    "traceiface_capabilities names CAP_NET_ADMIN"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    'traceiface_bpf_pinned_maps\{object="tc_stats",outcome="created"\}')" "==" 1 \
    "maps pinned without root"
for p in tcp_retransmit tcp_latency tc_packets span_socket; do
    tif_assert_cmp "$(tif_metric_sum "$url/metrics" "traceiface_probe_up\\{probe=\"$p\"\\}")" \
        "==" 1 "probe $p up without root"
done

rtx_iperf_upload "$first_ns" "$first_ip" 3 host
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    "traceiface_tcp_retransmit_segments_total\\{[^}]*iface=\"$first_if\"")" ">" 0 \
    "retransmits counted without root"

# An interface that appears later, after the drop, is watched too.
tif_make_netns_pair tlq
for _ in 1 2 3; do timeout 2 bash -c ">/dev/tcp/$TIF_NS_IP/9" 2>/dev/null || true; done
sleep 0.5
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    "traceiface_packets_total\\{[^}]*iface=\"$TIF_HOST_IF\"[^}]*direction=\"egress\"")" ">=" 3 \
    "packets on $TIF_HOST_IF, created after the capabilities were dropped"

# SIGKILL, then the same unprivileged user again: one program of ours per hook, the successor's.
before=$(tif_metric_sum "$url/metrics" \
    "traceiface_packets_total\\{[^}]*iface=\"$TIF_HOST_IF\"[^}]*direction=\"egress\"")
kill -KILL "$TIF_EXPORTER_PID"
wait "$TIF_EXPORTER_PID" 2>/dev/null || true
start_unprivileged
for dev in "$first_if" "$TIF_HOST_IF"; do
    for d in ingress egress; do
        tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 1 \
            "our programs on $dev $d after an unprivileged restart"
        tif_assert_cmp "$(iface_foreign "$dev" "$d")" "==" 0 \
            "other programs on $dev $d after an unprivileged restart"
    done
done
if [[ $(iface_attach_mode) == tcx ]]; then
    [[ $(grep -c '"msg":"interface watched".*"took_over_link":true' "$TIF_TMP/exporter.out") == 2 ]] ||
        tif_fail "the unprivileged successor did not take both interfaces' pinned links over"
fi
grep -q '"msg":"could not watch interface"' "$TIF_TMP/exporter.out" &&
    tif_fail "successor refused an interface: $(grep -m1 'could not watch' "$TIF_TMP/exporter.out")"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" "^traceiface_interfaces_watched ")" "==" 2 \
    "the successor watches both interfaces"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" \
    "traceiface_packets_total\\{[^}]*iface=\"$TIF_HOST_IF\"[^}]*direction=\"egress\"")" ">=" "$before" \
    "counters continued across the unprivileged restart"
rtx_assert_clean_stop
echo "PASS: uid 65534 starts with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, runs on CAP_NET_ADMIN alone"
