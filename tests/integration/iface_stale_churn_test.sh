#!/usr/bin/env bash
# Interface churn past the retransmit map's capacity (issue 24): with --tcp.max-iface-keys=24
# interfaces are created, given retransmits (and RTT and connect samples), and deleted, one
# after another, many more than the maps hold, while a live interface uploads through loss the
# whole time. The lifecycle deletes the dead keys (early, oldest-dead first, once a map nears
# capacity), so iface="/overflow" never appears (the probes see every socket of the machine:
# keys of other traffic, e.g. on lo, take room too) and nothing is counted as map-full; no series
# of a deleted interface outlives its grace; no counter of any scraped series goes backwards;
# and the live interface's count matches its namespace's TcpRetransSegs within 2%.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq python3 curl
grace=20
keys=24
rounds=${TIF_CHURN_ROUNDS:-32}
port=$(tif_free_port)
metrics="http://127.0.0.1:$port/metrics"

# The live interface: a container-like netns uploads to the host through loss on its eth0.
tif_make_netns_pair tcl
live=$TIF_HOST_IF live_ns=$TIF_NS live_ip=$TIF_HOST_IP
tif_tbf "$TIF_NS_IF" "$TIF_NS"
tif_start_exporter "$port" --tcp.max-iface-keys=$keys --iface.stale-grace=${grace}s

# Every 0.5 s a scrape of the TCP counters: "round series value" lines, for the checks below.
scrapes=$TIF_TMP/scrapes.txt
(
    r=0
    while :; do
        curl -sf --max-time 2 "$metrics" | awk -v r=$r '
            /^traceiface_tcp_retransmit_segments_total\{|^traceiface_tcp_connect_failures_total\{|^traceiface_tcp_(rtt|connect_latency)_seconds_count\{|^traceiface_log_lines_suppressed_total\{|^traceiface_aggregation_map_full_total\{/ {
                v = $NF; $NF = ""; print r, $0, v }' || true
        r=$((r + 1))
        sleep 0.5
    done
) >"$scrapes" &
scraper=$!
tif_cleanup_push "kill $scraper 2>/dev/null || true"

secs=$((rounds * 3 + 10))
before_kernel=$(tif_nstat_retrans "$live_ns")
rtx_snapshot "$metrics" >"$TIF_TMP/before.txt"
tif_iperf_server "" "$live_ip" -1
live_server=$TIF_IPERF_SERVER_PID
ip netns exec "$live_ns" timeout $((secs + 30)) iperf3 -c "$live_ip" -t "$secs" -C bbr \
    --connect-timeout 3000 >"$TIF_TMP/iperf-live.log" 2>&1 &
live_client=$!
tif_cleanup_push "kill $live_client 2>/dev/null || true"

gone_labels=()
start=$(date +%s)
for ((i = 0; i < rounds; i++)); do
    tif_make_netns_pair "c$i"
    dev=$TIF_HOST_IF
    ns_ino=$(stat -L -c %i "/run/netns/$TIF_NS")
    tif_tbf "$dev"
    ip netns exec "$TIF_NS" iperf3 -s -B "$TIF_NS_IP" -1 >"$TIF_TMP/iperf-s-$i.log" 2>&1 &
    spid=$!
    for _ in $(seq 50); do
        ip netns exec "$TIF_NS" ss -ltn | grep -q "$TIF_NS_IP:5201 " && break
        sleep 0.1
    done
    timeout 30 iperf3 -c "$TIF_NS_IP" -t 2 -C bbr --connect-timeout 3000 \
        >"$TIF_TMP/iperf-c-$i.log" 2>&1 || tif_fail "round $i: iperf3 failed"
    wait "$spid" 2>/dev/null || true
    ip link del "$dev"
    ip netns del "$TIF_NS"
    gone_labels+=("$dev" "netns-$ns_ino/")
done
echo "$rounds interfaces churned in $(($(date +%s) - start)) s"
wait "$live_client" || tif_fail "the live upload failed: $(tail -3 "$TIF_TMP/iperf-live.log")"
wait "$live_server" 2>/dev/null || true
after_kernel=$(tif_nstat_retrans "$live_ns")
rtx_snapshot "$metrics" >"$TIF_TMP/after.txt"

kernel=$((after_kernel - before_kernel))
ours=$(rtx_delta "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$live")
echo "live $live: netns TcpRetransSegs delta $kernel; traceiface $ours"
tif_assert_cmp "$kernel" ">=" 50 "the live interface's loss must make retransmits to compare"
rtx_assert_within "$ours" "$kernel" 0.02

# Past the grace (plus two sweeps): no series of a churned interface or namespace is left.
sleep $((grace + grace / 2 + 2))
body=$(curl -sf "$metrics")
for l in "${gone_labels[@]}"; do
    if grep -v '^#' <<<"$body" | grep -qF "iface=\"$l"; then
        grep -F "iface=\"$l" <<<"$body" >&2
        tif_fail "a series of the deleted $l is still there after the grace"
    fi
done
kill "$scraper" 2>/dev/null || true
wait "$scraper" 2>/dev/null || true

# Never an overflow, never map-full; the lifecycle had to evict early.
if grep -q 'iface="/overflow"' "$scrapes"; then
    grep 'iface="/overflow"' "$scrapes" | head >&2
    tif_fail 'iface="/overflow" appeared'
fi
full=$(tif_metric_sum "$metrics" '^traceiface_aggregation_map_full_total')
tif_assert_cmp "$full" "==" 0 "traceiface_aggregation_map_full_total"
for m in rtx_counts lat_hist conn_fail; do
    g=$(tif_metric_sum "$metrics" "^traceiface_bpf_map_keys_deleted_total\\{map=\"$m\",reason=\"grace\"\\}")
    c=$(tif_metric_sum "$metrics" "^traceiface_bpf_map_keys_deleted_total\\{map=\"$m\",reason=\"capacity\"\\}")
    e=$(tif_metric_sum "$metrics" "^traceiface_bpf_map_entries\\{map=\"$m\"\\}")
    echo "map $m: deleted after the grace $g, early at capacity $c; entries now $e of $keys"
done
tif_assert_cmp "$(tif_metric_sum "$metrics" '^traceiface_bpf_map_keys_deleted_total\{map="rtx_counts"')" \
    ">=" "$rounds" "rtx_counts keys of the churned interfaces deleted"

# No counter went backwards within a series, across every scrape.
back=$(awk '{ v = $NF; $NF = ""; $1 = ""; k = $0
              if ((k in last) && v + 0 < last[k] + 0) { print k, last[k], "->", v; n++ }
              last[k] = v }
            END { exit n > 0 }' "$scrapes") || {
    echo "$back" >&2
    tif_fail "a counter went backwards"
}
echo "$(awk '{ print $1 }' "$scrapes" | sort -u | wc -l) scrapes, $(wc -l <"$scrapes") samples checked"
rtx_assert_clean_stop
echo "PASS: $rounds interfaces churned through a $keys-key map: no overflow, no stale series"
