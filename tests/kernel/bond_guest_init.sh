#!/bin/busybox sh
# shellcheck shell=dash
# /init of the bond-slave test's initramfs (see bond_slave_test.sh). Builds bond0 (balance-rr:
# one flow's segments alternate between the slaves) over two veths whose peers form bond1 in
# the netns "rx"; netem loss on slave bsa alone makes the retransmits. Runs the exporter on lo,
# bond0 and both slaves, uploads through bond0 with busybox nc, and prints the kernel's
# TcpRetransSegs before/after and the exporter's metrics between TIF-* marker lines, then
# powers off. Every step is bounded; the host gives up on the whole VM after its own timeout.
/bin/busybox mkdir -p /dev /proc /sys /tmp /run
/bin/busybox mount -t devtmpfs dev /dev
# As in guest_init.sh: no /dev/console in the archive, take the serial console now.
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
# iproute2's ip and tc (shipped at their host paths), not busybox's, which cannot make veths
# or a qdisc, nor name a netns. Functions: this busybox's sh prefers its applets to the PATH.
for sbin in /usr/sbin /sbin /usr/bin; do [ -x $sbin/ip ] && [ ! -L $sbin/ip ] && break; done
ip() { "$sbin/ip" "$@"; }
tc() { "$sbin/tc" "$@"; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
ip link set lo up
for m in $(cat /modules/order); do
    insmod "/modules/$m" || echo "TIF-WARN: insmod $m failed"
done
echo "TIF-KERNEL $(uname -r) (uptime $(cut -d" " -f1 /proc/uptime) s)"
fail() {
    echo "TIF-FAIL $*"
    echo "TIF-DONE"
    poweroff -f
}

# Loading bonding made a bond0 already (max_bonds=1): made anew, with its options, like bond1.
ip link del bond0 2>/dev/null
ip link add bond0 type bond mode balance-rr miimon 100 || fail "bond0"
ip netns add rx || fail "ip netns add"
ip -n rx link set lo up
ip -n rx link add bond1 type bond mode balance-rr miimon 100 || fail "bond1 in rx"
for s in a b; do
    ip link add bs$s type veth peer name rs$s netns rx || fail "veth bs$s"
    ip link set bs$s master bond0 || fail "enslave bs$s"
    ip -n rx link set rs$s master bond1 || fail "enslave rs$s"
done
ip addr add 10.77.0.1/24 dev bond0
ip -n rx addr add 10.77.0.2/24 dev bond1
ip link set bond0 up
ip -n rx link set bond1 up
# The loss: netem dropping 2% on one slave; bsb has no qdisc and drops nothing (balance-rr
# still sends retransmits over both). Not a tbf as on the bridge test's ports: the bond hands
# the slave qdisc's verdict back to TCP, which takes a tbf drop for local congestion and sends
# the segment again as new data (seq == snd_nxt; no retransmit for it or us: ~500 drops gave
# 2-8 retransmits). netem reports its losses as sent, like a lossy wire.
tc qdisc add dev bsa root netem loss 2% || fail "netem on bsa"
i=0
until ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 10 ] || fail "10.77.0.2 unreachable through bond0"
done
echo "TIF-BOND $(cat /sys/class/net/bond0/bonding/mode) slaves $(cat /sys/class/net/bond0/bonding/slaves)"
echo "TIF-QDISC bond0 $(tc qdisc show dev bond0 | head -1)"

port=9742
url=http://127.0.0.1:$port
traceiface --web.listen-address=127.0.0.1:$port --iface.include='^(lo|bond0|bsa|bsb)$' \
    --iface.exclude= --span.socket= >/tmp/exporter.log 2>&1 &
pid=$!
ready=no
i=0
while [ $i -lt 150 ]; do
    kill -0 $pid 2>/dev/null || break
    curl -sf -m 2 -o /tmp/m "$url/metrics" && grep -q '^traceiface_interfaces_watched 4' /tmp/m &&
        { ready=yes; break; }
    sleep 0.2
    i=$((i + 1))
done
echo "TIF-READY $ready (uptime $(cut -d" " -f1 /proc/uptime) s)"

# TcpRetransSegs of this (the sender's) netns, by the header line's column names.
retrans() {
    awk '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
                   else { print $c["RetransSegs"]; exit } }' /proc/net/snmp
}
# The egress retransmit series, one scrape: "TIF-<tag> iface count" lines.
egress() {
    curl -sf -m 5 "$url/metrics" |
        sed -n 's/^traceiface_tcp_egress_retransmit_segments_total{iface="\([^"]*\)"} \(.*\)/TIF-'"$1"' \1 \2/p'
}

secs=${TIF_BOND_SECONDS:-5}
# A sink in rx that reads until the sender's FIN; its stdin, a pipe that stays silent, keeps
# busybox nc from closing at stdin EOF.
sleep 600 | nsenter --net=/run/netns/rx nc -l -p 5001 >/tmp/sink.out &
sleep 0.5
egress BEFORE
echo "TIF-SNMP-BEFORE $(retrans)"
t0=$(cut -d" " -f1 /proc/uptime)
# nc shuts its sending side down at stdin EOF and exits at the sink's FIN, i.e. once every
# byte and our FIN were acknowledged: nothing of this flow can be resent after it returns.
timeout "$secs" cat /dev/zero | timeout $((secs + 90)) nc 10.77.0.2 5001 >/dev/null &
up=$!
i=0
while kill -0 $up 2>/dev/null; do
    # Still going 20 s after the data ended: show the flow (tx queue, timer, retransmits).
    if [ $i -eq $(((secs + 20) * 5)) ]; then
        echo "TIF-WARN upload still running at $(cut -d" " -f1 /proc/uptime) s:"
        grep -i ':138[9] ' /proc/net/tcp | sed 's/^/TIF-WARN /'
        echo "TIF-WARN $(tc -s qdisc show dev bsa | head -3 | tr '\n' ' ')"
    fi
    sleep 0.2
    i=$((i + 1))
done
wait $up
echo "TIF-UPLOAD rc $? bytes $(wc -c </tmp/sink.out) from $t0 to $(cut -d" " -f1 /proc/uptime) s"
sleep 1
echo "TIF-SNMP-AFTER $(retrans)"
egress AFTER
for d in bsa bsb; do echo "TIF-QDISC $d $(tc -s qdisc show dev $d | tr '\n' ' ')"; done
grep -E '^Tcp(Ext)?:' /proc/net/snmp /proc/net/netstat | sed 's/^/TIF-SNMP /'
curl -sf -m 5 -o /tmp/metrics "$url/metrics" || echo "TIF-WARN: scrape failed"
echo "TIF-METRICS-BEGIN"
grep -v '^#' /tmp/metrics
echo "TIF-METRICS-END"

kill -TERM $pid 2>/dev/null
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL $pid 2>/dev/null
wait $pid
echo "TIF-EXIT $?"
echo "TIF-LOG-BEGIN"
grep -E '"level":"(warn|error)"' /tmp/exporter.log | head -c 200000
echo "TIF-LOG-END"
echo "TIF-DONE (uptime $(cut -d" " -f1 /proc/uptime) s)"
poweroff -f
