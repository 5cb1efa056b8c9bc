#!/usr/bin/env bash
# Connect latency and failed connects, from a container-like netns whose eth0 is a veth with
# its peer on the host: every active open counts on the host-side veth. The client connects
# N_OK times to a listener on the host, N_REFUSED times to a closed port (RST: refused) and
# N_TIMEOUT times to an address whose SYNs vanish (a permanent neighbour entry with a MAC no
# one has; tcp_syn_retries=1 in the netns makes it time out in seconds); then 3 times to a
# second listener whose accept queue is full at the third, so that open's first SYN is dropped
# and it completes when the kernel retransmits the SYN 1 s later. The exporter's counts and
# reasons must match what the client saw exactly; its latencies what the client timed (each
# handshake lies within its connect() call; the lost SYN's open takes its full ~1 s, read at
# the 1 ms resolution of the kernel's SYN stamp); its kind="syn" retransmit counter the netns'
# TcpRetransSegs (those SYNs are the netns' only retransmits).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/latency_lib.sh"

CONN=traceiface_tcp_connect_latency_seconds
N_OK=5
N_REFUSED=3
N_TIMEOUT=2

tif_require_root_bpf
tif_require_cmd python3 curl
tif_make_netns_pair tfc
ip netns exec "$TIF_NS" sysctl -qw net.ipv4.tcp_syn_retries=1
# TEST-NET-1 address routed out of the netns' veth to a MAC that nobody has: the host-side
# veth drops the frames (not for its address), so the SYNs get no answer at all.
blackhole_ip=192.0.2.$((1 + $$ % 250))
ip -n "$TIF_NS" route add "$blackhole_ip/32" dev "$TIF_NS_IF"
ip -n "$TIF_NS" neigh add "$blackhole_ip" lladdr 02:00:5e:00:53:01 dev "$TIF_NS_IF" nud permanent

listen_port=$(tif_free_port)
closed_port=$(tif_free_port)
[[ $listen_port != "$closed_port" ]] || closed_port=$((listen_port + 1))
slow_port=$((closed_port + 1))
[[ $slow_port != "$listen_port" ]] || slow_port=$((slow_port + 1))
mkfifo "$TIF_TMP/go"
lat_listener "$TIF_HOST_IP" "$listen_port"
lat_listener "$TIF_HOST_IP" "$slow_port" "$TIF_TMP/go"

port=$(tif_free_port)
tif_start_exporter "$port"
metrics="http://127.0.0.1:$port/metrics"
before_ok=$(lat_count "$metrics" "$CONN" "$TIF_HOST_IF")
before_sum=$(lat_sum "$metrics" "$CONN" "$TIF_HOST_IF")
lat_buckets "$metrics" "$CONN" "$TIF_HOST_IF" >"$TIF_TMP/before.txt"
syn_rtx_metric="^traceiface_tcp_retransmit_segments_total\\{iface=\"$TIF_HOST_IF\",kind=\"syn\"\\}"
before_syn_rtx=$(tif_metric_sum "$metrics" "$syn_rtx_metric")
before_kernel_rtx=$(tif_nstat_retrans "$TIF_NS")
declare -A before
for r in refused timed_out other; do
    before[$r]=$(lat_failures "$metrics" "$TIF_HOST_IF" "$r")
done

