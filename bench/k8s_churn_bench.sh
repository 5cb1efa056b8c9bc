#!/usr/bin/env bash
# Pod churn against a real container runtime (containerd + CRI + CNI, tests/integration/cri_lib.sh)
# while traffic flows: the exporter watches the runtime netns's veths with --k8s.cri-endpoint,
# an iperf3 stream runs between two long-lived pods (so the tc programs on their veths are busy),
# and in each round (TIF_BENCH_ROUNDS, 2) N pods are created one after another, then removed.
# Measured:
#   resolve latency  from the moment a new pod's host-side veth exists (its first RTM_NEWLINK in
#                    the runtime netns, from `ip -ts monitor link`) to the end of the first
#                    /metrics scrape whose traceiface_interface_info{iface=<veth>} says
#                    pod="<name>"; a poller (Python, in the runtime netns) scrapes every
#                    TIF_BENCH_POLL_INTERVAL (default 0.03 s) plus the scrape's own time, so a
#                    figure is late by up to one poll period. p50/p90/p99/max over both rounds.
#   CPU              of the resolver thread ("tif-k8s", schedstat), of gRPC's threads (by name),
#                    and of the whole process (which also serves the poller's scrapes; a
#                    scrape's cost is measured before the churn and at each peak), per round,
#                    and while idle.
#   RSS              VmRSS before the pods, at each round's peak (all pods up), after each
#                    round once its pods are gone and past --iface.stale-grace; VmHWM.
#   gauges           traceiface_k8s_pod_netns{state}, traceiface_k8s_pod_cgroups{state} and
#                    traceiface_k8s_cri_errors_total.
# Pinning: the exporter on TIF_BENCH_EXPORTER_CPU (default 1), the iperf3 client and server on
# TIF_BENCH_CPU (default 0; the veth softirqs run there with them); containerd, its shims and the
# poller are not pinned. "" for either leaves it unpinned.
# Prints a summary and, last, one JSON line ("bench":"k8s_churn") with the figures.
# Root. Usage: [TIF_BENCH_PODS=100] [TIF_BENCH_ROUNDS=2] bench/k8s_churn_bench.sh
# (100 pods: 5 to 13 minutes here, as fast as containerd makes sandboxes, 0.8 to 2.7 s each).
# docs/performance.md ("Pod churn") has the figures and what they showed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# --- targets (the bench exits 1 when one is missed, after printing everything) ------------------
# Every new pod's veth must carry its pod label within this many seconds of the veth appearing.
TARGET_NAME_SECONDS=${TIF_BENCH_NAME_TARGET:-15}
# RSS once the last round's pods are gone may exceed RSS once round 1's were gone by at most this
# much (KiB). A leak per churned pod grows from round to round; the first round may grow RSS once
# (allocator arenas, the largest /metrics body). 2 MiB leaves room for the allocator (+12 to +312
# KiB measured, 8 to 100 pods) and still catches 100 pods a round leaking 20 KiB each.
RSS_TOLERANCE_KIB=${TIF_BENCH_RSS_TOLERANCE_KIB:-2048}

# --- knobs -----------------------------------------------------------------------------------------
PODS=${TIF_BENCH_PODS:-100}
ROUNDS=${TIF_BENCH_ROUNDS:-2} # >= 2: RSS after the last round is compared with RSS after the first
LOAD_CPU=${TIF_BENCH_CPU-0}
EXPORTER_CPU=${TIF_BENCH_EXPORTER_CPU-1}
POLL_INTERVAL=${TIF_BENCH_POLL_INTERVAL:-0.03}
IDLE_SECONDS=${TIF_BENCH_IDLE:-10} # resolver CPU with the load on, before any churn
GRACE_SECONDS=5                    # --iface.stale-grace
REMOVE_JOBS=4                      # pods removed this many at a time (not measured, only waited for)
# runc makes each pod's cgroups in the cgroup v2 hierarchy as well, and on this hybrid (v1) node
# leaves them when the pod goes (cri_lib.sh removes them at exit); a real node's runtime removes
# them. The bench removes a removed pod's v2 cgroups at once, unless TIF_BENCH_KEEP_CGROUPS=1:
# then they pile up, and the resolver's cgroup walk (and its map) grows with every pod churned.
KEEP_CGROUPS=${TIF_BENCH_KEEP_CGROUPS:-0}

