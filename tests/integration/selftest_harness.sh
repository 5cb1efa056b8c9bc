#!/usr/bin/env bash
# Tests the integration harness itself (no traceiface needed): helpers, netns + tbf that
# produce real TCP retransmits, a Prometheus scraping node-exporter, and full cleanup.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
# shellcheck source=SCRIPTDIR/prometheus_lib.sh
source "$here/prometheus_lib.sh"

tif_require_root_bpf
tif_require_cmd ip tc ss iperf3 curl jq awk timeout promtool \
    /usr/bin/prometheus /usr/bin/prometheus-node-exporter
step() { echo "== $*"; }

step "tif_metric_sum / tif_assert_cmp / tif_promtool_check on fixed input"
cat >"$TIF_TMP/sample.prom" <<'EOF'
# HELP traceiface_tcp_retransmit_segments_total Retransmitted segments.
# TYPE traceiface_tcp_retransmit_segments_total counter
traceiface_tcp_retransmit_segments_total{iface="veth1",kind="a"} 3
traceiface_tcp_retransmit_segments_total{iface="veth1",kind="b }"} 1.5e3
traceiface_tcp_retransmit_segments_total{iface="veth10",kind="a"} 100
traceiface_tcp_retransmit_segments_total{iface="veth2",kind="a"} 7 1700000000000
traceiface_tcp_retransmit_segments_total{iface="veth3",kind="a"} NaN
# HELP other_total Other.
# TYPE other_total counter
other_total 5
EOF
u="file://$TIF_TMP/sample.prom"
tif_assert_cmp "$(tif_metric_sum "$u" 'traceiface_tcp_retransmit_segments_total\{[^}]*iface="veth1"')" \
    == 1503 "metric sum with labels"
tif_assert_cmp "$(tif_metric_sum "$u" '^traceiface_tcp_retransmit_segments_total\{')" == 1610 "sum all"
tif_assert_cmp "$(tif_metric_sum "$u" '^other_total')" == 5 "unlabelled sample"
tif_assert_cmp "$(tif_metric_sum "$u" '^missing_total')" == 0 "no match gives 0"
tif_assert_cmp 2.5 -gt 2.25 "float compare"
if (tif_assert_cmp 1 '>' 2 "expected failure") 2>/dev/null; then tif_fail "assert_cmp accepted 1 > 2"; fi
tif_promtool_check "$u"
printf '# TYPE bad counter\nbad 1\n' >"$TIF_TMP/bad.prom"
if tif_promtool_check "file://$TIF_TMP/bad.prom" 2>/dev/null; then tif_fail "promtool lint not caught"; fi

step "tif_start_exporter with a stand-in binary (Prometheus also answers /-/ready)"
mkdir -p "$TIF_TMP/fakebuild"
printf 'global: {}\n' >"$TIF_TMP/empty.yml"
cat >"$TIF_TMP/fakebuild/traceiface" <<EOF
#!/bin/sh
exec /usr/bin/prometheus --config.file=$TIF_TMP/empty.yml --storage.tsdb.path=$TIF_TMP/fake-data "\$@"
EOF
chmod +x "$TIF_TMP/fakebuild/traceiface"
real_build_dir=$TIF_BUILD_DIR
TIF_BUILD_DIR=$TIF_TMP/fakebuild
tif_start_exporter "$(tif_free_port)"
TIF_BUILD_DIR=$real_build_dir
fake_pid=$TIF_EXPORTER_PID
echo "stand-in exporter ready at $TIF_EXPORTER_URL (pid $fake_pid)"

step "netns pair + tbf, iperf3 from host (sender) into the netns"
tif_make_netns_pair tif
tif_tbf "$TIF_HOST_IF"
echo "ns=$TIF_NS host=$TIF_HOST_IF/$TIF_HOST_IP ns_if=$TIF_NS_IF/$TIF_NS_IP" \
    "tbf=${TIF_TBF_RATE:-4mbit}/${TIF_TBF_BURST:-8kb}/${TIF_TBF_LATENCY:-5ms}"
