#!/usr/bin/env bash
# Pod identity against a real container runtime (containerd 1.6 + CRI + CNI, cri_lib.sh): pods
# shop/web-7d9f and shop/db-0, the exporter in the runtime's network namespace (where the pods'
# host-side veths are) with --k8s.cri-endpoint. Asserts: traceiface_interface_info names the
# right pod for each veth; retransmit lines from inside each pod carry namespace=shop and that
# pod; --k8s.pod-labels copies the app label; the source metric says cri; a pod created later is named soon (netlink wakes the
# resolver); a removed pod's series go after --iface.stale-grace; with containerd killed the
# exporter keeps serving, the source turns to cgroup and the pods are still named (from
# /proc/<pid>/cgroup's pod uid). Oracle: the runtime's own status (cri_tool), ip link, ns inodes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
# shellcheck source=SCRIPTDIR/cri_lib.sh
source "$here/cri_lib.sh"

tif_require_root_bpf
tif_require_cmd iperf3 jq curl nsenter tc stat
cri_start_runtime
rt() { nsenter --net="/run/netns/$CRI_NETNS" "$@"; }
ino() { stat -L -c %i "$1"; }

declare -A POD_ID POD_VETH POD_IP POD_NS POD_UID POD_PID
add_pod() {
    cri_run_pod "$1" shop --label app="${1%%-*}"
    POD_ID[$1]=$CRI_POD_ID POD_VETH[$1]=$CRI_POD_VETH POD_IP[$1]=$CRI_POD_IP
    POD_NS[$1]=$(ino "$CRI_POD_NETNS") POD_UID[$1]=$CRI_POD_UID POD_PID[$1]=$CRI_POD_PID
    echo "pod shop/$1: veth ${POD_VETH[$1]}, ip ${POD_IP[$1]}, netns ${POD_NS[$1]}"
}
add_pod web-7d9f
add_pod db-0

# --- the exporter in the runtime netns ---------------------------------------------------------
port=$(tif_free_port)
url=http://127.0.0.1:$port
# nsenter itself, not the rt function: a function in the background is a subshell, and $!
# would be that shell, not the exporter (nsenter execs it: same pid).
nsenter --net="/run/netns/$CRI_NETNS" "$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" \
    --span.socket="$TIF_TMP/span.sock" --bpf.pin-path= --iface.include='veth.*' \
    --iface.stale-grace=5s --k8s.cri-endpoint="$CRI_ENDPOINT" --k8s.pod-labels=app,team \
    --log.event-rate=0 --log.level=debug \
    >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
exporter=$!
tif_cleanup_push "tif_kill_wait $exporter 5"
scrape() { rt curl -sf --max-time 5 "$url/metrics"; }
ready=0
for _ in $(seq 100); do
    rt curl -sf -o /dev/null --max-time 2 "$url/-/ready" && ready=1 && break
    tif_alive "$exporter" || break
    sleep 0.2
done
if [[ $ready != 1 ]]; then
    tail -n 30 "$TIF_TMP/exporter.out" "$TIF_TMP/exporter.err" >&2
    tif_fail "exporter not ready in the runtime netns"
fi

# info_of VETH: "namespace/pod operstate" from traceiface_interface_info.
info_of() {
    local body
    body=$(scrape) || return 0
    grep "^traceiface_interface_info{" <<<"$body" | grep -F "iface=\"$1\"" |
        sed -E 's/.*namespace="([^"]*)".*pod="([^"]*)".*/\1\/\2/; t; s/.*/?/' | sed -n 1p
}
# Whole bodies, not `| grep -q`: under pipefail an early grep exit fails the pipeline.
source_is() { [[ $(scrape) == *"traceiface_k8s_identity_source{source=\"$1\"} 1"* ]]; }
# wait_for SECS CMD...: poll every 0.1 s; prints the seconds it took.
wait_for() {
    local secs=$1 t0 i
    shift
    t0=$(date +%s%N)
    for ((i = 0; i < secs * 10; i++)); do
        if "$@"; then
            echo "$(((($(date +%s%N) - t0) / 1000000)))"
            return 0
        fi
        sleep 0.1
    done
    return 1
}
named() { [[ $(info_of "$1") == "$2" ]]; }

for pod in web-7d9f db-0; do
    ms=$(wait_for 15 named "${POD_VETH[$pod]}" "shop/$pod") ||
        tif_fail "interface_info of ${POD_VETH[$pod]}: '$(info_of "${POD_VETH[$pod]}")', want shop/$pod"
    echo "interface_info{iface=${POD_VETH[$pod]}} names shop/$pod (after ${ms} ms)"