# shellcheck source=SCRIPTDIR/../tests/integration/lib.sh
source "$here/../tests/integration/lib.sh"
# shellcheck source=SCRIPTDIR/../tests/integration/cri_lib.sh
source "$here/../tests/integration/cri_lib.sh"
tif_require_root_bpf
tif_require_cmd iperf3 jq curl nsenter taskset ip awk date python3
[[ -x $TIF_BUILD_DIR/traceiface ]] || tif_fail "build first (TIF_BUILD_DIR=$TIF_BUILD_DIR)"
[[ $PODS =~ ^[1-9][0-9]*$ ]] || tif_fail "TIF_BENCH_PODS must be a positive number: $PODS"
[[ $ROUNDS =~ ^[2-9]$ ]] || tif_fail "TIF_BENCH_ROUNDS must be 2 to 9: $ROUNDS"
pin_load=() pin_exporter=()
[[ -n $LOAD_CPU ]] && pin_load=(taskset -c "$LOAD_CPU")
[[ -n $EXPORTER_CPU ]] && pin_exporter=(taskset -c "$EXPORTER_CPU")
echo "k8s churn bench: $PODS pods x $ROUNDS rounds, $(uname -r), $(nproc) CPUs," \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ), exporter on CPU ${EXPORTER_CPU:-any}, iperf3 on CPU ${LOAD_CPU:-any}"

cri_start_runtime
rtns=/run/netns/$CRI_NETNS
# Every link message of the runtime netns, timestamped: when each pod's veth first appeared.
ip -n "$CRI_NETNS" -ts monitor link >"$TIF_TMP/links.log" 2>&1 &
monitor=$!
tif_cleanup_push "kill $monitor 2>/dev/null || true"

# --- the exporter in the runtime netns, as integration.k8s_pod_identity_test runs it --------------
port=$(tif_free_port)
url=http://127.0.0.1:$port
# taskset and nsenter exec: $! is the exporter's pid.
"${pin_exporter[@]}" nsenter --net="$rtns" "$TIF_BUILD_DIR/traceiface" \
    --web.listen-address="127.0.0.1:$port" --span.socket="$TIF_TMP/span.sock" --bpf.pin-path= \
    --iface.include='veth.*' --iface.max=$((PODS + 64)) --iface.stale-grace=${GRACE_SECONDS}s \
    --k8s.cri-endpoint="$CRI_ENDPOINT" --log.level=info \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
pid=$!
tif_cleanup_push "tif_kill_wait $pid 5"
rt() { nsenter --net="$rtns" "$@"; }
scrape() { rt curl -sf --max-time 5 "$url/metrics"; }
ready=0
for _ in $(seq 100); do
    rt curl -sf -o /dev/null --max-time 2 "$url/-/ready" && ready=1 && break
    tif_alive "$pid" || break
    sleep 0.2
done
if [[ $ready != 1 ]]; then
    tail -n 30 "$TIF_TMP/exporter.out" "$TIF_TMP/exporter.err" >&2
    tif_fail "exporter not ready in the runtime netns"
fi
# metric BODY PATTERN: the sum of the samples whose name{labels} matches the ERE.
metric() {
    { grep -E -- "$2" <<<"$1" || true; } | awk '{ s += $NF } END { printf "%.15g\n", s + 0 }'
}
# Named: the veth's interface_info says pod="$2".
named() { [[ $(scrape | grep -F "traceiface_interface_info{iface=\"$1\"") == *"pod=\"$2\""* ]]; }

