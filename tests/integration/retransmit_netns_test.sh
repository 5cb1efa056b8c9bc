#!/usr/bin/env bash
# Sockets in other network namespaces. (1) A container-like netns whose eth0 is a veth with its
# peer on the host: its retransmits are counted on the host-side veth, and a host dummy device
# that deliberately shares the container device's ifindex gets nothing. (2) A veth pair between
# two non-host namespaces: the label names the namespace, so it cannot pass for a host device.
# Oracle: the TcpRetransSegs counter of the sending namespace.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/retransmit_lib.sh"

tif_require_root_bpf
port=$(tif_free_port)
metrics="http://127.0.0.1:$port/metrics"

# --- (1) container-like namespace, client inside it, loss on its own eth0 ----------------
tif_make_netns_pair tic
tif_tbf "$TIF_NS_IF" "$TIF_NS"
ns_ifindex=$(ip netns exec "$TIF_NS" cat "/sys/class/net/$TIF_NS_IF/ifindex")
# The host device that shares the container device's ifindex: an existing one, or a dummy
# created with that index.
twin=$(ip -o link show | awk -F': ' -v i="$ns_ifindex" '$1 == i { sub(/@.*/, "", $2); print $2 }')
if [[ -z $twin ]]; then
    twin="tid$$"
    ip link add "$twin" index "$ns_ifindex" type dummy ||
        tif_fail "could not create host dummy with ifindex $ns_ifindex"
    tif_cleanup_push "ip link del $twin 2>/dev/null || true"
    ip link set "$twin" up
fi
echo "host device sharing ifindex $ns_ifindex with the container's $TIF_NS_IF: $twin"
tif_start_exporter "$port"

before_kernel=$(tif_nstat_retrans "$TIF_NS")
rtx_snapshot "$metrics" >"$TIF_TMP/before.txt"
rtx_iperf_upload "$TIF_NS" "$TIF_HOST_IP" 6 ns
after_kernel=$(tif_nstat_retrans "$TIF_NS")
rtx_snapshot "$metrics" >"$TIF_TMP/after.txt"
kernel=$((after_kernel - before_kernel))
ours=$(rtx_delta "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$TIF_HOST_IF")
echo "netns TcpRetransSegs delta: $kernel; traceiface{iface=$TIF_HOST_IF}: $ours"
tif_assert_cmp "$kernel" ">=" 50 "the induced loss must make retransmits to compare"
rtx_assert_within "$ours" "$kernel" 0.02
twin_count=$(rtx_delta "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" "$twin")
tif_assert_cmp "$twin_count" "==" 0 "host device sharing the container's ifindex got retransmits"
ino=$(stat -L -c %i "/run/netns/$TIF_NS")
wrong=$(jq -r -R -s --argjson n "$ino" --arg i "$TIF_HOST_IF" --arg r "netns-$ino/$TIF_NS_IF" '
    [split("\n")[] | select(length > 0) | fromjson | select(.event == "tcp_retransmit" and .netns == $n)]
    | [length, ([.[] | select(.iface != $i or .route_iface != $r)] | length)] | @tsv' \
    "$TIF_TMP/exporter.out")
read -r lines bad <<<"$wrong"
tif_assert_cmp "$lines" ">" 0 "retransmit lines from the container's namespace"
tif_assert_cmp "$bad" "==" 0 "lines not naming host veth $TIF_HOST_IF and the container's own device"

# --- (2) a veth pair between two non-host namespaces ------------------------------------
a="tiaa$$" b="tiab$$"
ip netns add "$a"
tif_cleanup_push "ip netns del $a 2>/dev/null || true"
ip netns add "$b"
tif_cleanup_push "ip netns del $b 2>/dev/null || true"
ip -n "$a" link add veth-a type veth peer name veth-b netns "$b"
ip -n "$a" addr add 10.214.0.1/30 dev veth-a
ip -n "$b" addr add 10.214.0.2/30 dev veth-b
for n in "$a" "$b"; do ip -n "$n" link set lo up; done
ip -n "$a" link set veth-a up
ip -n "$b" link set veth-b up
tif_tbf veth-a "$a"
label="netns-$(stat -L -c %i "/run/netns/$a")/veth-a"

before_kernel=$(tif_nstat_retrans "$a")
before_others=$(($(tif_nstat_retrans) + $(tif_nstat_retrans "$b") + $(tif_nstat_retrans "$TIF_NS")))
rtx_snapshot "$metrics" >"$TIF_TMP/before2.txt"
tif_iperf_server "$b" 10.214.0.2 -1
timeout 40 ip netns exec "$a" iperf3 -c 10.214.0.2 -t 5 -C "${TIF_IPERF_CC:-bbr}" --connect-timeout 3000 >/dev/null ||
    tif_fail "iperf3 between namespaces failed"
after_kernel=$(tif_nstat_retrans "$a")
after_others=$(($(tif_nstat_retrans) + $(tif_nstat_retrans "$b") + $(tif_nstat_retrans "$TIF_NS")))
rtx_snapshot "$metrics" >"$TIF_TMP/after2.txt"
kernel=$((after_kernel - before_kernel))
ours=$(rtx_delta "$TIF_TMP/before2.txt" "$TIF_TMP/after2.txt" "$label")
echo "namespace-only pair: kernel $kernel, traceiface{iface=$label}: $ours"
tif_assert_cmp "$kernel" ">=" 50 "the induced loss must make retransmits to compare"
rtx_assert_within "$ours" "$kernel" 0.02
# Other series may only grow by what the other namespaces retransmitted meanwhile: the host,
# the container, and b, whose iperf3 server can retransmit a reply or a FIN out of veth-b.
rtx_assert_no_stray "$TIF_TMP/before2.txt" "$TIF_TMP/after2.txt" "$label" \
    "$((after_others - before_others))"

rtx_assert_clean_stop
echo "PASS: namespaced sockets are attributed to the host-side veth or labelled by namespace"
