#!/usr/bin/env bash
# Cost of traceiface on the packet path: iperf3 over a veth pair into a netns, on one CPU
# (TIF_BENCH_CPU, default 0; "" = unpinned), alternating, in the same run, between "off" and
# each other mode in turn (off A off B off ...; a run's ratio is to the two offs around it):
#   off        nothing attached (the reference of every throughput ratio)
#   empty      empty programs on the very hooks traceiface uses (bench/overhead_baseline.bpf.c:
#              tc clsact ingress/egress on the veth, tp_btf tcp_probe, inet_sock_set_state,
#              tcp_retransmit_skb/_synack): the floor of each program's run time
#   sampled    the exporter, RTT sampled once per second per active flow (the default)
#   every_ack  the exporter, RTT sampled on every incoming segment
#   bpftrace   bench/anchor.bt: a per-device packet-size histogram and the tcp_probe RTT
#              histogram, the way one would write it in bpftrace (needs bpftrace and tracefs;
#              tracefs is mounted for the run when it is not, and unmounted after)
# and between workloads:
#   bulk       one iperf3 TCP stream, 128 KiB writes: few 64 KB GSO packets, the hooks run
#              rarely and hot
#   small      8 streams, 256-byte writes with TCP_NODELAY: a hook run per small segment,
#              across many flows, each run with colder caches
#   connect    bench/connect_churn: 2 threads opening and resetting TCP connections as fast
#              as they can (connections/s): inet_sock_set_state's workload
#   lossy      8 iperf3 BBR streams into a 1 Gbit/s tbf that drops: thousands of retransmits
#              a second, tcp_retransmit_skb's workload. Run times only (its throughput is the
#              tbf's), so it runs in the bpf_stats round alone.
# Last, the small and connect workloads run under perf (system-wide, call graphs), bpf_stats
# off, each mode in 3 runs whose samples are pooled: bench/hook_profile.sh splits the share of
# busy CPU spent in the hooks into the kernel's dispatch and the programs, for tc and for
# tracepoints. It is the low-noise view of what the throughput ratios measure, and shows where
# the cost lives.
# Throughput is measured with kernel.bpf_stats_enabled=0, as users run: bpf_stats adds two
# clock reads to every program run, which alone costs a few % of small-packet throughput.
# One extra round with bpf_stats_enabled=1 (restored on exit), not counted in the throughput,
# gives each program's average run time (run_time_ns / run_cnt, from bpftool), printed raw,
# next to the empty program's on the same hook in the same workload, and the difference: what
# the program's body costs. The clock reads inflate the raw figures; the difference cancels
# them.
#
#   sudo bench/overhead_bench.sh [ROUNDS (3)] [SECONDS per run (5)]
# Env: TIF_BUILD_DIR (default build/): the exporter and bench/overhead_baseline live there.
#      TIF_BENCH_MODES / TIF_BENCH_WORKLOADS: space-separated subsets, to narrow a run.
#      TIF_BENCH_PROFILE_WORKLOADS: the workloads profiled (default: small connect);
#      TIF_BENCH_PROFILE_ROUNDS: runs profiled per workload and mode (default 3).
#      TIF_BENCH_ALT_BUILD_DIR: another build (say, before a change) whose exporter runs as
#      mode `alt` with the settings of `sampled`, side by side in the same run.
#      TIF_BENCH_CPU: the CPU every workload runs on (default 0; "" = any CPU).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/integration/lib.sh"

ROUNDS=${1:-3}
SECS=${2:-5}
PROFILE_ROUNDS=${TIF_BENCH_PROFILE_ROUNDS:-3}
# Every workload's sender and receiver on one CPU (and with them the softirqs that carry the
# veth's packets): a single saturated CPU, whose throughput moves by ~1-2% between runs here,
# where unpinned runs spread over both CPUs jump between two levels ~25% apart. The hooks run on
# that CPU; the exporter's own threads may use the other one.
CPU=${TIF_BENCH_CPU-0}
PIN=()
[[ -n $CPU ]] && PIN=(taskset -c "$CPU")
read -r -a MODES <<<"${TIF_BENCH_MODES:-off empty sampled every_ack bpftrace}"
read -r -a WORKLOADS <<<"${TIF_BENCH_WORKLOADS:-bulk small connect lossy}"
PROFILED=()
for w in ${TIF_BENCH_PROFILE_WORKLOADS:-small connect}; do
    [[ " ${WORKLOADS[*]} " == *" $w "* && $w != lossy ]] && PROFILED+=("$w")
done
if [[ -n ${TIF_BENCH_ALT_BUILD_DIR:-} && " ${MODES[*]} " != *" alt "* ]]; then
    MODES+=(alt)
