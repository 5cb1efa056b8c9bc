#!/usr/bin/env bash
# `traceiface list` names the pod behind each veth, from a real container runtime (containerd
# 1.6 + CRI + CNI, cri_lib.sh): pods shop/web-1 and shop/db-1, `list` in the runtime's network
# namespace (where the pods' host-side veths are). Asserts: --json names each veth's pod (and
# uid) with pod_source "cri", host devices have empty namespace/pod, every key the other tests
# read is still there; the text table has a POD column; "auto" finds the socket under
# --k8s.host-root; --k8s.cri-endpoint="" is off. Then a runtime that never answers, one that is
# absent and finally containerd killed: list still exits 0 within the CRI deadline (2 s), with
# empty namespace/pod, pod_source "unavailable: <error>", a one-line note on stderr in text
# mode, and the pod uid from the cgroup fallback. Oracle: cri_lib (the runtime's own status, ip
# link).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
# shellcheck source=SCRIPTDIR/cri_lib.sh
source "$here/cri_lib.sh"

tif_require_root_bpf
tif_require_cmd jq nsenter python3
cri_start_runtime

declare -A VETH POD_UID POD_PID
for pod in web-1 db-1; do
    cri_run_pod "$pod" shop
    VETH[$pod]=$CRI_POD_VETH POD_UID[$pod]=$CRI_POD_UID POD_PID[$pod]=$CRI_POD_PID
    echo "pod shop/$pod: veth ${VETH[$pod]}, uid ${POD_UID[$pod]}"
done

# list ARGS...: `traceiface list ARGS...` in the runtime's netns; stdout to $out, stderr to
# $err, exit code in $rc, wall time in $ms.
out=$TIF_TMP/list.out err=$TIF_TMP/list.err rc=0 ms=0
list() {
    local t0
    t0=$(date +%s%N)
    rc=0
    nsenter --net="/run/netns/$CRI_NETNS" "$TIF_BUILD_DIR/traceiface" list "$@" >"$out" 2>"$err" ||
        rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
}
# expect_json JQ_FILTER WHAT [jq args...]: the last list's stdout satisfies the filter.
expect_json() {
    local f=$1 what=$2
    shift 2
    jq -e "$@" "$f" "$out" >/dev/null ||
        tif_fail "list --json: $what: $(jq -c '.[] | {iface, namespace, pod, pod_uid,
            pod_source}' "$out" 2>&1 | head -20) stderr: $(head -3 "$err")"
}
# Every element keeps the keys tests/image/image_pod_test.sh, iface_lib.sh and
# iface_coexist_test.sh read, and has the new ones.
expect_shape() {
    expect_json 'type == "array" and length > 0 and all(.[];
        (keys | contains(["ifindex", "iface", "kind", "mtu", "operstate", "master", "link",
                          "namespace", "pod", "pod_uid", "pod_source", "ingress", "egress"]))
        and (.ingress.tcx | type == "array") and (.egress.filters | type == "number")
        and (.ingress | has("attached")) and (.namespace | type == "string")
        and (.pod | type == "string"))' "the shape"
}
# expect_pods SOURCE: each pod's veth named with its pod, every other device unnamed.
expect_pods() {
    local pod
    for pod in web-1 db-1; do
        expect_json '[.[] | select(.iface == $v)] | length == 1 and all(.[];
            .namespace == "shop" and .pod == $pod and .pod_uid == $uid and .kind == "veth")' \
            "${VETH[$pod]} is not shop/$pod" --arg v "${VETH[$pod]}" --arg pod "$pod" \
            --arg uid "${POD_UID[$pod]}"
    done
    expect_json '[.[] | select(.iface != $a and .iface != $b)] | length >= 2 and all(.[];
        .namespace == "" and .pod == "" and .pod_uid == "")' "a host device named a pod" \
        --arg a "${VETH[web-1]}" --arg b "${VETH[db-1]}"
    expect_json 'any(.[]; .iface == $br) and any(.[]; .iface == "lo")' "bridge or lo missing" \
        --arg br "$CRI_BRIDGE"
    expect_json 'all(.[]; .pod_source == $s)' "pod_source is not $1" --arg s "$1"
}

# --- the runtime answers ---------------------------------------------------------------------------
list --json --k8s.cri-endpoint="$CRI_ENDPOINT"
[[ $rc == 0 ]] || tif_fail "list --json exit $rc: $(cat "$err")"
expect_shape
expect_pods cri
[[ ! -s $err ]] || tif_fail "stderr with the runtime up: $(cat "$err")"
echo "list --json (cri, $ms ms): $(jq -c '[.[] | select(.pod != "") | "\(.iface)=\(.namespace)/\(.pod)"]' "$out")"

# The flag's other spelling, and a bare socket path.
list --json --k8s.cri-endpoint "$CRI_SOCK"
[[ $rc == 0 ]] || tif_fail "list --json --k8s.cri-endpoint PATH exit $rc: $(cat "$err")"
expect_pods cri

# Text: a POD column, "namespace/pod" on each veth's row, "-" on the host devices'.
list --k8s.cri-endpoint="$CRI_ENDPOINT"
[[ $rc == 0 ]] || tif_fail "list exit $rc: $(cat "$err")"
head -1 "$out" | grep -qE '^IFINDEX +IFACE +KIND +MTU +OPERSTATE +MASTER +POD +INGRESS +EGRESS$' ||
    tif_fail "list header: $(head -1 "$out")"
for pod in web-1 db-1; do
    grep -qE "^[0-9]+ +${VETH[$pod]} +veth .* shop/$pod +" "$out" ||
        tif_fail "list: no row naming shop/$pod on ${VETH[$pod]}: $(cat "$out")"
