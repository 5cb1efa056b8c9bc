#!/usr/bin/env bash
# --otlp.endpoint end to end, against a stand-in receiver (otlp_receiver.py: an http.server that
# records each POST; no OpenTelemetry collector is installable here). Real retransmits (tbf on
# a veth into a netns) and a connection bound to a trace through the span socket; every body is
# decoded with `protoc --decode_raw`, which knows no schema, by the published OTLP field
# numbers. Checked: the request (POST /v1/metrics, protobuf, the configured header), the
# resource, the retransmit counter as a monotonic cumulative Sum whose points equal /metrics,
# its exemplar carrying the bound trace and span ids as bytes, the RTT histogram's buckets
# against /metrics', then the receiver down (pushes fail and are counted, /metrics serves on),
# back (pushes succeed and carry the whole cumulative state), a 503 and a partial success, a
# reload to another endpoint through the config file, a last push at exit, and a push turned
# on by a reload.
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
decode() { timeout 30 python3 "$recv_py" "$@"; }

bodies() { find "$1" -name '*.bin' | wc -l; }
latest() { find "$1" -name '*.bin' | sort | tail -n1; }
# wait_bodies DIR N SECS: until DIR holds at least N bodies.
wait_bodies() {
    local end=$((SECONDS + $3))
    while (($(bodies "$1") < $2)); do
        ((SECONDS < end)) || tif_fail "$1: $(bodies "$1") bodies, want >= $2 within $3 s"
        sleep 0.1
    done
}

tif_make_netns_pair tot
tif_tbf "$TIF_HOST_IF"
rport=$(tif_free_port)
recv=$TIF_TMP/recv
start_receiver "$recv" "$rport"
recv_pid=$RECV_PID

# Through the config file, so its keys are checked too, and a reload can move the endpoint.
cfg=$TIF_TMP/config.yaml
write_config() {
    cat >"$cfg" <<YAML
otlp:
  endpoint: http://127.0.0.1:$1
  interval: 1s
  header: [Authorization=Bearer otlp-test-token, X-Scope-OrgID=tenant-1]
YAML
}
write_config "$rport"
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg" --iface.include="^$TIF_HOST_IF$"
metrics=$TIF_EXPORTER_URL/metrics
wait_bodies "$recv" 1 10

# ---- 1. real retransmits, some on a connection bound to a trace ----------------------------
rtx_iperf_upload "$TIF_NS" "$TIF_NS_IP" 4 host
# First byte below 8: decode_raw can then never take the ids for a message (otlp_receiver.py).
trace=0$((RANDOM % 8))$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')
span=0$((RANDOM % 8))$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n')
sinkport=$(tif_free_port)
ip netns exec "$TIF_NS" "$tool" sink "$sinkport" >"$TIF_TMP/sink.log" 2>&1 &
sink=$!
tif_cleanup_push "tif_kill_wait $sink 2"
for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink.log" && break; sleep 0.1; done
timeout 60 "$tool" upload "$TIF_TMP/span.sock" "$TIF_NS_IP" "$sinkport" 5 "$trace" "$span" \
    otlp.test >"$TIF_TMP/upload.log" 2>&1 || tif_fail "upload failed: $(cat "$TIF_TMP/upload.log")"
tif_kill_wait "$sink" 2

