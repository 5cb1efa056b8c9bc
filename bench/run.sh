#!/usr/bin/env bash
# Every benchmark, one after the other, each comparing side by side in the same run (so the
# noise of a shared machine cancels out): packet-path overhead with all probes attached vs none
# plus per-program run times, and the span-context server against the raw socket rate.
#
#   sudo bench/run.sh            full run (a few minutes)
#   sudo bench/run.sh --smoke    seconds: proves the benchmarks still run (used by the tests)
# Env: TIF_BUILD_DIR (default build/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=3 secs=5 span_secs=5 span_clients=2
if [[ ${1:-} == --smoke ]]; then
    rounds=1 secs=1 span_secs=1 span_clients=1
fi
echo "traceiface benchmarks on $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "== packet-path overhead ($rounds rounds x ${secs}s iperf3) =="
bash "$here/overhead_bench.sh" "$rounds" "$secs"
echo
echo "== span-context server (${span_secs}s, $span_clients clients) =="
bash "$here/span_bench.sh" "$span_secs" "$span_clients"