# --- per-thread CPU and memory ---------------------------------------------------------------------
# "comm ns" of every live thread: time on a CPU from /proc/PID/task/TID/schedstat (ns; utime +
# stime, stat fields 14 and 15, count in 1/CLK_TCK s ticks, too coarse for the resolver).
thread_ns() {
    local t
    for t in /proc/"$pid"/task/*; do
        printf '%s %s\n' "$(tr ' ' _ <"$t/comm" 2>/dev/null)" "$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null)"
    done 2>/dev/null | awk 'NF == 2'
}
# The resolver is the thread named tif-k8s; gRPC's threads (created from it) rename themselves:
# default-executo, resolver-execut, grpc_global_tim, event_engine, timer_manager (gRPC 1.51).
GRPC_RE='^(grpc|default-execu|resolver-exec|timer_manager|event_engine)'
# cpu_sample: "resolver_s grpc_s process_s", the process's the sum over its live threads (the
# exporter's own threads live as long as it does; the ~10 ms ticks of /proc/PID/stat are too
# coarse for a scrape).
cpu_sample() {
    thread_ns | awk -v re="$GRPC_RE" '
        $1 == "tif-k8s" { r += $2 } $1 ~ re { g += $2 } { p += $2 }
        END { printf "%.4f %.4f %.4f\n", r / 1e9, g / 1e9, p / 1e9 }'
}
# minus A B: B - A
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
status() { awk -v k="$1:" '$1 == k { print $2 }' /proc/"$pid"/status; }

# --- the load: iperf3 between two long-lived pods ------------------------------------------------
cri_run_pod load-server bench --label app=load
srv_pid=$CRI_POD_PID srv_ip=$CRI_POD_IP srv_veth=$CRI_POD_VETH
cri_run_pod load-client bench --label app=load
cli_pid=$CRI_POD_PID cli_veth=$CRI_POD_VETH
"${pin_load[@]}" nsenter --net="/proc/$srv_pid/ns/net" iperf3 -s -B "$srv_ip" \
    >"$TIF_TMP/iperf-s.log" 2>&1 &
iperf_s=$!
tif_cleanup_push "kill $iperf_s 2>/dev/null || true"
for _ in $(seq 50); do
    nsenter --net="/proc/$srv_pid/ns/net" ss -Hltn "sport = :5201" | grep -q . && break
    sleep 0.1
done
"${pin_load[@]}" nsenter --net="/proc/$cli_pid/ns/net" iperf3 -c "$srv_ip" -t 86400 -i 0 \
    >"$TIF_TMP/iperf-c.log" 2>&1 &
iperf_c=$!
tif_cleanup_push "kill $iperf_c 2>/dev/null || true"
for v in "$srv_veth:load-server" "$cli_veth:load-client"; do
    for ((i = 0; i < 150; i++)); do
        named "${v%%:*}" "${v#*:}" && break
        sleep 0.1
    done
    named "${v%%:*}" "${v#*:}" || tif_fail "load pod ${v#*:} not named on ${v%%:*}"
done
sleep 1
tif_alive "$iperf_c" || tif_fail "iperf3 client: $(tail -3 "$TIF_TMP/iperf-c.log")"
# Packets per second through the client's veth (both directions), over a window.
veth_packets() {
    metric "$1" "^traceiface_packets_total\\{iface=\"$cli_veth\""
}

# --- the poller: first scrape naming each (veth, pod) ----------------------------------------------
# Python in the runtime netns: a new connection per scrape (a reused one waits ~40 ms on this
# exporter: see the keep-alive figure). Prints "SEEN iface pod START END" the first time a scrape
# shows that pair, "S START END" for every scrape; stops when the file STOP exists.
# "cost N": N scrapes on new connections, then N on one kept-alive connection; prints
# "bytes new_ms keepalive_ms" (medians).
read -r -d '' POLLER_PY <<'PY' || true
import http.client, os, re, statistics, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
INFO = re.compile(rb'^traceiface_interface_info\{iface="([^"]*)".*?[{,]pod="([^"]*)"', re.M)
def get(conn=None):
    c = conn or http.client.HTTPConnection(host, port, timeout=5)
    c.request('GET', '/metrics')
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    if r.status != 200:
        raise OSError(r.status)
    return body
if mode == 'cost':
    n = int(sys.argv[4])
    new, kept, size = [], [], 0
    for _ in range(n):
        t0 = time.perf_counter(); size = len(get()); new.append(time.perf_counter() - t0)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    for _ in range(n):
        t0 = time.perf_counter(); get(conn); kept.append(time.perf_counter() - t0)
    print(size, '%.1f' % (statistics.median(new) * 1e3), '%.1f' % (statistics.median(kept) * 1e3))
    sys.exit(0)
interval, stop = float(sys.argv[4]), sys.argv[5]
seen = set()
while not os.path.exists(stop):
    t0 = time.time()
    try:
        body = get()
    except (OSError, http.client.HTTPException):
        time.sleep(interval)
        continue
    t1 = time.time()
    for m in INFO.finditer(body):
        if m.group(2) and m.groups() not in seen:
            seen.add(m.groups())
            print('SEEN', m.group(1).decode(), m.group(2).decode(), '%.6f' % t0, '%.6f' % t1)
    print('S', '%.6f' % t0, '%.6f' % t1, flush=True)
    time.sleep(interval)
PY
pyrun() { rt python3 -c "$POLLER_PY" 127.0.0.1 "$port" "$@"; }

# Scrape cost, before the churn: wall time per scrape (new and kept-alive connections) and the
# exporter's CPU per scrape (20 + 20 scrapes).
read -r _ _ c0 <<<"$(cpu_sample)"
read -r scrape_bytes scrape_ms scrape_keepalive_ms <<<"$(pyrun cost 20)"
read -r _ _ c1 <<<"$(cpu_sample)"
scrape_cpu_ms=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", (b - a) * 1000 / 40 }')

# Idle: the resolver with the load on and no churn, over IDLE_SECONDS (nobody scraping).
p0=$(veth_packets "$(scrape)")
read -r ir0 ig0 ip0 <<<"$(cpu_sample)"
w0=$EPOCHREALTIME
sleep "$IDLE_SECONDS"
w1=$EPOCHREALTIME
read -r ir1 ig1 ip1 <<<"$(cpu_sample)"
p1=$(veth_packets "$(scrape)")
load_kpps=$(awk -v a="$p0" -v b="$p1" -v t0="$w0" -v t1="$w1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) / 1000 }')
read -r idle_res_pct idle_grpc_pct idle_proc_pct <<<"$(awk -v r="$(minus "$ir0" "$ir1")" \
    -v g="$(minus "$ig0" "$ig1")" -v p="$(minus "$ip0" "$ip1")" -v w="$(minus "$w0" "$w1")" \
    'BEGIN { printf "%.3f %.3f %.2f", r / w * 100, g / w * 100, p / w * 100 }')"
body=$(scrape)
gauges() { # "live=L retained=R" of traceiface_k8s_pod_netns in body $1
    echo "live=$(metric "$1" '^traceiface_k8s_pod_netns\{state="live"\}')" \
        "retained=$(metric "$1" '^traceiface_k8s_pod_netns\{state="retained"\}')"
}
# The same of traceiface_k8s_pod_cgroups (every pod's on the node, other runtimes' too), "-"
# where the exporter found no cgroup v2 hierarchy.
cgroup_gauges() {
    [[ $1 == *'traceiface_k8s_pod_cgroups{'* ]] || { echo -; return; }
    echo "live=$(metric "$1" '^traceiface_k8s_pod_cgroups\{state="live"\}')" \
        "retained=$(metric "$1" '^traceiface_k8s_pod_cgroups\{state="retained"\}')"
}
# The cgroup v2 hierarchy as the exporter's --k8s.cgroup-root=auto finds it ("" = none).
cg2=
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    [[ $(stat -f -c %T "$d" 2>/dev/null) == cgroup2fs ]] && cg2=$d && break
done
netns_before=$(gauges "$body")
cgroups_before=$(cgroup_gauges "$body")
errors_before=$(metric "$body" '^traceiface_k8s_cri_errors_total')
rss_start=$(status VmRSS)
echo "load: iperf3 load-client -> load-server, $load_kpps kpkt/s through $cli_veth (traceiface_packets_total)"
echo "scrape: $scrape_bytes bytes, $scrape_ms ms on a new connection, $scrape_keepalive_ms ms kept alive, $scrape_cpu_ms ms exporter CPU"
echo "idle ${IDLE_SECONDS}s: resolver ${idle_res_pct}%, gRPC ${idle_grpc_pct}%, process ${idle_proc_pct}% of a CPU;" \
    "RSS $rss_start KiB; pod_netns $netns_before; pod_cgroups $cgroups_before (${cg2:-no cgroup v2}," \
    "$([[ $KEEP_CGROUPS == 1 ]] && echo kept || echo removed) with their pods)"

pyrun poll "$POLL_INTERVAL" "$TIF_TMP/poll.stop" >"$TIF_TMP/seen.log" 2>"$TIF_TMP/poll.err" &
poller=$!
scrape_count() { grep -c '^S ' "$TIF_TMP/seen.log" || true; }
tif_cleanup_push "touch '$TIF_TMP/poll.stop'; sleep 0.5; kill $poller 2>/dev/null || true"

# --- the rounds ------------------------------------------------------------------------------------
declare -a RSS_PEAK RSS_AFTER CPU_ROUND NETNS_PEAK CGROUPS_PEAK CREATE_S DELETE_S GONE_S SCRAPE_PEAK
failures=()
: >"$TIF_TMP/pods.log" # round name veth t_before_run t_after_run
for ((round = 1; round <= ROUNDS; round++)); do
    ids=() uids=()
    read -r r0 g0 q0 <<<"$(cpu_sample)"
    s0=$(scrape_count)
    t_start=$EPOCHREALTIME
    for ((i = 0; i < PODS; i++)); do
        name=churn-$round-$i
        tb=$EPOCHREALTIME
        cri_run_pod "$name" churn --label app=churn
        echo "$round $name $CRI_POD_VETH $tb $EPOCHREALTIME" >>"$TIF_TMP/pods.log"
        ids+=("$CRI_POD_ID") uids+=("$CRI_POD_UID")
    done
    t_created=$EPOCHREALTIME
    # Until every pod of the round is named, or TARGET_NAME_SECONDS past the last one's creation.
    deadline=$(awk -v t="$t_created" -v s="$TARGET_NAME_SECONDS" 'BEGIN { printf "%.0f", (t + s) * 10 }')
    while :; do
        n=$(awk -v r="^churn-$round-" '$1 == "SEEN" && $3 ~ r { n++ } END { print n + 0 }' "$TIF_TMP/seen.log")
        ((n >= PODS)) && break
        (($(date +%s%1N) > deadline)) && break
        sleep 0.1
    done
    read -r r1 _ _ <<<"$(cpu_sample)"
    RSS_PEAK[round]=$(status VmRSS)
    body=$(scrape)
    NETNS_PEAK[round]=$(gauges "$body") CGROUPS_PEAK[round]=$(cgroup_gauges "$body")
    # The scrape's cost with every pod's veth listed (20 + 20 scrapes).
    read -r _ _ c0 <<<"$(cpu_sample)"
    read -r b _ _ <<<"$(pyrun cost 20)"
    read -r _ _ c1 <<<"$(cpu_sample)"
    SCRAPE_PEAK[round]="$b $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", (b - a) * 1000 / 40 }')"
    CREATE_S[round]=$(awk -v a="$t_start" -v b="$t_created" 'BEGIN { printf "%.1f", b - a }')
    echo "round $round: $PODS pods created in ${CREATE_S[round]} s, $n named; RSS ${RSS_PEAK[round]} KiB;" \
        "pod_netns ${NETNS_PEAK[round]}; pod_cgroups ${CGROUPS_PEAK[round]}"

    # Remove them (REMOVE_JOBS at a time), then wait past the stale grace: no netns retained,
    # only the two load pods live, no series naming a pod of this round.
    t_del=$EPOCHREALTIME
    for ((i = 0; i < PODS; i += REMOVE_JOBS)); do
        jobs_=()
        for id in "${ids[@]:i:REMOVE_JOBS}"; do
            cri_remove_pod "$id" >/dev/null &
            jobs_+=($!)
        done
        for j in "${jobs_[@]}"; do
            wait "$j" || failures+=("round $round: removing a pod failed")
        done
    done
    if [[ $KEEP_CGROUPS != 1 && -n $cg2 ]]; then
        for uid in "${uids[@]}"; do
            c=$cg2/$(cri_cgroup_parent "$uid")
            [[ -d $c ]] && { find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
        done
    fi
    t_deleted=$EPOCHREALTIME
    DELETE_S[round]=$(awk -v a="$t_del" -v b="$t_deleted" 'BEGIN { printf "%.1f", b - a }')
    gone=0
    for ((i = 0; i < 10 * (GRACE_SECONDS + 30); i++)); do
        body=$(scrape)
        if [[ $(gauges "$body") == "live=2 retained=0" && $body != *"pod=\"churn-$round-"* ]]; then
            gone=1
            break
        fi
        sleep 0.1
    done
    GONE_S[round]=$(awk -v a="$t_deleted" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    ((gone)) || failures+=("round $round: the removed pods still known ${GONE_S[round]} s after removal")
    sleep 2 # the next relist, frees settling
    read -r r2 g2 q2 <<<"$(cpu_sample)"
    s2=$(scrape_count)
    RSS_AFTER[round]=$(status VmRSS)
    # resolver while creating, resolver while removing, gRPC, process, wall (s), poller scrapes
    CPU_ROUND[round]="$(minus "$r0" "$r1") $(minus "$r1" "$r2") $(minus "$g0" "$g2") $(minus "$q0" "$q2") $(
        minus "$t_start" "$EPOCHREALTIME") $((s2 - s0))"
    echo "round $round: removed in ${DELETE_S[round]} s, forgotten ${GONE_S[round]} s after;" \
        "RSS ${RSS_AFTER[round]} KiB; CPU s (resolver creating, removing; gRPC; process; wall; scrapes): ${CPU_ROUND[round]}"
done
touch "$TIF_TMP/poll.stop"
wait "$poller" || true
body=$(scrape)
netns_after=$(gauges "$body")
cgroups_after=$(cgroup_gauges "$body")
errors_after=$(metric "$body" '^traceiface_k8s_cri_errors_total')
hwm=$(status VmHWM)
read -r scrapes poll_period_ms poll_scrape_ms <<<"$(awk '$1 == "S" { if (n) g += $2 - prev; prev = $2; n++; d += $3 - $2 }
    END { printf "%d %.0f %.1f\n", n, (n > 1) ? g / (n - 1) * 1000 : 0, n ? d / n * 1000 : 0 }' "$TIF_TMP/seen.log")"
threads=$(thread_ns | awk '{ n[$1]++; t[$1] += $2 }
    END { for (c in n) { printf "%s%s x%d %.3f s", sep, c, n[c], t[c] / 1e9; sep = ", " } }')
tif_alive "$iperf_c" || failures+=("the iperf3 load stopped: $(tail -3 "$TIF_TMP/iperf-c.log")")
tif_alive "$pid" || failures+=("the exporter died")

# --- resolve latencies -----------------------------------------------------------------------------
# The first RTM_NEWLINK of each veth ("[ISO-TIME] IDX: NAME@PEER: ..."), to epoch seconds.
awk '/^\[/ { n = $3; sub(/@.*/, "", n); sub(/:$/, "", n); if (n ~ /^veth/ && !(n in s)) {
        s[n] = 1; t = $1; gsub(/[][]/, "", t); print n, t } }' "$TIF_TMP/links.log" >"$TIF_TMP/veth-times"
