#!/usr/bin/env bash
# The RTT histogram against an independent measurement of the same flows. A tbf on the host
# side of a veth pair queues an iperf3 upload into a fresh netns, which lifts the smoothed RTT
# to tens of ms. Meanwhile `ss -ti` samples the srtt of the upload's sockets that have data in
# flight; the median bucket of the exporter's histogram for that veth must be the same as or
# next to the bucket of the ss median. The rate limit per flow must hold, and a real Prometheus
# must compute a finite histogram_quantile(0.99, ...) from the exposition.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/prometheus_lib.sh"
source "$here/latency_lib.sh"

RTT=traceiface_tcp_rtt_seconds
SECS=10
STREAMS=2
INTERVAL_MS=100

tif_require_root_bpf
tif_require_cmd iperf3 ss jq curl /usr/bin/prometheus promtool
tif_make_netns_pair tfr
TIF_TBF_RATE=10mbit TIF_TBF_BURST=16kb TIF_TBF_LATENCY=40ms tif_tbf "$TIF_HOST_IF"
port=$(tif_free_port)
tif_start_exporter "$port" --tcp.rtt-sample-interval="${INTERVAL_MS}ms"
metrics="http://127.0.0.1:$port/metrics"
tif_start_prometheus "127.0.0.1:$port"

lat_buckets "$metrics" "$RTT" "$TIF_HOST_IF" >"$TIF_TMP/before.txt"
before_count=$(lat_count "$metrics" "$RTT" "$TIF_HOST_IF")

tif_iperf_server "$TIF_NS" "$TIF_NS_IP" -1
spid=$TIF_IPERF_SERVER_PID
timeout $((SECS + 30)) iperf3 -c "$TIF_NS_IP" -t "$SECS" -P "$STREAMS" --connect-timeout 3000 \
    >"$TIF_TMP/iperf-client.log" 2>&1 &
cpid=$!
tif_cleanup_push "kill $cpid 2>/dev/null || true"
: >"$TIF_TMP/ss-rtt-us.txt"
while tif_alive "$cpid"; do
    lat_ss_rtts_us dst "$TIF_NS_IP:5201" >>"$TIF_TMP/ss-rtt-us.txt"
    sleep 0.2
done
wait "$cpid" || tif_fail "iperf3 failed: $(tail -5 "$TIF_TMP/iperf-client.log")"
wait "$spid" 2>/dev/null || true

lat_buckets "$metrics" "$RTT" "$TIF_HOST_IF" >"$TIF_TMP/after.txt"
after_count=$(lat_count "$metrics" "$RTT" "$TIF_HOST_IF")
samples=$((after_count - before_count))
ss_n=$(wc -l <"$TIF_TMP/ss-rtt-us.txt")
ss_median=$(lat_median_of "$TIF_TMP/ss-rtt-us.txt")
[[ -n $ss_median ]] || tif_fail "ss saw no socket with data in flight"
ss_slot=$(lat_slot_of_us "$ss_median")
ours_slot=$(lat_median_slot "$TIF_TMP/before.txt" "$TIF_TMP/after.txt")
echo "ss: $ss_n readings, median srtt ${ss_median} us (bucket $ss_slot);" \
    "traceiface{iface=$TIF_HOST_IF}: $samples samples, median bucket $ours_slot"
tif_assert_cmp "$ss_n" ">=" 20 "ss must see the upload's sockets"
tif_assert_cmp "$ss_median" ">=" 5000 "tbf must lift the srtt to milliseconds"
tif_assert_cmp "$ours_slot" ">=" 0 "the exporter saw no RTT sample on $TIF_HOST_IF"
diff=$((ours_slot - ss_slot))
((diff >= -1 && diff <= 1)) ||
    tif_fail "median bucket $ours_slot is not the same as or next to ss's bucket $ss_slot"

# Sampling policy: at most one sample per flow per interval. The flows are the data streams
# and iperf3's control connection, each alive at most the run plus a few seconds of setup.
max=$(((STREAMS + 1) * ((SECS + 5) * 1000 / INTERVAL_MS + 1)))
tif_assert_cmp "$samples" "<=" "$max" "more samples than the rate limit allows"
tif_assert_cmp "$samples" ">=" $((STREAMS * SECS * 1000 / INTERVAL_MS / 2)) \
    "far fewer samples than one per flow per interval"

# A real Prometheus computes a finite p99 from the buckets.
q="histogram_quantile(0.99, rate(${RTT}_bucket{iface=\"$TIF_HOST_IF\"}[30s]))"
tif_prom_wait_positive "$q" 30
p99=$(tif_prom_query_value "$q")
echo "Prometheus: $q = $p99"
awk -v v="$p99" 'BEGIN { exit !(v + 0 > 0.001 && v + 0 < 40) }' ||
    tif_fail "p99 '$p99' is not a finite RTT in seconds"
tif_promtool_check "$metrics"
echo "PASS: RTT histogram on $TIF_HOST_IF agrees with ss (bucket $ours_slot vs $ss_slot)"