fi
# Ours, and the empty program on the same hook.
PROGS=(tif_tc_ingress tif_tc_egress tif_tcp_probe tif_inet_sock_set_state tif_tcp_retransmit_skb
    tif_syn_retransmit tif_tcp_retransmit_synack)
declare -A BASE_OF=(
    [tif_tc_ingress]=base_tc_ingress [tif_tc_egress]=base_tc_egress
    [tif_tcp_probe]=base_tcp_probe [tif_inet_sock_set_state]=base_inet_sock_set_state
    [tif_tcp_retransmit_skb]=base_tcp_retransmit_skb [tif_syn_retransmit]=base_tcp_retransmit_skb
    [tif_tcp_retransmit_synack]=base_tcp_retransmit_synack)

tif_require_root_bpf
tif_require_cmd iperf3 jq curl perf
baseline_bin=$TIF_BUILD_DIR/bench/overhead_baseline
churn_bin=$TIF_BUILD_DIR/bench/connect_churn
for b in "$baseline_bin" "$churn_bin"; do
    [[ -x $b ]] || tif_fail "no $b (build the bench targets)"
done

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
tif_cleanup_push "sysctl -qw kernel.bpf_stats_enabled=$old_stats"
tif_make_netns_pair tfb
tif_iperf_server "$TIF_NS" "$TIF_NS_IP"
CHURN_PORT=5300
ip netns exec "$TIF_NS" "${PIN[@]}" "$churn_bin" server "$TIF_NS_IP" "$CHURN_PORT" >"$TIF_TMP/churn.out" 2>&1 &
tif_cleanup_push "kill $! 2>/dev/null || true"
for ((i = 0; i < 50; i++)); do
    grep -q '^listening' "$TIF_TMP/churn.out" && break
    sleep 0.1
done
grep -q '^listening' "$TIF_TMP/churn.out" || tif_fail "connect_churn server: $(cat "$TIF_TMP/churn.out")"

# The bpftrace anchor: skipped (with the reason) when it cannot run here.
bpftrace_skip=
if [[ " ${MODES[*]} " == *" bpftrace "* ]]; then
    if ! command -v bpftrace >/dev/null; then
        bpftrace_skip="bpftrace not installed (scripts/install-deps.sh)"
    elif [[ ! -d /sys/kernel/tracing/events ]]; then
        if mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
            tif_cleanup_push "umount /sys/kernel/tracing"
        else
            bpftrace_skip="tracefs cannot be mounted on /sys/kernel/tracing"
        fi
    fi
    if [[ -n $bpftrace_skip ]]; then
        echo "bpftrace mode skipped: $bpftrace_skip"
        m=()
        for x in "${MODES[@]}"; do [[ $x == bpftrace ]] || m+=("$x"); done
        MODES=("${m[@]}")
    fi
fi

declare -A bps by_round prog_ns prog_cnt # bps: every run's bits/s, space-separated
bt_progs=()

# Workloads measured in the bpf_stats round only (see the header).
stats_only() { [[ $1 == lossy ]]; }
unit_of() { if [[ $1 == connect ]]; then echo conn/s; else echo Mbit/s; fi; }

# One run of workload $1; prints bits/s received (connections/s for connect).
workload_once() {
    local -a args=()
    case $1 in
    connect)
        "${PIN[@]}" "$churn_bin" client "$TIF_NS_IP" "$CHURN_PORT" "$SECS" 2
        return
        ;;
    small) args=(-P 8 -N -l 256) ;;
    lossy)
        args=(-P 8 -C bbr)
        TIF_TBF_RATE=1gbit tif_tbf "$TIF_HOST_IF"
        ;;
    esac
    local out rc=0
    # -A: the client and (at the client's request) the server on the bench CPU. Not lossy:
    # on one CPU its BBR streams pace to the tbf's rate and hardly overflow it.
    [[ -n $CPU && $1 != lossy ]] && args+=(-A "$CPU,$CPU")
    out=$(iperf3 -c "$TIF_NS_IP" -t "$SECS" "${args[@]}" -J 2>/dev/null) || rc=$?
    [[ $1 == lossy ]] && tc qdisc del dev "$TIF_HOST_IF" root
    ((rc == 0)) || return $rc
    jq -e '.end.sum_received.bits_per_second' <<<"$out"
}

# Workload $1's figure $2 in its unit.
in_unit() { if [[ $1 == connect ]]; then echo "$2"; else awk -v v="$2" 'BEGIN { print v / 1e6 }'; fi; }

