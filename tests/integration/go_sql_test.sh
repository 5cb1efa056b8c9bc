#!/usr/bin/env bash
# A database/sql client with clients/go/spanctx/sqlconn (sqlconn/example) on the host, a
# PostgreSQL server in a netns behind a veth with tbf loss on the host's side: the client's
# INSERT of a large bytea retransmits. With a traceparent, the client socket's retransmit
# lines carry its trace id, span id and "SQL INSERT"/"SQL SELECT", no established-state line
# of the traced queries lacks it, no line carries another trace, and the exposition carries
# it as an exemplar; for pgx (v4 stdlib) and lib/pq. Without a traceparent: no trace_id.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/go_lib.sh"

tif_require_root_bpf
tif_require_cmd jq curl go setpriv
pgbin=${TIF_PG_BIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)}
[[ -x $pgbin/postgres && -x $pgbin/initdb ]] ||
    tif_skip_or_fail "no PostgreSQL server binaries (scripts/install-deps.sh)"
id -u postgres >/dev/null 2>&1 || tif_skip_or_fail "no user postgres (PostgreSQL refuses root)"

# Build the example in GOPATH mode over Debian's pgx and lib/pq (no module downloads).
source "$TIF_REPO_ROOT/tests/go/gopath.sh"
(tif_gopath_env "$TIF_TMP/gopath" &&
    go build -o "$TIF_TMP/sqlexample" traceiface.local/spanctx/sqlconn/example) \
    >"$TIF_TMP/go-build.log" 2>&1 || tif_fail "go build failed: $(tail -20 "$TIF_TMP/go-build.log")"

tif_make_netns_pair tgs
# Loss on the host's side: the client's sends (the INSERT) go into the netns through the tbf.
TIF_TBF_RATE=${TIF_TBF_RATE:-100mbit} tif_tbf "$TIF_HOST_IF"
size=${TIF_BLOB_BYTES:-30000000}

# PostgreSQL in the netns, as user postgres, its files in a directory of its own.
pgdir=$(mktemp -d /tmp/tif-pg.XXXXXX)
tif_cleanup_push "rm -rf '$pgdir'"
chown postgres: "$pgdir"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-sync \
    >"$TIF_TMP/initdb.log" 2>&1 || tif_fail "initdb failed: $(tail -5 "$TIF_TMP/initdb.log")"
echo "host all all $TIF_HOST_IP/32 trust" >>"$pgdir/data/pg_hba.conf"
pgport=$(tif_free_port)
ip netns exec "$TIF_NS" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$pgbin/postgres" -D "$pgdir/data" -k "$pgdir" -p "$pgport" -c listen_addresses="$TIF_NS_IP" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$TIF_TMP/postgres.log" 2>&1 &
pg=$!
# SIGINT: fast shutdown (TERM would wait for clients); then KILL after 10 s.
tif_cleanup_push "kill -INT $pg 2>/dev/null; tif_kill_wait $pg 10"
for _ in $(seq 150); do
    ip netns exec "$TIF_NS" ss -Hltn "sport = :$pgport" | grep -q . && break
    tif_alive "$pg" || break
    sleep 0.2
done
ip netns exec "$TIF_NS" ss -Hltn "sport = :$pgport" | grep -q . ||
    tif_fail "postgres did not start: $(tail -20 "$TIF_TMP/postgres.log")"
dsn="postgres://postgres@$TIF_NS_IP:$pgport/postgres?sslmode=disable"

tif_start_exporter "$(tif_free_port)" --iface.include="$TIF_HOST_IF"
sock=$TIF_TMP/span.sock # tif_start_exporter's --span.socket
metrics=$TIF_EXPORTER_URL/metrics
bindings() { tif_metric_sum "$metrics" "^traceiface_span_bindings "; }

# run NAME DRIVER TRACEPARENT|-: the example, its output in $TIF_TMP/NAME.out.
run() {
    local -a tp=()
    [[ $3 != - ]] && tp=(-traceparent "$3")
    timeout 180 "$TIF_TMP/sqlexample" -driver "$2" -dsn "$dsn" -socket "$sock" -size "$size" \
        -cc "${TIF_TCP_CC:-bbr}" "${tp[@]}" >"$TIF_TMP/$1.out" 2>"$TIF_TMP/$1.err" ||
        tif_fail "example $1 failed: $(tail -5 "$TIF_TMP/$1.err")"
}
field() { awk -v k="$2" '$1 == k { print $2 }' "$TIF_TMP/$1.out"; }
stat_of() { field "$1" stats | jq -r ".$2"; }
# lines PORT: the client socket's retransmit lines (the host's side of the connection).
lines() {
    jq -c -R --arg ip "$TIF_HOST_IP" --argjson sp "$1" 'fromjson?
        | select(.event == "tcp_retransmit" and .saddr == $ip and .sport == $sp)' \
        "$TIF_TMP/exporter.out"
}
# settle PORT: wait for the connection's lines to stop coming (ring readers, limiter).

