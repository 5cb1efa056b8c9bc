#!/usr/bin/env bash
# A Go NATS publisher with clients/go/spanctx/natsconn (natsconn/example) on the host and a
# nats-server in a netns behind a veth with tbf loss on the host's side, so that the
# publisher's messages are what retransmit. Publishing with a traceparent, the publisher's
# connection is bound to that trace: its retransmit lines carry the trace id and the span
# name, every established-state one (the binding lasts until the last message is
# acknowledged), and the OpenMetrics exposition carries it as an exemplar. Publishing without
# traceparent binds nothing. Before traceiface runs, messages are delivered anyway and the
# misses counted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/go_lib.sh"
source "$TIF_REPO_ROOT/tests/go/gopath.sh"

tif_require_root_bpf
tif_require_cmd jq curl go nats-server

# Built in GOPATH mode against Debian's nats.go (no module downloads).
tif_gopath_env "$TIF_TMP/gopath"
pub_bin=$TIF_TMP/natspub
go build -o "$pub_bin" traceiface.local/spanctx/natsconn/example >"$TIF_TMP/go-build.log" 2>&1 ||
    tif_fail "go build failed: $(tail -20 "$TIF_TMP/go-build.log")"

sock=$TIF_TMP/span.sock
tif_make_netns_pair tgn
# Loss on the host's side: the publisher's messages go into the netns through the tbf.
TIF_TBF_RATE=${TIF_TBF_RATE:-100mbit} tif_tbf "$TIF_HOST_IF"
msgs=${TIF_NATS_MSGS:-40} # of 1 MB each

port=$(tif_free_port)
mport=$(tif_free_port)
ip netns exec "$TIF_NS" nats-server -a "$TIF_NS_IP" -p "$port" -m "$mport" \
    -l "$TIF_TMP/nats-server.log" &
nats=$!
tif_cleanup_push "tif_kill_wait $nats 5"
for _ in $(seq 100); do grep -qs "Server is ready" "$TIF_TMP/nats-server.log" && break; sleep 0.1; done
grep -qs "Server is ready" "$TIF_TMP/nats-server.log" ||
    tif_fail "nats-server did not start: $(cat "$TIF_TMP/nats-server.log" 2>&1)"
server=nats://$TIF_NS_IP:$port
# in_msgs: messages the server received from clients (its monitoring endpoint).
in_msgs() { curl -sf --max-time 5 "http://$TIF_NS_IP:$mport/varz" | jq -r .in_msgs; }

# publish NAME TRACEPARENT|- COUNT: runs the publisher in the background (BBR: it keeps
# sending into the tbf loss, see retransmit_lib.sh); its output in $TIF_TMP/pub-NAME.out.
publish() {
    local -a tp=()
    [[ $2 != - ]] && tp=(-traceparent "$2")
    timeout 180 "$pub_bin" -server "$server" -socket "$sock" -count "$3" -cc "${TIF_TCP_CC:-bbr}" \
        "${tp[@]}" >"$TIF_TMP/pub-$1.out" 2>"$TIF_TMP/pub-$1.err" &
    pubpid=$!
    tif_cleanup_push "tif_kill_wait $pubpid 2"
}
# finished NAME: waits for the publisher; sets pub_port and prints nothing.
finished() {
    wait "$pubpid" || tif_fail "publisher $1 failed: $(tail -5 "$TIF_TMP/pub-$1.err")"
    pub_port=$(awk '$1 == "local_port" { print $2 }' "$TIF_TMP/pub-$1.out")
    [[ -n $pub_port ]] || tif_fail "publisher $1 printed no local port"
}
stat() { tail -1 "$TIF_TMP/pub-$1.out" | jq -r ".$2"; }

# ---- 0. no traceiface yet: delivered, the binds counted as errors -----------------------
before=$(in_msgs)
publish absent "00-$(rand_hex 16)-$(rand_hex 8)-01" 2
finished absent
tif_assert_cmp "$(($(in_msgs) - before))" "==" 2 "messages the server received without traceiface"
tif_assert_cmp "$(stat absent Errors)" "==" 2 "binds without traceiface counted as errors"
tif_assert_cmp "$(stat absent Bound)" "==" 0 "binds without traceiface"

