#!/usr/bin/env bash
# Living with other tc users: foreign filters (on a clsact we did not create, and added after
# ours on one we did) survive our attach and our detach; our clsact goes only when empty; a
# restart after SIGKILL replaces the predecessor's filters instead of doubling them; a foreign
# program never gets replaced. `traceiface list` (table and --json) shows our attachments.
# All of it through clsact filters (--bpf.tc-attach=clsact, what kernels before 6.6 get);
# iface_tcx_test.sh is the same for tcx links.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd jq
tif_make_netns_pair tifd # A: the operator's clsact and filters exist before we start
a=$TIF_HOST_IF
tif_make_netns_pair tife # B: we create clsact; a foreign filter arrives after ours
b=$TIF_HOST_IF
b_peer=$TIF_NS_IP
tif_make_netns_pair tifh # H: our clsact, only our filters; its owner gets SIGKILLed
h=$TIF_HOST_IF
# Foreign filters are classic cBPF ("accept"): this kernel lacks matchall and the gact action.
# One shares our priority (same cls_bpf instance, another handle), one sits behind us.
accept='1,6 0 0 4294967295,'
tc qdisc add dev "$a" clsact
tc filter add dev "$a" ingress prio 1 handle 0x1 bpf bytecode "$accept"
tc filter add dev "$a" egress prio 3 handle 0x1 bpf bytecode "$accept"

port=$(tif_free_port)
iface_start_exporter "$port" --bpf.tc-attach=clsact
metrics="$TIF_EXPORTER_URL/metrics"
iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 3 10
tc filter add dev "$b" ingress prio 5 handle 0x1 bpf bytecode "$accept"

check_once() { # every hook: exactly one filter of ours, the foreign ones untouched
    local dev dir
    for dev in "$a" "$b"; do
        for dir in ingress egress; do
            [[ $(iface_our_filters "$dev" "$dir") == 1 ]] ||
                tif_fail "$dev $dir: $(iface_our_filters "$dev" "$dir") filters of ours, want 1"
        done
    done
    [[ $(iface_foreign_filters "$a" ingress) == 1 && $(iface_foreign_filters "$a" egress) == 1 &&
        $(iface_foreign_filters "$b" ingress) == 1 ]] || tif_fail "a foreign filter went missing"
}
check_once

# traffic still flows with us first on the hook (we return TC_ACT_UNSPEC)
bash -c "echo > /dev/tcp/$b_peer/9" 2>/dev/null || true
tif_assert_cmp "$(iface_value "$metrics" traceiface_packets_total "$b" egress)" ">" 0 "counted on $b"

# `traceiface list` reads the kernel: our programs on both hooks of both devices
list=$("$TIF_BUILD_DIR/traceiface" list)
grep -E "^[0-9]+ +$a .*tif_tc_ingress#[0-9]+ .*tif_tc_egress#[0-9]+" <<<"$list" >/dev/null ||
    tif_fail "traceiface list does not show our programs on $a: $list"
json=$("$TIF_BUILD_DIR/traceiface" list --json)
jq -e --arg a "$a" --arg b "$b" '[.[] | select(.iface == $a or .iface == $b)
    | select(.ingress.attached.ours and .egress.attached.ours
             and .ingress.attached.prog_name == "tif_tc_ingress")] | length == 2' <<<"$json" >/dev/null ||
    tif_fail "traceiface list --json does not show our programs: $json"
jq -e --arg a "$a" '.[] | select(.iface == $a) | .ingress.filters == 2' <<<"$json" >/dev/null ||
    tif_fail "list --json: $a ingress should hold 2 filters (ours + the cBPF one)"

# SIGKILL: nothing detaches; the next exporter must take the same places, not add to them
old_ids=$(iface_prog_ids "$TIF_EXPORTER_PID" | tr '\n' ' ')
kill -KILL "$TIF_EXPORTER_PID"
{ wait "$TIF_EXPORTER_PID"; } 2>/dev/null || true
check_once
iface_start_exporter "$port" --bpf.tc-attach=clsact
iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 3 10
check_once
new_ids=$(iface_prog_ids "$TIF_EXPORTER_PID" | tr '\n' ' ')
for dev in "$a" "$b"; do
    for dir in ingress egress; do
        id=$(tc filter show dev "$dev" "$dir" | grep "handle $IFACE_HANDLE " | grep -o ' id [0-9]*' | awk '{print $2}')
        [[ " $new_ids " == *" $id "* ]] || tif_fail "$dev $dir runs program $id, not the new exporter's"
    done
done
for id in $old_ids; do # the killed exporter's programs were only held by its filters
    [[ " $new_ids " == *" $id "* ]] || iface_wait_prog_gone "$id"
done

# A foreign program at our handle/priority is never replaced.
# The device gets its foreign filter under a name outside our filter, then is renamed into it.
c=tifc$$
ip link add "tfc$$" type veth peer name "tfcp$$"
tif_cleanup_push "ip link del 'tfc$$'; ip link del '$c'"
tc qdisc add dev "tfc$$" clsact
tc filter add dev "tfc$$" ingress prio 1 handle "$IFACE_HANDLE" bpf bytecode "$accept"
ip link set dev "tfc$$" name "$c"
iface_wait_metric "$metrics" "^traceiface_interface_attach_failures_total " ">=" 1 10
tc filter show dev "$c" ingress | grep -q "handle $IFACE_HANDLE" || tif_fail "foreign filter on $c gone"
iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 3 5

# SIGTERM: ours go, foreign stay; the clsact we created on B stays (it holds a foreign filter),
# the operator's on A stays; a clsact we created on an otherwise empty device goes.
tif_make_netns_pair tifg
g=$TIF_HOST_IF
iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 4 10
tc qdisc show dev "$g" | grep -q clsact || tif_fail "no clsact on $g while watched"
tif_kill_wait "$TIF_EXPORTER_PID" 5
for dev in "$a" "$b" "$g" "$h"; do
    for dir in ingress egress; do
        [[ $(iface_our_filters "$dev" "$dir") == 0 ]] || tif_fail "$dev $dir: our filter left behind"
    done
done
[[ $(iface_foreign_filters "$a" ingress) == 1 && $(iface_foreign_filters "$a" egress) == 1 &&
    $(iface_foreign_filters "$b" ingress) == 1 ]] || tif_fail "a foreign filter went missing at stop"
tc qdisc show dev "$b" | grep -q clsact || tif_fail "clsact on $b removed though it held a filter"
tc qdisc show dev "$g" | grep -q clsact && tif_fail "our empty clsact on $g left behind"
tc qdisc show dev "$h" | grep -q clsact && tif_fail "the killed predecessor's clsact on $h left behind"
for id in $new_ids; do iface_wait_prog_gone "$id"; done
echo "PASS: foreign filters survive attach, restart and detach; no doubled filter"
