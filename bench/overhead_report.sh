# The report of bench/overhead_bench.sh, sourced by it once every run is done: the ratios of
# each workload and mode (medians over rounds, with quartiles), the run times per program next
# to the empty program on the same hook, and the pooled perf profiles. Reads its globals.

# Median of the arguments: one run disturbed by the rest of a shared machine (either way)
# does not move it, where it would move a mean.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# "q1 median q3" of the arguments (linear interpolation between order statistics).
quartiles() {
    printf '%s\n' "$@" | sort -g | awk '
        function q(p,   h, l) { h = 1 + (n - 1) * p; l = int(h); return (l >= n) ? v[n] : v[l] + (h - l) * (v[l + 1] - v[l]) }
        NF { v[++n] = $1 }
        END { if (n) printf "%.3f %.3f %.3f\n", q(0.25), q(0.5), q(0.75); else print "- - -" }'
}

# Workload $1: mode $2's figure over off, each run against the mean of the off runs on either
# side of it, for every round; with $3 = empty, that ratio over the empty programs' own in the
# same round. For off itself: each middle off against its two neighbours (the noise floor).
# The spread of these ratios is what their median can be trusted to.
round_ratios() {
    local r a b e eb
    if [[ $2 == off ]]; then
        printf '%s\n' "${off_null[@]}" | awk -v w="$1" '$1 == w { print $2 }'
        return
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        a=${by_round[$1/$2/$r]:-} b=${bracket[$1/$2/$r]:-}
        [[ -n $a && -n $b ]] || continue
        if [[ $3 == off ]]; then
            awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.5f\n", a / b }'
        else
            e=${by_round[$1/$3/$r]:-} eb=${bracket[$1/$3/$r]:-}
            [[ -n $e && -n $eb ]] && awk -v a="$a" -v b="$b" -v e="$e" -v f="$eb" \
                'BEGIN { if (b > 0 && e > 0) printf "%.5f\n", (a / b) / (e / f) }'
        fi
    done
}

avg_ns() { # workload/mode/prog -> average ns, or "-" when it never ran
    local ns=${prog_ns[$1]:-0} cnt=${prog_cnt[$1]:-0}
    ((cnt > 0)) || {
        echo -
        return
    }
    awk -v a="$ns" -v b="$cnt" 'BEGIN { printf "%.0f", a / b }'
}

echo
echo "kernel $(uname -r), $(nproc) CPUs, $ROUNDS rounds of ${SECS}s per workload over a veth" \
    "(bpf_stats off); run times from one more round with kernel.bpf_stats_enabled=1"
echo "workloads on CPU ${CPU:-any} (sender, receiver and their softirqs); each run against the" \
    "mean of the two runs of off around it"
echo "bulk: 1 iperf3 stream, 128 KiB writes; small: 8 streams, 256 B writes, TCP_NODELAY;" \
    "connect: 2 threads of connect + RST; lossy (run times only): 8 BBR streams into a 1 Gbit/s tbf"
[[ -n $bpftrace_skip ]] && echo "bpftrace mode skipped: $bpftrace_skip"
echo "tc programs attached through: traceiface ${ours_attach:-?}, empty programs ${empty_attach:-?}"
# ours / empty compares programs only while both sit behind the same kernel dispatch.
[[ -z ${ours_attach:-} || -z ${empty_attach:-} || $ours_attach == "$empty_attach" ]] ||
    tif_fail "traceiface attached through $ours_attach, the empty programs through $empty_attach"
for w in "${WORKLOADS[@]}"; do
    echo
    if stats_only "$w"; then
        printf '%-7s %-9s %10s %8s   (run times only)\n' "$w" mode - -
    else
        # ratio: median of the per-round ratios to off, with their quartiles; /empty: the same
        # against the empty programs (what our code costs beyond the hooks' own dispatch).
        printf '%-7s %-9s %10s %8s %13s %8s   (%d rounds)\n' "$w" mode "$(unit_of "$w")" ratio \
            quartiles /empty "$ROUNDS"
        for mode in "${MODES[@]}"; do
            read -r q1 q2 q3 < <(quartiles $(round_ratios "$w" "$mode" off))
            vs_empty=-
            if [[ $mode != off && $mode != empty && " ${MODES[*]} " == *" empty "* ]]; then
                read -r _ vs_empty _ < <(quartiles $(round_ratios "$w" "$mode" empty))
            fi
            printf '%-7s %-9s %10.0f %8s %13s %8s\n' "" "$mode" \
                "$(in_unit "$w" "$(median ${bps[$w/$mode]})")" "$q2" "$q1-$q3" "$vs_empty"
        done
    fi
    printf '%-7s %-9s %-28s %10s %7s %8s %8s\n' "" mode program runs ns baseline over
    for mode in "${MODES[@]}"; do
        case $mode in
        sampled | every_ack | alt) list=("${PROGS[@]}") ;;
        bpftrace) list=("${bt_progs[@]}") ;;
        *) continue ;;
        esac
        for p in "${list[@]}"; do
            ns=$(avg_ns "$w/$mode/$p") b=-
            [[ -n ${BASE_OF[$p]:-} ]] && b=$(avg_ns "$w/empty/${BASE_OF[$p]}")
            over=-
            [[ $ns != - && $b != - ]] && over=$((ns - b))
            printf '%-7s %-9s %-28s %10d %7s %8s %8s\n' "" "$mode" "$p" \
                "${prog_cnt[$w/$mode/$p]:-0}" "$ns" "$b" "$over"
        done
    done
    [[ " ${PROFILED[*]} " == *" $w "* ]] || continue
    # perf: % of busy CPU in the hooks, and its parts (bench/hook_profile.sh).
    printf '%-7s %-9s %7s %11s %11s %11s %11s %8s\n' "" mode hooks% tc-dispatch tc-programs \
        tp-dispatch tp-programs samples
    for mode in "${MODES[@]}"; do
        read -r _ n _ all _ tcd _ tcp _ tpd _ tpp <<<"${pooled[$w/$mode]}"
        printf '%-7s %-9s %7s %11s %11s %11s %11s %8s\n' "" "$mode" "$all" "$tcd" "$tcp" "$tpd" \
            "$tpp" "$n"
    done
done
