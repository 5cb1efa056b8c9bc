#!/usr/bin/env bash
# --log.event-rate: a retransmit burst on one veth (tbf loss under an iperf3 upload) with a
# tiny limit writes at most burst + rate x time lines for that interface, counts the rest in
# traceiface_log_lines_suppressed_total{iface,event}, and nothing goes missing: after the
# final drain, lines written + suppressed == events consumed + events held in the kernel (the
# probe's pre-limiter keeps events over the limit off the ring buffer). The segment counter
# still matches the kernel's TcpRetransSegs: held events are counted all the same. A reload
# to event-rate 0 lifts the limit in the kernel too: a second burst is held nowhere.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq curl
rate=2 burst=3 secs=6
tif_make_netns_pair tifl
tif_tbf "$TIF_HOST_IF"
port=$(tif_free_port)
# Our own pin directory: the counter map outlives the exporter, for the final account below.
pin=/sys/fs/bpf/tif-test-rate-$$
tif_cleanup_push "rm -rf '$pin'"
cfg=$TIF_TMP/traceiface.yml
write_config() { printf 'log:\n  event-rate: %s\n  event-burst: %s\n' "$1" "$2" >"$cfg"; }
write_config "$rate" "$burst"
start=$(date +%s.%N)
tif_start_exporter "$port" --config.file="$cfg" \
    --iface.include="$TIF_HOST_IF" --span.socket= --bpf.pin-path="$pin"
metrics=$TIF_EXPORTER_URL/metrics
sup_pat="traceiface_log_lines_suppressed_total\\{[^}]*iface=\"$TIF_HOST_IF\""

before_kernel=$(tif_nstat_retrans)
rtx_snapshot "$metrics" >"$TIF_TMP/before.txt"
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" "$secs" host
after_kernel=$(tif_nstat_retrans)
rtx_snapshot "$metrics" >"$TIF_TMP/after.txt"
rtx=$(tif_metric_sum "$metrics" "$RTX_METRIC\\{[^}]*iface=\"$TIF_HOST_IF\"")
suppressed=$(tif_metric_sum "$metrics" "$sup_pat")
end=$(date +%s.%N)
echo "retransmitted segments on $TIF_HOST_IF: $rtx; lines suppressed: $suppressed"
tif_assert_cmp "$rtx" ">=" 50 "the induced loss must make a retransmit burst"
tif_assert_cmp "$suppressed" ">" 0 "a burst over --log.event-rate=$rate is held back"
by_event=$(tif_metric_sum "$metrics" 'traceiface_log_lines_suppressed_total\{[^}]*event="tcp_retransmit"')
tif_assert_cmp "$by_event" ">=" "$suppressed" "the suppressed counter carries event=\"tcp_retransmit\""
held_metric=$(tif_metric_sum "$metrics" 'traceiface_events_held_total\{probe="tcp_retransmit"')
echo "events held in the kernel: $held_metric"
tif_assert_cmp "$held_metric" ">" 0 "a burst over the limit is held in the kernel"
tif_assert_cmp "$suppressed" ">=" "$held_metric" "held events count as suppressed lines"
rtx_assert_host_total "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$TIF_HOST_IF" \
    $((after_kernel - before_kernel))

# The lines for our interface stay within the bucket: burst + rate x elapsed (+1 s slack).
ours=$(jq -R --arg i "$TIF_HOST_IF" 'fromjson? | select(.event == "tcp_retransmit" and .iface == $i)' \
    -c "$TIF_TMP/exporter.out" | wc -l)
limit=$(awk -v s="$start" -v e="$end" -v r="$rate" -v b="$burst" 'BEGIN { printf "%d", b + r * (e - s + 1) }')
echo "lines for $TIF_HOST_IF: $ours (limit $limit)"
tif_assert_cmp "$ours" ">" 0 "some lines still get through"
tif_assert_cmp "$ours" "<=" "$limit" "lines for $TIF_HOST_IF exceed burst + rate x time"

