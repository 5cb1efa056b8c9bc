#!/usr/bin/env bash
# Connect latency and failed connects, from a container-like netns whose eth0 is a veth with
# its peer on the host: every active open counts on the host-side veth. The client connects
# N_OK times to a listener on the host, 3 times to a second one whose accept queue is full at
# the third (its first SYN is dropped; the queue drains before the kernel retransmits that SYN
# 1 s later), N_REFUSED times to a closed port (RST: refused) and N_TIMEOUT times to an address
# whose SYNs vanish (a permanent neighbour entry with a MAC no one has; tcp_syn_retries=1 in the
# netns makes it time out in seconds). The exporter's counts and reasons must match what the
# client saw exactly; its latencies what the client timed (the handshakes lie within the
# connect() calls, the one with a lost SYN takes its full ~1 s); its kind="syn" retransmit
# counter the netns' TcpRetransSegs (those SYNs are the netns' only retransmits).
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
# The listener on slow_port takes at most 2 opens into its accept queue (listen(1)) and
# accepts nothing until the client writes to a FIFO: with the queue full, the host drops the
# next SYN (ListenOverflows), and the kernel retransmits that SYN 1 s later.
mkfifo "$TIF_TMP/go"
for p in "$listen_port" "$slow_port"; do
    backlog=64 hold=
    [[ $p == "$slow_port" ]] && backlog=1 hold=$TIF_TMP/go
    python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(int(sys.argv[3]))
if sys.argv[4]:
    open(sys.argv[4]).read()
while True:
    c, _ = s.accept()
    c.close()
' "$TIF_HOST_IP" "$p" "$backlog" "$hold" &
    tif_cleanup_push "kill $! 2>/dev/null || true"
    for _ in $(seq 50); do
        ss -Hltn "sport = :$p" | grep -q . && break
        sleep 0.1
    done
done

port=$(tif_free_port)
tif_start_exporter "$port"
metrics="http://127.0.0.1:$port/metrics"
before_ok=$(lat_count "$metrics" "$CONN" "$TIF_HOST_IF")
lat_buckets "$metrics" "$CONN" "$TIF_HOST_IF" >"$TIF_TMP/before.txt"
before_sum=$(tif_metric_sum "$metrics" "^${CONN}_sum\\{iface=\"$TIF_HOST_IF\"\\}")
syn_rtx_metric="^traceiface_tcp_retransmit_segments_total\\{iface=\"$TIF_HOST_IF\",kind=\"syn\"\\}"
before_syn_rtx=$(tif_metric_sum "$metrics" "$syn_rtx_metric")
before_kernel_rtx=$(tif_nstat_retrans "$TIF_NS")
declare -A before
for r in refused timed_out other; do
    before[$r]=$(lat_failures "$metrics" "$TIF_HOST_IF" "$r")
done

