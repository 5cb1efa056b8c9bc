#!/usr/bin/env bash
# A Go net/http server with clients/go/spanctx/httpserver (examples/httpserver) in a netns,
# behind a veth with tbf loss, serving large responses to curl on the host. The connection of
# a request with a traceparent is bound to its trace: the server socket's retransmit lines
# carry the trace id (every one while the connection is established: the binding outlives
# the handler until the response's tail is acknowledged) and the OpenMetrics exposition
# carries it as an exemplar. On a kept-alive connection each request binds its own trace and
# one without traceparent binds none; a new connection without traceparent is never bound.
# The server starts before traceiface: its requests are served anyway, the misses counted,
# and it finds the span socket once traceiface is up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/go_lib.sh"

tif_require_root_bpf
tif_require_cmd jq curl go

# Build the example with the Go environment of ctest's go.spanctx (no module downloads).
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOCACHE=$TIF_BUILD_DIR/go-cache \
    GOPATH=$TIF_BUILD_DIR/go-path
server_bin=$TIF_TMP/httpserver
(cd "$TIF_REPO_ROOT/clients/go/spanctx" && go build -o "$server_bin" ./examples/httpserver) \
    >"$TIF_TMP/go-build.log" 2>&1 || tif_fail "go build failed: $(tail -20 "$TIF_TMP/go-build.log")"

sock=$TIF_TMP/span.sock
tif_make_netns_pair tgh
# Loss on the server's side: its responses go out of the netns through the tbf.
TIF_TBF_RATE=${TIF_TBF_RATE:-100mbit} tif_tbf "$TIF_NS_IF" "$TIF_NS"
# BBR keeps sending into the tbf loss instead of backing off (see retransmit_lib.sh).
ip netns exec "$TIF_NS" sysctl -qw net.ipv4.tcp_congestion_control="${TIF_TCP_CC:-bbr}"
size=${TIF_BLOB_BYTES:-30000000}

port=$(tif_free_port)
ip netns exec "$TIF_NS" "$server_bin" -listen "$TIF_NS_IP:$port" -socket "$sock" \
    >"$TIF_TMP/httpserver.log" 2>&1 &
server=$!
tif_cleanup_push "tif_kill_wait $server 2"
for _ in $(seq 100); do grep -q listening "$TIF_TMP/httpserver.log" && break; sleep 0.1; done
grep -q listening "$TIF_TMP/httpserver.log" ||
    tif_fail "Go server did not start: $(cat "$TIF_TMP/httpserver.log")"
url=http://$TIF_NS_IP:$port
stats() { curl -sf --max-time 5 "$url/stats" | jq -r ".$1"; }

# ---- 0. no traceiface yet: served, the bind counted as an error -------------------------
curl -sf --max-time 10 -o /dev/null -H "traceparent: 00-$(rand_hex 16)-$(rand_hex 8)-01" \
    "$url/blob?size=1000" || tif_fail "request failed without traceiface"
tif_assert_cmp "$(stats Errors)" ">=" 1 "binds without traceiface counted as errors"
tif_assert_cmp "$(stats Bound)" "==" 0 "binds without traceiface"

tif_start_exporter "$(tif_free_port)" --span.socket="$sock" --iface.include="$TIF_HOST_IF"
metrics=$TIF_EXPORTER_URL/metrics
clients() { tif_metric_sum "$metrics" "^traceiface_span_clients "; }
bindings() { tif_metric_sum "$metrics" "^traceiface_span_bindings "; }
tif_wait_metric clients == 1 5 # the Go server redialed the span socket
echo "the Go server reached the span socket once traceiface was up"