paste -d' ' <(cut -d' ' -f1 "$TIF_TMP/veth-times") \
    <(cut -d' ' -f2 "$TIF_TMP/veth-times" | date -f - +%s.%N) >"$TIF_TMP/veth-epoch"
# Per pod: "round name veth latency latency_from_return fallback": seconds from the veth's first
# appearance (or from cri_run_pod's return if the monitor missed it: fallback 1) and from
# cri_run_pod's return to the end of the first scrape naming it; "-" when never named.
awk 'FILENAME == ARGV[1] { born[$1] = $2; next }
    FILENAME == ARGV[2] { if ($1 == "SEEN") seen[$2 " " $3] = $5; next }
    { t0 = ($3 in born) ? born[$3] : $5; k = $3 " " $2; fb = ($3 in born) ? 0 : 1
      if (k in seen) printf "%s %s %s %.4f %.4f %d\n", $1, $2, $3, seen[k] - t0, seen[k] - $5, fb
      else printf "%s %s %s - - %d\n", $1, $2, $3, fb }' \
    "$TIF_TMP/veth-epoch" "$TIF_TMP/seen.log" "$TIF_TMP/pods.log" >"$TIF_TMP/latency"
# pct COLUMN: p50 p90 p99 max (nearest rank, ms) and the count, of the named pods.
pct() {
    awk -v c="$1" '$4 != "-" { print $c }' "$TIF_TMP/latency" | sort -g |
        awk '{ a[NR] = $1 } END { if (!NR) { print "null null null null 0"; exit }
            split("50 90 99", q, " ")
            for (i = 1; i <= 3; i++) { r = int(NR * q[i] / 100 + 0.999999); printf "%.0f ", a[r] * 1000 }
            printf "%.0f %d\n", a[NR] * 1000, NR }'
}
read -r p50 p90 p99 pmax nlat <<<"$(pct 4)"
read -r rp50 rp90 rp99 rpmax _ <<<"$(pct 5)"
# How many were named within 2 s of their veth (what a wake on the new veth gives).
fast=$(awk '$4 != "-" && $4 <= 2' "$TIF_TMP/latency" | wc -l)
never=$(awk '$4 == "-"' "$TIF_TMP/latency" | wc -l)
late=$(awk -v t="$TARGET_NAME_SECONDS" '$4 != "-" && $4 > t' "$TIF_TMP/latency" | wc -l)
fallback=$(awk '$6 == 1' "$TIF_TMP/latency" | wc -l)
((never == 0)) || failures+=("$never pods never named: $(awk '$4 == "-" { printf "%s(%s) ", $2, $3 }' "$TIF_TMP/latency" | head -c 300)")
((late == 0)) || failures+=("$late pods named later than ${TARGET_NAME_SECONDS} s after their veth appeared")
rss_growth=$((RSS_AFTER[ROUNDS] - RSS_AFTER[1]))
((rss_growth <= RSS_TOLERANCE_KIB)) ||
    failures+=("RSS after round $ROUNDS is $rss_growth KiB above round 1's (tolerance $RSS_TOLERANCE_KIB KiB)")

