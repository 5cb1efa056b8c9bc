# shellcheck shell=bash
# Helpers for the per-interface packet counter tests (sourced after lib.sh).
# Every device these tests create is named tif<letters><PID>, and the exporter is started with
# --iface.include matching exactly that, so parallel tests never see each other's devices.

IFACE_RE="^tif[a-z]+$$\$"
IFACE_HANDLE=0x74696600

# iface_start_exporter PORT [ARGS...]: the exporter, limited to this test's devices.
iface_start_exporter() {
    local port=$1
    shift
    tif_start_exporter "$port" --iface.include="$IFACE_RE" --iface.stale-grace=2s "$@"
}

# iface_value URL METRIC IFACE DIRECTION: one counter (0 when absent).
iface_value() {
    tif_metric_sum "$1" "^$2\\{iface=\"$3\",direction=\"$4\"\\}"
}

# iface_sys DEV COUNTER [NETNS]: /sys/class/net/DEV/statistics/COUNTER.
iface_sys() {
    if [[ -n ${3:-} ]]; then
        ip netns exec "$3" cat "/sys/class/net/$1/statistics/$2"
    else
        cat "/sys/class/net/$1/statistics/$2"
    fi
}

# iface_wait_metric URL PATTERN OP VALUE SECS: poll tif_metric_sum until the comparison holds.
iface_wait_metric() {
    local url=$1 pat=$2 op=$3 want=$4 secs=$5 v deadline
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        v=$(tif_metric_sum "$url" "$pat" 2>/dev/null) || v=
        if [[ -n $v ]] && awk -v a="$v" -v b="$want" -v op="$op" 'BEGIN { a += 0; b += 0
            exit !((op == "==" && a == b) || (op == ">=" && a >= b) || (op == "<=" && a <= b)) }'; then
            return 0
        fi
        sleep 0.2
    done
    tif_fail "metric '$pat' = '${v:-}' is not $op $want after ${secs}s"
}

# iface_our_filters DEV DIR: how many filters with our handle sit on the hook.
iface_our_filters() {
    tc filter show dev "$1" "$2" 2>/dev/null | grep -c "handle $IFACE_HANDLE " || true
}

# iface_foreign_filters DEV DIR: filters on the hook that are not ours (handle lines only).
iface_foreign_filters() {
    tc filter show dev "$1" "$2" 2>/dev/null | grep ' handle ' | grep -vc "handle $IFACE_HANDLE " || true
}

# iface_hook DEV DIR: one hook as `traceiface list --json` reads it from the kernel:
# {attached: {prog_id, prog_name, ours, via}|null, filters: N, tcx: [{prog_id, prog_name, ours}]}.
iface_hook() {
    "$TIF_BUILD_DIR/traceiface" list --json |
        jq -c --arg dev "$1" --arg dir "$2" '.[] | select(.iface == $dev) | .[$dir]'
}

# iface_ours DEV DIR: how many programs of ours run on the hook, tcx links and clsact filters
# at our handle together (more than one would count every packet twice).
iface_ours() {
    local links
    links=$(iface_hook "$1" "$2" | jq '[.tcx[] | select(.ours)] | length')
    echo $((${links:-0} + $(iface_our_filters "$1" "$2")))
}

# iface_foreign DEV DIR: programs on the hook that are not ours (tcx links and filters).
iface_foreign() {
    local links
    links=$(iface_hook "$1" "$2" | jq '[.tcx[] | select(.ours | not)] | length')
    echo $((${links:-0} + $(iface_foreign_filters "$1" "$2")))
}

# iface_attach_mode: the attach kind the running exporter logged (tcx or clsact).
iface_attach_mode() {
    grep -o '"probe":"tc_packets","attach":"[a-z]*"' "$TIF_TMP/exporter.out" | tail -1 |
        sed 's/.*"attach":"\([a-z]*\)"/\1/'
}

# iface_prog_ids PID: ids of the BPF programs a process holds.
iface_prog_ids() {
    grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u
}

# iface_wait_prog_gone ID: the kernel frees a program after an RCU grace period.
iface_wait_prog_gone() {
    local i
    for i in $(seq 50); do
        bpftool prog show id "$1" >/dev/null 2>&1 || return 0
        sleep 0.1
    done
    tif_fail "BPF program $1 still loaded 5 s later"
}

# iface_iperf NETNS SERVER_IP SECONDS [ARGS...]: iperf3 from the host to a server in NETNS.
iface_iperf() {
    local ns=$1 ip=$2 secs=$3 spid
    shift 3
    tif_iperf_server "$ns" "$ip" -1
    spid=$TIF_IPERF_SERVER_PID
    timeout $((secs + 30)) iperf3 -c "$ip" -t "$secs" --connect-timeout 3000 "$@" \
        >"$TIF_TMP/iperf-client.log" 2>&1 ||
        tif_fail "iperf3 failed: $(tail -5 "$TIF_TMP/iperf-client.log")"
    wait "$spid" 2>/dev/null || true
}
