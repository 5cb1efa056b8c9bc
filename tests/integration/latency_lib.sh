# shellcheck shell=bash
# Helpers shared by the latency integration tests (sourced after lib.sh).

# lat_buckets URL METRIC IFACE: the cumulative `_bucket` counts of one series, one per line in
# exposition order (ascending le, +Inf last); nothing when the series does not exist.
lat_buckets() {
    curl -sf --max-time 5 "$1" | awk -v p="$2_bucket{iface=\"$3\"," 'index($0, p) == 1 { print $NF }'
}

# lat_count URL METRIC IFACE: the `_count` of one series (0 when absent).
lat_count() {
    curl -sf --max-time 5 "$1" |
        awk -v p="$2_count{iface=\"$3\"}" 'index($0, p) == 1 { v = $NF } END { print v + 0 }'
}

# lat_median_slot BEFORE AFTER: index of the bucket holding the median of the observations
# made between two lat_buckets snapshots (a missing BEFORE counts as all zeros); -1 if none.
lat_median_slot() {
    awk 'FILENAME == ARGV[1] { b[FNR] = $1; next }
         { d[FNR] = $1 - b[FNR]; n = FNR }
         END { if (n == 0 || d[n] <= 0) { print -1; exit }
               for (i = 1; i <= n; i++) if (d[i] >= d[n] / 2) { print i - 1; exit } }' "$1" "$2"
}

# lat_slot_of_us US: the exporter's bucket for a value in microseconds (smallest i, us <= 2^i).
lat_slot_of_us() {
    awk -v v="$1" 'BEGIN { i = 0; b = 1; while (v > b && i < 26) { i++; b *= 2 } print i }'
}

# lat_ss_rtts_us FILTER...: srtt in microseconds of each matching socket with data in flight
# (ss prints unacked: only then), the same flows the exporter samples.
lat_ss_rtts_us() {
    # No matching socket at this instant (the upload starting or ending) is not an error.
    ss -tin "$@" | { grep -oE '(^|[[:space:]])rtt:[0-9.]+|unacked:[0-9]+' || true; } | awk '
        /rtt:/ { sub(/.*rtt:/, ""); r = $0; next }
        /unacked:/ && r != "" { printf "%.0f\n", r * 1000; r = "" }'
}

# lat_median_of FILE: median of one number per line (lower median).
lat_median_of() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# lat_failures URL IFACE REASON: traceiface_tcp_connect_failures_total of one series (0 if none).
lat_failures() {
    tif_metric_sum "$1" "^traceiface_tcp_connect_failures_total\\{iface=\"$2\",reason=\"$3\"\\}"
}

# lat_listener IP PORT [HOLD_FIFO]: a TCP listener in the current netns that accepts and closes
# every connection. With HOLD_FIFO it listens with backlog 1 and accepts nothing until
# something is written to the FIFO: its accept queue is full after 2 opens, and the host drops
# the next SYN (ListenOverflows) until the FIFO is written.
lat_listener() {
    local ip=$1 port=$2 hold=${3:-} backlog=64
    [[ -n $hold ]] && backlog=1
    python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(int(sys.argv[3]))
if sys.argv[4]:
    open(sys.argv[4]).read()
while True:
    c, _ = s.accept()
    c.close()
' "$ip" "$port" "$backlog" "$hold" &
    tif_cleanup_push "kill $! 2>/dev/null || true"
    local _
    for _ in $(seq 50); do
        ss -Hltn "sport = :$port" | grep -q . && return 0
        sleep 0.1
    done
    tif_fail "listener on $ip:$port did not come up"
}

# lat_lost_syn_open NS IP PORT FIFO: from netns NS, two opens that fill the accept queue of a
# held lat_listener, then one whose first SYN the host drops; 0.3 s in, the FIFO releases the
# listener, so that open completes when the kernel retransmits its SYN (after 1 s). Prints the
# seconds the two filling connect() calls took in all and the seconds of the third.
lat_lost_syn_open() {
    ip netns exec "$1" python3 -c '
import socket, sys, threading, time
host, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keep = []
def connect():
    s = socket.socket()
    t0 = time.monotonic()
    s.connect((host, port))
    keep.append(s)
    return time.monotonic() - t0
fill = connect() + connect()
def release():
    time.sleep(0.3)
    with open(go, "w") as f:
        f.write("go")
releaser = threading.Thread(target=release)
releaser.start()
lost = connect()
releaser.join()
print("%.6f %.6f" % (fill, lost))
' "$2" "$3" "$4"
}

# lat_sum URL METRIC IFACE: the `_sum` of one series (0 when absent).
lat_sum() {
    tif_metric_sum "$1" "^$2_sum\\{iface=\"$3\"\\}"
}

# lat_assert_one_slow BEFORE AFTER N_FAST SLOW_S SLACK_S: between two lat_buckets snapshots (a
# missing BEFORE counts as all zeros), N_FAST observations under 2^19 us (0.52 s) and exactly
# one in the bucket of a value from SLOW_S - SLACK_S to SLOW_S seconds.
lat_assert_one_slow() {
    local delta=$TIF_TMP/bucket-delta.txt lo hi under at below
    awk 'FILENAME == ARGV[1] { b[FNR] = $1; next } { print $1 - b[FNR] }' "$1" "$2" >"$delta"
    under=$(sed -n 20p "$delta")
    hi=$(lat_slot_of_us "$(awk -v s="$4" 'BEGIN { printf "%.0f", s * 1e6 }')")
    lo=$(lat_slot_of_us "$(awk -v s="$4" -v d="$5" 'BEGIN { printf "%.0f", (s - d) * 1e6 }')")
    at=$(sed -n "$((hi + 1))p" "$delta")
    below=$(sed -n "${lo}p" "$delta")
    tif_assert_cmp "${under:-0}" "==" "$3" "observations under 0.52 s"
    tif_assert_cmp "$((${at:-0} - ${below:-0}))" "==" 1 \
        "one observation in bucket $lo..$hi (the client timed ${4}s)"
}
