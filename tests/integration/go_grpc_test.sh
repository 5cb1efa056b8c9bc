#!/usr/bin/env bash
# A grpc-go server with clients/go/spanctx/grpcserver (grpcserver/example) in a netns, behind
# a veth with tbf loss, streaming large responses to the example client on the host. The
# connection of an RPC with a traceparent in its metadata is bound to its trace: the server
# socket's retransmit lines carry the trace id and the RPC's name (every one while the
# connection is established: bound from the RPC's start until the stream's tail is
# acknowledged), and the OpenMetrics exposition carries it as an exemplar. On a connection
# kept open, the next RPC binds its own trace, one without traceparent none (the earlier
# binding is undone). An RPC without traceparent on a new connection is never bound. The server starts before traceiface: its
# RPCs are served anyway, the misses counted, and it finds the span socket once traceiface
# is up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/go_lib.sh"
source "$TIF_REPO_ROOT/tests/go/gopath.sh"

tif_require_root_bpf
tif_require_cmd jq curl go
[[ -d /usr/share/gocode/src/google.golang.org/grpc ]] ||
    tif_skip_or_fail "grpc-go not installed (golang-google-grpc-dev)"

# GOPATH mode over Debian's grpc-go, no module downloads (tests/go/gopath.sh).
tif_gopath_env "$TIF_TMP/gopath"
server_bin=$TIF_TMP/grpcserver client_bin=$TIF_TMP/grpcclient
pkg=traceiface.local/spanctx/grpcserver/example
{ go build -o "$server_bin" "$pkg" && go build -o "$client_bin" "$pkg/client"; } \
    >"$TIF_TMP/go-build.log" 2>&1 || tif_fail "go build failed: $(tail -20 "$TIF_TMP/go-build.log")"

sock=$TIF_TMP/span.sock
tif_make_netns_pair tgg
# Loss on the server's side: its responses go out of the netns through the tbf.
TIF_TBF_RATE=${TIF_TBF_RATE:-100mbit} tif_tbf "$TIF_NS_IF" "$TIF_NS"
# BBR keeps sending into the tbf loss instead of backing off (see retransmit_lib.sh).
ip netns exec "$TIF_NS" sysctl -qw net.ipv4.tcp_congestion_control="${TIF_TCP_CC:-bbr}"
size=${TIF_BLOB_BYTES:-30000000}
name="gRPC /tif.Blob/Download"

port=$(tif_free_port)
ip netns exec "$TIF_NS" "$server_bin" -listen "$TIF_NS_IP:$port" -socket "$sock" \
    >"$TIF_TMP/grpcserver.log" 2>&1 &
server=$!
tif_cleanup_push "tif_kill_wait $server 2"
for _ in $(seq 100); do grep -q listening "$TIF_TMP/grpcserver.log" && break; sleep 0.1; done
grep -q listening "$TIF_TMP/grpcserver.log" ||
    tif_fail "gRPC server did not start: $(cat "$TIF_TMP/grpcserver.log")"
addr=$TIF_NS_IP:$port
# call [TRACEPARENT|-,...]: Download RPCs one after the other on a new connection, one per
# traceparent ("-" or none: without); prints "client_port bytes" per RPC.
call() {
    timeout 150 "$client_bin" -addr "$addr" -size "$size" -timeout 120s -traceparent "${1:--}"
}
stats() { timeout 20 "$client_bin" -addr "$addr" -timeout 10s -stats | jq -r ".$1"; }

# ---- 0. no traceiface yet: served, the bind counted as an error -------------------------
size=1000 call "00-$(rand_hex 16)-$(rand_hex 8)-01" >/dev/null ||
    tif_fail "RPC failed without traceiface"
tif_assert_cmp "$(stats Errors)" ">=" 1 "binds without traceiface counted as errors"
tif_assert_cmp "$(stats Bound)" "==" 0 "binds without traceiface"