# --- report ----------------------------------------------------------------------------------------
echo
echo "== k8s pod churn: $PODS pods x $ROUNDS rounds while iperf3 runs ($load_kpps kpkt/s through a watched veth) =="
printf 'resolve latency, veth appears -> first scrape naming its pod (%d of %d pods): p50 %s ms, p90 %s, p99 %s, max %s; %d within 2 s\n' \
    "$nlat" $((PODS * ROUNDS)) "$p50" "$p90" "$p99" "$pmax" "$fast"
printf '  from cri_run_pod returning: p50 %s ms, p90 %s, p99 %s, max %s (%d veths missed by the link monitor)\n' \
    "$rp50" "$rp90" "$rp99" "$rpmax" "$fallback"
printf '  poller: %d scrapes, one every %s ms, %s ms each (a figure is late by up to their sum)\n' \
    "$scrapes" "$poll_period_ms" "$poll_scrape_ms"
for ((round = 1; round <= ROUNDS; round++)); do
    read -r rc rr g q w ns <<<"${CPU_ROUND[round]}"
    awk -v r="$round" -v rc="$rc" -v rr="$rr" -v g="$g" -v q="$q" -v w="$w" -v n="$PODS" \
        -v ns="$ns" -v c="${CREATE_S[round]}" -v d="${DELETE_S[round]}" -v gone="${GONE_S[round]}" 'BEGIN {
        printf "round %d (%.0f s: created in %s s, removed in %s s, forgotten %s s later): resolver %.3f s CPU" \
               " (%.2f ms per pod; %.3f creating, %.3f removing), gRPC threads %.3f s," \
               " process %.2f s (%.1f%% of a CPU, serving the poller'"'"'s %d scrapes included)\n",
               r, w, c, d, gone, rc + rr, (rc + rr) * 1000 / n, rc, rr, g, q, q / w * 100, ns }'
