#!/usr/bin/env bash
# --otlp.logs end to end, against the stand-in receiver (otlp_receiver.py): real retransmits
# (tbf on a veth into a netns), one connection bound to a trace through the span socket. Every
# /v1/logs body is decoded with `protoc --decode_raw` by the published OTLP field numbers
# (and once with traceiface's own .proto). Checked: the request (path, protobuf, the
# configured header), the resource and scope; the LogRecords are exactly the tcp_retransmit
# lines the exporter wrote, one for one (body = the line), none of the lines the rate limiter
# held back; the iface attribute is the veth; the bound connection's records carry the bound
# trace and span ids as bytes; traceiface_otlp_log_records_exported_total says the same. Then
# the receiver down (records dropped and counted, the exporter healthy, /metrics quick), back
# (exported again), a reload that turns the export off and on, and exit 0 on SIGTERM.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"
source "$here/otlp_lib.sh"

tif_require_root_bpf
tif_require_cmd protoc python3 curl iperf3 jq
tool=$TIF_BUILD_DIR/tests/span_client_tool
[[ -x $tool ]] || tif_skip_or_fail "span_client_tool not built: $tool"
recv_py=$here/otlp_receiver.py
proto_dir=$TIF_REPO_ROOT/proto/otlp

log_bodies() { grep -l '"path": "/v1/logs"' "$1"/*.json 2>/dev/null | wc -l; }
# Every LogRecord received so far, one JSON object a line (otlp_receiver.py log_record_json).
records() { timeout 60 python3 "$recv_py" logs "$1"; }
# The tcp_retransmit lines the exporter wrote, as written (not re-encoded: the bodies must equal
# them byte for byte). A line still being written has no closing brace yet: skipped.
rtx_lines() { grep -a '^{.*"event":"tcp_retransmit".*}$' "$TIF_TMP/exporter.out" || true; }
metric() { tif_metric_sum "$metrics" "$1"; }
exported() { metric '^traceiface_otlp_log_records_exported_total'; }
dropped() { metric "^traceiface_otlp_log_records_dropped_total\\{reason=\"$1\"\\}"; }
dropped_all() { metric '^traceiface_otlp_log_records_dropped_total'; }
queued() { metric '^traceiface_otlp_log_queue_length'; }
# The account is settled when every line written is exported, dropped or still queued, and
# the queue is empty: lines = exported + dropped.
settled() {
    local lines ex dr q
    lines=$(rtx_lines | wc -l)
    ex=$(exported)
    dr=$(dropped_all)
    q=$(queued)
    awk -v l="$lines" -v e="$ex" -v d="$dr" -v q="$q" 'BEGIN { exit !(q == 0 && l == e + d) }'
}
# wait_quiet SECS: until no new line for 3 s. A closed upload's socket may go on sending (and
# retransmitting) what its buffer still held for a while after the process is gone.
wait_quiet() {
    local end=$((SECONDS + $1)) last=-1 since=$SECONDS n
    while :; do
        n=$(rtx_lines | wc -l)
        [[ $n != "$last" ]] && last=$n since=$SECONDS
        ((SECONDS - since >= 3)) && return 0
        ((SECONDS < end)) || tif_fail "retransmit lines still coming after $1 s"
        sleep 0.2
    done
}
wait_settled() {
    wait_quiet 30
    local end=$((SECONDS + $1))
    until settled; do
        ((SECONDS < end)) || tif_fail "not settled within $1 s: $(rtx_lines | wc -l) lines, \
exported $(exported), dropped $(dropped_all), queued $(queued)"
        sleep 0.2
    done
}
# upload SECS [TRACE SPAN]: a bound connection (span_client_tool) into the netns for SECS s;
# without ids, a plain iperf3 upload.
upload() {
    if (($# == 1)); then
        rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" "$1" host
        return
    fi
    local sinkport sink
    sinkport=$(tif_free_port)
    ip netns exec "$TIF_NS" "$tool" sink "$sinkport" >"$TIF_TMP/sink.log" 2>&1 &
    sink=$!
    tif_cleanup_push "tif_kill_wait $sink 2"
    for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink.log" && break; sleep 0.1; done
    timeout 60 "$tool" upload "$TIF_TMP/span.sock" "$TIF_NS_IP" "$sinkport" "$1" "$2" "$3" \
        otlp.logs.test >"$TIF_TMP/upload.log" 2>&1 ||
        tif_fail "upload failed: $(cat "$TIF_TMP/upload.log")"
    tif_kill_wait "$sink" 2
}

tif_make_netns_pair tol
tif_tbf "$TIF_HOST_IF"
rport=$(tif_free_port)
recv=$TIF_TMP/recv
start_receiver "$recv" "$rport"

# Through the config file, so its keys are checked too, and a reload can turn the export off.
cfg=$TIF_TMP/config.yaml
write_config() { # PORT LOGS
    cat >"$cfg" <<YAML
otlp:
  endpoint: http://127.0.0.1:$1
  interval: 1s
  header: [Authorization=Bearer otlp-logs-token]
  logs: $2
log:
  event-rate: 20
YAML
}
write_config "$rport" true
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg" --iface.include="^$TIF_HOST_IF$"
metrics=$TIF_EXPORTER_URL/metrics
grep -q '"msg":"OTLP log export on"' "$TIF_TMP/exporter.out" || tif_fail "no 'OTLP log export on' line"

# ---- 1. real retransmits: a plain upload and one bound to a trace ---------------------------
upload 3
# First byte below 8: decode_raw can then never take the ids for a message (otlp_receiver.py).
trace=0$((RANDOM % 8))$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')
span=0$((RANDOM % 8))$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n')
upload 5 "$trace" "$span"
sleep 0.5 # the ring's last events: the flush interval is 100 ms
wait_settled 15
tif_assert_cmp "$(dropped_all)" "==" 0 "nothing dropped while the receiver is up"
records "$recv" >"$TIF_TMP/records.jsonl"
rtx_lines >"$TIF_TMP/lines.jsonl"
nlines=$(wc -l <"$TIF_TMP/lines.jsonl")
nrec=$(jq -c 'select(.attributes.event == "tcp_retransmit")' "$TIF_TMP/records.jsonl" | wc -l)
tif_assert_cmp "$nlines" ">=" 10 "the tbf loss must make retransmit lines"
tif_assert_cmp "$nrec" "==" "$nlines" "LogRecords with event=tcp_retransmit vs the lines written"
tif_assert_cmp "$(exported)" "==" "$nrec" "traceiface_otlp_log_records_exported_total vs received"
# One for one: each record's body is a line the exporter wrote, byte for byte.
if ! diff <(jq -r '.body' "$TIF_TMP/records.jsonl" | sort) <(sort "$TIF_TMP/lines.jsonl") \
    >"$TIF_TMP/body.diff"; then
    tif_fail "record bodies differ from the lines written: $(head -c 2000 "$TIF_TMP/body.diff")"
fi
# The rate limiter held lines back (not written): those must not be exported either.
suppressed=$(metric "^traceiface_log_lines_suppressed_total\\{.*iface=\"$TIF_HOST_IF\"")
tif_assert_cmp "$suppressed" ">=" 1 "lines held back by --log.event-rate=20 (else the check above shows nothing about them)"
echo "lines written $nlines = LogRecords $nrec = exported_total $(exported); held back by the limiter: $suppressed"

# ---- 2. the request, resource and scope -----------------------------------------------------
body=$(grep -l '"path": "/v1/logs"' "$recv"/*.json | head -n1)
[[ $(jq -r '.headers["content-type"]' "$body") == application/x-protobuf ]] ||
    tif_fail "content-type: $(jq -c .headers "$body")"
[[ $(jq -r .headers.authorization "$body") == "Bearer otlp-logs-token" ]] ||
    tif_fail "authorization header: $(jq -c .headers "$body")"
res=$(timeout 30 python3 "$recv_py" resource "${body%.json}.bin")
[[ $(jq -r '.["service.name"]' <<<"$res") == traceiface ]] || tif_fail "resource: $res"
[[ $(jq -r '.["host.name"]' <<<"$res") == "$(hostname)" ]] || tif_fail "host.name: $res"
jq -e -s 'all(.scope == "traceiface")' "$TIF_TMP/records.jsonl" >/dev/null ||
    tif_fail "scope name not traceiface"
# And what traceiface's own .proto makes of the same body (the schema the exporter encodes by).
protoc --proto_path="$proto_dir" --decode=opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest \
    otlp_logs_service.proto <"${body%.json}.bin" >"$TIF_TMP/decoded.txt" ||
    tif_fail "protoc --decode with proto/otlp failed"
grep -q 'severity_number: SEVERITY_NUMBER_INFO' "$TIF_TMP/decoded.txt" ||
    tif_fail "protoc --decode: no INFO record: $(head -30 "$TIF_TMP/decoded.txt")"
echo "resource: $res; path /v1/logs, protobuf, header sent"

# ---- 3. each record's fields against its line -----------------------------------------------
bad=$(jq -c -s --arg i "$TIF_HOST_IF" '[.[] | (.body | fromjson) as $l | select(
        (.attributes.iface == $l.iface and .attributes.event == "tcp_retransmit"
         and .event_name == "tcp_retransmit"
         and .attributes.saddr == $l.saddr and .attributes.daddr == $l.daddr
         and .attributes.sport == $l.sport and .attributes.dport == $l.dport
         and .attributes.segs == $l.segs and .attributes.kind == $l.kind
         and .severity_number == 9 and .severity_text == "info"
         and .trace_id == ($l.trace_id // "") and .span_id == ($l.span_id // "")
         and .observed_time_unix_nano >= .time_unix_nano
         and .time_unix_nano > 0) | not)] | .[0:3]' "$TIF_TMP/records.jsonl")
[[ $bad == "[]" ]] || tif_fail "records whose fields differ from their line: $bad"
# Times: time_unix_nano is the line's ts to the nanosecond.
python3 - "$TIF_TMP/records.jsonl" <<'PY' || tif_fail "time_unix_nano differs from the line's ts"
import calendar, json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    ts = json.loads(r["body"])["ts"]  # 2026-11-24T16:10:43.109797845Z
    s = calendar.timegm(__import__("time").strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    want = s * 10**9 + int(ts[20:29])
    assert r["time_unix_nano"] == want, (r["time_unix_nano"], ts)
PY
on_veth=$(jq -c --arg i "$TIF_HOST_IF" 'select(.attributes.iface == $i)' "$TIF_TMP/records.jsonl" | wc -l)
lines_veth=$(jq -c --arg i "$TIF_HOST_IF" 'select(.iface == $i)' "$TIF_TMP/lines.jsonl" | wc -l)
tif_assert_cmp "$on_veth" "==" "$lines_veth" "records with iface=$TIF_HOST_IF vs its lines"
tif_assert_cmp "$on_veth" ">=" 10 "records with iface=$TIF_HOST_IF"

# ---- 4. the bound connection: its records carry the trace the client bound ------------------
bound=$(jq -c --arg t "$trace" 'select(.trace_id == $t)' "$TIF_TMP/records.jsonl" | wc -l)
bound_lines=$(jq -c --arg t "$trace" 'select(.trace_id == $t)' "$TIF_TMP/lines.jsonl" | wc -l)
tif_assert_cmp "$bound" ">=" 1 "LogRecords carrying trace_id $trace"
tif_assert_cmp "$bound" "==" "$bound_lines" "bound records vs bound lines"
jq -e -s --arg s "$span" --arg i "$TIF_HOST_IF" --arg t "$trace" \
    '[.[] | select(.trace_id == $t)] | all(.span_id == $s and .attributes.iface == $i)' \
    "$TIF_TMP/records.jsonl" >/dev/null || tif_fail "bound records: wrong span_id or iface"
echo "$bound LogRecords carry trace_id $trace and span_id $span as bytes (iface $TIF_HOST_IF)"

# ---- 5. the receiver down: records dropped and counted, the exporter healthy ----------------
lines0=$(rtx_lines | wc -l)
ex0=$(exported)
tif_kill_wait "$RECV_PID" 2
fails0=$(metric '^traceiface_otlp_log_exports_total\{result="error"\}')
upload 3
tif_wait_metric "dropped export_failed" ">=" 1 10
t0=$(date +%s%N)
curl -sf --max-time 2 -o /dev/null "$TIF_EXPORTER_URL/-/healthy" || tif_fail "not healthy while the receiver is down"
curl -sf --max-time 2 -o /dev/null "$metrics" || tif_fail "/metrics does not answer while the receiver is down"
ms=$((($(date +%s%N) - t0) / 1000000))
tif_assert_cmp "$ms" "<" 1000 "/-/healthy and /metrics while the receiver is down took ${ms} ms"
tif_alive "$TIF_EXPORTER_PID" || tif_fail "the exporter died"
wait_settled 15
down_drop=$(dropped export_failed)
fails=$(metric '^traceiface_otlp_log_exports_total\{result="error"\}')
tif_assert_cmp "$fails" ">" "$fails0" "failed log requests counted"
lines_now=$(rtx_lines | wc -l)
tif_assert_cmp "$((lines_now - lines0))" ">=" 1 "lines written while the receiver was down"
tif_assert_cmp "$(exported)" "==" "$ex0" "nothing exported while the receiver was down"
tif_assert_cmp "$down_drop" "==" "$((lines_now - lines0))" "dropped{export_failed} = the lines of the outage"
fail_lines=$(grep -c '"OTLP log export failed' "$TIF_TMP/exporter.out" || true)
tif_assert_cmp "$fail_lines" "==" 1 "failures logged once a minute, not once a request"
echo "receiver down: $down_drop records dropped (export_failed) in $fails failed requests, 1 log line, healthy in ${ms} ms"

# ---- 6. back: new lines are exported again --------------------------------------------------
start_receiver "$recv" "$rport"
ex0=$(exported)
upload 3
wait_settled 15
tif_assert_cmp "$(exported)" ">" "$ex0" "exported again after the receiver came back"
tif_assert_cmp "$(dropped export_failed)" "==" "$down_drop" "no drop once the receiver is back"
grep -q '"OTLP log export succeeded again"' "$TIF_TMP/exporter.out" || tif_fail "no recovery line"
total_lines=$(rtx_lines | wc -l)
records "$recv" | jq -c 'select(.attributes.event == "tcp_retransmit")' >"$TIF_TMP/records2.jsonl"
tif_assert_cmp "$(wc -l <"$TIF_TMP/records2.jsonl")" "==" "$((total_lines - down_drop))" \
    "records received = lines - dropped"
echo "receiver back: exported $(exported) of $total_lines lines in all, $down_drop dropped during the outage"

# ---- 6b. a partial success: the refused records are counted as dropped (rejected) -----------
echo "partial 1" >"$recv/answer.logs" # each /v1/logs answer refuses one record
ok0=$(metric '^traceiface_otlp_log_exports_total\{result="ok"\}')
rej0=$(dropped rejected)
ex0=$(exported)
lines0=$(rtx_lines | wc -l)
upload 3
wait_settled 15
rm -f "$recv/answer.logs"
oks=$(($(metric '^traceiface_otlp_log_exports_total\{result="ok"\}') - ok0))
rej=$(($(dropped rejected) - rej0))
tif_assert_cmp "$oks" ">=" 1 "accepted log requests during the partial successes"
tif_assert_cmp "$rej" "==" "$oks" "one refused record counted per request"
tif_assert_cmp "$(($(exported) - ex0))" "==" "$(($(rtx_lines | wc -l) - lines0 - rej))" \
    "exported = lines - refused"
grep -q '"OTLP receiver refused part of the log records".*"rejected_log_records":1' \
    "$TIF_TMP/exporter.out" || tif_fail "no log line for the partial success"
echo "partial success: $rej records refused in $oks requests, counted as dropped{reason=rejected}"

# ---- 7. a reload turns the export off (metrics go on), then on again ------------------------
write_config "$rport" false
kill -HUP "$TIF_EXPORTER_PID"
tif_wait_metric "tif_metric_sum $metrics ^traceiface_config_last_reload_successful" == 1 5
for _ in $(seq 50); do grep -q '"msg":"OTLP log export off"' "$TIF_TMP/exporter.out" && break; sleep 0.1; done
grep -q '"msg":"OTLP log export off"' "$TIF_TMP/exporter.out" || tif_fail "no 'OTLP log export off' line"
sleep 1.5 # whatever was queued at the reload goes out
nlog=$(log_bodies "$recv")
off_from=$(rtx_lines | wc -l)
ex1=$(exported)
dr1=$(dropped_all)
upload 3
wait_quiet 30
tif_assert_cmp "$(log_bodies "$recv")" "==" "$nlog" "no /v1/logs request while --otlp.logs is off"
tif_assert_cmp "$(exported)" "==" "$ex1" "nothing exported while off"
tif_assert_cmp "$(dropped_all)" "==" "$dr1" "nothing dropped while off (not queued at all)"
grep -q '"path": "/v1/metrics"' "$(find "$recv" -name "*.json" | sort | tail -n1)" || tif_fail "the metrics push stopped too"
off_lines=$(rtx_lines | wc -l)
write_config "$rport" true
kill -HUP "$TIF_EXPORTER_PID"
for _ in $(seq 50); do grep -q '"msg":"OTLP log export reconfigured"' "$TIF_TMP/exporter.out" && break; sleep 0.1; done
upload 3
sleep 0.5
end=$((SECONDS + 15))
while :; do
    on_lines=$(($(rtx_lines | wc -l) - off_lines))
    got=$(($(exported) - ex1))
    ((got == on_lines && $(queued) == 0)) && break
    ((SECONDS < end)) || tif_fail "after the reload: exported $got of $on_lines new lines"
    sleep 0.2
done
tif_assert_cmp "$on_lines" ">=" 1 "lines after the export was turned on again"
echo "reload: off (no request for $((off_lines - off_from)) lines), on again ($got of $on_lines exported)"

# ---- 8. SIGTERM: exit 0 ---------------------------------------------------------------------
kill -TERM "$TIF_EXPORTER_PID"
rc=0
timeout 15 tail --pid="$TIF_EXPORTER_PID" -f /dev/null || true
wait "$TIF_EXPORTER_PID" || rc=$?
[[ $rc == 0 ]] || tif_fail "exporter exited $rc on SIGTERM"

echo "PASS: $nrec LogRecords = $nlines tcp_retransmit lines ($on_veth on $TIF_HOST_IF, $bound with trace $trace); outage: $down_drop dropped and counted"