# Starts what mode $1 attaches; sets attached_pid (empty for off).
attach_mode() {
    local mode=$1 i
    attached_pid=
    case $mode in
    off) ;;
    empty)
        "$baseline_bin" "$TIF_HOST_IF" >"$TIF_TMP/baseline.out" 2>&1 &
        attached_pid=$!
        tif_cleanup_push "tif_kill_wait $attached_pid 5"
        for ((i = 0; i < 300; i++)); do
            grep -q '^ready' "$TIF_TMP/baseline.out" && break
            tif_alive "$attached_pid" || tif_fail "overhead_baseline: $(cat "$TIF_TMP/baseline.out")"
            sleep 0.1
        done
        grep -q '^ready' "$TIF_TMP/baseline.out" ||
            tif_fail "overhead_baseline did not attach within 30 s: $(cat "$TIF_TMP/baseline.out")"
        empty_attach=$(awk '/^ready/ { print $2 }' "$TIF_TMP/baseline.out")
        ;;
    sampled | every_ack)
        local interval=1s
        [[ $mode == every_ack ]] && interval=0
        tif_start_exporter "$(tif_free_port)" --tcp.rtt-sample-interval="$interval"
        attached_pid=$TIF_EXPORTER_PID
        ours_attach=$(grep -o '"probe":"tc_packets","attach":"[a-z]*"' "$TIF_TMP/exporter.out" |
            tail -1 | cut -d'"' -f8)
        ;;
    alt)
        TIF_BUILD_DIR=${TIF_BENCH_ALT_BUILD_DIR:?} tif_start_exporter "$(tif_free_port)" \
            --tcp.rtt-sample-interval=1s
        attached_pid=$TIF_EXPORTER_PID
        ;;
    bpftrace)
        bpftrace "$here/anchor.bt" >"$TIF_TMP/bpftrace.out" 2>&1 &
        attached_pid=$!
        tif_cleanup_push "tif_kill_wait $attached_pid 5"
        # Attached once its three tracepoint links exist.
        for ((i = 0; i < 300; i++)); do
            [[ $(bpftool perf -j | jq "[.[] | select(.pid == $attached_pid)] | length") == 3 ]] &&
                break
            tif_alive "$attached_pid" || tif_fail "bpftrace: $(tail -5 "$TIF_TMP/bpftrace.out")"
            sleep 0.1
        done
        ((i < 300)) || tif_fail "bpftrace did not attach: $(tail -5 "$TIF_TMP/bpftrace.out")"
        ;;
    esac
}

# Adds run_time_ns and run_cnt of the programs held by $attached_pid to workload/mode totals.
collect_prog_stats() {
    local key=$1 id name ns cnt tp
    for id in $(grep -h '^prog_id:' /proc/"$attached_pid"/fdinfo/* 2>/dev/null |
        awk '{ print $2 }' | sort -u); do
        read -r name ns cnt < <(bpftool prog show id "$id" -j |
            jq -r '[.name, (.run_time_ns // 0), (.run_cnt // 0)] | @tsv')
        if [[ $key == */bpftrace ]]; then
            # bpftrace names are truncated; the tracepoint name is the label.
            tp=$(bpftool perf -j | jq -r ".[] | select(.prog_id == $id) | .tracepoint" | head -1)
            [[ -n $tp ]] || continue
            name="bt:$tp"
            [[ " ${bt_progs[*]} " == *" $name "* ]] || bt_progs+=("$name")
        fi
        prog_ns[$key/$name]=$((${prog_ns[$key/$name]:-0} + ns))
        prog_cnt[$key/$name]=$((${prog_cnt[$key/$name]:-0} + cnt))
    done
}