done
printf 'idle (load on, no churn, no scrapes, %ss): resolver %s%%, gRPC %s%%, process %s%% of a CPU\n' \
    "$IDLE_SECONDS" "$idle_res_pct" "$idle_grpc_pct" "$idle_proc_pct"
printf 'scrape (%d bytes): %s ms on a new connection, %s ms on a kept-alive one; %s ms exporter CPU; at the peaks (%s bytes) %s ms CPU\n' \
    "$scrape_bytes" "$scrape_ms" "$scrape_keepalive_ms" "$scrape_cpu_ms" "${SCRAPE_PEAK[1]% *}" \
    "$(printf '%s / ' "${SCRAPE_PEAK[@]#* }" | sed 's| / $||')"
rss="before $rss_start"
for ((round = 1; round <= ROUNDS; round++)); do
    rss+="; round $round peak ${RSS_PEAK[round]}, after ${RSS_AFTER[round]}"
done
printf 'RSS (KiB): %s; after round %d - after round 1: %+d (tolerance %d); VmHWM %d\n' \
    "$rss" "$ROUNDS" "$rss_growth" "$RSS_TOLERANCE_KIB" "$hwm"
echo "traceiface_k8s_pod_netns: before $netns_before; at the peaks $(printf '%s / ' "${NETNS_PEAK[@]}" |
    sed 's| / $||'); after $netns_after"
