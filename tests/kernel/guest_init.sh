#!/bin/busybox sh
# shellcheck shell=dash
# /init of the old-kernel test's initramfs (see old_kernel_test.sh): runs the real exporter on
# the booted kernel, makes a little TCP traffic on lo, prints what the host asserts on between
# TIF-* marker lines on the serial console, and powers off. Every step is bounded: the host
# gives up on the whole VM after its own timeout anyway.
/bin/busybox mkdir -p /dev /proc /sys /tmp /run
/bin/busybox mount -t devtmpfs dev /dev
# No /dev/console exists in the archive (creating one needs root), so the kernel started us
# without stdio; take the serial console now that devtmpfs provides it.
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmp /tmp
ip link set lo up
# Run counts per program in the metrics: shows which programs ran at all.
echo 1 >/proc/sys/kernel/bpf_stats_enabled
# clsact and cls_bpf are modules in Debian's kernels; nothing would load them on demand here
# (/modules/order: dependencies first, from kernel_lib.sh).
for m in $(cat /modules/order); do
    m=/modules/$m
    [ -e "$m" ] && { insmod "$m" || echo "TIF-WARN: insmod $m failed"; }
done
echo "TIF-KERNEL $(uname -r) (uptime $(cut -d" " -f1 /proc/uptime) s)"
[ -e /sys/kernel/btf/vmlinux ] || echo "TIF-WARN: no /sys/kernel/btf/vmlinux"

port=9742
url=http://127.0.0.1:$port
traceiface --web.listen-address=127.0.0.1:$port --iface.include='^lo$' --iface.exclude= \
    --span.socket= >/tmp/exporter.log 2>&1 &
pid=$!
ready=no
i=0
while [ $i -lt 100 ]; do
    kill -0 $pid 2>/dev/null || break
    if curl -sf -m 2 -o /tmp/ready "$url/-/ready"; then
        ready=yes
        break
    fi
    # Not ready yet, or never (a probe failed to load): stop waiting once it serves at all.
    [ $i -ge 20 ] && curl -sf -m 2 -o /dev/null "$url/-/healthy" && break
    sleep 0.2
    i=$((i + 1))
done
echo "TIF-READY $ready (uptime $(cut -d" " -f1 /proc/uptime) s)"
if [ $ready = no ]; then
    echo "TIF-WARN: $(curl -sS -m 5 -o /dev/null "$url/-/healthy" 2>&1 | tail -1)"
    ip addr show lo | sed 's/^/TIF-WARN: /'
fi

# TCP on lo: connects (connect latency), requests with data in flight (RTT samples), and
# packets through the tc programs on lo. Two passes 1.1 s apart give the RTT sampler (1 s per
# flow) a second chance.
for _ in 1 2; do
    for _ in 1 2 3 4 5; do curl -s -m 2 -o /dev/null "$url/metrics"; done
    sleep 1.1
done
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
# The JSON log, verifier refusals included; capped so a huge verifier log cannot stall us.
head -c 1000000 /tmp/exporter.log
echo
echo "TIF-LOG-END"
echo "TIF-DONE (uptime $(cut -d" " -f1 /proc/uptime) s)"
poweroff -f