# Modes $2... in the order round $1 runs them: one position further each round.
modes_of_round() {
    local r=$1 i
    shift
    for ((i = 0; i < $#; i++)); do
        local k=$(((i + r - 1) % $# + 1))
        printf '%s ' "${!k}"
    done
    echo
}

# One run of workload $1 under mode $2 in round $3 (0: the bpf_stats round); prints its
# figure, and leaves it in $v.
run_mode() {
    local w=$1 mode=$2 r=$3
    attach_mode "$mode"
    v=$(workload_once "$w") || tif_fail "workload failed ($w, $mode)"
    ((r == 0)) || bps[$w/$mode]+=" $v"
    if [[ -n $attached_pid ]]; then
        ((r > 0)) || collect_prog_stats "$w/$mode"
        tif_kill_wait "$attached_pid" 5
    fi
    printf '%-8s %-7s %-9s %8.0f %s\n' "$( ((r == 0)) && echo stats || echo "round $r")" \
        "$w" "$mode" "$(in_unit "$w" "$v")" "$(unit_of "$w")"
}

# Rounds 1..ROUNDS: throughput, bpf_stats off. Every mode's run sits between two runs of off
# (off A off B off C ...), and its ratio is to the mean of those two: this machine's
# throughput jumps between levels within seconds, and a reference a few runs away is often
# on the other level (by_round: the run, bracket: the mean of its two offs). The middle offs
# against their own neighbours give the "off" row: the noise floor of this pairing. Each
# round starts the modes one position further, so no mode always runs first.
# Round ROUNDS+1: run times, bpf_stats on, no off runs.
declare -A bracket
off_null=() # per workload: "w ratio" of every middle off to its neighbours
others=()
for m in "${MODES[@]}"; do [[ $m == off ]] || others+=("$m"); done
for ((r = 1; r <= ROUNDS + 1; r++)); do
    stats=0
    ((r > ROUNDS)) && stats=1
    sysctl -qw kernel.bpf_stats_enabled=$stats
    read -r -a order < <(modes_of_round "$r" "${others[@]}")
    for w in "${WORKLOADS[@]}"; do
        if ((stats)); then
            for mode in "${order[@]}"; do run_mode "$w" "$mode" 0; done
            continue
        fi
        stats_only "$w" && continue
        offs=()
        if [[ " ${MODES[*]} " == *" off "* ]]; then
            run_mode "$w" off "$r"
            offs+=("$v")
        fi
        for mode in "${order[@]}"; do
            run_mode "$w" "$mode" "$r"
            by_round[$w/$mode/$r]=$v
            ((${#offs[@]})) || continue
            run_mode "$w" off "$r"
            offs+=("$v")
            bracket[$w/$mode/$r]=$(awk -v a="${offs[-2]}" -v b="$v" 'BEGIN { print (a + b) / 2 }')
        done
        for ((i = 1; i + 1 < ${#offs[@]}; i++)); do
            off_null+=("$w $(awk -v a="${offs[i - 1]}" -v m="${offs[i]}" -v b="${offs[i + 1]}" \
                'BEGIN { if (a + b > 0) printf "%.5f", 2 * m / (a + b) }')")
        done
    done
done

# The profile rounds: workload $1 under mode $2 runs in the background while perf samples every
# CPU, from 0.5 s in (past the start-up) to 0.5 s before its end. How much of the CPU a hook
# takes moves with the packet mix of the run (how many segments a write makes, how many ACKs),
# so each mode is profiled in PROFILE_ROUNDS runs, interleaved, and their samples pooled.
declare -A profile
profile_once() {
    local w=$1 mode=$2 win data=$TIF_TMP/perf.data wpid line
    win=$(awk -v s="$SECS" 'BEGIN { print (s > 2) ? s - 1 : s / 2 }')
    workload_once "$w" >"$TIF_TMP/profiled.out" &
    wpid=$!
    sleep "$(awk -v s="$SECS" 'BEGIN { print (s > 2) ? 0.5 : s / 4 }')"
    perf record -q -a -g -F 1999 -o "$data" -- sleep "$win" >/dev/null 2>&1 ||
        tif_fail "perf record failed ($w, $mode)"
    wait "$wpid" || tif_fail "workload failed ($w, $mode, profiled)"
    line=$(bash "$here/hook_profile.sh" "$data") || tif_fail "no samples in the profile ($w, $mode)"
    rm -f "$data"
    profile[$w/$mode]+="$line"$'\n'
    printf 'profiled %-7s %-9s %s\n' "$w" "$mode" "$line"
}
# The runs of workload/mode $1 as one: every share weighted by its run's samples.
pooled_profile() {
    awk 'NF == 12 { n += $2; for (i = 4; i <= 12; i += 2) { s[i] += $i * $2; name[i] = $(i - 1) } }
        END { printf "samples %d", n; for (i = 4; i <= 12; i += 2) printf " %s %.2f", name[i], n ? s[i] / n : 0; print "" }' \
        <<<"${profile[$1]}"
}
sysctl -qw kernel.bpf_stats_enabled=0
for ((r = 1; r <= PROFILE_ROUNDS; r++)); do
    for w in "${PROFILED[@]}"; do
        for mode in $(modes_of_round "$r" "${MODES[@]}"); do
            attach_mode "$mode"
            profile_once "$w" "$mode"
            [[ -n $attached_pid ]] && tif_kill_wait "$attached_pid" 5
        done
    done
done
declare -A pooled
for w in "${PROFILED[@]}"; do
    for mode in "${MODES[@]}"; do
        pooled[$w/$mode]=$(pooled_profile "$w/$mode")
        printf 'profile  %-7s %-9s %s\n' "$w" "$mode" "${pooled[$w/$mode]}"
    done
done

# shellcheck source=overhead_report.sh
source "$here/overhead_report.sh"