echo "traceiface_k8s_pod_cgroups (all pods on the node): before $cgroups_before; at the peaks $(
    printf '%s / ' "${CGROUPS_PEAK[@]}" | sed 's| / $||'); after $cgroups_after" \
    "($([[ $KEEP_CGROUPS == 1 ]] && echo "v2 cgroups left behind" || echo "v2 cgroups removed with their pods"))"
echo "traceiface_k8s_cri_errors_total: before $errors_before, after $errors_after"
echo "threads at the end (CPU on a CPU since start): $threads"
# JSON arrays, one element per round: json_list FIELD ARRAY... (FIELD of each "a b c" element).
json_list() {
    local f=$1
    shift
    printf '%s\n' "$@" | awk -v f="$f" '{ printf "%s%s", (NR > 1 ? "," : "["), $f } END { print "]" }'
}
jq -cn --argjson pods "$PODS" --argjson rounds "$ROUNDS" --argjson kpps "$load_kpps" \
    --argjson p50 "$p50" --argjson p90 "$p90" --argjson p99 "$p99" --argjson pmax "$pmax" \
    --argjson named "$nlat" --argjson never "$never" --argjson fast "$fast" \
    --argjson poll "$poll_period_ms" \
    --argjson res_c "$(json_list 1 "${CPU_ROUND[@]}")" --argjson res_r "$(json_list 2 "${CPU_ROUND[@]}")" \
    --argjson grpc "$(json_list 3 "${CPU_ROUND[@]}")" --argjson proc "$(json_list 4 "${CPU_ROUND[@]}")" \
    --argjson idle_res "$idle_res_pct" --argjson idle_proc "$idle_proc_pct" \
    --argjson scrape_cpu "$scrape_cpu_ms" --argjson scrape_new "$scrape_ms" \
    --argjson scrape_kept "$scrape_keepalive_ms" --argjson rss0 "$rss_start" \
    --argjson speak "$(json_list 2 "${SCRAPE_PEAK[@]}")" \
    --argjson peak "$(json_list 1 "${RSS_PEAK[@]}")" --argjson after "$(json_list 1 "${RSS_AFTER[@]}")" \
    --argjson hwm "$hwm" --argjson growth "$rss_growth" \
    --argjson tol "$RSS_TOLERANCE_KIB" --argjson err0 "$errors_before" --argjson err1 "$errors_after" \
    --arg netns0 "$netns_before" --arg netns1 "$netns_after" --arg cg0 "$cgroups_before" \
    --arg cg1 "$cgroups_after" --argjson keepcg "$((KEEP_CGROUPS == 1))" --argjson ok "$((${#failures[@]} == 0))" \
    '{bench: "k8s_churn", pods: $pods, rounds: $rounds, load_kpps: $kpps,
      resolve_ms: {p50: $p50, p90: $p90, p99: $p99, max: $pmax, named: $named, never: $never,
                   within_2s: $fast, poll_period_ms: $poll},
      cpu_s: {resolver: [range($res_c | length) as $i | ($res_c[$i] + $res_r[$i]) * 1e4 | round / 1e4],
              resolver_creating: $res_c, resolver_removing: $res_r, grpc: $grpc, process: $proc},
      idle_pct: {resolver: $idle_res, process: $idle_proc},
      scrape_ms: {new_connection: $scrape_new, keep_alive: $scrape_kept, cpu: $scrape_cpu,
                  cpu_at_peak: $speak},
      rss_kib: {before: $rss0, peak: $peak, after: $after, hwm: $hwm, growth: $growth,
                tolerance: $tol},
      pod_netns: {before: $netns0, after: $netns1},
      pod_cgroups: {before: $cg0, after: $cg1, v2_cgroups_kept: ($keepcg == 1)},
      cri_errors: {before: $err0, after: $err1},
      targets_met: ($ok == 1)}'
if ((${#failures[@]})); then
    printf 'FAIL: %s\n' "${failures[@]}" >&2
    exit 1
fi
