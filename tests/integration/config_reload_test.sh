#!/usr/bin/env bash
# The YAML config file and its reload: check-config on a good and a bad file; a bad file stops
# start-up before the kernel is touched; the command line wins over the file; SIGHUP applies a
# good change (log.level debug shows) and refuses a bad one (the old config keeps serving,
# traceiface_config_last_reload_successful 0); POST /-/reload is 403 unless
# --web.enable-lifecycle, then reloads.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

tif_require_root_bpf
tif_require_cmd curl jq
bin=$TIF_BUILD_DIR/traceiface
cfg=$TIF_TMP/traceiface.yml
out=$TIF_TMP/exporter.out

# No device of ours matches: the tc counters stay off every interface other tests create.
write_config() { # LEVEL [EXTRA_LINE]
    cat >"$cfg" <<YAML
# traceiface config for config_reload_test
web:
  listen-address: "127.0.0.1:1"   # overridden by the command line
iface:
  include: "tifcr$$-none"
span:
  socket: ""                      # none: other tests' exporters may hold the default path
log:
  level: $1
  event-rate: 50
${2:-}
YAML
}

# wait_line JQ_FILTER SECONDS: a line of the exporter's stdout matches.
wait_line() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ $(jq -R -c "fromjson? | select($1)" "$out" | wc -l) -gt 0 ]] && return 0
        sleep 0.1
    done
    return 1
}
count_lines() { jq -R -c "fromjson? | select($1)" "$out" | wc -l; }
reload_ok() { tif_metric_sum "$TIF_EXPORTER_URL/metrics" '^traceiface_config_last_reload_successful '; }
reload_ts() {
    tif_metric_sum "$TIF_EXPORTER_URL/metrics" '^traceiface_config_last_reload_success_timestamp_seconds '
}

# --- check-config -----------------------------------------------------------------------
write_config info
"$bin" check-config "$cfg" >"$TIF_TMP/check.out" || tif_fail "check-config refused a good file"
grep -q "OK" "$TIF_TMP/check.out" || tif_fail "check-config printed no OK: $(cat "$TIF_TMP/check.out")"
write_config info "bpf:
  ringbuf-bytes: 1000"
rc=0
"$bin" check-config "$cfg" 2>"$TIF_TMP/check.err" || rc=$?
[[ $rc == 1 ]] || tif_fail "check-config on a bad value exited $rc, not 1"
grep -qF "$cfg:12: key \"bpf.ringbuf-bytes\"" "$TIF_TMP/check.err" ||
    tif_fail "check-config error lacks file:line and key: $(cat "$TIF_TMP/check.err")"
write_config info "web.listen-adress: x"
rc=0
"$bin" check-config "$cfg" 2>"$TIF_TMP/check.err" || rc=$?
if [[ $rc != 1 ]] || ! grep -qF "$cfg:11: unknown key \"web.listen-adress\"" "$TIF_TMP/check.err"; then
    tif_fail "unknown key not reported (rc $rc): $(cat "$TIF_TMP/check.err")"
fi

# --- a bad file stops start-up before anything is loaded ----------------------------------
rc=0
timeout 10 "$bin" --config.file="$cfg" >"$TIF_TMP/bad.out" 2>"$TIF_TMP/bad.err" || rc=$?
[[ $rc == 2 ]] || tif_fail "start-up with a bad file exited $rc, not 2"
grep -qF "$cfg:11: unknown key" "$TIF_TMP/bad.err" || tif_fail "bad start-up: $(cat "$TIF_TMP/bad.err")"
[[ ! -s $TIF_TMP/bad.out ]] || tif_fail "the daemon started despite a bad file: $(head -3 "$TIF_TMP/bad.out")"

# --- start from the file; the command line's listen address wins --------------------------
write_config info
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg"
[[ $(reload_ok) == 1 ]] || tif_fail "reload_successful is not 1 at start"
ts0=$(reload_ts)
tif_assert_cmp "$ts0" ">" 1600000000 "success timestamp set at start"
[[ $(count_lines '.msg == "config in effect"') == 0 ]] || tif_fail "debug line at level info"

# --- SIGHUP with a good change: log.level debug takes effect ------------------------------
sleep 1.1 # the success timestamp must move
write_config debug
kill -HUP "$TIF_EXPORTER_PID"
wait_line '.msg == "config reloaded" and (.changed | index("log.level"))' 10 ||
    tif_fail "no 'config reloaded' line naming log.level: $(tail -5 "$out")"
