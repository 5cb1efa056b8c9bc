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
