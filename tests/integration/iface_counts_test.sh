#!/usr/bin/env bash
# Packet and byte counts of a veth under iperf3 traffic (both directions) against the kernel's
# own device statistics over the same window: within 1%. GSO super-packets leave the host
# side bigger than the MTU and must show as oversize; the size histogram adds up. Also reports
# the average run time of each tc program from kernel.bpf_stats_enabled.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/iface_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq
tif_make_netns_pair tifa
dev=$TIF_HOST_IF
port=$(tif_free_port)
iface_start_exporter "$port"
metrics="$TIF_EXPORTER_URL/metrics"
iface_wait_metric "$metrics" "^traceiface_interfaces_watched " "==" 1 10

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
tif_cleanup_push "sysctl -qw kernel.bpf_stats_enabled=$old_stats"

snap() { # prints rx_packets tx_packets rx_bytes tx_bytes of /sys, then ours
    echo "$(iface_sys "$dev" rx_packets) $(iface_sys "$dev" tx_packets)" \
        "$(iface_sys "$dev" rx_bytes) $(iface_sys "$dev" tx_bytes)" \
        "$(iface_value "$metrics" traceiface_packets_total "$dev" ingress)" \
        "$(iface_value "$metrics" traceiface_packets_total "$dev" egress)" \
        "$(iface_value "$metrics" traceiface_bytes_total "$dev" ingress)" \
        "$(iface_value "$metrics" traceiface_bytes_total "$dev" egress)"
}
read -r -a before <<<"$(snap)"
iface_iperf "$TIF_NS" "$TIF_NS_IP" 4        # host -> ns: big GSO skbs leave the host side
iface_iperf "$TIF_NS" "$TIF_NS_IP" 4 -R     # ns -> host: the same arrive on the host side
sleep 0.5
read -r -a after <<<"$(snap)"

names=(rx_packets tx_packets rx_bytes tx_bytes)
for i in 0 1 2 3; do
    k=$((after[i] - before[i]))
    o=$(awk -v a="${after[i + 4]}" -v b="${before[i + 4]}" 'BEGIN { printf "%.0f", a - b }')
    echo "$dev ${names[i]}: kernel $k, traceiface $o"
    tif_assert_cmp "$k" ">" 1000 "${names[i]}: iperf3 must move traffic"
    awk -v o="$o" -v k="$k" 'BEGIN { d = o - k; if (d < 0) d = -d; exit !(d <= 0.01 * k) }' ||
        tif_fail "${names[i]}: traceiface $o vs kernel $k: more than 1% apart"
done

# GSO: the host's TCP stack hands veth skbs far above the 1500-byte MTU.
over=$(iface_value "$metrics" traceiface_oversize_packets_total "$dev" egress)
echo "oversize egress packets: $over"
tif_assert_cmp "$over" ">" 100 "GSO super-packets must count as oversize on egress"
big=$(tif_metric_sum "$metrics" "^traceiface_packet_size_bytes_bucket\\{iface=\"$dev\",direction=\"egress\",le=\"2048\"\\}")
all=$(tif_metric_sum "$metrics" "^traceiface_packet_size_bytes_count\\{iface=\"$dev\",direction=\"egress\"\\}")
pk=$(iface_value "$metrics" traceiface_packets_total "$dev" egress)
tif_assert_cmp "$all" ">" "$big" "some egress packets must be above 2048 bytes"
tif_assert_cmp "$all" "==" "$pk" "histogram count equals the packet counter"

# Run time per program run (bpf_stats), for the README's figures.
for id in $(iface_prog_ids "$TIF_EXPORTER_PID"); do
    bpftool prog show id "$id" -j | jq -r 'select(.name | startswith("tif_tc_")) |
        "\(.name): \(.run_cnt) runs, \(if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end) ns/run"'
done
echo "PASS: traceiface matches /sys/class/net/$dev/statistics within 1% ($over oversize)"
