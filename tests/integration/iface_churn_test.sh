#!/usr/bin/env bash
# Churn: 200 create/delete cycles of a veth pair while iperf3 runs over a surviving pair. Every
# cycle waits until our filters are on the new pair, so each one is a real attach. Afterwards:
# no filter leaked on the survivor (exactly one of ours per hook), the exporter holds the same
# BPF programs and (within 2) the same number of fds as before, no series of the churned
# devices once the grace period has passed, and the survivor's counts still match /sys.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq
cycles=${TIF_CHURN_CYCLES:-200}
tif_make_netns_pair tifs
s=$TIF_HOST_IF
ka=tifka$$
kb=tifkb$$
tif_cleanup_push "ip link del '$ka'"

port=$(tif_free_port)
iface_start_exporter "$port"
m="$TIF_EXPORTER_URL/metrics"
iface_wait_metric "$m" "^traceiface_interfaces_watched " "==" 1 10
fds_before=$(ls /proc/"$TIF_EXPORTER_PID"/fd | wc -l)
progs_before=$(iface_prog_ids "$TIF_EXPORTER_PID" | tr '\n' ' ')

tif_iperf_server "$TIF_NS" "$TIF_NS_IP"
sys_before="$(iface_sys "$s" rx_packets) $(iface_sys "$s" tx_packets)"
ours_before="$(iface_value "$m" traceiface_packets_total "$s" ingress) $(iface_value "$m" traceiface_packets_total "$s" egress)"
iperf3 -c "$TIF_NS_IP" -t 600 -b 200M >"$TIF_TMP/iperf-client.log" 2>&1 &
cpid=$!
tif_cleanup_push "kill $cpid 2>/dev/null || true"

t0=$SECONDS
for ((i = 1; i <= cycles; i++)); do
    ip link add "$ka" type veth peer name "$kb"
    ip link set "$ka" up
    ip link set "$kb" up
    deadline=$((SECONDS + 3))
    until [[ $(iface_ours "$ka" egress) == 1 && $(iface_ours "$kb" ingress) == 1 ]]; do
        ((SECONDS < deadline)) || tif_fail "cycle $i: not attached to $ka and $kb within 2-3 s"
        sleep 0.01
    done
    ip link del "$ka"
done
echo "$cycles cycles in $((SECONDS - t0)) s"
tif_alive "$cpid" || tif_fail "iperf3 stopped during the churn: $(tail -3 "$TIF_TMP/iperf-client.log")"
kill -INT "$cpid"
wait "$cpid" 2>/dev/null || true
sleep 0.5
sys_after="$(iface_sys "$s" rx_packets) $(iface_sys "$s" tx_packets)"
ours_after="$(iface_value "$m" traceiface_packets_total "$s" ingress) $(iface_value "$m" traceiface_packets_total "$s" egress)"

iface_wait_metric "$m" "^traceiface_interfaces_watched " "==" 1 10
for dir in ingress egress; do
    [[ $(iface_ours "$s" "$dir") == 1 ]] || tif_fail "$s $dir: $(iface_ours "$s" "$dir") programs of ours"
done
# 2 s grace, then the churned names are gone from /metrics.
iface_wait_metric "$m" "^traceiface_[a-z_]+\\{iface=\"($ka|$kb)\"" "==" 0 8
failures=$(tif_metric_sum "$m" "^traceiface_interface_attach_failures_total ")
fds_after=$(ls /proc/"$TIF_EXPORTER_PID"/fd | wc -l)
progs_after=$(iface_prog_ids "$TIF_EXPORTER_PID" | tr '\n' ' ')
echo "fds: $fds_before -> $fds_after; programs: [$progs_before] -> [$progs_after]; attach failures: $failures"
((fds_after <= fds_before + 2)) || tif_fail "fd leak: $fds_before -> $fds_after"
[[ $progs_after == "$progs_before" ]] || tif_fail "the exporter's BPF programs changed"
tif_assert_cmp "$failures" "==" 0 "no attach failure expected"

read -r -a sb <<<"$sys_before"
read -r -a sa <<<"$sys_after"
read -r -a ob <<<"$ours_before"
read -r -a oa <<<"$ours_after"
names=(rx_packets tx_packets)
for i in 0 1; do
    k=$((sa[i] - sb[i]))
    o=$(awk -v a="${oa[i]}" -v b="${ob[i]}" 'BEGIN { printf "%.0f", a - b }')
    echo "$s ${names[i]} during the churn: kernel $k, traceiface $o"
    awk -v o="$o" -v k="$k" 'BEGIN { d = o - k; if (d < 0) d = -d; exit !(k > 0 && d <= 0.01 * k) }' ||
        tif_fail "survivor counts drifted: traceiface $o vs kernel $k"
done
echo "PASS: $cycles churn cycles, no leaked filter, fd or program, no stale series"