tif_start_exporter "$(tif_free_port)" --span.socket="$sock" --iface.include="$TIF_HOST_IF"
metrics=$TIF_EXPORTER_URL/metrics
clients() { tif_metric_sum "$metrics" "^traceiface_span_clients "; }
bindings() { tif_metric_sum "$metrics" "^traceiface_span_bindings "; }
tif_wait_metric clients == 1 5 # the gRPC server redialed the span socket
echo "the gRPC server reached the span socket once traceiface was up"

# lines CLIENT_PORT: the server socket's retransmit lines on the connection from CLIENT_PORT
# (SYN-ACKs aside), one JSON object per line.
lines() {
    jq -c -R --arg ip "$TIF_NS_IP" --argjson sp "$port" --argjson dp "$1" 'fromjson?
        | select(.event == "tcp_retransmit" and .saddr == $ip and .sport == $sp
                 and .dport == $dp and .kind != "synack")' "$TIF_TMP/exporter.out"
}

# ---- 1. a streaming RPC with a traceparent: the server's connection is bound to it -------
ta=$(rand_hex 16) sa=$(rand_hex 8)
call "00-$ta-$sa-01" >"$TIF_TMP/call-a.txt" &
callpid=$!
tif_cleanup_push "tif_kill_wait $callpid 2"
tif_wait_metric bindings == 1 10 # bound while the stream is being served
wait "$callpid" || tif_fail "RPC A failed"
read -r pa bytes <"$TIF_TMP/call-a.txt"
[[ $bytes == "$size" ]] || tif_fail "RPC A got $bytes bytes, want $size"
tif_wait_metric bindings == 0 10 # unbound, or closed with the connection
settle "$pa"
n_a=$(lines "$pa" | count "true")
bound_a=$(lines "$pa" | count ".trace_id == \"$ta\" and .span_id == \"$sa\" and .name == \"$name\"")
est_unbound_a=$(lines "$pa" | count '.state == "ESTABLISHED" and (has("trace_id") | not)')
other=$(lines "$pa" | count "has(\"trace_id\") and .trace_id != \"$ta\"")
echo "connection A (client port $pa): $n_a retransmit lines, $bound_a with trace_id $ta" \
    "and name \"$name\", $est_unbound_a established without, $other with another trace"
tif_assert_cmp "$bound_a" ">=" 1 "retransmit lines of the server's socket carrying trace_id $ta"
tif_assert_cmp "$est_unbound_a" "==" 0 "established-state retransmit lines of connection A without trace_id"
tif_assert_cmp "$other" "==" 0 "lines of connection A with another trace_id"
om=$(curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "$metrics")
grep -q "^traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\",.*# {trace_id=\"$ta\",span_id=\"$sa\"}" \
    <<<"$om" || tif_fail "no retransmit exemplar with trace_id $ta on $TIF_HOST_IF"
echo "the OpenMetrics exposition carries trace_id $ta as an exemplar"

