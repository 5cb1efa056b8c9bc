#!/usr/bin/env bash
# Frames per second the span-context server sustains, against the raw SOCK_SEQPACKET rate
# (send + recvmsg with one SCM_RIGHTS fd, a bare socketpair and a reader thread) measured in
# the same run. Root (the daemon loads its probes). Usage: bench/span_bench.sh [SECONDS] [CLIENTS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/integration/lib.sh"
secs=${1:-5} clients=${2:-2}
tool=$TIF_BUILD_DIR/tests/span_client_tool
[[ -x $tool && -x $TIF_BUILD_DIR/traceiface ]] || tif_fail "build first (TIF_BUILD_DIR=$TIF_BUILD_DIR)"
sock=$TIF_TMP/span.sock
port=$(tif_free_port)
tif_start_exporter "$port" --span.socket="$sock" --span.client-rate=0
ok() { tif_metric_sum "$TIF_EXPORTER_URL/metrics" 'traceiface_span_frames_total\{result="ok"\}'; }

raw=$("$tool" rawrate "$secs" | awk '{ print $2 }')
before=$(ok)
"$tool" bench "$sock" "$secs" "$clients" >"$TIF_TMP/bench.log"
read -r _ sent _ took <"$TIF_TMP/bench.log"
# Frames still queued in the socket are served after the clients stop: wait for them.
prev=-1
for _ in $(seq 50); do
    now=$(ok)
    [[ $now == "$prev" ]] && break
    prev=$now
    sleep 0.2
done
served=$((now - before))
awk -v raw="$raw" -v served="$served" -v sent="$sent" -v t="$took" -v c="$clients" 'BEGIN {
    fps = served / t
    printf "raw SOCK_SEQPACKET + SCM_RIGHTS: %.0f frames/s (1 sender, 1 reader)\n", raw
    printf "span server:                     %.0f frames/s (%d clients, %d sent, %d bound ok)\n",
           fps, c, sent, served
    printf "ratio server/raw:                %.2f\n", fps / raw }'
