#!/usr/bin/env bash
# The span-context socket end to end. A client binds a trace id to a TCP connection, which
# then suffers real loss (tbf on a veth into a netns): the JSON retransmit lines carry the trace
# id, the OpenMetrics exposition carries it as an exemplar, and a real Prometheus with
# exemplar storage returns it from /api/v1/query_exemplars. The binding dies with the socket.
# Then bad input: malformed, truncated, oversize and garbage frames, a disallowed uid, spoofed
# sockets, a flood from many clients: each refused and counted, while /metrics and a
# well-behaved client keep being served.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/prometheus_lib.sh"

tif_require_root_bpf
tif_require_cmd jq curl setpriv
tool=$TIF_BUILD_DIR/tests/span_client_tool
[[ -x $tool ]] || tif_skip_or_fail "span_client_tool not built: $tool"

# uid 65534 must reach the socket to be refused by the allow-list, not by the file system.
chmod 0711 "$TIF_TMP"
sock=$TIF_TMP/span/span.sock
tif_make_netns_pair tsp
tif_tbf "$TIF_HOST_IF"
args=(--span.socket="$sock" --span.socket-mode=0666 --span.max-clients=16
    --span.client-rate=200 --span.ttl=30s)
# Keep the tc packet counters to our own device.
args+=(--iface.include="$TIF_HOST_IF")
port=$(tif_free_port)
tif_start_exporter "$port" "${args[@]}"
metrics=$TIF_EXPORTER_URL/metrics
[[ $(stat -c %a "$sock") == 666 ]] || tif_fail "socket mode $(stat -c %a "$sock"), want 666"
tif_start_prometheus "127.0.0.1:$port" --enable-feature=exemplar-storage