# The client: prints "ok refused timed_out other" as it saw them, and the seconds its
# successful connect() calls took in all.
seen=$(ip netns exec "$TIF_NS" python3 -c '
import errno, socket, sys, threading, time
host, lport, cport, bh, n_ok, n_ref, n_to = sys.argv[1:8]
res = {"ok": 0, "refused": 0, "timed_out": 0, "other": 0}
lock = threading.Lock()
took = 0.0
def connect(addr):
    global took
    s = socket.socket()
    try:
        t0 = time.monotonic()
        s.connect(addr)
        took += time.monotonic() - t0
        r = "ok"
    except OSError as e:
        r = {errno.ECONNREFUSED: "refused", errno.ETIMEDOUT: "timed_out"}.get(e.errno, "other")
    finally:
        s.close()
    with lock:
        res[r] += 1
slow = [threading.Thread(target=connect, args=((bh, 80),)) for _ in range(int(n_to))]
for t in slow:
    t.start()
for _ in range(int(n_ok)):
    connect((host, int(lport)))
for _ in range(int(n_ref)):
    connect((host, int(cport)))
for t in slow:
    t.join()
print(res["ok"], res["refused"], res["timed_out"], res["other"], "%.6f" % took)
' "$TIF_HOST_IP" "$listen_port" "$closed_port" "$blackhole_ip" "$N_OK" "$N_REFUSED" "$N_TIMEOUT")
read -r ok refused timed_out other fast_s <<<"$seen"
seen="$ok $refused $timed_out $other"
echo "client saw: ok refused timed_out other = $seen"
[[ $seen == "$N_OK $N_REFUSED $N_TIMEOUT 0" ]] ||
    tif_fail "the client did not see what the test set up: $seen"
read -r fill_s lost_syn_s <<<"$(lat_lost_syn_open "$TIF_NS" "$TIF_HOST_IP" "$slow_port" "$TIF_TMP/go")"
echo "client: $N_OK + 2 connects took ${fast_s}s + ${fill_s}s in all, the one with a dropped SYN" \
    "${lost_syn_s}s"
tif_assert_cmp "$lost_syn_s" ">=" 0.9 "the open whose first SYN was dropped waits for its retransmission"

got_ok=$(($(lat_count "$metrics" "$CONN" "$TIF_HOST_IF") - before_ok))
declare -A got
for r in refused timed_out other; do
    got[$r]=$(awk -v a="$(lat_failures "$metrics" "$TIF_HOST_IF" "$r")" -v b="${before[$r]}" \
        'BEGIN { printf "%.0f", a - b }')
done
echo "traceiface{iface=$TIF_HOST_IF}: connects $got_ok, refused ${got[refused]}," \
    "timed_out ${got[timed_out]}, other ${got[other]}"
tif_assert_cmp "$got_ok" "==" $((N_OK + 3)) "connect latency observations"
tif_assert_cmp "${got[refused]}" "==" "$N_REFUSED" "refused connects"
tif_assert_cmp "${got[timed_out]}" "==" "$N_TIMEOUT" "timed-out connects"
tif_assert_cmp "${got[other]}" "==" 0 "connect failures of another reason"

# The timed-out connects retransmitted their SYNs (as often as the kernel's SYN timers say):
# all of the netns' retransmits are SYNs, counted with kind="syn" on the host-side veth.
syn_rtx=$(($(tif_metric_sum "$metrics" "$syn_rtx_metric") - before_syn_rtx))
kernel_rtx=$(($(tif_nstat_retrans "$TIF_NS") - before_kernel_rtx))
echo "SYN retransmits: kernel (netns TcpRetransSegs) $kernel_rtx, traceiface kind=syn $syn_rtx"
tif_assert_cmp "$kernel_rtx" ">=" "$N_TIMEOUT" "each timed-out connect retransmits its SYN"
tif_assert_cmp "$syn_rtx" "==" "$kernel_rtx" "SYN retransmits (kind=\"syn\") on $TIF_HOST_IF"

# The latencies against the client's own timing: the sum within what the connect() calls
# took (+1 ms: the lost-SYN open is read in whole ms), and bucket by bucket, the fast opens
# under 2^19 us = 0.52 s, the lost-SYN one in the bucket of what the client timed.
sum=$(awk -v a="$(lat_sum "$metrics" "$CONN" "$TIF_HOST_IF")" -v b="$before_sum" \
    'BEGIN { printf "%.6f", a - b }')
echo "traceiface: connect latency sum ${sum}s"
tif_assert_cmp "$sum" ">" "$(awk -v l="$lost_syn_s" 'BEGIN { printf "%.6f", l - 0.002 }')" \
    "connect latency sum (must hold the lost SYN's wait)"
tif_assert_cmp "$sum" "<" "$(awk -v a="$fast_s" -v b="$fill_s" -v l="$lost_syn_s" \
    'BEGIN { printf "%.6f", a + b + l + 0.002 }')" "connect latency sum (bounded by the connect() calls)"
lat_buckets "$metrics" "$CONN" "$TIF_HOST_IF" >"$TIF_TMP/after.txt"
lat_assert_one_slow "$TIF_TMP/before.txt" "$TIF_TMP/after.txt" $((N_OK + 2)) "$lost_syn_s" 0.002
# Nothing of this netns may be counted on another interface under its own name.
stray=$(curl -sf "$metrics" | grep -E '^traceiface_tcp_connect_failures_total' |
    grep -F "/$TIF_NS_IF\"" || true)
[[ -z $stray ]] || tif_fail "failures attributed to the netns device, not the host veth: $stray"
echo "PASS: connect latency and failures on $TIF_HOST_IF match the client"
