#!/usr/bin/env bash
# Every series of a vanished interface goes, not only the packet path (issue 24). A veth into a
# netns with loss (tbf) gets retransmits, RTT and connect samples, a refused connect and held
# log lines; the veth is deleted. With --iface.stale-grace=5s every series naming it stays
# during the grace and leaves /metrics after it, and its keys leave the pinned maps
# (rtx_counts, lat_hist, conn_fail). Then a restart: an exporter killed with SIGKILL, an
# interface deleted while no daemon runs, a new exporter on the same --bpf.pin-path adopts the
# maps: the interface's series are there at start-up and go one grace after it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq python3 curl
grace=5
pin=/sys/fs/bpf/tif-test-$$
tif_cleanup_push "rm -rf '$pin'"
port=$(tif_free_port)
metrics="http://127.0.0.1:$port/metrics"
host_ino=$(stat -L -c %i /proc/self/ns/net)
TCP_FAMILIES=(traceiface_tcp_retransmit_segments_total traceiface_tcp_rtt_seconds_count
    traceiface_tcp_connect_latency_seconds_count traceiface_tcp_connect_failures_total
    traceiface_log_lines_suppressed_total)

start() {
    tif_start_exporter "$port" --bpf.pin-path="$pin" --iface.stale-grace=${grace}s \
        --log.event-rate=1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'; }
# Series lines naming IFACE, "family" per line ("-" while a scrape fails).
series_of() {
    local body
    body=$(curl -sf --max-time 5 "$metrics") || {
        echo -
        return 0
    }
    grep -v '^#' <<<"$body" | grep -F "iface=\"$1\"" | sed 's/{.*//' | sort -u || true
}
# Keys of a pinned map whose interface is IFINDEX in the host namespace (key: netns_ino u32,
# ifindex u32, name[16], ...; bpftool prints the bytes as hex).
keys_of() {
    bpftool map dump pinned "$pin/$1" -j | python3 -c '
import json, sys
ino, idx, n = int(sys.argv[1]), int(sys.argv[2]), 0
for e in json.load(sys.stdin):
    k = bytes(int(x, 16) for x in e["key"])
    if int.from_bytes(k[0:4], "little") == ino and int.from_bytes(k[4:8], "little") == idx:
        n += 1
print(n)' "$host_ino" "$2"
}
assert_keys() { # assert_keys IFINDEX OP N WHAT
    local m n
    for m in tcp_retransmit/rtx_counts tcp_latency/lat_hist tcp_latency/conn_fail; do
        n=$(keys_of "$m" "$1")
        if ! awk -v a="$n" -v b="$3" -v op="$2" 'BEGIN { exit !(op == "==" ? a == b : a >= b) }'; then
            echo "keys of $m:" >&2
            bpftool map dump pinned "$pin/$m" -j | jq -c '.[].key' >&2
            grep -v '"event"' "$TIF_TMP/exporter.out" | tail -20 >&2
        fi
        tif_assert_cmp "$n" "$2" "$3" "$4: keys of ifindex $1 in $m"
    done
}
assert_all_present() { # IFACE WHAT [EXTRA FAMILIES...]
    local iface=$1 what=$2 f have
    shift 2
    have=$(series_of "$iface")
    for f in "${TCP_FAMILIES[@]}" "$@"; do
        grep -qx "$f" <<<"$have" || tif_fail "$what: no $f{iface=\"$iface\"} (have: ${have//$'\n'/ })"
    done
}
refused_connect() { # IP: a connect the netns refuses (nothing listens on port 9)
    python3 -c '
import socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit("connect to port 9 was not refused")' "$1"
}
# wait_gone IFACE T0 WHAT: polls until no series names IFACE; checks it took at least the
# grace (less a sweep's rounding) and at most the grace plus two sweep intervals and slack.
wait_gone() {
    local iface=$1 t0=$2 what=$3 s have f n
    for _ in $(seq 80); do
        have=$(series_of "$iface")
        [[ -z $have ]] && break
        # The TCP series leave together: all or none of them (a scrape may fall between the
        # sweep's deletes in two maps: look again once).
        n=0
        for f in "${TCP_FAMILIES[@]}"; do grep -qx "$f" <<<"$have" && n=$((n + 1)); done
        if [[ $have != - ]] && ((n != 0 && n != ${#TCP_FAMILIES[@]})); then
            sleep 0.2
            have=$(series_of "$iface")
            n=0
            for f in "${TCP_FAMILIES[@]}"; do grep -qx "$f" <<<"$have" && n=$((n + 1)); done
            ((n == 0 || n == ${#TCP_FAMILIES[@]})) ||
                tif_fail "$what: some TCP series left before the rest after $(since "$t0") s (have: ${have//$'\n'/ })"
        fi
        sleep 0.25
    done
    s=$(since "$t0")
    [[ -z $have ]] || tif_fail "$what: series of $iface still there after $s s: ${have//$'\n'/ }"
    echo "$what: every series of $iface gone $s s after it vanished (grace ${grace} s)"
    tif_assert_cmp "$s" ">=" "$((grace - 1))" "$what: series gone before the grace"
    tif_assert_cmp "$s" "<=" "$((grace + 5))" "$what: series gone long after the grace"
}

# --- (1) an interface vanishes under a running exporter ----------------------------------
tif_make_netns_pair tss
dev=$TIF_HOST_IF
ifindex=$(cat "/sys/class/net/$dev/ifindex")
tif_tbf "$dev"
start
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 4 host
refused_connect "$TIF_NS_IP"
sleep 1 # the ring buffer's flush interval and a sweep
assert_all_present "$dev" "before the deletion" traceiface_packets_total traceiface_interface_info
assert_keys "$ifindex" ">=" 1 "before the deletion"
echo "series of $dev: $(series_of "$dev" | tr '\n' ' ')"
# Totals over every interface keep what the vanished one's keys held when they leave.
held() { tif_metric_sum "$metrics" '^traceiface_events_held_total\{probe="tcp_retransmit"\}'; }
held_before=$(held)
tif_assert_cmp "$held_before" ">" 0 "events held in the kernel for $dev (--log.event-rate=1)"
ip link del "$dev"
t0=$(now)
sleep 1
assert_all_present "$dev" "$(since "$t0") s into the grace"
sleep 2
assert_all_present "$dev" "$(since "$t0") s into the grace"
wait_gone "$dev" "$t0" "running exporter"
assert_keys "$ifindex" "==" 0 "after the grace"
deleted=$(tif_metric_sum "$metrics" \
    '^traceiface_bpf_map_keys_deleted_total\{map="rtx_counts",reason="grace"\}')
tif_assert_cmp "$deleted" ">=" 1 "traceiface_bpf_map_keys_deleted_total{map=rtx_counts,reason=grace}"
tif_assert_cmp "$(held)" ">=" "$held_before" "traceiface_events_held_total after $dev's keys left"
for m in rtx_counts lat_hist conn_fail; do
    echo "map $m: entries $(tif_metric_sum "$metrics" "^traceiface_bpf_map_entries\\{map=\"$m\"\\}")" \
        "of $(tif_metric_sum "$metrics" "^traceiface_bpf_map_max_entries\\{map=\"$m\"\\}")"
done

# --- (2) an interface vanishes while no daemon runs -------------------------------------
tif_make_netns_pair tsr
dev2=$TIF_HOST_IF
ifindex2=$(cat "/sys/class/net/$dev2/ifindex")
tif_tbf "$dev2"
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 3 host
refused_connect "$TIF_NS_IP"
sleep 1
assert_all_present "$dev2" "before the kill"
held_before_kill=$(held)
kill -KILL "$TIF_EXPORTER_PID"
wait "$TIF_EXPORTER_PID" 2>/dev/null || true
ip link del "$dev2"
assert_keys "$ifindex2" ">=" 1 "with no daemon running"
t1=$(now)
start
adopted=$(tif_metric_sum "$metrics" \
    '^traceiface_bpf_pinned_maps\{object="tcp_retransmit",outcome="adopted"\}')
tif_assert_cmp "$adopted" "==" 1 "the restarted exporter adopted rtx_counts"
# The held counts of part 1's interface, whose keys are gone, were kept in the pinned carry
# map: the total does not go back across the restart.
tif_assert_cmp "$(held)" ">=" "$held_before_kill" "traceiface_events_held_total after the restart"
# The held lines' series comes from the kernel's held count: the limiter's own is gone.
assert_all_present "$dev2" "at start-up"
wait_gone "$dev2" "$t1" "after a restart"
assert_keys "$ifindex2" "==" 0 "one grace after start-up"
tif_assert_cmp "$(held)" ">=" "$held_before_kill" "traceiface_events_held_total after $dev2's keys left"
rtx_assert_clean_stop
echo "PASS: a vanished interface's series stay for --iface.stale-grace, then go with their keys"