# lines CLIENT_PORT: the server socket's retransmit lines on the connection from CLIENT_PORT
# (SYN-ACKs aside), one JSON object per line.
lines() {
    jq -c -R --arg ip "$TIF_NS_IP" --argjson sp "$port" --argjson dp "$1" 'fromjson?
        | select(.event == "tcp_retransmit" and .saddr == $ip and .sport == $sp
                 and .dport == $dp and .kind != "synack")' "$TIF_TMP/exporter.out"
}
# get TRACEPARENT|- ...: one curl, one request per argument on one connection; prints per
# request "client_port connects bytes".
get() {
    local -a args=()
    local tp
    for tp in "$@"; do
        ((${#args[@]})) && args+=(--next)
        args+=(-sS --max-time 120 -o /dev/null -w '%{local_port} %{num_connects} %{size_download}\n')
        [[ $tp != - ]] && args+=(-H "traceparent: $tp")
        args+=("$url/blob?size=$size")
    done
    curl "${args[@]}"
}

# ---- 1. a request with a traceparent: the server's connection is bound to its trace -----
ta=$(rand_hex 16) sa=$(rand_hex 8)
get "00-$ta-$sa-01" >"$TIF_TMP/get-a.txt" &
getpid=$!
tif_cleanup_push "tif_kill_wait $getpid 2"
tif_wait_metric bindings == 1 10 # bound while the response is being served
wait "$getpid" || tif_fail "request A failed"
read -r pa _ bytes <"$TIF_TMP/get-a.txt"
[[ $bytes == "$size" ]] || tif_fail "request A got $bytes bytes, want $size"
tif_wait_metric bindings == 0 10 # unbound, or closed with the connection
settle "$pa"
n_a=$(lines "$pa" | count "true")
bound_a=$(lines "$pa" | count ".trace_id == \"$ta\" and .span_id == \"$sa\" and .name == \"HTTP GET /blob\"")
est_unbound_a=$(lines "$pa" | count '.state == "ESTABLISHED" and (has("trace_id") | not)')
echo "connection A (client port $pa): $n_a retransmit lines, $bound_a with trace_id $ta, $est_unbound_a established without"
tif_assert_cmp "$bound_a" ">=" 1 "retransmit lines of the server's socket carrying trace_id $ta"
tif_assert_cmp "$est_unbound_a" "==" 0 "established-state retransmit lines of connection A without trace_id"
other=$(lines "$pa" | count "has(\"trace_id\") and .trace_id != \"$ta\"")
tif_assert_cmp "$other" "==" 0 "lines of connection A with another trace_id"
om=$(curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "$metrics")
grep -q "^traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\",.*# {trace_id=\"$ta\",span_id=\"$sa\"}" \
    <<<"$om" || tif_fail "no retransmit exemplar with trace_id $ta on $TIF_HOST_IF"
echo "the OpenMetrics exposition carries trace_id $ta as an exemplar"

# ---- 2. keep-alive: each request binds its own trace; one without traceparent none -----
tb=$(rand_hex 16) sb=$(rand_hex 8) tc=$(rand_hex 16) sc=$(rand_hex 8)
get "00-$tb-$sb-01" "00-$tc-$sc-01" - >"$TIF_TMP/get-b.txt" || tif_fail "keep-alive requests failed"
mapfile -t rows <"$TIF_TMP/get-b.txt"
((${#rows[@]} == 3)) || tif_fail "curl reported ${#rows[@]} transfers: ${rows[*]}"
read -r pb c1 b1 <<<"${rows[0]}"
read -r pb2 c2 b2 <<<"${rows[1]}"
read -r pb3 c3 b3 <<<"${rows[2]}"
[[ $pb == "$pb2" && $pb == "$pb3" && $c1 == 1 && $c2 == 0 && $c3 == 0 ]] ||
    tif_fail "the three requests did not share one connection: ${rows[*]}"
[[ $b1 == "$size" && $b2 == "$size" && $b3 == "$size" ]] || tif_fail "short transfers: ${rows[*]}"
settle "$pb"
n_b=$(lines "$pb" | count "true")
bound_b=$(lines "$pb" | count ".trace_id == \"$tb\" and .span_id == \"$sb\"")
bound_c=$(lines "$pb" | count ".trace_id == \"$tc\" and .span_id == \"$sc\"")
unbound=$(lines "$pb" | count '.state == "ESTABLISHED" and (has("trace_id") | not)')
echo "connection B (client port $pb): $n_b lines, $bound_b with trace B, $bound_c with trace C, $unbound established without trace_id"
tif_assert_cmp "$bound_b" ">=" 1 "lines of the first request's trace"
tif_assert_cmp "$bound_c" ">=" 1 "lines of the second request's trace (rebound on the kept-alive connection)"
tif_assert_cmp "$unbound" ">=" 1 "lines without trace_id of the third request (no traceparent)"
stray=$(lines "$pb" | count "has(\"trace_id\") and .trace_id != \"$tb\" and .trace_id != \"$tc\"")
tif_assert_cmp "$stray" "==" 0 "lines of connection B with a foreign trace_id"
# Trace B's lines end before the third request's unbound ones begin (ts: fixed-width RFC 3339).
last_b=$(lines "$pb" | jq -r -s "[.[] | select(.trace_id == \"$tb\") | .ts] | max")
first_unbound=$(lines "$pb" | jq -r -s '[.[] | select(.state == "ESTABLISHED" and (has("trace_id") | not)) | .ts] | min')
[[ $last_b < $first_unbound ]] ||
    tif_fail "an unbound line ($first_unbound) before the last line of trace B ($last_b)"

# ---- 3. a new connection without traceparent: never bound -------------------------------
get - >"$TIF_TMP/get-d.txt" || tif_fail "request D failed"
read -r pd _ bytes <"$TIF_TMP/get-d.txt"
[[ $bytes == "$size" ]] || tif_fail "request D got $bytes bytes"
settle "$pd"
n_d=$(lines "$pd" | count "true")
traced_d=$(lines "$pd" | count 'has("trace_id")')
echo "connection D (client port $pd): $n_d lines, $traced_d with a trace_id"
tif_assert_cmp "$n_d" ">=" 1 "retransmit lines of the connection without traceparent"
tif_assert_cmp "$traced_d" "==" 0 "lines with a trace_id on a connection never bound"

# ---- 4. a malformed traceparent: served, counted, nothing bound -------------------------
curl -sf --max-time 10 -o /dev/null \
    -H "traceparent: 00-00000000000000000000000000000000-$(rand_hex 8)-01" "$url/blob?size=1000" ||
    tif_fail "request with a malformed traceparent failed"
tif_assert_cmp "$(stats Malformed)" "==" 1 "malformed traceparents counted"
tif_assert_cmp "$(stats Bound)" "==" 3 "binds (A, B, C)"
tif_assert_cmp "$(stats Dropped)" "==" 0 "dropped frames"
for r in malformed oversize unauthorized spoofed rate_limited; do
    tif_assert_cmp "$(tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$r\"\\}")" \
        "==" 0 "span frames refused as $r"
done
tif_wait_metric bindings == 0 10
curl -sf "$url/stats" | jq -c .
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
echo "PASS: a Go HTTP server's connections carry the trace of the request they serve"
