# shellcheck shell=bash
# Library for root-only integration tests; source it from a `set -euo pipefail` script.
# Sourcing installs one EXIT/INT/TERM trap: don't set another, push onto tif_cleanup_push.
[[ -n ${TIF_LIB_LOADED:-} ]] && return 0

# Each test runs in a mount namespace of its own, with a BPF filesystem of its own at
# /sys/fs/bpf: whether the machine has bpffs mounted there (a fresh one does not) changes
# nothing, no test sees another's pins or the host's, and every pin and mount dies with the
# test even when its cleanup cannot run. (unshare without --fork execs in place: same pid, so
# ctest's timeout signals still reach the test.) TIF_BPFFS=none: no bpffs there at all.
if [[ -z ${TIF_PRIVATE_MNTNS:-} && $EUID -eq 0 ]] && command -v unshare >/dev/null; then
    export TIF_PRIVATE_MNTNS=1
    exec unshare --mount --propagation private -- bash "${BASH_SOURCE[-1]}" "$@"
fi
if [[ ${TIF_PRIVATE_MNTNS:-} == 1 ]]; then
    TIF_PRIVATE_MNTNS=done
    while [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]]; do
        umount -l /sys/fs/bpf || break
    done
    if [[ ${TIF_BPFFS:-} != none ]]; then
        mount -t bpf -o mode=0700 bpf /sys/fs/bpf ||
            { echo "FAIL: cannot mount a private bpffs at /sys/fs/bpf" >&2; exit 1; }
    fi
fi
TIF_LIB_LOADED=1

TIF_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TIF_BUILD_DIR=${TIF_BUILD_DIR:-$TIF_REPO_ROOT/build}
TIF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/traceiface-it.XXXXXX")
export TIF_REPO_ROOT TIF_BUILD_DIR TIF_TMP
TIF_CLEANUP=()
TIF_PAIR_SEQ=0