done
source_is cri || tif_fail "identity source is not cri: $(scrape | grep k8s_identity_source)"
# --k8s.pod-labels=app,team: the pods' app label (cri_run_pod --label app=...), and an empty
# team on every sample (no pod has one), host devices included.
for pod in web-7d9f db-0; do
    info=$(scrape | grep "^traceiface_interface_info{" | grep -F "iface=\"${POD_VETH[$pod]}\"")
    [[ $info == *"label_app=\"${pod%%-*}\""* && $info == *'label_team=""'* ]] ||
        tif_fail "interface_info of ${POD_VETH[$pod]} lacks label_app=${pod%%-*} or label_team: $info"
done
unlabelled=$(scrape | grep "^traceiface_interface_info{" | grep -vc 'label_team=""' || true)
[[ $unlabelled == 0 ]] || tif_fail "$unlabelled interface_info samples without label_team"
echo "pod labels: label_app names each pod's app; label_team empty on every sample"
grep -q '"msg":"pod identity from the container runtime (CRI)"' "$TIF_TMP/exporter.out" ||
    tif_fail "no log line naming the source"
# The bridge is a host device: empty labels, present.
br=$(scrape | grep "^traceiface_interface_info{" | grep -F "iface=\"$CRI_BRIDGE\"" || true)
[[ -z $br || $br == *'namespace="",pod=""'* ]] || tif_fail "bridge labelled: $br"

# --- retransmits from inside each pod -----------------------------------------------------------
for pod in web-7d9f db-0; do
    cri_pod_exec "${POD_ID[$pod]}" tc qdisc add dev eth0 root tbf rate 4mbit burst 8kb latency 5ms
done
# A pod's netns through its sandbox process, not CRI: the runtime is killed further down.
in_pod() { local pod=$1; shift; nsenter --net="/proc/${POD_PID[$pod]}/ns/net" "$@"; }
upload() { # upload FROM TO: iperf3 from pod FROM to pod TO
    local from=$1 to=$2
    in_pod "$to" iperf3 -s -1 -B "${POD_IP[$to]}" >"$TIF_TMP/iperf-s-$to.log" 2>&1 &
    local spid=$!
    tif_cleanup_push "kill $spid 2>/dev/null || true"
    for _ in $(seq 50); do
        in_pod "$to" ss -Hltn "sport = :5201" | grep -q . && break
        sleep 0.1
    done
    in_pod "$from" timeout 40 iperf3 -c "${POD_IP[$to]}" \
        -t 4 -C bbr --connect-timeout 3000 >"$TIF_TMP/iperf-c-$from.log" 2>&1 ||
        tif_fail "iperf3 $from -> $to: $(tail -3 "$TIF_TMP/iperf-c-$from.log")"
    wait "$spid" 2>/dev/null || true
}
upload web-7d9f db-0
upload db-0 web-7d9f
sleep 0.5
rtx_lines() { grep '"event":"tcp_retransmit"' "$TIF_TMP/exporter.out" || true; }
for pod in web-7d9f db-0; do
    n=$(rtx_lines | jq -c --argjson ns "${POD_NS[$pod]}" 'select(.netns == $ns)' | wc -l)
    ok=$(rtx_lines | jq -c --argjson ns "${POD_NS[$pod]}" --arg pod "$pod" --arg uid "${POD_UID[$pod]}" \
        'select(.netns == $ns and .namespace == "shop" and .pod == $pod and .pod_uid == $uid
                and .iface == $ARGS.named.veth)' --arg veth "${POD_VETH[$pod]}" | wc -l)
    ((n > 0)) || tif_fail "no retransmit line from $pod's netns ${POD_NS[$pod]}"
    [[ $ok == "$n" ]] || tif_fail "$pod: $ok of $n retransmit lines name shop/$pod on ${POD_VETH[$pod]}: $(
        rtx_lines | jq -c --argjson ns "${POD_NS[$pod]}" 'select(.netns == $ns)' | head -2)"
    echo "$pod: $n retransmit lines, all with namespace=shop pod=$pod iface=${POD_VETH[$pod]}"
done
# No pod fields on lines from a namespace that is no pod's.
stray=$(rtx_lines | jq -c --argjson a "${POD_NS[web-7d9f]}" --argjson b "${POD_NS[db-0]}" \
    'select(.netns != $a and .netns != $b and has("pod"))' | wc -l)