wait_line '.msg == "config in effect" and .level == "debug"' 5 ||
    tif_fail "log.level debug did not take effect on SIGHUP"
[[ $(reload_ok) == 1 ]] || tif_fail "reload_successful is not 1 after a good reload"
ts1=$(reload_ts)
tif_assert_cmp "$ts1" ">" "$ts0" "the success timestamp moves on a good reload"

# --- SIGHUP with a bad change: refused, the old config keeps running ----------------------
write_config loud
kill -HUP "$TIF_EXPORTER_PID"
wait_line '.msg | startswith("config reload failed")' 10 || tif_fail "no reload-failed line"
jq -R -c 'fromjson? | select(.msg | startswith("config reload failed")) | .error' "$out" |
    grep -qF "$cfg:9: key \\\"log.level\\\"" || tif_fail "reload error lacks file:line:key"
[[ $(reload_ok) == 0 ]] || tif_fail "reload_successful is not 0 after a bad reload"
[[ $(reload_ts) == "$ts1" ]] || tif_fail "the success timestamp moved on a failed reload"
tif_alive "$TIF_EXPORTER_PID" || tif_fail "the exporter died on a bad reload"
grep -q '^traceiface_probe_up' <<<"$(curl -sf "$TIF_EXPORTER_URL/metrics")" || tif_fail "metrics not served"
# Still at debug: the next SIGHUP's "config in effect" needs a good file, so restore one.
n_debug=$(count_lines '.msg == "config in effect"')
write_config debug "iface.max: 512"
kill -HUP "$TIF_EXPORTER_PID"
wait_line ".msg == \"config in effect\"" 10 || tif_fail "no reload after restoring the file"
for _ in $(seq 50); do
    [[ $(count_lines '.msg == "config in effect"') -gt $n_debug ]] && break
    sleep 0.1
done
[[ $(count_lines '.msg == "config in effect"') -gt $n_debug ]] || tif_fail "restored reload not applied"
[[ $(reload_ok) == 1 ]] || tif_fail "reload_successful back to 1 after a good reload"

# --- POST /-/reload: off by default -------------------------------------------------------
code=$(curl -s -o "$TIF_TMP/post.body" -w '%{http_code}' -X POST "$TIF_EXPORTER_URL/-/reload")
[[ $code == 403 ]] || tif_fail "POST /-/reload without --web.enable-lifecycle gave $code"
grep -q "web.enable-lifecycle" "$TIF_TMP/post.body" || tif_fail "403 body does not say how to enable"
code=$(curl -s -o /dev/null -w '%{http_code}' "$TIF_EXPORTER_URL/-/reload")
[[ $code == 405 ]] || tif_fail "GET /-/reload gave $code, not 405"
tif_kill_wait "$TIF_EXPORTER_PID" 5

# --- POST /-/reload with --web.enable-lifecycle (set in the file) -------------------------
write_config info "web.enable-lifecycle: true"
port=$(tif_free_port)
tif_start_exporter "$port" --config.file="$cfg"
write_config debug "web.enable-lifecycle: true"
code=$(curl -s -o "$TIF_TMP/post.body" -w '%{http_code}' -X POST "$TIF_EXPORTER_URL/-/reload")
[[ $code == 200 ]] || tif_fail "POST /-/reload gave $code: $(cat "$TIF_TMP/post.body")"
wait_line '.msg == "config in effect" and .level == "debug"' 5 || tif_fail "POST reload not applied"
write_config debug "web.enable-lifecycle: true
log.event-rate: -1"
code=$(curl -s -o "$TIF_TMP/post.body" -w '%{http_code}' -X POST "$TIF_EXPORTER_URL/-/reload")
[[ $code == 500 ]] || tif_fail "POST /-/reload of a bad file gave $code"
grep -qF "$cfg:12: key \"log.event-rate\"" "$TIF_TMP/post.body" ||
    tif_fail "500 body lacks file:line:key: $(cat "$TIF_TMP/post.body")"
[[ $(reload_ok) == 0 ]] || tif_fail "reload_successful is not 0 after a bad POST reload"
curl -sf -o /dev/null "$TIF_EXPORTER_URL/-/ready" || tif_fail "not ready after a bad reload"
echo "PASS: config file, check-config, SIGHUP and POST /-/reload"
