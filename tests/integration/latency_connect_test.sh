#!/usr/bin/env bash
# Connect latency and failed connects, from a container-like netns whose eth0 is a veth with
# its peer on the host: every active open counts on the host-side veth. The client connects
# N_OK times to a listener on the host, N_REFUSED times to a closed port (RST: refused) and
# N_TIMEOUT times to an address whose SYNs vanish (a permanent neighbour entry with a MAC no
# one has; tcp_syn_retries=1 in the netns makes it time out in seconds). The exporter's counts
# and reasons must match what the client saw exactly, and its kind="syn" retransmit counter
# the netns' TcpRetransSegs (those SYNs are the netns' only retransmits).
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
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
' "$TIF_HOST_IP" "$listen_port" &
lpid=$!
tif_cleanup_push "kill $lpid 2>/dev/null || true"
for _ in $(seq 50); do
    ss -Hltn "sport = :$listen_port" | grep -q . && break
    sleep 0.1
done

port=$(tif_free_port)
tif_start_exporter "$port"
metrics="http://127.0.0.1:$port/metrics"
before_ok=$(lat_count "$metrics" "$CONN" "$TIF_HOST_IF")
syn_rtx_metric="^traceiface_tcp_retransmit_segments_total\\{iface=\"$TIF_HOST_IF\",kind=\"syn\"\\}"
before_syn_rtx=$(tif_metric_sum "$metrics" "$syn_rtx_metric")
before_kernel_rtx=$(tif_nstat_retrans "$TIF_NS")
declare -A before
for r in refused timed_out other; do
    before[$r]=$(lat_failures "$metrics" "$TIF_HOST_IF" "$r")
done

# The client: prints "ok refused timed_out other" as it saw them.
seen=$(ip netns exec "$TIF_NS" python3 -c '
import errno, socket, sys, threading
host, lport, cport, bh, n_ok, n_ref, n_to = sys.argv[1:8]
res = {"ok": 0, "refused": 0, "timed_out": 0, "other": 0}
lock = threading.Lock()
def connect(addr):
    s = socket.socket()
    try:
        s.connect(addr)
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
print(res["ok"], res["refused"], res["timed_out"], res["other"])
' "$TIF_HOST_IP" "$listen_port" "$closed_port" "$blackhole_ip" "$N_OK" "$N_REFUSED" "$N_TIMEOUT")
echo "client saw: ok refused timed_out other = $seen"
[[ $seen == "$N_OK $N_REFUSED $N_TIMEOUT 0" ]] ||
    tif_fail "the client did not see what the test set up: $seen"

got_ok=$(($(lat_count "$metrics" "$CONN" "$TIF_HOST_IF") - before_ok))
declare -A got
for r in refused timed_out other; do
    got[$r]=$(awk -v a="$(lat_failures "$metrics" "$TIF_HOST_IF" "$r")" -v b="${before[$r]}" \
        'BEGIN { printf "%.0f", a - b }')
done
echo "traceiface{iface=$TIF_HOST_IF}: connects $got_ok, refused ${got[refused]}," \
    "timed_out ${got[timed_out]}, other ${got[other]}"
tif_assert_cmp "$got_ok" "==" "$N_OK" "connect latency observations"
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

# A local veth handshake takes well under 100 ms; the histogram's sum says so too.
sum=$(tif_metric_sum "$metrics" "^${CONN}_sum\\{iface=\"$TIF_HOST_IF\"\\}")
tif_assert_cmp "$sum" ">" 0 "connect latency sum"
tif_assert_cmp "$sum" "<" "$(awk -v n="$N_OK" 'BEGIN { print 0.1 * n }')" "connect latency sum"
# Nothing of this netns may be counted on another interface under its own name.
stray=$(curl -sf "$metrics" | grep -E '^traceiface_tcp_connect_failures_total' |
    grep -F "/$TIF_NS_IF\"" || true)
[[ -z $stray ]] || tif_fail "failures attributed to the netns device, not the host veth: $stray"
echo "PASS: connect latency and failures on $TIF_HOST_IF match the client"