# ---- 2. RPCs one after the other on one connection: each its own trace, or none ----------
tb=$(rand_hex 16) sb=$(rand_hex 8) tc=$(rand_hex 16) sc=$(rand_hex 8)
call "00-$tb-$sb-01,00-$tc-$sc-01,-" >"$TIF_TMP/call-b.txt" || tif_fail "RPCs B, C, - failed"
mapfile -t rows <"$TIF_TMP/call-b.txt"
((${#rows[@]} == 3)) || tif_fail "the client reported ${#rows[@]} RPCs: ${rows[*]}"
read -r pb b1 <<<"${rows[0]}"
read -r pb2 b2 <<<"${rows[1]}"
read -r pb3 b3 <<<"${rows[2]}"
[[ $pb == "$pb2" && $pb == "$pb3" ]] || tif_fail "the RPCs did not share one connection: ${rows[*]}"
[[ $b1 == "$size" && $b2 == "$size" && $b3 == "$size" ]] || tif_fail "short streams: ${rows[*]}"
settle "$pb"
n_b=$(lines "$pb" | count "true")
bound_b=$(lines "$pb" | count ".trace_id == \"$tb\" and .span_id == \"$sb\" and .name == \"$name\"")
bound_c=$(lines "$pb" | count ".trace_id == \"$tc\" and .span_id == \"$sc\" and .name == \"$name\"")
unbound=$(lines "$pb" | count '.state == "ESTABLISHED" and (has("trace_id") | not)')
echo "connection B (client port $pb): $n_b lines, $bound_b with trace B, $bound_c with trace C," \
    "$unbound established without trace_id"
tif_assert_cmp "$bound_b" ">=" 1 "lines of the first RPC's trace"
tif_assert_cmp "$bound_c" ">=" 1 "lines of the second RPC's trace (rebound on the open connection)"
tif_assert_cmp "$unbound" ">=" 1 "lines without trace_id of the third RPC (no traceparent)"
stray=$(lines "$pb" | count "has(\"trace_id\") and .trace_id != \"$tb\" and .trace_id != \"$tc\"")
tif_assert_cmp "$stray" "==" 0 "lines of connection B with a foreign trace_id"
# Each trace's lines end before the next RPC's begin (ts: fixed-width RFC 3339).
ts_of() { lines "$pb" | jq -r -s "[.[] | select($1) | .ts] | $2"; }
last_b=$(ts_of ".trace_id == \"$tb\"" max) first_c=$(ts_of ".trace_id == \"$tc\"" min)
last_c=$(ts_of ".trace_id == \"$tc\"" max)
first_unbound=$(ts_of '.state == "ESTABLISHED" and (has("trace_id") | not)' min)
[[ $last_b < $first_c ]] || tif_fail "a line of trace C ($first_c) before the last of trace B ($last_b)"
[[ $last_c < $first_unbound ]] ||
    tif_fail "an unbound line ($first_unbound) before the last line of trace C ($last_c)"
# C's binding is undone when the third RPC starts, if its drain had not already (B's too,
# unless C's bind came first): one or two unbind frames.
tif_assert_cmp "$(stats Unbound)" ">=" 1 "unbind frames (C's binding, undone for the third RPC)"

# ---- 3. an RPC without traceparent on a new connection: never bound ----------------------
call >"$TIF_TMP/call-d.txt" || tif_fail "RPC D failed"
read -r pd bytes <"$TIF_TMP/call-d.txt"
[[ $bytes == "$size" ]] || tif_fail "RPC D got $bytes bytes, want $size"
settle "$pd"
n_d=$(lines "$pd" | count "true")
traced_d=$(lines "$pd" | count 'has("trace_id")')
echo "connection D (client port $pd): $n_d lines, $traced_d with a trace_id"
tif_assert_cmp "$n_d" ">=" 1 "retransmit lines of the connection without traceparent"
tif_assert_cmp "$traced_d" "==" 0 "lines with a trace_id on a connection never bound"

# ---- 4. a malformed traceparent: served, counted, nothing bound -------------------------
size=1000 call "00-00000000000000000000000000000000-$(rand_hex 8)-01" >/dev/null ||
    tif_fail "RPC with a malformed traceparent failed"
tif_assert_cmp "$(stats Malformed)" "==" 1 "malformed traceparents counted"
tif_assert_cmp "$(stats Bound)" "==" 3 "binds (A, B, C)"
tif_assert_cmp "$(stats Dropped)" "==" 0 "dropped frames"
for r in malformed oversize unauthorized spoofed rate_limited; do
    tif_assert_cmp "$(tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$r\"\\}")" \
        "==" 0 "span frames refused as $r"
done
tif_wait_metric bindings == 0 10
stats_json=$(timeout 20 "$client_bin" -addr "$addr" -timeout 10s -stats)
echo "server stats: $stats_json"
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
tif_alive "$server" || tif_fail "gRPC server died"
echo "PASS: a grpc-go server's connections carry the trace of the RPC they serve"