# ---- 1. traced runs, pgx and pq: the client socket's lines carry the trace -------------
for drv in pgx pq; do
    t=$(rand_hex 16) s=$(rand_hex 8)
    run "$drv" "$drv" "00-$t-$s-01" &
    runpid=$!
    tif_cleanup_push "tif_kill_wait $runpid 2"
    # Bound while the INSERT is being sent: watched for as long as the run lasts.
    seen=0
    while tif_alive "$runpid"; do
        [[ $(bindings) == 1 ]] && seen=1 && break
        sleep 0.1
    done
    wait "$runpid" || tif_fail "$drv run failed"
    ((seen)) || tif_fail "$drv: traceiface never held a binding during the traced run"
    tif_wait_metric bindings == 0 10 # unbound after the queries, or closed
    port=$(field "$drv" local_port) start=$(field "$drv" start) end=$(field "$drv" end)
    [[ -n $port && -n $start && -n $end ]] || tif_fail "$drv: incomplete output: $(cat "$TIF_TMP/$drv.out")"
    settle "$port"
    n=$(lines "$port" | count true)
    traced=$(lines "$port" | count ".trace_id == \"$t\" and .span_id == \"$s\"")
    named=$(lines "$port" | count ".trace_id == \"$t\" and (.name == \"SQL INSERT\" or .name == \"SQL SELECT\")")
    inserts=$(lines "$port" | count ".trace_id == \"$t\" and .name == \"SQL INSERT\"")
    # The lines without trace_id by state/kind, for the log (SYN, FIN, ... outside the queries).
    rest=$(lines "$port" | jq -s -c '[.[] | select(has("trace_id") | not) | "\(.state)/\(.kind)"]
        | group_by(.) | map({(.[0]): length}) | add // {}')
    during=$(lines "$port" | count ".state == \"ESTABLISHED\" and .ts >= \"$start\" and .ts <= \"$end\"")
    untraced=$(lines "$port" | count ".state == \"ESTABLISHED\" and .ts >= \"$start\" and .ts <= \"$end\" and (has(\"trace_id\") | not)")
    other=$(lines "$port" | count "has(\"trace_id\") and .trace_id != \"$t\"")
    echo "$drv (client port $port): $n retransmit lines, $traced with trace_id $t ($named named SQL INSERT/SELECT), $during established during the queries, $untraced of them without trace_id, untraced ones: $rest; stats $(field "$drv" stats)"
    tif_assert_cmp "$traced" ">=" 1 "$drv: retransmit lines of the client socket carrying trace_id $t"
    tif_assert_cmp "$named" "==" "$traced" "$drv: traced lines named SQL INSERT/SELECT"
    tif_assert_cmp "$inserts" ">=" 1 "$drv: lines named SQL INSERT"
    tif_assert_cmp "$untraced" "==" 0 "$drv: established lines during the traced queries without trace_id"
    tif_assert_cmp "$other" "==" 0 "$drv: lines with another trace_id"
    om=$(curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "$metrics")
    grep -q "^traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\",.*# {trace_id=\"$t\",span_id=\"$s\"}" \
        <<<"$om" || tif_fail "$drv: no retransmit exemplar with trace_id $t on $TIF_HOST_IF"
    # Two traced queries (INSERT, SELECT) bound, each unbound or rebound; CREATE and DELETE not.
    tif_assert_cmp "$(stat_of "$drv" Bound)" "==" 2 "$drv: bind frames"
    tif_assert_cmp "$(stat_of "$drv" NoSpan)" "==" 2 "$drv: queries without span"
    tif_assert_cmp "$(stat_of "$drv" Errors)" "==" 0 "$drv: frames not sent"
    tif_assert_cmp "$(stat_of "$drv" Dropped)" "==" 0 "$drv: frames dropped"
done

# ---- 2. an untraced run: its retransmit lines carry no trace_id -------------------------
run plain pgx -
port=$(field plain local_port)
settle "$port"
n=$(lines "$port" | count true)
traced=$(lines "$port" | count 'has("trace_id")')
echo "untraced (client port $port): $n retransmit lines, $traced with a trace_id; stats $(field plain stats)"
tif_assert_cmp "$n" ">=" 1 "retransmit lines of the untraced run's socket"
tif_assert_cmp "$traced" "==" 0 "lines with a trace_id of the untraced run"
tif_assert_cmp "$(stat_of plain Bound)" "==" 0 "bind frames of the untraced run"
for r in malformed oversize unauthorized spoofed rate_limited; do
    tif_assert_cmp "$(tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$r\"\\}")" \
        "==" 0 "span frames refused as $r"
done
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
echo "PASS: database/sql connections (pgx, lib/pq) carry the trace of the query they run"
