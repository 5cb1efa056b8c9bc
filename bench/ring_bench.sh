#!/usr/bin/env bash
# Ring-buffer events/s the exporter consumes without loss vs a bare libbpf consumer, same run,
# same ring, same producer (the method is at the head of bench/ring_bench.cpp). Root.
#   bench/ring_bench.sh [SECONDS per run (2)] [ROUNDS (3)] [RING BYTES... (262144 8388608)]
# 262144 is the daemon's default --bpf.ringbuf-bytes: it holds ~1,400 events, a third of a
# millisecond at these rates, so any stall of the consumer longer than that loses events; the
# 8 MiB ring rides such stalls out and shows what the consumer itself sustains.
# The producer (CPU 0) and the consumer (CPU 1) run SCHED_FIFO: on a shared machine a woken
# consumer otherwise waits out other tasks' time slices and the figure is the scheduler's.
# Env: TIF_BUILD_DIR (default build/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/integration/lib.sh"
secs=${1:-2} rounds=${2:-3}
rings=("${@:3}")
((${#rings[@]})) || rings=(262144 8388608)
tif_require_root_bpf
bin=$TIF_BUILD_DIR/bench/ring_bench
[[ -x $bin ]] || tif_fail "build first: $bin is missing (TIF_BUILD_DIR=$TIF_BUILD_DIR)"
cpus=(--producer-cpu=0 --consumer-cpu=1)
(($(nproc) >= 2)) || cpus=(--producer-cpu=0 --consumer-cpu=0) # one CPU: figures mean little
for ring in "${rings[@]}"; do
    "$bin" --secs="$secs" --rounds="$rounds" --ringbuf-bytes="$ring" --rt-prio=10 "${cpus[@]}"
done