# A reload to rate 0: nothing is held back any more, in the kernel or here.
write_config 0 0
reloads() { tif_metric_sum "$metrics" '^traceiface_config_last_reload_success_timestamp_seconds '; }
ts0=$(reloads)
sleep 1.1 # the success timestamp must move
kill -HUP "$TIF_EXPORTER_PID"
for ((i = 0; i < 50; i++)); do
    [[ $(reloads) != "$ts0" ]] && break
    sleep 0.1
done
[[ $(reloads) != "$ts0" ]] || tif_fail "the reload to event-rate 0 did not succeed"
rtx_snapshot "$metrics" >"$TIF_TMP/before2.txt"
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 3 host
rtx_snapshot "$metrics" >"$TIF_TMP/after2.txt"
rtx2=$(rtx_delta "$TIF_TMP/before2.txt" "$TIF_TMP/after2.txt" "$TIF_HOST_IF")
held2=$(tif_metric_sum "$metrics" 'traceiface_events_held_total\{probe="tcp_retransmit"')
suppressed2=$(tif_metric_sum "$metrics" "$sup_pat")
echo "after the reload: $rtx2 segments retransmitted; held $held_metric -> $held2," \
    "suppressed $suppressed -> $suppressed2"
tif_assert_cmp "$rtx2" ">=" 20 "the second upload must retransmit too"
tif_assert_cmp "$held2" "==" "$held_metric" "no event is held in the kernel at event-rate 0"
tif_assert_cmp "$suppressed2" "==" "$suppressed" "no line is held back at event-rate 0"

lost=$(tif_metric_sum "$metrics" 'traceiface_events_lost_total\{probe="tcp_retransmit"')
tif_assert_cmp "$lost" "==" 0 "a 256 KiB ring buffer holds these bursts"

# Close the accounts after the final drain (the retransmit reader is the only event source).
kill -TERM "$TIF_EXPORTER_PID"
wait "$TIF_EXPORTER_PID" || tif_fail "exporter exited $? on SIGTERM"
stopped=$(jq -R -c 'fromjson? | select(.msg == "stopped")' "$TIF_TMP/exporter.out")
[[ -n $stopped ]] || tif_fail "no 'stopped' line"
consumed=$(jq -r .events_consumed <<<"$stopped")
kept=$(jq -r .events_held <<<"$stopped")
held=$(jq -r .log_lines_suppressed <<<"$stopped")
lines=$(jq -R -c 'fromjson? | select(.event == "tcp_retransmit")' "$TIF_TMP/exporter.out" | wc -l)
echo "lines $lines + suppressed $held vs events consumed $consumed + held in the kernel $kept"
tif_assert_cmp "$held" ">=" "$suppressed" "the final suppressed count covers what was scraped"
tif_assert_cmp "$kept" ">=" "$held_metric" "the final held count covers what was scraped"
tif_assert_cmp "$((lines + held))" "==" "$((consumed + kept))" \
    "lines written + suppressed == events consumed + held in the kernel"
# Every retransmit the probe counted (its per-CPU map, pinned, read after the exit) reached
# user space or was held: nothing vanished between the counter and the ring buffer.
# tif_rtx_counts: segs[5], events[5], held, tokens, refill_jiffies (u64, little-endian).
read -r counted map_held < <(bpftool map dump pinned "$pin/tcp_retransmit/rtx_counts" -j |
    python3 -c '
import json, sys
def u64(b, i): return int.from_bytes(bytes(int(x, 16) for x in b[8 * i:8 * i + 8]), "little")
events = held = 0
for e in json.load(sys.stdin):
    for v in e["values"]:
        events += sum(u64(v["value"], 5 + k) for k in range(5))
        held += u64(v["value"], 10)
print(events, held)')
echo "retransmit events counted in the kernel: $counted, held there: $map_held"
tif_assert_cmp "$map_held" "==" "$kept" "the exit line reports the map's held events"
tif_assert_cmp "$counted" "==" "$((consumed + kept))" "every counted event consumed or held"
echo "PASS: --log.event-rate holds back and counts event lines"