# The counters stand still once the traffic is over: /metrics before and after a push that
# was collected in between must agree, and that push must say the same.
rtx_series() { # "kind value" per series of our veth, from /metrics
    curl -sf --max-time 5 "$metrics" | awk -v m="$RTX_METRIC" -v i="$TIF_HOST_IF" '
        index($0, m "{") == 1 && index($0, "iface=\"" i "\"") {
            match($0, /kind="[^"]*"/); print substr($0, RSTART + 6, RLENGTH - 7), $NF }' | sort
}
sleep 1
before=$(rtx_series)
n=$(bodies "$recv")
wait_bodies "$recv" $((n + 2)) 10 # the second one was surely collected after `before`
body=$(latest "$recv")
after=$(rtx_series)
[[ $before == "$after" ]] || tif_fail "retransmits still moving: '$before' vs '$after'"
[[ -n $after ]] || tif_fail "no retransmit series for $TIF_HOST_IF in /metrics"
total=$(awk '{ s += $2 } END { print s + 0 }' <<<"$after")
tif_assert_cmp "$total" ">=" 20 "the tbf loss must make retransmits"

# ---- 2. the request and the resource ------------------------------------------------------
meta=${body%.bin}.json
[[ $(jq -r .path "$meta") == /v1/metrics ]] || tif_fail "path: $(jq -r .path "$meta")"
[[ $(jq -r '.headers["content-type"]' "$meta") == application/x-protobuf ]] ||
    tif_fail "content-type: $(jq -r '.headers["content-type"]' "$meta")"
[[ $(jq -r .headers.authorization "$meta") == "Bearer otlp-test-token" ]] ||
    tif_fail "authorization header: $(jq -c .headers "$meta")"
[[ $(jq -r '.headers["x-scope-orgid"]' "$meta") == tenant-1 ]] || tif_fail "second header missing"
res=$(decode resource "$body")
[[ $(jq -r '.["service.name"]' <<<"$res") == traceiface ]] || tif_fail "resource: $res"
[[ $(jq -r '.["host.name"]' <<<"$res") == "$(hostname)" ]] || tif_fail "host.name: $res"
[[ -n $(jq -r '.["service.version"] // empty' <<<"$res") ]] || tif_fail "no service.version: $res"
echo "resource: $res"

# ---- 3. the retransmit counter: Sum, monotonic, cumulative, = /metrics ---------------------
sum=$(decode metric "$body" "$RTX_METRIC")
[[ $sum != null ]] || tif_fail "no $RTX_METRIC in the push; names: $(decode names "$body")"
jq -e '.type == "sum" and .is_monotonic == true and .aggregation_temporality == 2' \
    <<<"$sum" >/dev/null || tif_fail "not a monotonic cumulative Sum: $(jq -c 'del(.data_points)' <<<"$sum")"
otlp_series=$(jq -r --arg i "$TIF_HOST_IF" '.data_points[] | select(.attributes.iface == $i)
    | "\(.attributes.kind) \(.as_double // .as_int)"' <<<"$sum" | sort)
# Integral doubles print as "12.0" in JSON: compare as numbers.
cmp_series=$(join -a1 -a2 -e missing -o 0,1.2,2.2 <(echo "$after") <(echo "$otlp_series") |
    awk '{ if ($2 == "missing" || $3 == "missing" || $2 + 0 != $3 + 0) print "differs:", $0 }')
[[ -z $cmp_series ]] || tif_fail "OTLP vs /metrics for $TIF_HOST_IF: $cmp_series
/metrics: $after
OTLP:     $otlp_series"
jq -e '[.data_points[] | .start_time_unix_nano > 0 and .time_unix_nano >= .start_time_unix_nano]
       | all' <<<"$sum" >/dev/null || tif_fail "bad start/time stamps"
echo "OTLP $RTX_METRIC{iface=$TIF_HOST_IF} = /metrics: $(tr '\n' ' ' <<<"$after")(total $total)"

# Its exemplar: the bound connection's trace and span ids, as 16 and 8 bytes.
ex=$(jq -c --arg i "$TIF_HOST_IF" --arg t "$trace" '[.data_points[]
    | select(.attributes.iface == $i) | .exemplars[] | select(.trace_id == $t)]' <<<"$sum")
jq -e --arg s "$span" 'length >= 1 and all(.span_id == $s and .as_double > 0)' <<<"$ex" \
    >/dev/null || tif_fail "no exemplar with trace_id $trace / span_id $span: $ex
all exemplars: $(jq -c '[.data_points[].exemplars[]]' <<<"$sum")"
echo "exemplar: $ex"

# ---- 4. the RTT histogram: bucket counts per bucket, = /metrics' cumulative ones ----------
decode metric "$body" traceiface_tcp_rtt_seconds >"$TIF_TMP/hist.json"
curl -sf --max-time 5 "$metrics" >"$TIF_TMP/metrics-now.txt"
python3 - "$TIF_HOST_IF" "$TIF_TMP/metrics-now.txt" "$TIF_TMP/hist.json" "$trace" "$span" <<'PY' ||
import json, math, re, sys
iface, text, trace, span = sys.argv[1], open(sys.argv[2]).read(), sys.argv[4], sys.argv[5]
h = json.load(open(sys.argv[3]))
assert h and h["type"] == "histogram" and h["aggregation_temporality"] == 2, h and h["type"]
p = [d for d in h["data_points"] if d["attributes"].get("iface") == iface]
assert len(p) == 1, "points for %s: %d" % (iface, len(p))
p = p[0]
b, c = p["explicit_bounds"], p["bucket_counts"]
assert len(c) == len(b) + 1, "%d counts for %d bounds" % (len(c), len(b))
assert all(x < y for x, y in zip(b, b[1:])), "bounds not increasing"
assert sum(c) == p["count"] > 0, "sum of buckets %d, count %d" % (sum(c), p["count"])
prom = {}
for m in re.finditer(r'^traceiface_tcp_rtt_seconds_bucket\{([^}]*)\} (\S+)$', text, re.M):
    lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    if lab.get("iface") == iface:
        prom[float(lab["le"])] = float(m.group(2))
cum = 0
for bound, n in zip(b + [math.inf], c):
    cum += n
    assert prom.get(bound) == cum, "le=%g: /metrics %s, OTLP cumulative %d" % (bound, prom.get(bound), cum)
# Only the bound connection's RTT samples become exemplars: each carries its trace and span.
ex = p["exemplars"]
assert ex and all(e["trace_id"] == trace and e["span_id"] == span and
                  e["as_double"] > 0 for e in ex), "RTT exemplars: %s" % ex
print("RTT histogram{iface=%s}: count %d, %d buckets, sum %.6fs, %d exemplars; matches /metrics"
      % (iface, p["count"], len(c), p.get("sum", 0), len(ex)))
PY
    tif_fail "RTT histogram: OTLP and /metrics differ (above)"

# ---- 5. the receiver down: pushes fail, are counted, /metrics serves on ---------------------
exports() { tif_metric_sum "$metrics" "traceiface_otlp_exports_total\\{result=\"$1\"\\}"; }
err0=$(exports error)
ok0=$(exports ok)
tif_assert_cmp "$err0" "==" 0 "no failed push while the receiver was up"
tif_kill_wait "$recv_pid" 2
t_down=$SECONDS
tif_wait_metric "exports error" ">=" 3 15
t0=$(date +%s%N)
curl -sf --max-time 2 -o /dev/null "$metrics" || tif_fail "/metrics does not answer while pushes fail"
ms=$((($(date +%s%N) - t0) / 1000000))
tif_assert_cmp "$ms" "<" 1000 "a scrape while the receiver is down took ${ms} ms"
fail_lines=$(grep -c '"OTLP push failed' "$TIF_TMP/exporter.out" || true)
tif_assert_cmp "$fail_lines" "==" 1 "failures logged once a minute, not once a push"
echo "receiver down for $((SECONDS - t_down)) s: $(exports error) failed pushes counted, 1 log line, /metrics in ${ms} ms"

# ---- 6. back: the next push carries the whole cumulative state again -----------------------
start_receiver "$recv" "$rport"
n=$(bodies "$recv")
wait_bodies "$recv" $((n + 1)) 10
tif_wait_metric "exports ok" ">=" "$((${ok0%.*} + 1))" 10
grep -q '"OTLP push succeeded again"' "$TIF_TMP/exporter.out" || tif_fail "no recovery line"
again=$(decode metric "$(latest "$recv")" "$RTX_METRIC" | jq -r --arg i "$TIF_HOST_IF" \
    '[.data_points[] | select(.attributes.iface == $i) | .as_double] | add')
tif_assert_cmp "$again" "==" "$total" "the first push after the outage has the full count"
errs=$(decode metric "$(latest "$recv")" traceiface_otlp_exports_total |
    jq -r '.data_points[] | select(.attributes.result == "error") | .as_double')
tif_assert_cmp "$errs" ">=" 3 "the push reports its own failures"
echo "receiver back: retransmits $again (= $total), traceiface_otlp_exports_total{result=error} $errs in the push"

# ---- 6b. refusals: a 503 is a failed push; a partial success counts the refused points -----
echo 503 >"$recv/answer"
e1=$(exports error)
tif_wait_metric "exports error" ">=" "$((${e1%.*} + 2))" 10
rejected() { tif_metric_sum "$metrics" '^traceiface_otlp_data_points_rejected_total'; }
tif_assert_cmp "$(rejected)" "==" 0 "no point refused yet"
echo "partial 7" >"$recv/answer"
tif_wait_metric rejected ">=" 14 10
grep -q '"OTLP receiver refused part of the points".*"rejected_data_points":7' \
    "$TIF_TMP/exporter.out" || tif_fail "no log line for the partial success"
rm -f "$recv/answer"
echo "503: counted as failed pushes ($(exports error) in all); partial success: $(rejected) points counted as refused"

# ---- 7. reload (SIGHUP) to another endpoint through the config file ------------------------
rport2=$(tif_free_port)
recv2=$TIF_TMP/recv2
start_receiver "$recv2" "$rport2"
write_config "$rport2"
kill -HUP "$TIF_EXPORTER_PID"
wait_bodies "$recv2" 2 10
tif_wait_metric "tif_metric_sum $metrics ^traceiface_config_last_reload_successful" == 1 5
n1=$(bodies "$recv")
sleep 2.5
tif_assert_cmp "$(bodies "$recv")" "<=" "$((n1 + 1))" "pushes still going to the old endpoint"
echo "reload: pushes moved to port $rport2 ($(bodies "$recv2") bodies)"

# ---- 8. SIGTERM: one last push, exit 0 ---------------------------------------------------
n2=$(bodies "$recv2")
kill -TERM "$TIF_EXPORTER_PID"
rc=0
timeout 15 tail --pid="$TIF_EXPORTER_PID" -f /dev/null || true
wait "$TIF_EXPORTER_PID" || rc=$?
[[ $rc == 0 ]] || tif_fail "exporter exited $rc on SIGTERM"
tif_assert_cmp "$(bodies "$recv2")" ">" "$n2" "a last push at exit"
# ---- 9. off at start, on by a reload --------------------------------------------------------
echo "log.level: info" >"$cfg"
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg" --iface.include="^$TIF_HOST_IF$"
metrics=$TIF_EXPORTER_URL/metrics
n3=$(bodies "$recv2")
sleep 1.5
tif_assert_cmp "$(bodies "$recv2")" "==" "$n3" "no push while --otlp.endpoint is off"
write_config "$rport2"
kill -HUP "$TIF_EXPORTER_PID"
wait_bodies "$recv2" $((n3 + 2)) 10
tif_wait_metric "exports ok" ">=" 1 5
echo "off at start, turned on by a reload: $(($(bodies "$recv2") - n3)) pushes"

echo "PASS: OTLP push of $RTX_METRIC (total $total on $TIF_HOST_IF) and the RTT histogram match /metrics; exemplar trace $trace"