# The exporter's span_in_use gate (one u32), found by name among the maps it holds open.
gate() {
    local id
    id=$(sed -n 's/^map_id:[[:space:]]*//p' "/proc/$TIF_EXPORTER_PID"/fdinfo/* 2>/dev/null |
        sort -u | while read -r m; do
            bpftool map show id "$m" -j | jq -r --arg m "$m" 'select(.name == "span_in_use") | $m'
        done | head -n1)
    [[ -n $id ]] || tif_fail "the exporter holds no span_in_use map"
    local b v=0 i=0 # bpftool gives the u32 as four hex bytes, little-endian
    for b in $(bpftool map lookup id "$id" key 0 0 0 0 -j | jq -r '.value[]'); do
        v=$((v + (b << (8 * i++))))
    done
    echo "$v"
}
frames() { tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$1\"\\}"; }
gauge() { tif_metric_sum "$metrics" "^traceiface_span_bindings "; }

# ---- 1. a bound connection suffers loss --------------------------------------------------
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
span=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
sinkport=$(tif_free_port)
ip netns exec "$TIF_NS" "$tool" sink "$sinkport" >"$TIF_TMP/sink.log" 2>&1 &
sink=$!
tif_cleanup_push "tif_kill_wait $sink 2"
for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink.log" && break; sleep 0.1; done
"$tool" upload "$sock" "$TIF_NS_IP" "$sinkport" 6 "$trace" "$span" user.GetProfile \
    >"$TIF_TMP/upload.log" 2>&1 &
upload=$!
tif_cleanup_push "tif_kill_wait $upload 2"
tif_wait_metric gauge == 1 5
tif_wait_metric gate == 1 1 # the probes look bindings up only while the table holds one
wait "$upload" || tif_fail "upload failed: $(cat "$TIF_TMP/upload.log")"
cookie=$(awk '/^cookie/ { print $2 }' "$TIF_TMP/upload.log")
tif_wait_metric gauge == 0 5 # closed: the kernel deleted the binding
echo "bound connection (cookie $cookie) closed; binding gone"

lines=$(jq -R -s --arg t "$trace" '[split("\n")[] | select(length > 0) | fromjson? # a line being written may be partial
          | select(.event == "tcp_retransmit" and .trace_id == $t)] | length' \
    "$TIF_TMP/exporter.out")
tif_assert_cmp "$lines" ">=" 1 "retransmit lines carrying trace_id $trace"
bad=$(jq -R -s --arg t "$trace" --arg s "$span" --arg c "$cookie" '[split("\n")[]
          | select(length > 0) | fromjson? | select(.trace_id == $t)
          | select((.span_id == $s and .name == "user.GetProfile"
                    and (.sock_cookie | tostring) == $c) | not)] | length' "$TIF_TMP/exporter.out")
[[ $bad == 0 ]] || tif_fail "$bad bound lines lack span_id/name/sock_cookie"
echo "$lines retransmit lines carry trace_id $trace"

om=$(curl -sf -D "$TIF_TMP/om.headers" -H 'Accept: application/openmetrics-text; version=1.0.0' \
    "$metrics")
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$TIF_TMP/om.headers" ||
    tif_fail "no OpenMetrics content type"
[[ $(tail -n1 <<<"$om") == "# EOF" ]] || tif_fail "OpenMetrics exposition does not end in # EOF"
grep -q "^traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\",.*# {trace_id=\"$trace\"" \
    <<<"$om" || tif_fail "no exemplar with trace_id $trace on $TIF_HOST_IF"
grep -q "^traceiface_tcp_rtt_seconds_bucket{iface=\"$TIF_HOST_IF\",le=\"[^\"]*\"} [0-9.e+]* # {trace_id=\"$trace\"" \
    <<<"$om" || tif_fail "no RTT-bucket exemplar with trace_id $trace on $TIF_HOST_IF"
classic=$(curl -sf "$metrics") || tif_fail "/metrics failed"
[[ $classic == *' # {'* ]] && tif_fail "the classic text format grew exemplars"

deadline=$((SECONDS + 30))
q="traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\"}"
until curl -sf --data-urlencode "query=$q" --data-urlencode "start=$(($(date +%s) - 600))" \
    --data-urlencode "end=$(($(date +%s) + 60))" "$TIF_PROM_URL/api/v1/query_exemplars" |
    jq -e --arg t "$trace" '[.data[].exemplars[].labels.trace_id] | index($t)' >/dev/null; do
    ((SECONDS < deadline)) || tif_fail "Prometheus has no exemplar with trace_id $trace"
    sleep 1
done
q="traceiface_tcp_rtt_seconds_bucket{iface=\"$TIF_HOST_IF\"}"
curl -sf --data-urlencode "query=$q" --data-urlencode "start=$(($(date +%s) - 600))" \
    --data-urlencode "end=$(($(date +%s) + 60))" "$TIF_PROM_URL/api/v1/query_exemplars" |
    jq -e --arg t "$trace" '[.data[].exemplars[].labels.trace_id] | index($t)' >/dev/null ||
    tif_fail "Prometheus has no RTT exemplar with trace_id $trace"
echo "Prometheus returns trace_id $trace from /api/v1/query_exemplars (retransmits and RTT)"

# ---- 1b. the gate closes with the last binding and opens again for the next -------------
# The sweep (a quarter of --span.ttl) finds the table empty and closes the gate; from then
# on the probes skip the lookup. A new binding must open it before the kernel needs it.
tif_wait_metric gate == 0 15
trace2=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$tool" upload "$sock" "$TIF_NS_IP" "$sinkport" 3 "$trace2" "$span" user.GetProfile \
    >"$TIF_TMP/upload2.log" 2>&1 || tif_fail "second upload failed: $(cat "$TIF_TMP/upload2.log")"
lines2() {
    jq -R -s --arg t "$trace2" '[split("\n")[] | select(length > 0) | fromjson? # a line being written may be partial
          | select(.event == "tcp_retransmit" and .trace_id == $t)] | length' \
        "$TIF_TMP/exporter.out"
}
tif_wait_metric lines2 ">=" 1 5 # retransmit lines for the new trace id: the gate reopened in time
lines2=$(lines2)
echo "gate closed with the table empty; reopened: $lines2 lines carry trace_id $trace2"

# ---- 2. bad input -----------------------------------------------------------------------
declare -A before
for r in ok malformed oversize unauthorized spoofed rate_limited; do before[$r]=$(frames $r); done
fds_before=$(find "/proc/$TIF_EXPORTER_PID/fd" -mindepth 1 | wc -l)
raw() { "$tool" raw "$sock" "$@" >/dev/null; }
raw 0801 tcp                                       # bind without ids: malformed
raw 08011210aabbcc tcp                             # truncated inside trace_id: malformed
raw ffffffffffffffffffffff tcp                     # garbage: malformed
raw 0802 two                                       # two fds: malformed
raw @big tcp                                       # 600 bytes: oversize
raw x cookie                                       # restates another socket's cookie: spoofed
raw 0802 none                                      # no fd passed: spoofed
raw 0802 unix                                      # not a TCP socket: spoofed
setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" raw "$sock" 0802 tcp >/dev/null 2>&1 ||
    true                                           # not on the allow-list: unauthorized
# A well-behaved client connected before the flood is still served during it.
SPAN_TOOL_DELAY_MS=1500 "$tool" raw "$sock" @bind tcp >"$TIF_TMP/good.log" 2>&1 &
good=$!
sleep 0.3
"$tool" flood "$sock" 40 400 >"$TIF_TMP/flood.log" 2>&1 &
flood=$!
tif_cleanup_push "tif_kill_wait $flood 2"
tif_cleanup_push "tif_kill_wait $good 2"
sleep 0.5
curl -sf --max-time 2 -o /dev/null "$metrics" || tif_fail "/metrics not served during the flood"
wait "$flood" || tif_fail "flood client failed: $(cat "$TIF_TMP/flood.log")"
wait "$good" || tif_fail "good client failed: $(cat "$TIF_TMP/good.log")"
cat "$TIF_TMP/flood.log"

delta() { echo $(($(frames "$1") - ${before[$1]})); }
tif_wait_metric "delta malformed" == 4 5
tif_wait_metric "delta oversize" == 1 5
tif_wait_metric "delta spoofed" == 3 5
tif_wait_metric "delta unauthorized" == 1 5
tif_wait_metric "delta rate_limited" ">=" 24 5 # 25 connections over --span.max-clients, and frames
tif_wait_metric "delta ok" ">=" 1 5            # the good client (flood frames within the rate, too)
for r in ok malformed oversize unauthorized spoofed rate_limited; do
    printf '%s +%s  ' "$r" "$(delta $r)"
done
echo
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
curl -sf --max-time 2 -o /dev/null "$metrics" || tif_fail "/metrics not served after the flood"
# Flood clients vanish with frames still queued, refused ones are cut off: each leaves nothing
# behind, no client slot, no fd (a scrape's own socket may come and go).
clients() { tif_metric_sum "$metrics" "^traceiface_span_clients "; }
tif_wait_metric clients == 0 5
fds_after=$(find "/proc/$TIF_EXPORTER_PID/fd" -mindepth 1 | wc -l)
tif_assert_cmp "$fds_after" "<=" "$((fds_before + 2))" "exporter fds after the flood (before: $fds_before)"
echo "after the flood: 0 span clients, $fds_after fds (before: $fds_before)"
"$tool" raw "$sock" @bind tcp >/dev/null || tif_fail "a client after the flood was refused"

# ---- 3. shutdown: exit 0, the socket file removed --------------------------------------
kill -TERM "$TIF_EXPORTER_PID"
wait "$TIF_EXPORTER_PID" || tif_fail "exporter exited $? on SIGTERM"
[[ ! -e $sock ]] || tif_fail "span socket left behind"
echo "PASS: trace id $trace reached the JSON lines and Prometheus; bad input refused and counted"