tif_start_exporter "$(tif_free_port)" --span.socket="$sock" --iface.include="$TIF_HOST_IF"
metrics=$TIF_EXPORTER_URL/metrics
bindings() { tif_metric_sum "$metrics" "^traceiface_span_bindings "; }

# lines PUB_PORT: the retransmit lines of the publisher's socket on the connection from
# PUB_PORT, one JSON object per line.
lines() {
    jq -c -R --arg s "$TIF_HOST_IP" --arg d "$TIF_NS_IP" --argjson sp "$1" --argjson dp "$port" \
        'fromjson? | select(.event == "tcp_retransmit" and .saddr == $s and .sport == $sp
                            and .daddr == $d and .dport == $dp)' "$TIF_TMP/exporter.out"
}
# settle PUB_PORT: wait for the connection's lines to stop coming (ring readers, limiter).

# ---- 1. publishing with a traceparent: the publisher's connection carries its trace ------
ta=$(rand_hex 16) sa=$(rand_hex 8)
before=$(in_msgs)
publish traced "00-$ta-$sa-01" "$msgs"
tif_wait_metric bindings == 1 20 # bound while publishing
finished traced
pa=$pub_port
tif_assert_cmp "$(($(in_msgs) - before))" "==" "$msgs" "traced messages the server received"
tif_assert_cmp "$(stat traced Bound)" "==" "$msgs" "binds (one per message)"
tif_assert_cmp "$(stat traced Errors)" "==" 0 "frames not sent"
tif_assert_cmp "$(stat traced Dropped)" "==" 0 "frames dropped"
tif_wait_metric bindings == 0 10 # unbound once drained, or closed with the connection
settle "$pa"
n_a=$(lines "$pa" | count "true")
bound_a=$(lines "$pa" | count ".trace_id == \"$ta\" and .span_id == \"$sa\" and .name == \"NATS PUB bulk.data\"")
est_a=$(lines "$pa" | count '.state == "ESTABLISHED"')
est_other_a=$(lines "$pa" | count ".state == \"ESTABLISHED\" and .trace_id != \"$ta\"")
echo "traced publisher (port $pa): $n_a retransmit lines, $bound_a with trace_id $ta, $est_a established, $est_other_a of them without that trace"
tif_assert_cmp "$bound_a" ">=" 1 "retransmit lines of the publisher's socket carrying trace_id $ta"
tif_assert_cmp "$est_other_a" "==" 0 "established-state lines of the traced publishing without its trace"
foreign=$(lines "$pa" | count "has(\"trace_id\") and (.trace_id != \"$ta\" or .span_id != \"$sa\")")
tif_assert_cmp "$foreign" "==" 0 "lines of the traced connection with another trace or span"
om=$(curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "$metrics")
grep -q "^traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\",.*# {trace_id=\"$ta\",span_id=\"$sa\"}" \
    <<<"$om" || tif_fail "no retransmit exemplar with trace_id $ta on $TIF_HOST_IF"
echo "the OpenMetrics exposition carries trace_id $ta as an exemplar"

# ---- 2. publishing without traceparent: nothing bound -----------------------------------
publish untraced - "$msgs"
finished untraced
pb=$pub_port
tif_assert_cmp "$(stat untraced NoTraceparent)" "==" "$msgs" "messages without traceparent"
tif_assert_cmp "$(stat untraced Bound)" "==" 0 "binds without traceparent"
settle "$pb"
n_b=$(lines "$pb" | count "true")
traced_b=$(lines "$pb" | count 'has("trace_id")')
echo "untraced publisher (port $pb): $n_b retransmit lines, $traced_b with a trace_id"
tif_assert_cmp "$n_b" ">=" 1 "retransmit lines of the untraced publisher"
tif_assert_cmp "$traced_b" "==" 0 "lines with a trace_id of the untraced publisher"

for r in malformed oversize unauthorized spoofed rate_limited; do
    tif_assert_cmp "$(tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$r\"\\}")" \
        "==" 0 "span frames refused as $r"
done
tif_wait_metric bindings == 0 10
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
tif_alive "$nats" || tif_fail "nats-server died"
echo "PASS: a Go NATS publisher's connection carries the trace of the messages it publishes"
