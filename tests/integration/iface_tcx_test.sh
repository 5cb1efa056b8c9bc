#!/usr/bin/env bash
# tcx links (--bpf.tc-attach=auto on Linux 6.6+): our programs run ahead of an operator's clsact
# filter, which keeps working; every packet is counted once (the kernel's device statistics
# are the oracle). Switching kinds never counts twice: a tcx successor removes a killed clsact
# predecessor's filters (and the clsact only it used), a clsact successor removes the pinned
# links. A killed instance's pinned links count the downtime; the successor keeps the same
# links and swaps its program in. SIGTERM leaves no link of ours; the operator's filter stays.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd jq
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
if ((kmaj < 6 || (kmaj == 6 && kmin < 6))); then
    echo "SKIP: kernel $(uname -r) has no tcx (Linux 6.6+); iface_coexist_test covers clsact"
    exit 77
fi
tif_make_netns_pair tifx # A: the operator's clsact and cBPF filter exist before we start
a=$TIF_HOST_IF a_peer=$TIF_NS_IP
tif_make_netns_pair tify # B: nothing of anyone's before us
b=$TIF_HOST_IF b_peer=$TIF_NS_IP
pin=/sys/fs/bpf/tif-test-$$
tif_cleanup_push "rm -rf '$pin'"
tc qdisc add dev "$a" clsact
tc filter add dev "$a" ingress prio 1 handle 0x1 bpf bytecode '1,6 0 0 4294967295,'

start() { # start MODE: an exporter on A and B with a private pin directory
    iface_start_exporter "$(tif_free_port)" --bpf.pin-path="$pin" --bpf.tc-attach="$1"
    metrics="$TIF_EXPORTER_URL/metrics"
    iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 2 10
}
kill9() {
    kill -KILL "$TIF_EXPORTER_PID"
    wait "$TIF_EXPORTER_PID" 2>/dev/null || true
}
link_pins() { find "$pin/tc_stats" -name 'tcx_*' 2>/dev/null | wc -l; }
link_of() { bpftool link show pinned "$pin/tc_stats/tcx_$(cat "/sys/class/net/$1/ifindex")_$2" -j; }
assert_kind() { # assert_kind KIND WHEN: one program of ours per hook, through KIND
    local dev d h
    for dev in "$a" "$b"; do
        for d in ingress egress; do
            h=$(iface_hook "$dev" "$d")
            tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 1 "$2: our programs on $dev $d"
            [[ $(jq -r '.attached.via' <<<"$h") == "$1" ]] || tif_fail "$2: $dev $d not through $1: $h"
        done
    done
    tif_assert_cmp "$(iface_foreign_filters "$a" ingress)" "==" 1 "$2: the operator's filter on $a"
}
# knock PEER N: N connection attempts to a closed port; each is answered by a reset.
knock() { bash -c 'for ((i = 0; i < $2; i++)); do : 2>/dev/null >"/dev/tcp/$1/9"; done' _ "$1" "$2" 2>/dev/null || true; }
# once DEV PEER: our ingress counter moves as the kernel's device statistics do (within 1%:
# a stray neighbour packet may fall between the two reads), not twice as much.
once() {
    local dev=$1 peer=$2 k0 o0 k1 o1
    k0=$(iface_sys "$dev" rx_packets) o0=$(iface_value "$metrics" traceiface_packets_total "$dev" ingress)
    knock "$peer" 200
    sleep 0.3
    k1=$(iface_sys "$dev" rx_packets) o1=$(iface_value "$metrics" traceiface_packets_total "$dev" ingress)
    tif_assert_cmp "$((k1 - k0))" ">=" 200 "$dev: the kernel saw the resets"
    o1=$(awk -v a="$o1" -v b="$o0" 'BEGIN { printf "%.0f", a - b }')
    echo "$dev ingress: kernel $((k1 - k0)), traceiface $o1"
    awk -v o="$o1" -v k="$((k1 - k0))" 'BEGIN { d = o - k; if (d < 0) d = -d; exit !(d <= 0.01 * k) }' ||
        tif_fail "$dev ingress: traceiface $o1 vs kernel $((k1 - k0)): counted other than once"
}

# --- a clsact instance, killed; a tcx successor takes over without counting twice ----------
start clsact
tif_assert_cmp "$(iface_our_filters "$b" egress)" "==" 1 "clsact instance: our filter on $b"
kill9
start auto
tif_assert_cmp "$(iface_attach_mode)" "==" tcx "auto on $(uname -r)"
assert_kind tcx "tcx after clsact"
tc qdisc show dev "$b" | grep -q clsact && tif_fail "the killed instance's clsact on $b left behind"
tc qdisc show dev "$a" | grep -q clsact || tif_fail "the operator's clsact on $a removed"
tif_assert_cmp "$(link_pins)" "==" 4 "links pinned"
once "$a" "$a_peer"
once "$b" "$b_peer"

# --- SIGKILL: the pinned links count the downtime; the successor keeps them ----------------
link1=$(link_of "$b" egress)
prog1=$(jq .prog_id <<<"$link1")
before=$(iface_value "$metrics" traceiface_packets_total "$b" egress)
kill9
knock "$b_peer" 10
start auto
assert_kind tcx "tcx after SIGKILL"
link2=$(link_of "$b" egress)
tif_assert_cmp "$(jq .id <<<"$link2")" "==" "$(jq .id <<<"$link1")" "the same link on $b egress"
[[ $(jq .prog_id <<<"$link2") != "$prog1" ]] || tif_fail "the successor's program is not in the link"
iface_prog_ids "$TIF_EXPORTER_PID" | grep -qx "$(jq .prog_id <<<"$link2")" ||
    tif_fail "the link runs a program the successor does not hold"
tif_assert_cmp "$(iface_value "$metrics" traceiface_packets_total "$b" egress)" ">=" \
    "$((before + 10))" "the downtime's SYNs counted"
once "$b" "$b_peer"

# --- a clsact successor removes the links ----------------------------------------------------
kill9
start clsact
assert_kind clsact "clsact after tcx"
tif_assert_cmp "$(link_pins)" "==" 0 "link pins after the switch to clsact"
once "$b" "$b_peer"

# --- back to tcx, then SIGTERM: nothing of ours is left ----------------------------------------
tif_kill_wait "$TIF_EXPORTER_PID" 5
start auto
assert_kind tcx "tcx after a stopped clsact instance"
tif_kill_wait "$TIF_EXPORTER_PID" 5
for dev in "$a" "$b"; do
    for d in ingress egress; do
        tif_assert_cmp "$(iface_ours "$dev" "$d")" "==" 0 "after SIGTERM: ours on $dev $d"
    done
done
tif_assert_cmp "$(link_pins)" "==" 0 "after SIGTERM: link pins"
tif_assert_cmp "$(iface_foreign_filters "$a" ingress)" "==" 1 "after SIGTERM: the operator's filter"
echo "PASS: tcx links ahead of the operator's filter, each packet counted once; kind switches" \
    "and restarts never count twice; SIGTERM leaves nothing of ours"
