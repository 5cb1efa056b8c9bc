#!/usr/bin/env bash
# The HTTP face under hostile clients: --web.listen-address is honoured exactly (that address
# and port, nothing else); oversized request lines, headers and bodies, bad methods and
# traversal attempts get a 4xx, are counted in traceiface_http_requests_total{code}, and the
# daemon keeps serving; a half-sent request is answered 400 after the read timeout (5 s); stalled
# connections beyond the thread pool delay /metrics by at most one read timeout per pool's
# worth of them; SIGTERM still exits 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"

tif_require_root_bpf
tif_require_cmd ss curl python3 awk
probe() { python3 "$here/http_probe.py" "$@"; }
step() { echo "== $*"; }

port=$(tif_free_port)
addr=127.0.0.2 # loopback too, but not the address a wildcard or 127.0.0.1 bind would show
url="http://$addr:$port"
"$TIF_BUILD_DIR/traceiface" --web.listen-address="$addr:$port" \
    --span.socket="$TIF_TMP/span.sock" --iface.include='^$' --bpf.pin-path= \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
pid=$!
tif_cleanup_push "tif_kill_wait $pid 5"
tif_wait_http "$url/-/ready" 30 "$pid" ||
    tif_fail "not ready on $addr:$port: $(tail -3 "$TIF_TMP/exporter.out" "$TIF_TMP/exporter.err")"

step "listens on exactly $addr:$port"
listeners=$(ss -Hltnp | awk -v p="pid=$pid," 'index($0, p) { print $4 }')
[[ $listeners == "$addr:$port" ]] || tif_fail "TCP listeners of the exporter: '$listeners'"
[[ -z $(ss -Hlunp | awk -v p="pid=$pid," 'index($0, p)') ]] || tif_fail "UDP listeners"
on_port=$(ss -Hltn "sport = :$port" | awk '{ print $4 }')
[[ $on_port == "$addr:$port" ]] || tif_fail "listeners on port $port: '$on_port'"
for other in "127.0.0.1:$port" "[::1]:$port"; do
    rc=0
    curl -s -o /dev/null --max-time 3 "http://$other/-/healthy" || rc=$?
    ((rc == 7)) || tif_fail "http://$other: curl exit $rc, want 7 (connection refused)"
done

# expect_status NAME WANT: send $TIF_TMP/req raw; WANT is a code or a pattern such as 4??.
expect_status() {
    local got
    got=$(probe status "$addr" "$port" "$TIF_TMP/req")
    # shellcheck disable=SC2053 # $2 is a glob on purpose
    [[ $got == $2 ]] || tif_fail "$1: got '$got', want $2"
    echo "$1: $got"
    curl -sf -o /dev/null --max-time 5 "$url/-/healthy" || tif_fail "$1: daemon stopped serving"
}
python3 -c 'import sys; sys.stdout.write("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n")' \
    >"$TIF_TMP/req"
expect_status "request line of 9 KB" 414
python3 -c 'import sys; sys.stdout.write("GET /metrics HTTP/1.1\r\nX-Big: " + "a" * 9000 + "\r\n\r\n")' \
    >"$TIF_TMP/req"
expect_status "header line of 9 KB" 400
python3 -c 'import sys; sys.stdout.write("GET /metrics HTTP/1.1\r\n" + "".join("X-%d: v\r\n" % i for i in range(150)) + "\r\n")' \
    >"$TIF_TMP/req"
expect_status "150 header fields" 431
python3 -c 'import sys; sys.stdout.write("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + "a" * 100000)' \
    >"$TIF_TMP/req"
expect_status "body of 1 MB announced" 413

step "methods"
for m in DELETE PATCH OPTIONS POST PUT; do
    printf '%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' "$m" >"$TIF_TMP/req"
    expect_status "$m /metrics" 405