tif_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Register a command (a string, eval'ed) to run at exit; commands run last-pushed first.
tif_cleanup_push() { TIF_CLEANUP+=("$1"); }

# Run all pushed commands now, ignoring errors, and forget them (the trap calls this too).
tif_cleanup_run() {
    local i
    for ((i = ${#TIF_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${TIF_CLEANUP[i]}" >/dev/null 2>&1 || true
    done
    TIF_CLEANUP=()
}

tif__on_exit() {
    local rc=$?
    # A second Ctrl-C must not cut the cleanup short.
    trap - EXIT
    trap '' INT TERM
    set +e
    tif_cleanup_run
    if [[ -n $TIF_SANITIZER_REPORT ]]; then
        printf '%s\n' "$TIF_SANITIZER_REPORT" >&2
        echo "FAIL: a sanitizer report in the logs above" >&2
        rc=1
    fi
    [[ ${TIF_KEEP_TMP:-0} == 1 ]] && echo "kept $TIF_TMP" >&2
    exit "$rc"
}
trap tif__on_exit EXIT
# exit from INT/TERM runs the EXIT trap, so cleanup happens exactly once.
trap 'exit 130' INT
trap 'exit 143' TERM

[[ ${TIF_KEEP_TMP:-0} == 1 ]] || tif_cleanup_push "rm -rf '$TIF_TMP'"

# The asan.* tests run ASan/UBSan builds (tests/sanitize.cmake), whose reports go to the
# exporter's stderr, i.e. a log under $TIF_TMP. Scanned at exit after every process was
# stopped (LeakSanitizer reports at exit) and before $TIF_TMP goes; any report fails the test.
TIF_SANITIZER_REPORT=
tif__sanitizer_scan() {
    local f
    while IFS= read -r f; do
        TIF_SANITIZER_REPORT+="--- sanitizer report in ${f#"$TIF_TMP"/} ---"$'\n'
        TIF_SANITIZER_REPORT+=$(grep -aE -A60 '^==[0-9]+==ERROR: |: runtime error: ' "$f" | head -120)
        TIF_SANITIZER_REPORT+=$'\n'
    done < <(grep -D skip -rlaE '^==[0-9]+==ERROR: (Address|Leak|Thread)Sanitizer|: runtime error: ' \
        "$TIF_TMP" 2>/dev/null)
}
tif_cleanup_push tif__sanitizer_scan

# Skip (exit 77, ctest SKIP_RETURN_CODE) outside CI, but never let CI pass by skipping.
tif_skip_or_fail() {
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: $* (CI=true: not skipping)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

tif_require_root_bpf() {
    [[ $EUID -eq 0 ]] || tif_skip_or_fail "needs root (euid $EUID)"
    command -v bpftool >/dev/null || tif_skip_or_fail "bpftool not installed"
    bpftool prog list >/dev/null 2>&1 || tif_skip_or_fail "BPF unavailable: 'bpftool prog list' failed"
}

tif_require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || tif_skip_or_fail "missing command: $c"
    done
}

# Alive and not a zombie (a subshell can't reap its siblings, and kill -0 hits zombies).
tif_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

# TERM a process, give it up to $2 s (default 5), then KILL.
tif_kill_wait() {
    local pid=$1 secs=${2:-5} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < secs * 10; i++)); do
        tif_alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

tif_make_netns_pair() {
    local prefix=${1:?usage: tif_make_netns_pair PREFIX}
    local ns="${prefix}ns$$" hif="${prefix}h$$" nif="${prefix}n$$" i idx base net
    ((${#hif} <= 15 && ${#nif} <= 15)) || tif_fail "interface names too long: $hif/$nif"
    # A /30 in 10.213.0.0/16 from the PID so parallel runs differ; skip any already in use.
    for ((i = 0; i < 64; i++)); do
        idx=$((($$ * 4 + TIF_PAIR_SEQ + i) % 16384))
        base=$((idx * 4))
        net=10.213.$((base / 256)).$((base % 256))
        [[ -z $(ip -4 -o addr show to "$net/30") ]] && break
    done
    TIF_PAIR_SEQ=$((TIF_PAIR_SEQ + 1))
    TIF_NS=$ns TIF_HOST_IF=$hif TIF_NS_IF=$nif
    TIF_HOST_IP=10.213.$((base / 256)).$((base % 256 + 1))
    TIF_NS_IP=10.213.$((base / 256)).$((base % 256 + 2))
    export TIF_NS TIF_HOST_IF TIF_NS_IF TIF_HOST_IP TIF_NS_IP

    ip netns add "$ns"
    tif_cleanup_push "ip netns del '$ns'"
    ip link add "$hif" type veth peer name "$nif" netns "$ns"
    tif_cleanup_push "ip link del '$hif'"
    ip addr add "$TIF_HOST_IP/30" dev "$hif"
    ip link set "$hif" up
    ip -n "$ns" addr add "$TIF_NS_IP/30" dev "$nif"
    ip -n "$ns" link set "$nif" up
    ip -n "$ns" link set lo up
}

# A token bucket with a tiny queue: tbf splits GSO skbs and drops segments behind TCP's
# back, so the sender sees real loss (with BBR; loss-based CCs mostly back off locally).
tif_tbf() {
    local dev=${1:?usage: tif_tbf DEV [NETNS]} ns=${2:-}
    local -a tcn=(tc)
    [[ -n $ns ]] && tcn=(tc -n "$ns")
    "${tcn[@]}" qdisc add dev "$dev" root tbf rate "${TIF_TBF_RATE:-4mbit}" \
        burst "${TIF_TBF_BURST:-8kb}" latency "${TIF_TBF_LATENCY:-5ms}"
    tif_cleanup_push "${tcn[*]} qdisc del dev '$dev' root"
}

# Absolute TcpRetransSegs of the host or of netns $1 (columns named by the header line).
tif_nstat_retrans() {
    local ns=${1:-} snmp
    if [[ -n $ns ]]; then
        snmp=$(ip netns exec "$ns" cat /proc/net/snmp)
    else
        snmp=$(cat /proc/net/snmp)
    fi
    awk '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
                   else { print $col["RetransSegs"]; exit } }' <<<"$snmp"
}

# tif_iperf_server NETNS IP [ARGS...]: an iperf3 server bound to IP, inside NETNS ("" = the
# host), stopped at cleanup; returns once it listens. Its pid is in TIF_IPERF_SERVER_PID.
tif_iperf_server() {
    local ns=$1 ip=$2
    shift 2
    local -a run=(iperf3 -s -B "$ip" "$@") list=(ss -ltn)
    if [[ -n $ns ]]; then
        run=(ip netns exec "$ns" "${run[@]}")
        list=(ip netns exec "$ns" ss -ltn)
    fi
    "${run[@]}" >"$TIF_TMP/iperf-server-$ip.log" 2>&1 &
    TIF_IPERF_SERVER_PID=$!
    tif_cleanup_push "kill $TIF_IPERF_SERVER_PID 2>/dev/null || true"
    for _ in $(seq 50); do
        "${list[@]}" | grep -q "$ip:5201 " && return 0
        sleep 0.1
    done
    tif_fail "iperf3 server on $ip did not start: $(tail -3 "$TIF_TMP/iperf-server-$ip.log")"
}

tif_free_port() {
    local i port
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + RANDOM % 20001))
        # Any TCP socket on the port (not only listeners) rules it out.
        if [[ -z $(ss -Htan "sport = :$port") ]]; then
            echo "$port"
            return 0
        fi
    done
    tif_fail "no free TCP port found in 20000-40000"
}

# Poll URL until curl -f succeeds; $2 = timeout in s, $3 = pid that must stay alive.
tif_wait_http() {
    local url=$1 secs=$2 pid=${3:-} i
    for ((i = 0; i < secs * 5; i++)); do
        curl -sf -o /dev/null --max-time 2 "$url" && return 0
        [[ -n $pid ]] && ! tif_alive "$pid" && return 1
        sleep 0.2
    done
    return 1
}

tif_start_exporter() {
    local port=${1:?usage: tif_start_exporter PORT [ARGS...]}
    shift
    # The flags this build knows (an older build, as the bench's A/B runs, may lack some). Read
    # whole, not piped into `grep -q`: under pipefail, grep quitting at the first match makes
    # the exporter's help die of SIGPIPE and the test would silently run without the flag.
    local help
    help=$("$TIF_BUILD_DIR/traceiface" --help 2>&1 || true)
    # A private span socket: exporters of parallel tests must not share the default path.
    local -a span=()
    [[ $help == *--span.socket* ]] && span=(--span.socket="$TIF_TMP/span.sock")
    # tc programs only on this test's own device (or none), never on the machine's interfaces
    # or a parallel test's, unless the test chooses (a flag or a config file).
    if [[ " $* " != *" --iface.include"* && " $* " != *" --config.file"* &&
        $help == *--iface.include* ]]; then
        span+=(--iface.include="^${TIF_HOST_IF:-}$")
    fi
    # Pinned maps in a private directory per exporter, removed at exit: a test must never adopt
    # another test's (or an earlier exporter's) counters. A test that restarts on purpose
    # passes its own --bpf.pin-path.
    if [[ " $* " != *" --bpf.pin-path"* && $help == *--bpf.pin-path* ]]; then
        TIF_PIN_SEQ=$((${TIF_PIN_SEQ:-0} + 1))
        span+=(--bpf.pin-path="/sys/fs/bpf/tif-test-$$-$TIF_PIN_SEQ")
        tif_cleanup_push "rm -rf '/sys/fs/bpf/tif-test-$$-$TIF_PIN_SEQ'"
    fi
    "$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" "${span[@]}" "$@" \
        >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
    TIF_EXPORTER_PID=$!
    tif_cleanup_push "tif_kill_wait $TIF_EXPORTER_PID 5"
    TIF_EXPORTER_URL=http://127.0.0.1:$port
    export TIF_EXPORTER_PID TIF_EXPORTER_URL
    if ! tif_wait_http "$TIF_EXPORTER_URL/-/ready" 20 "$TIF_EXPORTER_PID"; then
        echo "--- exporter.out (last 50) ---" >&2
        tail -n 50 "$TIF_TMP/exporter.out" >&2
        echo "--- exporter.err (last 50) ---" >&2
        tail -n 50 "$TIF_TMP/exporter.err" >&2
        tif_fail "traceiface not ready on port $port within 20 s"
    fi
}

# tif_wait_metric CMD OP VALUE SECS: poll until "$(CMD) OP VALUE", for SECS seconds of wall
# time (each poll may scrape; counting polls would stretch the wait).
tif_wait_metric() {
    local v end=$((SECONDS + $4))
    while :; do
        v=$($1)
        awk -v a="$v" -v b="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? a >= b : a == b) }' &&
            return 0
        ((SECONDS < end)) || break
        sleep 0.1
    done
    tif_fail "$1: $v, want $2 $3 within $4 s"
}

# Sum the values of samples whose "name{labels}" matches the grep -E pattern $2.
tif_metric_sum() {
    local url=${1:?usage: tif_metric_sum URL PATTERN} pat=${2:?pattern} body
    body=$(curl -sf --max-time 5 "$url") || {
        echo "tif_metric_sum: scrape of $url failed" >&2
        return 1
    }
    # The value is the first field after the label set (label values may hold blanks).
    { grep -v '^#' <<<"$body" | grep -E -- "$pat" || true; } | awk '
        { if (match($0, /[}][^}]*$/)) { split(substr($0, RSTART + 1), f, " "); v = f[1] }
          else { split($0, f, " "); v = f[2] }
          if (v ~ /^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$/) s += v }
        END { printf "%.15g\n", s + 0 }'
}

# Compare numbers (floats ok): OP is one of < <= > >= == != -lt -le -gt -ge -eq -ne.
tif_assert_cmp() {
    local a=$1 op=$2 b=$3 msg=${4:-assertion}
    case $op in
    -lt) op='<' ;; -le) op='<=' ;; -gt) op='>' ;; -ge) op='>=' ;; -eq) op='==' ;; -ne) op='!=' ;;
    '<' | '<=' | '>' | '>=' | '==' | '!=') ;;
    *) tif_fail "tif_assert_cmp: bad operator '$op'" ;;
    esac
    awk -v a="$a" -v b="$b" -v op="$op" 'BEGIN {
        a += 0; b += 0
        if (op == "<") r = a < b; else if (op == "<=") r = a <= b
        else if (op == ">") r = a > b; else if (op == ">=") r = a >= b
        else if (op == "==") r = a == b; else r = a != b
        exit !r }' || tif_fail "$msg (expected: '$a' $op '$b')"
}
