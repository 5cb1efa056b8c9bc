#!/usr/bin/env bash
# Every PromQL expression of dashboards/*.json, template variables substituted the way Grafana
# does ($iface as a two-value multi-select regex holding the test veth, $instance the exporter,
# $namespace/$pod as All, $__rate_interval 30s), is evaluated by a real Prometheus scraping a
# running exporter while an iperf3 upload through a tiny tbf makes real loss, and must return a
# non-empty result. The variables' own label_values() queries must offer the veth and the
# instance, and namespace/pod what the exporter exposes. The JSON lines must carry the fields
# the dashboards' LogQL queries extract.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../integration/lib.sh"
source "$here/../integration/prometheus_lib.sh"

SECS=25
tif_require_root_bpf
tif_require_cmd iperf3 node jq curl /usr/bin/prometheus
tif_make_netns_pair tfd
tif_tbf "$TIF_HOST_IF"

# Keep to our own interface and socket where this build has the flags for it.
args=()
help=$("$TIF_BUILD_DIR/traceiface" --help 2>&1 || true)
[[ $help == *--iface.include* ]] && args+=("--iface.include=$TIF_HOST_IF")
[[ $help == *--span.socket* ]] && args+=("--span.socket=$TIF_TMP/span.sock")
port=$(tif_free_port)
tif_start_exporter "$port" "${args[@]}"
metrics="$TIF_EXPORTER_URL/metrics"
instance="127.0.0.1:$port"
tif_start_prometheus "$instance"

# Traffic for the whole evaluation: a lossy upload (retransmits, RTT, connects, packets of
# every size) and connects to a closed port (refused: connect failures).
tif_iperf_server "$TIF_NS" "$TIF_NS_IP" -1
timeout $((SECS + 30)) iperf3 -c "$TIF_NS_IP" -t "$SECS" -C bbr --connect-timeout 3000 \
    >"$TIF_TMP/iperf-client.log" 2>&1 &
cpid=$!
tif_cleanup_push "kill $cpid 2>/dev/null || true"
closed=$(tif_free_port)
for _ in 1 2 3 4 5; do
    timeout 3 bash -c ": </dev/tcp/$TIF_NS_IP/$closed" 2>/dev/null && tif_fail "port $closed is open"
    sleep 0.2
done

tif_prom_wait_positive \
    "sum(rate(traceiface_tcp_retransmit_segments_total{iface=\"$TIF_HOST_IF\"}[30s]))" 40 ||
    tif_fail "no retransmits on $TIF_HOST_IF reached Prometheus"
sleep 3 # a few more scrapes, so every rate() has two samples of each new series

node "$here/check_dashboards.js" --promql "$TIF_HOST_IF" "$instance" >"$TIF_TMP/exprs.jsonl"
total=$(wc -l <"$TIF_TMP/exprs.jsonl")
tif_assert_cmp "$total" ">=" 20 "the dashboards must hold the PromQL expressions"

# One try each; empty answers get more tries until 15 s after the first evaluation, shared
# by all of them (a missing metric family must not cost 15 s per expression).
evaluate() { # EXPR -> prints the number of series, or "error: ..."
    local json
    json=$(tif_prom_query "$1") || {
        echo "error: query failed"
        return
    }
    jq -r 'if .status != "success" then "error: \(.error)" else (.data.result | length) end' \
        <<<"$json"
}
empty=()
retry_until=$((SECONDS + 15))
while IFS= read -r line; do
    expr=$(jq -r .expr <<<"$line")
    where=$(jq -r '"\(.dashboard) \"\(.panel)\" \(.refId)"' <<<"$line")
    n=$(evaluate "$expr")
    while [[ $n == 0 ]] && ((SECONDS < retry_until)); do
        sleep 1
        n=$(evaluate "$expr")
    done
    if [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "ok ($n series): $where"
    else
        echo "EMPTY ($n): $where: $expr" >&2
        empty+=("$expr")
    fi
done <"$TIF_TMP/exprs.jsonl"

# The variables' queries, as Grafana sends them (/api/v1/label/NAME/values?match[]=...), with
# namespace/pod at All: instance and iface must offer ours; namespace and pod exactly the
# non-empty values of the exporter's traceiface_interface_info (none on a host-only machine:
# Prometheus drops empty labels). A query using $namespace, asked for a namespace no pod has
# ("none"), must offer nothing: our veth must then be gone from iface.
exposed() { # LABEL -> its non-empty values in traceiface_interface_info on /metrics
    curl -sf --max-time 5 "$metrics" | grep '^traceiface_interface_info{' |
        grep -oE "[{,]$1=\"[^\"]+\"" | sed -E 's/^.[a-z]+="(.*)"$/\1/' | sort -u || true
}
while IFS= read -r line; do
    label=$(jq -r .label <<<"$line")
    name=$(jq -r '"\(.dashboard) \(.name)"' <<<"$line")
    none=$(jq -r '.none // false' <<<"$line")
    json=$(curl -sf --max-time 5 -G --data-urlencode "match[]=$(jq -r .match <<<"$line")" \
        "$TIF_PROM_URL/api/v1/label/$label/values") || json='{"status":"unreachable"}'
    if [[ $(jq -r .status <<<"$json") != success ]]; then
        echo "FAIL: variable $name: Prometheus refused its query: $json" >&2
        empty+=("variable $label")
        continue
    fi
    values=$(jq -r '(.data // [])[]' <<<"$json" | sort -u)
    ok=n
    case $none/$label in
    true/*)
        want="nothing for namespace /none"
        [[ -z $values ]] && ok=y
        ;;
    false/instance | false/iface)
        want=$instance
        [[ $label == iface ]] && want=$TIF_HOST_IF
        grep -qxF -- "$want" <<<"$values" && ok=y
        ;;
    *)
        want=$(exposed "$label")
        [[ $values == "$want" ]] && ok=y
        want="the exporter's ${label}s [${want//$'\n'/ }]"
        ;;
    esac
    if [[ $ok == y ]]; then
        echo "ok: variable $name offers $want"
    else
        echo "FAIL: variable $name offers [${values//$'\n'/ }], not $want" >&2
        empty+=("variable $label")
    fi
done < <(node "$here/check_dashboards.js" --var-queries "$instance")

wait "$cpid" || tif_fail "iperf3 failed: $(tail -5 "$TIF_TMP/iperf-client.log")"

# The fields the LogQL queries use, in the retransmit lines of our veth.
fields=$(jq -c "select(.event == \"tcp_retransmit\" and .iface == \"$TIF_HOST_IF\")
    | [has(\"kind\"), has(\"segs\"), has(\"saddr\"), has(\"daddr\"), has(\"dport\")]" \
    "$TIF_TMP/exporter.out" 2>/dev/null | sort -u)
[[ $fields == '[true,true,true,true,true]' ]] ||
    tif_fail "retransmit lines of $TIF_HOST_IF lack LogQL fields (seen: ${fields:-no lines})"

if ((${#empty[@]} > 0)); then
    body=$(curl -sf --max-time 5 "$metrics")
    missing=()
    for fam in $(grep -ohE 'traceiface_[a-z_]+' <<<"${empty[*]}" | sed -E \
        's/_(bucket|sum|count)$//' | sort -u); do
        grep -qE "^# TYPE $fam " <<<"$body" || missing+=("$fam")
    done
    echo "metric families absent from the exporter: ${missing[*]:-none}" >&2
    tif_fail "${#empty[@]} of $total dashboard queries returned no data"
fi
echo "PASS: all $total dashboard PromQL expressions returned data for $TIF_HOST_IF"