done
printf 'BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n' >"$TIF_TMP/req"
expect_status "unknown method" 400
printf 'GET /-/reload HTTP/1.1\r\nHost: x\r\n\r\n' >"$TIF_TMP/req"
expect_status "GET /-/reload" 405
printf 'POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' >"$TIF_TMP/req"
expect_status "POST /-/reload without --web.enable-lifecycle" 403

step "no path leads outside the routes"
for path in /../../etc/passwd /%2e%2e/%2e%2e/etc/passwd //etc/passwd /metrics/../../etc/passwd \
    /..%2f..%2fetc%2fpasswd /-/../../../etc/passwd '/%00/etc/passwd' /etc/passwd; do
    code=$(curl -s --path-as-is -o "$TIF_TMP/body" -w '%{http_code}' --max-time 5 "$url$path")
    [[ $code == 404 || $code == 400 ]] || tif_fail "GET $path: $code"
    ! grep -q 'root:' "$TIF_TMP/body" || tif_fail "GET $path returned file contents"
done
printf 'GET ../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n' >"$TIF_TMP/req"
expect_status "request target without a leading /" 4??

step "a half-sent request is answered after the read timeout, then closed"
# cpp-httplib answers 400 when the 5 s read timeout ends the headers, then waits the 5 s
# keep-alive timeout for a next request before it closes.
read -r status answered closed < <(probe halfsent "$addr" "$port")
echo "half-sent request: $status after $answered s, closed after $closed s"
[[ $status == 400 ]] || tif_fail "half-sent request answered '$status', want 400"
tif_assert_cmp "$answered" '>=' 4 "answered before the read timeout"
tif_assert_cmp "$answered" '<=' 8 "half-sent request not answered after the 5 s read timeout"
tif_assert_cmp "$closed" '<=' 14 "half-sent request not closed after read + keep-alive timeout"

step "stalled connections: fewer than the pool, then three pools' worth"
timed_scrape() {
    local t0 t1
    t0=$(date +%s.%N)
    curl -sf -o /dev/null --max-time 40 "$url/metrics" || tif_fail "/metrics failed behind $1 stalls"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}
for n in 3 12; do
    probe stall "$addr" "$port" "$n" >"$TIF_TMP/stall-$n.out" &
    stall_pid=$!
    sleep 0.5
    took=$(timed_scrape "$n")
    wait "$stall_pid"
    echo "$n stalled connections: /metrics took $took s; stalls closed after $(cat "$TIF_TMP/stall-$n.out") s"
    # 4 HTTP threads, each stall held for the 5 s read timeout: N stalls delay by ceil(N/4) x 5 s.
    tif_assert_cmp "$took" '<=' $((((n + 3) / 4) * 5 + 3)) "/metrics behind $n stalled connections"
    read -r -a held <"$TIF_TMP/stall-$n.out"
    for s in "${held[@]}"; do
        tif_assert_cmp "$s" '<=' $((((n + 3) / 4) * 5 + 4)) "a stalled connection held too long"
    done
done

step "every refusal is counted"
for code in 400 405 413 414 431; do
    n=$(tif_metric_sum "$url/metrics" "^traceiface_http_requests_total\\{code=\"$code\"\\}")
    echo "traceiface_http_requests_total{code=\"$code\"} $n"
    tif_assert_cmp "$n" '>=' 1 "requests answered $code not counted"
done
tif_assert_cmp "$(tif_metric_sum "$url/metrics" '^traceiface_http_requests_total\{code="405"\}')" \
    '>=' 6 "every 405 counted"
tif_assert_cmp "$(tif_metric_sum "$url/metrics" '^traceiface_http_requests_total\{code="404"\}')" \
    '>=' 8 "every 404 counted"

step "SIGTERM exits 0"
kill -TERM "$pid"
rc=0
timeout 20 tail --pid="$pid" -f /dev/null || tif_fail "no exit within 20 s of SIGTERM"
wait "$pid" || rc=$?
((rc == 0)) || tif_fail "exit code $rc after SIGTERM: $(tail -5 "$TIF_TMP/exporter.err")"
echo "PASS: http_hardening_test"