ip netns exec "$TIF_NS" iperf3 -s -1 -B "$TIF_NS_IP" -p 5201 >"$TIF_TMP/iperf3-server.log" 2>&1 &
iperf_pid=$!
tif_cleanup_push "tif_kill_wait $iperf_pid 2"
for ((i = 0; i < 50; i++)); do
    [[ -n $(ip netns exec "$TIF_NS" ss -Hltn 'sport = :5201') ]] && break
    sleep 0.1
done
secs=${TIF_SELFTEST_SECONDS:-5}
# BBR keeps sending into the tiny tbf queue; loss-based CCs back off and retransmit little.
cc=${TIF_IPERF_CC:-bbr}
before=$(tif_nstat_retrans)
ns_before=$(tif_nstat_retrans "$TIF_NS")
if ! timeout $((secs + 30)) iperf3 -c "$TIF_NS_IP" -p 5201 -t "$secs" --connect-timeout 3000 \
    -C "$cc" >"$TIF_TMP/iperf3-client.log" 2>&1; then
    cat "$TIF_TMP/iperf3-client.log" "$TIF_TMP/iperf3-server.log" >&2
    tif_fail "iperf3 client failed"
fi
after=$(tif_nstat_retrans)
ns_after=$(tif_nstat_retrans "$TIF_NS")
grep -E 'sender|receiver' "$TIF_TMP/iperf3-client.log" || true
echo "TcpRetransSegs delta: host(sender)=$((after - before)) netns=$((ns_after - ns_before))" \
    "in ${secs}s with -C $cc"
tif_assert_cmp "$after" '>' "$before" "host TcpRetransSegs did not grow"

step "node-exporter + Prometheus"
ne_port=$(tif_free_port)
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" \
    >"$TIF_TMP/node-exporter.log" 2>&1 &
ne_pid=$!
tif_cleanup_push "tif_kill_wait $ne_pid 5"
tif_wait_http "http://127.0.0.1:$ne_port/metrics" 20 "$ne_pid" || {
    tail -n 50 "$TIF_TMP/node-exporter.log" >&2
    tif_fail "node-exporter not up"
}
# Both read the same absolute kernel counter, so node-exporter's is at least ours.
ne_retrans=$(tif_metric_sum "http://127.0.0.1:$ne_port/metrics" '^node_netstat_Tcp_RetransSegs ')
echo "node_netstat_Tcp_RetransSegs=$ne_retrans (ours: $after)"
tif_assert_cmp "$ne_retrans" '>=' "$after" "node-exporter RetransSegs vs /proc/net/snmp"
tif_start_prometheus "127.0.0.1:$ne_port"
prom_pid=$TIF_PROM_PID
tif_prom_wait_positive 'up{job="traceiface"}' 20
echo "Prometheus at $TIF_PROM_URL sees up=$(tif_prom_query_value 'up{job="traceiface"}')"
[[ -z $(tif_prom_query_value 'absent_metric_xyz') ]] || tif_fail "empty result not empty"

step "cleanup removes everything"
tmp=$TIF_TMP
tif_cleanup_run
if grep -qw -- "$TIF_NS" <<<"$(ip netns list)"; then tif_fail "netns $TIF_NS left behind"; fi
if ip link show "$TIF_HOST_IF" >/dev/null 2>&1; then tif_fail "veth $TIF_HOST_IF left behind"; fi
for pid in "$fake_pid" "$iperf_pid" "$ne_pid" "$prom_pid"; do
    if tif_alive "$pid"; then tif_fail "process $pid still running"; fi
done
[[ ${TIF_KEEP_TMP:-0} == 1 || ! -e $tmp ]] || tif_fail "$tmp left behind"
echo "PASS: selftest_harness"
