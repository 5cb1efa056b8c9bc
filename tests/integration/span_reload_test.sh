#!/usr/bin/env bash
# SIGHUP applies a new span-socket allow-list: a uid refused before is served after the reload,
# and refused again once it is taken off the list.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

tif_require_root_bpf
tif_require_cmd setpriv
tool=$TIF_BUILD_DIR/tests/span_client_tool
[[ -x $tool ]] || tif_skip_or_fail "span_client_tool not built: $tool"
chmod 0711 "$TIF_TMP" # uid 65534 must reach the socket; the allow-list decides
sock=$TIF_TMP/span/span.sock
cfg=$TIF_TMP/config.yml
write_config() {
    printf 'iface.include: "^$"\nspan:\n  socket: "%s"\n  socket-mode: "0666"\n  allow-uids: [%s]\n' \
        "$sock" "$1" >"$cfg"
}
write_config ""
port=$(tif_free_port)
# No --span.socket on the command line: it would win over the file. The socket is private.
"$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" --config.file="$cfg" --bpf.pin-path= \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
TIF_EXPORTER_PID=$!
tif_cleanup_push "tif_kill_wait $TIF_EXPORTER_PID 5"
tif_wait_http "http://127.0.0.1:$port/-/ready" 20 "$TIF_EXPORTER_PID" ||
    tif_fail "exporter not ready: $(tail -5 "$TIF_TMP/exporter.out")"
metrics="http://127.0.0.1:$port/metrics"

frames() { tif_metric_sum "$metrics" "traceiface_span_frames_total\\{result=\"$1\"\\}"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" raw "$sock" @bind tcp \
    >/dev/null 2>&1 || true; }
reload() {
    local n
    n=$(grep -c '"msg":"config reloaded"' "$TIF_TMP/exporter.out" || true)
    write_config "$1"
    kill -HUP "$TIF_EXPORTER_PID"
    for _ in $(seq 50); do
        (($(grep -c '"msg":"config reloaded"' "$TIF_TMP/exporter.out" || true) > n)) && break
        sleep 0.1
    done
    sleep 0.2 # the allow-list is applied on the span server's strand
}
settle() { sleep 0.5; }

u0=$(frames unauthorized) ok0=$(frames ok)
as_nobody && settle
tif_assert_cmp "$(frames unauthorized)" "==" "$((u0 + 1))" "uid 65534 refused before the reload"

reload 65534
as_nobody && settle
tif_assert_cmp "$(frames ok)" "==" "$((ok0 + 1))" "uid 65534 served after the reload"
tif_assert_cmp "$(frames unauthorized)" "==" "$((u0 + 1))" "no refusal after the reload"

reload ""
as_nobody && settle
tif_assert_cmp "$(frames unauthorized)" "==" "$((u0 + 2))" "uid 65534 refused again"
echo "PASS: SIGHUP applies the span allow-list"
