#!/usr/bin/env bash
# --log.event-rate: a retransmit burst on one veth (tbf loss under an iperf3 upload) with a
# tiny limit writes at most burst + rate x time lines for that interface, counts the rest in
# traceiface_log_lines_suppressed_total{iface,event}, and nothing goes missing: after the
# final drain, lines written + suppressed == events consumed.
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
start=$(date +%s.%N)
tif_start_exporter "$port" --log.event-rate="$rate" --log.event-burst="$burst" \
    --iface.include="$TIF_HOST_IF" --span.socket=
metrics=$TIF_EXPORTER_URL/metrics
sup_pat="traceiface_log_lines_suppressed_total\\{[^}]*iface=\"$TIF_HOST_IF\""

rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" "$secs" host
rtx=$(tif_metric_sum "$metrics" "$RTX_METRIC\\{[^}]*iface=\"$TIF_HOST_IF\"")
suppressed=$(tif_metric_sum "$metrics" "$sup_pat")
end=$(date +%s.%N)
echo "retransmitted segments on $TIF_HOST_IF: $rtx; lines suppressed: $suppressed"
tif_assert_cmp "$rtx" ">=" 50 "the induced loss must make a retransmit burst"
tif_assert_cmp "$suppressed" ">" 0 "a burst over --log.event-rate=$rate is held back"
by_event=$(tif_metric_sum "$metrics" 'traceiface_log_lines_suppressed_total\{[^}]*event="tcp_retransmit"')
tif_assert_cmp "$by_event" ">=" "$suppressed" "the suppressed counter carries event=\"tcp_retransmit\""

# The lines for our interface stay within the bucket: burst + rate x elapsed (+1 s slack).
ours=$(jq -R --arg i "$TIF_HOST_IF" 'fromjson? | select(.event == "tcp_retransmit" and .iface == $i)' \
    -c "$TIF_TMP/exporter.out" | wc -l)
limit=$(awk -v s="$start" -v e="$end" -v r="$rate" -v b="$burst" 'BEGIN { printf "%d", b + r * (e - s + 1) }')
echo "lines for $TIF_HOST_IF: $ours (limit $limit)"
tif_assert_cmp "$ours" ">" 0 "some lines still get through"
tif_assert_cmp "$ours" "<=" "$limit" "lines for $TIF_HOST_IF exceed burst + rate x time"

# Close the accounts after the final drain (the retransmit reader is the only event source).
kill -TERM "$TIF_EXPORTER_PID"
wait "$TIF_EXPORTER_PID" || tif_fail "exporter exited $? on SIGTERM"
stopped=$(jq -R -c 'fromjson? | select(.msg == "stopped")' "$TIF_TMP/exporter.out")
[[ -n $stopped ]] || tif_fail "no 'stopped' line"
consumed=$(jq -r .events_consumed <<<"$stopped")
held=$(jq -r .log_lines_suppressed <<<"$stopped")
lines=$(jq -R -c 'fromjson? | select(.event == "tcp_retransmit")' "$TIF_TMP/exporter.out" | wc -l)
echo "lines $lines + suppressed $held vs events consumed $consumed"
tif_assert_cmp "$held" ">=" "$suppressed" "the final suppressed count covers what was scraped"
tif_assert_cmp "$((lines + held))" "==" "$consumed" "lines written + suppressed == events consumed"
echo "PASS: --log.event-rate holds back and counts event lines"
