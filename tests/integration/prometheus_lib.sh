# shellcheck shell=bash
# Prometheus helpers for integration tests; source after lib.sh.
[[ -n ${TIF_LIB_LOADED:-} ]] || {
    echo "FAIL: source lib.sh before prometheus_lib.sh" >&2
    exit 1
}
[[ -n ${TIF_PROM_LIB_LOADED:-} ]] && return 0
TIF_PROM_LIB_LOADED=1

# Start a private Prometheus scraping TARGET_HOSTPORT every second as job "traceiface".
tif_start_prometheus() {
    local target=${1:?usage: tif_start_prometheus TARGET_HOSTPORT [FLAGS...]} port pid
    shift
    cat >"$TIF_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: traceiface
    static_configs:
      - targets: ['$target']
EOF
    port=$(tif_free_port)
    /usr/bin/prometheus --config.file="$TIF_TMP/prometheus.yml" \
        --storage.tsdb.path="$TIF_TMP/prom-data" \
        --web.listen-address="127.0.0.1:$port" "$@" >"$TIF_TMP/prometheus.log" 2>&1 &
    pid=$!
    tif_cleanup_push "tif_kill_wait $pid 5"
    TIF_PROM_PID=$pid
    TIF_PROM_URL=http://127.0.0.1:$port
    export TIF_PROM_PID TIF_PROM_URL
    if ! tif_wait_http "$TIF_PROM_URL/-/ready" 30 "$pid"; then
        echo "--- prometheus.log (last 50) ---" >&2
        tail -n 50 "$TIF_TMP/prometheus.log" >&2
        tif_fail "prometheus not ready on port $port within 30 s"
    fi
}

# Instant query; prints the raw JSON answer.
tif_prom_query() {
    curl -sf --max-time 5 --data-urlencode "query=${1:?usage: tif_prom_query PROMQL}" \
        "$TIF_PROM_URL/api/v1/query"
}

# The first sample's value (vector or scalar result), or nothing when the result is empty.
tif_prom_query_value() {
    local json
    json=$(tif_prom_query "$1") || return 1
    jq -r 'if .data.resultType == "scalar" then .data.result[1]
           else (.data.result[0].value[1] // empty) end' <<<"$json"
}

# Poll until PROMQL yields a value > 0; on timeout print the last JSON and return 1.
tif_prom_wait_positive() {
    local q=${1:?usage: tif_prom_wait_positive PROMQL TIMEOUT_S} secs=${2:-30} deadline v
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        v=$(tif_prom_query_value "$q" 2>/dev/null) || v=
        if [[ -n $v ]] && awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }'; then
            return 0
        fi
        sleep 0.5
    done
    echo "FAIL: '$q' not > 0 within ${secs}s; last answer:" >&2
    tif_prom_query "$q" >&2 || echo "(query failed)" >&2
    echo >&2
    return 1
}

# Lint an exposition with promtool; any output line counts as a problem.
tif_promtool_check() {
    local url=${1:?usage: tif_promtool_check URL} out rc=0
    curl -sf --max-time 5 -o "$TIF_TMP/promtool-input.txt" "$url" || {
        echo "FAIL: scrape of $url failed" >&2
        return 1
    }
    out=$(promtool check metrics <"$TIF_TMP/promtool-input.txt" 2>&1) || rc=$?
    if ((rc != 0)) || [[ -n $out ]]; then
        echo "FAIL: promtool check metrics on $url (exit $rc):" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
}
