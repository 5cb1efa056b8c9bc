#!/usr/bin/env bash
# The daemon's footprint while it watches many interfaces: N veth interfaces in the host
# namespace (the exporter watches the host's links over rtnetlink; this kernel may lack the
# dummy driver), each one's peer in a private namespace so the host gains only N links, the
# exporter told to watch only those; then peak and current RSS, idle CPU and a scrape's cost.
# Root. Usage: bench/footprint_bench.sh [IFACES] [IDLE_SECONDS] [SCRAPES]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/integration/lib.sh"
n=${1:-1000} idle=${2:-20} scrapes=${3:-5}
tif_require_root_bpf
tif_require_cmd jq
[[ -x $TIF_BUILD_DIR/traceiface ]] || tif_fail "build first (TIF_BUILD_DIR=$TIF_BUILD_DIR)"

# Unique per run: a name prefix for the include regex, a link group for one-shot removal
# (deleting a group is one netlink request, far faster than N single deletions), a namespace.
prefix=tifb$(printf %03d $(($$ % 1000)))n
group=$((20000 + $$ % 40000))
ns=$prefix-peers
names() { for ((i = 0; i < n; i++)); do printf '%s%04d\n' "$prefix" "$i"; done; }
# Pushed before anything is created, so a failure half-way still removes what exists; the
# per-name pass catches any left outside the group.
tif_cleanup_push "ip link del group $group; ip netns del $ns; names | sed 's/^/link del /' | ip -force -batch - 2>/dev/null"
t0=$(date +%s.%N)
ip netns add "$ns"
names | awk -v g="$group" -v ns="$ns" \
    '{ printf "link add %s group %d type veth peer name p%d netns %s\n", $1, g, NR, ns }' |
    ip -batch -
t1=$(date +%s.%N)

port=$(tif_free_port)
started=$(date +%s.%N)
tif_start_exporter "$port" --iface.include="^${prefix}[0-9]+\$" --iface.exclude="" \
    --iface.max=$((n + 64)) --log.level=info
pid=$TIF_EXPORTER_PID
url=$TIF_EXPORTER_URL/metrics

# Waited for in the exporter's log ("interface watched" lines), not by scraping (so the RSS
# before the first scrape is measured too) nor by polling the kernel (dumping N devices' tc
# filters takes the RTNL lock the exporter's attaching needs).
watched_lines() { grep -c '"interface watched"' "$TIF_TMP/exporter.out" || true; }
for ((i = 0; i < 1200; i++)); do
    [[ $(watched_lines) -ge $n ]] && break
    tif_alive "$pid" || tif_fail "exporter died: $(tail -5 "$TIF_TMP/exporter.err")"
    sleep 0.1
done
[[ $(watched_lines) -ge $n ]] || tif_fail "$(watched_lines) of $n interfaces watched after 120 s"
# Then once from the kernel: both tc hooks of every interface hold our program (a tcx link or
# a clsact filter, as `traceiface list` reads them).
filters=$("$TIF_BUILD_DIR/traceiface" list --json | jq --arg p "$prefix" '[.[] |
    select((.iface | startswith($p)) and .ingress.attached.ours and .egress.attached.ours)] | length')
[[ $filters -ge $n ]] || tif_fail "our programs on both hooks of $filters interfaces, $n expected"
attached=$(date +%s.%N)
sleep 1 # let the last netlink events settle
status() { awk -v k="$1:" '$1 == k { print $2 }' /proc/"$pid"/status; }
rss_before=$(status VmRSS)
# On-CPU time of every thread (schedstat, ns).
cpu_ns() { cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

watched=$(tif_metric_sum "$url" '^traceiface_interfaces_watched ')
[[ $watched == "$n" ]] || tif_fail "traceiface_interfaces_watched is $watched, not $n"
in_body=$(curl -sf "$url" | grep -c "^traceiface_packets_total{iface=\"${prefix}[0-9]*\",direction=\"ingress\"}" || true)
[[ $in_body == "$n" ]] || tif_fail "$in_body of $n interfaces in /metrics"

# Scrapes: wall time (curl) and size; the median is what we report.
times=()
sc0=$(cpu_ns)
for ((i = 0; i < scrapes; i++)); do
    times+=("$(curl -sf -o "$TIF_TMP/body" -w '%{time_total}' "$url")")
done
scrape_cpu=$(($(cpu_ns) - sc0))
bytes=$(stat -c %s "$TIF_TMP/body")
lines=$(wc -l <"$TIF_TMP/body")
scrape_ms=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')
if command -v promtool >/dev/null; then
    # promtool lints names too (it flags *_info gauges); only parse errors matter here.
    lint=$(promtool check metrics <"$TIF_TMP/body" 2>&1 | grep -iv "^traceiface_.* should\|_info\b" || true)
    [[ -z $lint ]] && lint=ok
else
    lint="promtool not installed"
fi

# Idle CPU: over the window, nobody scraping.
c0=$(cpu_ns) w0=$(date +%s.%N)
sleep "$idle"
c1=$(cpu_ns) w1=$(date +%s.%N)
threads=$(status Threads)

awk -v n="$n" -v create="$(echo "$t1 - $t0" | bc)" -v attach="$(echo "$attached - $started" | bc)" \
    -v before="$rss_before" -v scpu="$scrape_cpu" -v scrapes="$scrapes" -v hwm="$(status VmHWM)" -v rss="$(status VmRSS)" -v anon="$(status RssAnon)" \
    -v file="$(status RssFile)" -v threads="$threads" -v cpu=$((c1 - c0)) \
    -v wall="$(echo "$w1 - $w0" | bc)" -v ms="$scrape_ms" -v bytes="$bytes" -v lines="$lines" \
    -v lint="$lint" 'BEGIN {
    printf "interfaces:         %d (created in %.1f s; exporter watching all after %.1f s)\n", n, create, attach
    printf "peak RSS (VmHWM):   %.1f MiB\n", hwm / 1024
    printf "RSS before scrapes: %.1f MiB; after them: %.1f MiB (anon %.1f, file %.1f), %d threads\n", before / 1024, rss / 1024, anon / 1024, file / 1024, threads
    printf "idle CPU:           %.3f %% of one CPU over %.0f s\n", cpu / 1e7 / wall, wall
    printf "scrape /metrics:    %s ms (median wall, curl), %.1f ms CPU (exporter, mean), %d bytes, %d lines; promtool: %s\n", ms, scpu / 1e6 / scrapes, bytes, lines, lint }'
