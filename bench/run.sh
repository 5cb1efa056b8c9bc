#!/usr/bin/env bash
# Every benchmark, one after the other, each comparing side by side in the same run (so the
# noise of a shared machine cancels out): packet-path overhead with all probes attached vs none
# plus per-program run times (bulk, small, connect-churn and lossy workloads) and a perf
# profile of the hooks' share of the CPU (small and connect), the
# span-context server against the raw socket rate, /metrics rendering against prometheus-cpp's
# TextSerializer, the daemon's footprint at 1,000 watched interfaces, and ring-buffer events/s
# the exporter consumes vs a bare libbpf reader.
#
#   sudo bench/run.sh            full run (about 20 minutes)
#   sudo bench/run.sh --smoke    seconds: proves the benchmarks still run (used by the tests)
# Env: TIF_BUILD_DIR (default build/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=8 secs=3 profile_rounds=3 span_secs=5 span_clients=2
render_ifaces=10,100,1000,2000 render_iters=15 fp_ifaces=1000 fp_idle=25 fp_scrapes=5
ring_secs=2 ring_rounds=3 ring_bytes=(262144 8388608) tr_repeat=1000000 tr_rounds=5
if [[ ${1:-} == --smoke ]]; then
    rounds=1 secs=1 profile_rounds=1 span_secs=1 span_clients=1
    render_ifaces=50 render_iters=1 fp_ifaces=50 fp_idle=1 fp_scrapes=1
    ring_secs=0.2 ring_rounds=1 ring_bytes=(262144) tr_repeat=10000 tr_rounds=1
fi
echo "traceiface benchmarks on $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Every section's output goes to the screen and to $out, from which the summary is taken.
{
    echo
    echo "== packet-path overhead ($rounds rounds x ${secs}s iperf3) =="
    TIF_BENCH_PROFILE_ROUNDS=$profile_rounds bash "$here/overhead_bench.sh" "$rounds" "$secs"
    echo
    echo "== tc programs alone, hot caches, no bpf_stats (BPF_PROG_TEST_RUN) =="
    "${TIF_BUILD_DIR:-$here/../build}/bench/prog_test_run" --repeat="$tr_repeat" --rounds="$tr_rounds"
    echo
    echo "== span-context server (${span_secs}s, $span_clients clients) =="
    bash "$here/span_bench.sh" "$span_secs" "$span_clients"
    echo
    echo "== /metrics render: ours vs prometheus-cpp TextSerializer ($render_ifaces interfaces) =="
    "${TIF_BUILD_DIR:-$here/../build}/traceiface_metrics_bench" --ifaces "$render_ifaces" \
        --iterations "$render_iters"
    echo
    echo "== footprint: $fp_ifaces watched interfaces (RSS, idle CPU over ${fp_idle}s, scrape) =="
    bash "$here/footprint_bench.sh" "$fp_ifaces" "$fp_idle" "$fp_scrapes"
    echo
    echo "== ring buffer: exporter vs bare libbpf consumer (${ring_secs}s runs, $ring_rounds rounds) =="
    bash "$here/ring_bench.sh" "$ring_secs" "$ring_rounds" "${ring_bytes[@]}"
} | tee "$out"
echo
bash "$here/summary.sh" "$out"
