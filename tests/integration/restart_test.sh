#!/usr/bin/env bash
# Restarts with pinned maps (a private --bpf.pin-path): an exporter killed with SIGKILL leaves
# its pins and exactly one tc program per direction (a pinned tcx link, or a clsact filter;
# its tracepoint programs die with it); the next instance adopts the maps, takes the links or
# filters over in place (never two) and its counters continue: across the whole window,
# killed or not, they equal the kernel's own device statistics within 1%. SIGTERM detaches but
# keeps the map pins; a changed layout (--iface.max) replaces them; `traceiface cleanup` then
# leaves no pin, link, filter, qdisc or program behind. TIF_TC_ATTACH picks --bpf.tc-attach
# (default auto: tcx where the kernel has it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq
tif_make_netns_pair tifr
dev=$TIF_HOST_IF
pin=/sys/fs/bpf/tif-test-$$
tif_cleanup_push "rm -rf '$pin'"
mode=${TIF_TC_ATTACH:-auto}
ifindex=$(cat "/sys/class/net/$dev/ifindex")

start() { # start PORT [ARGS...]: an exporter on this test's device and pin directory
    local port=$1
    shift
    iface_start_exporter "$port" --bpf.pin-path="$pin" --bpf.tc-attach="$mode" "$@"
    metrics="$TIF_EXPORTER_URL/metrics"
    iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 1 10
}
ours() { iface_value "$metrics" traceiface_packets_total "$dev" "$1"; }
outcome() { tif_metric_sum "$metrics" "^traceiface_bpf_pinned_maps\\{object=\"$1\",outcome=\"$2\"\\}"; }
# The program id our link or filter on a hook runs, checked to be of the kind the exporter
# logged (the kernel's view, through `traceiface list --json`).
filter_prog() {
    local h
    h=$(iface_hook "$dev" "$1")
    [[ $(jq -r '.attached.via // empty' <<<"$h") == "$kind" ]] ||
        tif_fail "$dev $1: want our program through $kind: $h"
    jq -r '.attached.prog_id' <<<"$h"
}
assert_one_filter_each() {
    local d
    for d in ingress egress; do
        tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 1 "$1: our programs on $dev $d"
        tif_assert_cmp "$(iface_foreign "$dev" "$d")" "==" 0 "$1: other programs on $dev $d"
    done
}
# tcx: the links a killed instance leaves are pinned next to its maps.
link_pins() { find "$pin/tc_stats" -name "tcx_${ifindex}_*" 2>/dev/null | wc -l; }
# Program ids of an exporter, split into its tc programs and the rest.
prog_ids() { # prog_ids PID tc|other
    local id name
    for id in $(iface_prog_ids "$1"); do
        name=$(bpftool prog show id "$id" -j | jq -r .name)
        if [[ $name == tif_tc_* ]]; then [[ $2 == tc ]] && echo "$id"; else [[ $2 == other ]] && echo "$id"; fi
    done
    return 0
}
kill9() {
    kill -KILL "$TIF_EXPORTER_PID"
    wait "$TIF_EXPORTER_PID" 2>/dev/null || true
}

# --- 1: first instance, traffic, SIGKILL ---------------------------------------------------
start "$(tif_free_port)"
kind=$(iface_attach_mode)
[[ $mode == auto || $kind == "$mode" ]] || tif_fail "--bpf.tc-attach=$mode, but the exporter logged '$kind'"
echo "attached through $kind"
tif_assert_cmp "$(outcome tc_stats created)" "==" 1 "first start creates the pins"
sys0_rx=$(iface_sys "$dev" rx_packets) sys0_tx=$(iface_sys "$dev" tx_packets)
our0_rx=$(ours ingress) our0_tx=$(ours egress)
iface_iperf "$TIF_NS" "$TIF_NS_IP" 2
sleep 0.5
before_rx=$(ours ingress) before_tx=$(ours egress)
tif_assert_cmp "$before_tx" ">" 1000 "first instance counts"
tc1=$(prog_ids "$TIF_EXPORTER_PID" tc) other1=$(prog_ids "$TIF_EXPORTER_PID" other)
[[ -n $tc1 && -n $other1 ]] || tif_fail "first instance holds no programs"
kill9
for f in tc_stats/tc_counts tc_stats/tc_slots tc_stats/tc_slot_direct tc_stats/prog_ids \
    tcp_retransmit/rtx_counts tcp_latency/lat_hist tcp_latency/conn_fail; do
    [[ -e $pin/$f ]] || tif_fail "after SIGKILL: $pin/$f is not pinned"
done
assert_one_filter_each "after SIGKILL"
if [[ $kind == tcx ]]; then
    tif_assert_cmp "$(link_pins)" "==" 2 "after SIGKILL: pinned tcx links"
fi
for d in ingress egress; do
    grep -qx "$(filter_prog "$d")" <<<"$tc1" || tif_fail "after SIGKILL: $d filter is not the killed instance's"
done
# Its tracepoint programs were not pinned: they went with the process.
for id in $other1; do iface_wait_prog_gone "$id"; done
# Downtime traffic: the killed instance's filters still count it, into the pinned maps.
for _ in 1 2 3 4 5; do timeout 2 bash -c ">/dev/tcp/$TIF_NS_IP/9" 2>/dev/null || true; done