# The client: prints "ok refused timed_out other" as it saw them, then the seconds the fast
# connects took in all and the seconds of the one whose first SYN was dropped.
out=$(ip netns exec "$TIF_NS" python3 -c '
import errno, socket, sys, threading, time
host, lport, cport, bh, n_ok, n_ref, n_to, sport, go = sys.argv[1:10]
res = {"ok": 0, "refused": 0, "timed_out": 0, "other": 0}
lock = threading.Lock()
def connect(addr):
    s = socket.socket()
    try:
        t0 = time.monotonic()
        s.connect(addr)
        took = time.monotonic() - t0
        r = "ok"
    except OSError as e:
        r = {errno.ECONNREFUSED: "refused", errno.ETIMEDOUT: "timed_out"}.get(e.errno, "other")
    finally:
        s.close()
    with lock:
        res[r] += 1
    return took if r == "ok" else None
slow = [threading.Thread(target=connect, args=((bh, 80),)) for _ in range(int(n_to))]
for t in slow:
    t.start()
fast = sum(connect((host, int(lport))) or 0 for _ in range(int(n_ok)))
fast += sum(connect((host, int(sport))) or 0 for _ in range(2))  # fill the accept queue
def release():
    time.sleep(0.3)
    with open(go, "w") as f:
        f.write("go")
releaser = threading.Thread(target=release)
releaser.start()
lost_syn = connect((host, int(sport)))
releaser.join()
for _ in range(int(n_ref)):
    connect((host, int(cport)))
for t in slow:
    t.join()
print(res["ok"], res["refused"], res["timed_out"], res["other"], "%.6f" % fast, "%.6f" % (lost_syn or 0))
' "$TIF_HOST_IP" "$listen_port" "$closed_port" "$blackhole_ip" "$N_OK" "$N_REFUSED" "$N_TIMEOUT" \
    "$slow_port" "$TIF_TMP/go")
read -r ok refused timed_out other fast_s lost_syn_s <<<"$out"
seen="$ok $refused $timed_out $other"
echo "client saw: ok refused timed_out other = $seen; fast connects took ${fast_s}s in all," \
    "the one with a dropped SYN ${lost_syn_s}s"
[[ $seen == "$((N_OK + 3)) $N_REFUSED $N_TIMEOUT 0" ]] ||
    tif_fail "the client did not see what the test set up: $seen"
tif_assert_cmp "$lost_syn_s" ">=" 0.9 "the connect whose first SYN was dropped waits for its retransmission"

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

# The latencies against the client's own timing. Each handshake lies within its connect()
# call; the exporter reads the lost-SYN one at 1 ms resolution (the kernel's SYN stamp).
lat_buckets "$metrics" "$CONN" "$TIF_HOST_IF" >"$TIF_TMP/after.txt"
sum=$(awk -v a="$(tif_metric_sum "$metrics" "^${CONN}_sum\\{iface=\"$TIF_HOST_IF\"\\}")" \
    -v b="$before_sum" 'BEGIN { printf "%.6f", a - b }')
echo "traceiface: connect latency sum ${sum}s"
tif_assert_cmp "$sum" ">" "$(awk -v b="$lost_syn_s" 'BEGIN { print b - 0.002 }')" \
    "connect latency sum (must hold the lost SYN's wait)"
tif_assert_cmp "$sum" "<" "$(awk -v a="$fast_s" -v b="$lost_syn_s" 'BEGIN { print a + b + 0.002 }')" \
    "connect latency sum (the client's connect() calls bound it)"
# Bucket by bucket: the fast opens all under 2^19 us = 0.52 s, the lost-SYN one above it, in
# the bucket that holds what the client timed.
# (no series before: all zeros)
awk 'FILENAME == ARGV[1] { b[FNR] = $1; next } { print $1 - b[FNR] }' "$TIF_TMP/before.txt" \
    "$TIF_TMP/after.txt" >"$TIF_TMP/delta.txt"
under=$(sed -n 20p "$TIF_TMP/delta.txt") # le = 2^19 us
us_of() { awk -v s="$1" -v d="$2" 'BEGIN { printf "%.0f", (s - d) * 1e6 }'; }
hi=$(lat_slot_of_us "$(us_of "$lost_syn_s" 0)")
lo=$(lat_slot_of_us "$(us_of "$lost_syn_s" 0.002)")
at=$(sed -n "$((hi + 1))p" "$TIF_TMP/delta.txt")
below=$(sed -n "${lo}p" "$TIF_TMP/delta.txt")
tif_assert_cmp "${under:-0}" "==" $((N_OK + 2)) "fast opens under 0.52 s"
tif_assert_cmp "$((${at:-0} - ${below:-0}))" "==" 1 \
    "the lost-SYN open in bucket $lo..$hi (the client timed ${lost_syn_s}s)"
# Nothing of this netns may be counted on another interface under its own name.
stray=$(curl -sf "$metrics" | grep -E '^traceiface_tcp_connect_failures_total' |
    grep -F "/$TIF_NS_IF\"" || true)
[[ -z $stray ]] || tif_fail "failures attributed to the netns device, not the host veth: $stray"
echo "PASS: connect latency and failures on $TIF_HOST_IF match the client"
