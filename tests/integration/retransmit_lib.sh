# Helpers shared by the retransmit integration tests (sourced after lib.sh).

RTX_METRIC=traceiface_tcp_retransmit_segments_total

# Prints "iface value" per interface, summed over kinds.
rtx_snapshot() {
    curl -sf "$1" | awk -v m="$RTX_METRIC" '
        index($0, m "{") == 1 {
            match($0, /iface="[^"]*"/); i = substr($0, RSTART + 7, RLENGTH - 8)
            s[i] += $NF
        }
        END { for (i in s) printf "%s %.0f\n", i, s[i] }'
}

# rtx_delta BEFORE AFTER IFACE: growth of one interface's counter.
rtx_delta() {
    awk -v i="$3" 'FILENAME == ARGV[1] { if ($1 == i) b = $2; next } $1 == i { a = $2 }
                   END { printf "%.0f\n", a - b }' "$1" "$2"
}

# rtx_iperf_upload NETNS SERVER_IP SECONDS host|ns: the server runs in NETNS ("host": client
# on the host) or on the host ("ns": client in NETNS).
rtx_iperf_upload() {
    local ns=$1 ip=$2 secs=$3 client=$4
    local server_ns=$ns
    [[ $client == host ]] || server_ns=""
    tif_iperf_server "$server_ns" "$ip" -1
    local spid=$TIF_IPERF_SERVER_PID
    # BBR (this kernel's default) keeps sending into the tbf loss instead of backing off,
    # which is what makes retransmits to count; say so rather than rely on the default.
    local run=(iperf3 -c "$ip" -t "$secs" -C "${TIF_IPERF_CC:-bbr}" --connect-timeout 3000)
    [[ $client == ns ]] && run=(ip netns exec "$ns" "${run[@]}")
    timeout $((secs + 30)) "${run[@]}" >"$TIF_TMP/iperf-client.log" 2>&1 ||
        tif_fail "iperf3 failed: $(tail -5 "$TIF_TMP/iperf-client.log")"
    wait "$spid" 2>/dev/null || true
}

# rtx_assert_host_total BEFORE AFTER IFACE KERNEL: TcpRetransSegs is the whole host's, so a
# socket an earlier test left retransmitting (into a deleted namespace, say) counts there too.
# traceiface counts those as well, under their own route: the sum over every interface must be
# within 2% of KERNEL (the slack is for retransmits between the counter's read and the scrape;
# runs on an idle machine are exact), and IFACE (the test's upload) must hold >= 90% of it.
rtx_assert_host_total() {
    local all ours
    all=$(awk 'FILENAME == ARGV[1] { b[$1] = $2; next } { s += $2 - b[$1] } END { printf "%.0f\n", s }' \
        "$1" "$2")
    ours=$(rtx_delta "$1" "$2" "$3")
    echo "kernel TcpRetransSegs delta: $4; traceiface: $all, of which iface=$3: $ours"
    rtx_assert_within "$all" "$4" 0.02
    tif_assert_cmp "$ours" ">=" "$(awk -v k="$4" 'BEGIN { printf "%.0f", k * 0.9 }')" \
        "segments on $3 (the upload's) out of the kernel's $4"
}

# rtx_assert_within OURS KERNEL FRACTION
rtx_assert_within() {
    awk -v o="$1" -v k="$2" -v f="$3" 'BEGIN { d = o - k; if (d < 0) d = -d; exit !(d <= f * k) }' ||
        tif_fail "traceiface counted $1 segments, the kernel $2: more than $3 apart"
}

# rtx_assert_no_stray BEFORE AFTER IFACE ALLOWANCE: the other interfaces together grew by no
# more than the kernel counted beyond IFACE (ALLOWANCE), i.e. nothing was misattributed.
rtx_assert_no_stray() {
    local stray
    stray=$(awk -v i="$3" 'FILENAME == ARGV[1] { b[$1] = $2; next }
                           $1 != i { s += $2 - b[$1] } END { printf "%.0f\n", s }' "$1" "$2")
    local allowance=$4
    ((allowance < 0)) && allowance=0
    if ((stray > allowance)); then
        diff "$1" "$2" >&2 || true
        tif_fail "$stray segments attributed to other interfaces (kernel allows $allowance)"
    fi
}

# rtx_assert_json_lines LOG IFACE SADDR DADDR SEGS: the lines for IFACE carry the schema, the
# flow's addresses, and their segs add up to what /metrics counted. The iperf3 server in the
# netns may retransmit too (its control connection, a reply), counted on the same interface.
rtx_assert_json_lines() {
    local log=$1 iface=$2 saddr=$3 daddr=$4 want=$5 got bad i
    # The last events may still wait in the ring buffer (the probes wake the reader only per
    # eighth of the ring; the flush interval, 100 ms, drains the rest): allow a few intervals.
    for ((i = 0; i < 30; i++)); do
        got=$(jq -R -s --arg i "$iface" '[split("\n")[] | select(length > 0) | fromjson?
                | select(.event == "tcp_retransmit" and .iface == $i) | .segs] | add // 0' "$log")
        [[ $got == "$want" ]] && break
        sleep 0.1
    done
    [[ $got == "$want" ]] || tif_fail "JSON lines for $iface carry $got segments, /metrics $want"
    bad=$(jq -R -s --arg i "$iface" --arg s "$saddr" --arg d "$daddr" '
        [split("\n")[] | select(length > 0) | fromjson?
         | select(.event == "tcp_retransmit" and .iface == $i)
         | select(((.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$"))
                   and ((.saddr == $s and .daddr == $d and .dport == 5201 and .sport > 0)
                        or (.saddr == $d and .daddr == $s and .sport == 5201 and .dport > 0))
                   and (.state | type == "string") and .segs >= 1 and .level == "info") | not)]
        | length' "$log")
    [[ $bad == 0 ]] || tif_fail "$bad retransmit lines lack the documented fields"
}

# SIGTERM the exporter: it must exit 0, and none of the BPF programs it held may survive it.
rtx_assert_clean_stop() {
    local ids id rc=0
    # Program ids from the exporter's own fds (other exporters may run on this machine).
    ids=$(grep -h '^prog_id:' /proc/"$TIF_EXPORTER_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
    [[ -n $ids ]] || tif_fail "the running exporter holds no BPF program"
    kill -TERM "$TIF_EXPORTER_PID"
    wait "$TIF_EXPORTER_PID" || rc=$?
    [[ $rc == 0 ]] || tif_fail "exporter exited $rc on SIGTERM"
    grep -q '"msg":"stopped"' "$TIF_TMP/exporter.out" || tif_fail "no 'stopped' line"
    # The kernel frees a program after an RCU grace period: give it a moment.
    for id in $ids; do
        for _ in $(seq 50); do
            bpftool prog show id "$id" >/dev/null 2>&1 || continue 2
            sleep 0.1
        done
        tif_fail "BPF program $id still loaded 5 s after exit"
    done
}