# --- 2: a new instance adopts ---------------------------------------------------------------
start "$(tif_free_port)"
tif_assert_cmp "$(outcome tc_stats adopted)" "==" 1 "second start adopts tc_stats"
tif_assert_cmp "$(outcome tcp_retransmit adopted)" "==" 1 "second start adopts tcp_retransmit"
grep -q '"msg":"interface watched".*"counters_continued":true' "$TIF_TMP/exporter.out" ||
    tif_fail "no 'interface watched' line with counters_continued"
assert_one_filter_each "after the restart"
if [[ $kind == tcx ]]; then
    grep -q '"msg":"interface watched".*"took_over_link":true' "$TIF_TMP/exporter.out" ||
        tif_fail "the successor did not take the pinned links over"
fi
tc2=$(prog_ids "$TIF_EXPORTER_PID" tc)
for d in ingress egress; do
    grep -qx "$(filter_prog "$d")" <<<"$tc2" || tif_fail "after the restart: $d filter is not the new instance's"
done
for id in $tc1; do iface_wait_prog_gone "$id"; done
tif_assert_cmp "$(ours ingress)" ">=" "$before_rx" "ingress counter continued"
tif_assert_cmp "$(ours egress)" ">=" "$((before_tx + 5))" "egress counter continued (with the downtime's SYNs)"
mid_sys_rx=$(iface_sys "$dev" rx_packets) mid_sys_tx=$(iface_sys "$dev" tx_packets)
mid_rx=$(ours ingress) mid_tx=$(ours egress)
iface_iperf "$TIF_NS" "$TIF_NS_IP" 2 -R
sleep 0.5
end_rx=$(ours ingress) end_tx=$(ours egress)
end_sys_rx=$(iface_sys "$dev" rx_packets) end_sys_tx=$(iface_sys "$dev" tx_packets)
within() { # within OURS KERNEL WHAT: 1% apart at most, and real traffic
    echo "$3: kernel $2, traceiface $1"
    tif_assert_cmp "$2" ">" 100 "$3: traffic must flow"
    awk -v o="$1" -v k="$2" 'BEGIN { d = o - k; if (d < 0) d = -d; exit !(d <= 0.01 * k) }' ||
        tif_fail "$3: traceiface $1 vs kernel $2: more than 1% apart"
}
within "$(awk -v a="$end_rx" -v b="$mid_rx" 'BEGIN { printf "%.0f", a - b }')" \
    "$((end_sys_rx - mid_sys_rx))" "rx after the restart"
within "$(awk -v a="$end_tx" -v b="$mid_tx" 'BEGIN { printf "%.0f", a - b }')" \
    "$((end_sys_tx - mid_sys_tx))" "tx after the restart"
within "$(awk -v a="$end_rx" -v b="$our0_rx" 'BEGIN { printf "%.0f", a - b }')" \
    "$((end_sys_rx - sys0_rx))" "rx across the SIGKILL"
within "$(awk -v a="$end_tx" -v b="$our0_tx" 'BEGIN { printf "%.0f", a - b }')" \
    "$((end_sys_tx - sys0_tx))" "tx across the SIGKILL"

# --- 3: SIGTERM detaches everything but keeps the pins --------------------------------------
all2=$(iface_prog_ids "$TIF_EXPORTER_PID")
kill -TERM "$TIF_EXPORTER_PID"
rc=0
wait "$TIF_EXPORTER_PID" || rc=$?
tif_assert_cmp "$rc" "==" 0 "exit code on SIGTERM"
for d in ingress egress; do
    tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 0 "after SIGTERM: our programs on $d"
done
tif_assert_cmp "$(link_pins)" "==" 0 "after SIGTERM: link pins"
for id in $all2; do iface_wait_prog_gone "$id"; done
[[ -e $pin/tc_stats/tc_counts ]] || tif_fail "SIGTERM removed the pins"

# --- 4: another layout replaces the pins; a killed instance is cleaned up --------------------
start "$(tif_free_port)" --iface.max=16
tif_assert_cmp "$(outcome tc_stats replaced)" "==" 1 "--iface.max changed: tc_stats replaced"
grep -q '"msg":"pinned maps replaced.*"reason":"tc_slots: max_entries' "$TIF_TMP/exporter.out" ||
    tif_fail "no log line saying why the pins were replaced"
tif_assert_cmp "$(ours egress)" "<" "$end_tx" "replaced maps start from zero"
all3=$(iface_prog_ids "$TIF_EXPORTER_PID")
kill9
assert_one_filter_each "before cleanup"
"$TIF_BUILD_DIR/traceiface" cleanup --bpf.pin-path="$pin" >"$TIF_TMP/cleanup.out" 2>&1 ||
    tif_fail "cleanup failed: $(cat "$TIF_TMP/cleanup.out")"
cat "$TIF_TMP/cleanup.out"
[[ ! -e $pin ]] || tif_fail "cleanup left $pin: $(ls -R "$pin")"
for d in ingress egress; do
    tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 0 "after cleanup: our programs on $d"
done
if [[ $kind == tcx ]]; then
    tif_assert_cmp "$(grep -c '^removed tcx link ' "$TIF_TMP/cleanup.out" || true)" "==" 2 \
        "cleanup names the two links it removed"
fi
tc qdisc show dev "$dev" | grep -q clsact && tif_fail "cleanup left the clsact qdisc on $dev"
for id in $all3; do iface_wait_prog_gone "$id"; done
echo "PASS: SIGKILL -> adopted (no duplicate filter, counters continued within 1% of the kernel);" \
    "SIGTERM keeps pins; layout change replaces them; cleanup leaves nothing"