[[ $stray == 0 ]] || tif_fail "$stray retransmit lines name a pod for another namespace"

# --- a pod created while the exporter runs: netlink wakes the resolver -------------------------
add_pod cache-0
ms=$(wait_for 5 named "${POD_VETH[cache-0]}" shop/cache-0) ||
    tif_fail "new pod cache-0 not named within 5 s (the netlink wake, not the 10 s relist): '$(info_of "${POD_VETH[cache-0]}")'"
echo "new pod shop/cache-0 named after ${ms} ms (the relist interval is 10 s)"

# --- a removed pod: its series goes after --iface.stale-grace (5s) -------------------------------
cri_remove_pod "${POD_ID[cache-0]}"
gone() { [[ $(info_of "${POD_VETH[cache-0]}") == "?" ]] || [[ -z $(info_of "${POD_VETH[cache-0]}") ]]; }
grace=$(scrape | grep "^traceiface_interface_info{" | grep -F "iface=\"${POD_VETH[cache-0]}\"" || true)
echo "right after removal: ${grace:-<no series>}"
[[ -z $grace || ($grace == *'operstate="gone"'* && $grace == *'pod="cache-0"'*) ]] ||
    tif_fail "a removed pod's series in the grace period: $grace"
ms=$(wait_for 15 gone) || tif_fail "cache-0's interface_info still there after 15 s"
echo "removed pod's interface_info gone after ${ms} ms (grace 5 s)"

# --- the runtime goes down: the cgroup fallback -------------------------------------------------
# With containerd gone, cri_stop_runtime cannot stop the sandboxes: their pause processes
# (outliving their shims) are killed by pid first, so that the cgroups and mounts can go.
tif_cleanup_push "kill -KILL ${POD_PID[web-7d9f]} ${POD_PID[db-0]} 2>/dev/null || true; sleep 0.5"
kill -KILL "$CRI_CONTAINERD_PID"
wait "$CRI_CONTAINERD_PID" 2>/dev/null || true
CRI_CONTAINERD_PID=
ms=$(wait_for 25 source_is cgroup) ||
    tif_fail "source did not turn to cgroup: $(scrape | grep k8s_identity_source)"
echo "containerd killed: source=cgroup after ${ms} ms"
errs=$(scrape | grep -F 'traceiface_k8s_cri_errors_total{call="ListPodSandbox"}' | awk '{print $2}')
((errs > 0)) || tif_fail "no CRI error counted"
grep -q '"msg":"pod identity from /proc/<pid>/cgroup' "$TIF_TMP/exporter.out" ||
    tif_fail "no log line for the cgroup fallback"
# A pass after the switch has published the cgroup view: the pods are still named.
sleep 11
for pod in web-7d9f db-0; do
    named "${POD_VETH[$pod]}" "shop/$pod" ||
        tif_fail "with the runtime down, ${POD_VETH[$pod]}: '$(info_of "${POD_VETH[$pod]}")'; $(
            grep '"component":"k8s"' "$TIF_TMP/exporter.out" | tail -4)
            $(ip -n "$CRI_NETNS" -d link show "${POD_VETH[$pod]}" | head -2) nsids: $(
                ip -n "$CRI_NETNS" netns list-id 2>&1 | tr '\n' ' ')"
done
echo "runtime down: both veths still name their pods (cgroup), $errs ListPodSandbox errors"
# And new retransmit lines still carry the pod.
before=$(rtx_lines | wc -l)
upload web-7d9f db-0
sleep 0.5
new=$(rtx_lines | tail -n +"$((before + 1))" | jq -c --argjson ns "${POD_NS[web-7d9f]}" 'select(.netns == $ns)')
[[ -n $new ]] || tif_fail "no new retransmit lines with the runtime down"
[[ $(jq -r '.pod' <<<"$new" | sort -u) == web-7d9f ]] ||
    tif_fail "runtime down: lines name $(jq -r .pod <<<"$new" | sort -u | tr '\n' ' ')"
echo "runtime down: $(wc -l <<<"$new") new retransmit lines name shop/web-7d9f"
tif_alive "$exporter" || tif_fail "exporter died"
rt curl -sf -o /dev/null --max-time 2 "$url/-/healthy" || tif_fail "exporter not healthy"

# --- a clean stop ---------------------------------------------------------------------------------
kill -TERM "$exporter"
rc=0
wait "$exporter" || rc=$?
[[ $rc == 0 ]] || tif_fail "exporter exit code $rc: $(tail -5 "$TIF_TMP/exporter.err")"
echo "PASS: k8s_pod_identity"
