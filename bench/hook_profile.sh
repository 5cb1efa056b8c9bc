#!/usr/bin/env bash
# Where a workload's CPU goes in the hooks eBPF tools attach to, from a system-wide perf
# profile with call graphs (`perf record -a -g`): the share of the busy samples (idle CPUs
# left out) spent
#   tc dispatch         the kernel's clsact path to a filter (tcf_classify, cls_bpf_classify)
#   tc programs         the tc programs themselves and the helpers they call
#   tracepoint dispatch tp_btf/raw_tp (bpf_trace_runN) and classic tracepoints (perf_trace_*,
#                       trace_call_bpf), without the programs
#   tracepoint programs the tracepoint programs and the helpers they call
# A sample counts for a program when its call chain holds a bpf_prog_* frame whose caller is
# one of those hooks (other BPF users of the machine, say systemd's cgroup programs, are left
# out); for a dispatch when it holds a hook's frame and no program frame.
#
# Unlike a throughput ratio, which this VM's minute-to-minute swings blur by +-5%, a share of
# samples taken in one run is exact to its sampling error (about +-0.2 points at 10,000
# samples): it tells what the hooks cost when the throughput figures cannot.
#
#   bench/hook_profile.sh PERF_DATA
# prints one line: "samples N hooks H tc_dispatch A tc_programs B tp_dispatch C tp_programs D"
# with N the busy samples and H..D in % of them. The dispatch figures leave out what the kernel
# inlines into its receive and transmit paths (the clsact qdisc's per-packet statistics, all of
# tcx_run): they are a floor.
set -euo pipefail
[[ $# == 1 && -r $1 ]] || {
    echo "usage: $0 PERF_DATA" >&2
    exit 2
}
perf script -i "$1" -F comm,ip,sym 2>/dev/null | awk '
    # A sample: a header line, then its call chain leaf first, a tab-indented "address symbol"
    # a line, then an empty line.
    function flush(   i, prog, caller, tc, tp) {
        if (!n && !started)
            return
        if (f[1] ~ IDLE) {
            n = 0
            return
        }
        samples++
        prog = 0
        for (i = 1; i <= n; i++)
            if (f[i] ~ /^bpf_prog_/)
                prog = i # the outermost program frame: its caller is the hook
        if (prog) {
            # When the unwinder stops at the program (it can, at the first instructions of a
            # tiny program), the next frame is user space: the name of the program tells.
            caller = (prog < n && ip[prog + 1] ~ /^ffff/) ? f[prog + 1] : ""
            if (caller ~ TC_HOOK || (caller == "" && f[prog] ~ /_tc_(ingress|egress)$/))
                tc_prog++
            else if (caller ~ TP_HOOK || (caller == "" && f[prog] ~ /^bpf_prog_[0-9a-f]+_(tif_|base_|tracepoint_)/))
                tp_prog++
        } else {
            tc = tp = 0
            for (i = 1; i <= n; i++) {
                if (f[i] ~ TC_DISPATCH)
                    tc = 1
                else if (f[i] ~ TP_HOOK)
                    tp = 1
            }
            if (tc)
                tc_disp++
            else if (tp)
                tp_disp++
        }
        n = 0
    }
    BEGIN {
        TC_DISPATCH = "^(tcf_classify|__tcf_classify|cls_bpf_classify|tcx_run)"
        # A tc program is called from the dispatch, or from the receive/transmit path where
        # tcx_run is inlined.
        TC_HOOK = "^(tcf_classify|__tcf_classify|cls_bpf_classify|tcx_|sch_handle_|__netif_receive_skb|__dev_queue_xmit)"
        TP_HOOK = "^(bpf_trace_run[0-9]+|__bpf_trace_|trace_call_bpf|perf_trace_)"
        IDLE = "^(pv_native_safe_halt|native_safe_halt|default_idle|acpi_idle|mwait_idle|intel_idle|poll_idle|cpu_idle_poll)"
    }
    /^\t/ { ip[++n] = $1; f[n] = $2; next }
    /^$/ { flush(); started = 0; next }
    { flush(); started = 1 } # the header: the command, right-aligned
    END {
        flush()
        if (!samples) {
            print "samples 0"
            exit 1
        }
        pct = 100 / samples
        printf "samples %d hooks %.2f tc_dispatch %.2f tc_programs %.2f tp_dispatch %.2f tp_programs %.2f\n",
            samples, (tc_disp + tc_prog + tp_disp + tp_prog) * pct, tc_disp * pct, tc_prog * pct,
            tp_disp * pct, tp_prog * pct
    }'