done
grep -qE "^[0-9]+ +$CRI_BRIDGE +bridge +[0-9]+ +[a-z]+ +- +- +" "$out" ||
    tif_fail "list: the bridge row should have no master and no pod: $(grep -F "$CRI_BRIDGE" "$out")"
[[ ! -s $err ]] || tif_fail "text stderr with the runtime up: $(cat "$err")"
cat "$out"

# "auto" under --k8s.host-root: the node's / mounted elsewhere (symlinks stand in for the
# mount: the socket where containerd's usual one is, /proc, and the runtime's netns files).
hr=$TIF_TMP/host-root
top=${CRI_DIR#/}
top=${top%%/*}
mkdir -p "$hr/run/containerd"
ln -s "$CRI_SOCK" "$hr/run/containerd/containerd.sock"
ln -s /proc "$hr/proc"
ln -s "/$top" "$hr/$top"
list --json --k8s.host-root="$hr"
[[ $rc == 0 ]] || tif_fail "list --json --k8s.host-root exit $rc: $(cat "$err")"
expect_pods cri
echo "auto found $hr/run/containerd/containerd.sock"

# Off: no pod names, no note.
list --json --k8s.cri-endpoint=
[[ $rc == 0 ]] || tif_fail "list --json --k8s.cri-endpoint= exit $rc: $(cat "$err")"
expect_shape
expect_json 'all(.[]; .namespace == "" and .pod == "" and .pod_source == "off")' "off"
list --k8s.cri-endpoint=
[[ $rc == 0 && ! -s $err ]] || tif_fail "list --k8s.cri-endpoint= exit $rc, stderr: $(cat "$err")"

# A bad value is refused before anything else.
list --json --k8s.cri-endpoint=tcp://127.0.0.1:1
[[ $rc == 2 ]] || tif_fail "a tcp:// endpoint: exit $rc, want 2"
grep -q -- '--k8s.cri-endpoint' "$err" || tif_fail "the refusal does not name the flag: $(cat "$err")"

# --- a runtime that accepts but never answers: bounded by the CRI deadline (2 s) -------------------
hung=$TIF_TMP/hung.sock
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
time.sleep(120)' "$hung" &
hung_pid=$!
tif_cleanup_push "kill $hung_pid 2>/dev/null || true"
for _ in $(seq 50); do [[ -S $hung ]] && break; sleep 0.1; done
list --json --k8s.cri-endpoint="unix://$hung"
[[ $rc == 0 ]] || tif_fail "list with a hung runtime: exit $rc: $(cat "$err")"
expect_shape
expect_json 'all(.[]; .namespace == "" and .pod == "" and (.pod_source | startswith("unavailable: ")))' \
    "a hung runtime"
((ms < 4000)) || tif_fail "list with a hung runtime took $ms ms (CRI deadline 2 s)"
echo "hung runtime: exit 0 after $ms ms, pod_source $(jq '.[0].pod_source' "$out")"

# --- no runtime at that path ------------------------------------------------------------------------
list --k8s.cri-endpoint="unix://$TIF_TMP/absent.sock"
[[ $rc == 0 ]] || tif_fail "list with no runtime: exit $rc: $(cat "$err")"
[[ $(wc -l <"$err") == 1 ]] && grep -q '^traceiface list: pod identity unavailable: ' "$err" ||
    tif_fail "list with no runtime: want one note on stderr, got: $(cat "$err")"
grep -qE '^IFINDEX .* POD ' "$out" || tif_fail "no table with the runtime absent: $(cat "$out")"
echo "absent runtime ($ms ms): $(cat "$err")"

# --- containerd killed: the sandboxes stay, the runtime is gone -------------------------------------
# cri_stop_runtime cannot stop the sandboxes without containerd: their pause processes are
# killed by pid first, so that the cgroups and mounts can go.
tif_cleanup_push "kill -KILL ${POD_PID[web-1]} ${POD_PID[db-1]} 2>/dev/null || true; sleep 0.5"
kill -KILL "$CRI_CONTAINERD_PID"
wait "$CRI_CONTAINERD_PID" 2>/dev/null || true
CRI_CONTAINERD_PID=
list --json --k8s.cri-endpoint="$CRI_ENDPOINT"
[[ $rc == 0 ]] || tif_fail "list --json with containerd killed: exit $rc: $(cat "$err")"
expect_shape
expect_json 'all(.[]; .namespace == "" and .pod == "" and (.pod_source | startswith("unavailable: ")))' \
    "containerd killed"
expect_json 'any(.[]; .iface == "lo")' "lo missing"
((ms < 4000)) || tif_fail "list with containerd killed took $ms ms"
# The daemon's fallback still reads each sandbox's /proc/<pid>/cgroup: the uid, without names.
for pod in web-1 db-1; do
    expect_json '.[] | select(.iface == $v) | .pod_uid == $uid' \
        "${VETH[$pod]}: no uid from the cgroup fallback" --arg v "${VETH[$pod]}" \
        --arg uid "${POD_UID[$pod]}"
done
echo "containerd killed ($ms ms): pod_source $(jq '.[0].pod_source' "$out"), uids from cgroups"
list --k8s.cri-endpoint="$CRI_ENDPOINT"
[[ $rc == 0 ]] || tif_fail "list with containerd killed: exit $rc: $(cat "$err")"
[[ $(wc -l <"$err") == 1 ]] && grep -q '^traceiface list: pod identity unavailable: ' "$err" ||
    tif_fail "list with containerd killed: want one note on stderr, got: $(cat "$err")"
grep -qE "^[0-9]+ +${VETH[web-1]} .* uid:${POD_UID[web-1]} +" "$out" ||
    tif_fail "list with containerd killed: ${VETH[web-1]}'s row: $(grep -F "${VETH[web-1]}" "$out")"
cat "$err" "$out"
echo "PASS: k8s_list_pods"
