#!/usr/bin/env bash
# Retransmits per bridge port: a host bridge with two ports (veths into two netns), each with
# its own tbf loss. Host sockets upload through the bridge to a sink in each netns; the route
# of both is the bridge. traceiface_tcp_egress_retransmit_segments_total on each port must
# equal what the kernel says the socket(s) through that port retransmitted (tcp_info's
# total_retrans, read once everything was acknowledged), the bridge's own egress count their
# sum, and the route-based traceiface_tcp_retransmit_segments_total of the bridge within 2%.
# (Bonding is not in this kernel; a bond's slaves are reached the same way, by the master's
# transmit calling the slave's.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

tif_require_root_bpf
tif_require_cmd python3 curl

br=tpbr$$ pa=tpa$$ pb=tpb$$ nsa=tpnsa$$ nsb=tpnsb$$
# A /24 in 10.214.0.0/16 not yet in use.
for ((i = 0; i < 250; i++)); do
    net=10.214.$((($$ + i) % 250))
    [[ -z $(ip -4 -o addr show to "$net.0/24") ]] && break
done
ip link add "$br" type bridge
tif_cleanup_push "ip link del '$br'"
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up
n=2
for side in a b; do
    ns=nsa port=$pa
    [[ $side == b ]] && ns=nsb port=$pb
    ns=${!ns}
    ip netns add "$ns"
    tif_cleanup_push "ip netns del '$ns'"
    ip link add "$port" type veth peer name eth0 netns "$ns"
    tif_cleanup_push "ip link del '$port'"
    ip link set "$port" master "$br" up
    ip -n "$ns" addr add "$net.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    n=$((n + 1))
done
ip_a=$net.2 ip_b=$net.3
# Different loss on the two ports (tbf on the port's egress: the bridge forwards into it).
TIF_TBF_RATE=${TIF_PORT_RATE_A:-30mbit} tif_tbf "$pa"
TIF_TBF_RATE=${TIF_PORT_RATE_B:-80mbit} tif_tbf "$pb"

tif_start_exporter "$(tif_free_port)" --iface.include="^($br|$pa|$pb)\$"
metrics=$TIF_EXPORTER_URL/metrics
egress() { tif_metric_sum "$metrics" "^traceiface_tcp_egress_retransmit_segments_total\\{iface=\"$1\"\\}"; }
routed() { tif_metric_sum "$metrics" "^traceiface_tcp_retransmit_segments_total\\{iface=\"$1\","; }
watched() { tif_metric_sum "$metrics" "^traceiface_interfaces_watched "; }
tif_wait_metric watched == 3 10

port=$(tif_free_port)
for ns in "$nsa" "$nsb"; do
    ip=$ip_a
    [[ $ns == "$nsb" ]] && ip=$ip_b
    ip netns exec "$ns" python3 "$here/tcp_bulk.py" sink "$ip" "$port" >"$TIF_TMP/sink-$ns.log" 2>&1 &
    tif_cleanup_push "tif_kill_wait $! 2"
    for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink-$ns.log" && break; sleep 0.1; done
    grep -q listening "$TIF_TMP/sink-$ns.log" || tif_fail "sink in $ns did not start"
done

before_a=$(egress "$pa") before_b=$(egress "$pb") before_br=$(egress "$br") before_rt=$(routed "$br")
secs=${TIF_PORT_SECONDS:-4}
timeout $((secs + 60)) python3 "$here/tcp_bulk.py" send "$ip_a" "$port" "$secs" >"$TIF_TMP/send-a.json" &
sa=$!
timeout $((secs + 60)) python3 "$here/tcp_bulk.py" send "$ip_b" "$port" "$secs" >"$TIF_TMP/send-b.json" &
sb=$!
tif_cleanup_push "tif_kill_wait $sa 2; tif_kill_wait $sb 2"
wait "$sa" || tif_fail "upload to $ip_a failed"
wait "$sb" || tif_fail "upload to $ip_b failed"
kern_a=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["total_retrans"])' <"$TIF_TMP/send-a.json")
kern_b=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["total_retrans"])' <"$TIF_TMP/send-b.json")
d_a=$(($(egress "$pa") - before_a)) d_b=$(($(egress "$pb") - before_b))
d_br=$(($(egress "$br") - before_br)) d_rt=$(($(routed "$br") - before_rt))
echo "port $pa: $d_a resent segments counted, the kernel's socket says $kern_a"
echo "port $pb: $d_b resent segments counted, the kernel's socket says $kern_b"
echo "bridge $br: egress $d_br, by route $d_rt"
tif_assert_cmp "$kern_a" ">" 0 "retransmits of the upload through $pa (the tbf made no loss?)"
tif_assert_cmp "$kern_b" ">" 0 "retransmits of the upload through $pb (the tbf made no loss?)"
tif_assert_cmp "$d_a" "==" "$kern_a" "resent segments on port $pa vs the kernel's count for its socket"
tif_assert_cmp "$d_b" "==" "$kern_b" "resent segments on port $pb vs the kernel's count for its socket"
tif_assert_cmp "$d_br" "==" $((kern_a + kern_b)) "resent segments on the bridge itself"
# The tracepoint-based count is within 2% of the kernel's, as in the other retransmit tests
# (it misses a few the sockets count; the egress count is exact).
tif_assert_cmp "$d_rt" "==" $((kern_a + kern_b)) "retransmitted segments routed via $br vs the kernel's count for both sockets"
tif_alive "$TIF_EXPORTER_PID" || tif_fail "exporter died"
echo "PASS: retransmits split by bridge port, each port's count the kernel's for its traffic"
