#!/usr/bin/env bash
# The CRI harness (cri_lib.sh, cri_tool) against a real containerd: two pod sandboxes,
# shop/web-7d9f and shop/db-0, with Kubernetes cgroup parents. PodSandboxStatus names them, each
# has a netns of its own with a veth whose peer is in the runtime netns on the CNI bridge, TCP
# works pod to pod, a container joins a pod's netns, and stopping/removing leaves nothing:
# no pod, mount, netns, process or cgroup. Oracle: the kernel (ns inodes, ip link, /proc).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
# shellcheck source=SCRIPTDIR/cri_lib.sh
source "$here/cri_lib.sh"

tif_require_cmd python3 stat
cri_start_runtime
echo "runtime: $(cri_tool version | jq -r '"\(.runtime_name) \(.runtime_version)"'), netns $CRI_NETNS, subnet $CRI_SUBNET"

ino() { stat -L -c %i "$1"; }
test_ns=$(ino /proc/self/ns/net)
runtime_ns=$(ino "/run/netns/$CRI_NETNS")
[[ $runtime_ns != "$test_ns" ]] || tif_fail "the runtime netns is the test's own"

declare -A POD_ID POD_UID POD_NETNS POD_PID POD_IP POD_VETH
for pod in web-7d9f db-0; do
    t0=$(date +%s%N)
    cri_run_pod "$pod" shop --label app="${pod%%-*}" --annotation tif.test/harness=cri
    echo "$pod: $((($(date +%s%N) - t0) / 1000000)) ms, id ${CRI_POD_ID:0:12}, ip $CRI_POD_IP," \
        "veth $CRI_POD_VETH, netns $CRI_POD_NETNS"
    POD_ID[$pod]=$CRI_POD_ID POD_UID[$pod]=$CRI_POD_UID POD_NETNS[$pod]=$CRI_POD_NETNS
    POD_PID[$pod]=$CRI_POD_PID POD_IP[$pod]=$CRI_POD_IP POD_VETH[$pod]=$CRI_POD_VETH
done

# --- identity: PodSandboxStatus and ListPodSandbox --------------------------------------------
for pod in web-7d9f db-0; do
    st=$(cri_tool pod-status "${POD_ID[$pod]}")
    [[ $(jq -r .name <<<"$st") == "$pod" ]] || tif_fail "$pod: status name $(jq -r .name <<<"$st")"
    [[ $(jq -r .namespace <<<"$st") == shop ]] || tif_fail "$pod: namespace $(jq -r .namespace <<<"$st")"
    [[ $(jq -r .uid <<<"$st") == "${POD_UID[$pod]}" ]] || tif_fail "$pod: uid $(jq -r .uid <<<"$st")"
    [[ $(jq -r .state <<<"$st") == ready ]] || tif_fail "$pod: state $(jq -r .state <<<"$st")"
    [[ $(jq -r .network_mode <<<"$st") == pod ]] || tif_fail "$pod: network mode"
    [[ $(jq -r .labels.app <<<"$st") == "${pod%%-*}" ]] || tif_fail "$pod: label app"
    [[ $(jq -r '.annotations["tif.test/harness"]' <<<"$st") == cri ]] || tif_fail "$pod: annotation"
    cg=$(cri_cgroup_parent "${POD_UID[$pod]}")
    [[ $(jq -r .cgroup_parent <<<"$st") == "$cg" ]] || tif_fail "$pod: cgroup parent $(jq -r .cgroup_parent <<<"$st")"
    # The pause process really is in that cgroup (cgroupfs driver: PARENT/<sandbox id>).
    grep -qE ":$cg/${POD_ID[$pod]}\$" "/proc/${POD_PID[$pod]}/cgroup" ||
        tif_fail "$pod: pause pid ${POD_PID[$pod]} not in $cg: $(cat "/proc/${POD_PID[$pod]}/cgroup")"
    [[ ${POD_IP[$pod]} == "${CRI_SUBNET%.0/24}".* ]] || tif_fail "$pod: ip ${POD_IP[$pod]} not in $CRI_SUBNET"
done
pods_json=$(cri_tool list-pods --namespace shop)
[[ $(jq -r '[.[].name] | sort | join(",")' <<<"$pods_json") == db-0,web-7d9f ]] ||
    tif_fail "list-pods: $(jq -c '[.[] | {name, namespace}]' <<<"$pods_json")"
[[ $(cri_tool list-pods --label app=db | jq -r '.[].id') == "${POD_ID[db-0]}" ]] ||
    tif_fail "list-pods --label app=db did not select db-0"

# --- network namespaces and veths -------------------------------------------------------------
web_ns=$(ino "${POD_NETNS[web-7d9f]}") db_ns=$(ino "${POD_NETNS[db-0]}")
for pod in web-7d9f db-0; do
    n=$(ino "${POD_NETNS[$pod]}")
    [[ $n != "$test_ns" && $n != "$runtime_ns" ]] || tif_fail "$pod: netns $n is the test's or the runtime's"
    # The netns path from the verbose status is the pause process's netns.
    [[ $(ino "/proc/${POD_PID[$pod]}/ns/net") == "$n" ]] || tif_fail "$pod: pause is not in ${POD_NETNS[$pod]}"
    eth0=$(nsenter --net="${POD_NETNS[$pod]}" ip -j addr show eth0)
    [[ $(jq -r '.[0].addr_info[] | select(.family == "inet") | .local' <<<"$eth0") == "${POD_IP[$pod]}" ]] ||
        tif_fail "$pod: eth0 does not hold ${POD_IP[$pod]}: $(jq -c '.[0].addr_info' <<<"$eth0")"
    veth=$(ip -n "$CRI_NETNS" -j -d link show "${POD_VETH[$pod]}") ||
        tif_fail "$pod: veth ${POD_VETH[$pod]} not in the runtime netns"
    [[ $(jq -r '.[0].linkinfo.info_kind' <<<"$veth") == veth ]] || tif_fail "$pod: ${POD_VETH[$pod]} is no veth"
    [[ $(jq -r '.[0].master' <<<"$veth") == "$CRI_BRIDGE" ]] || tif_fail "$pod: ${POD_VETH[$pod]} not on $CRI_BRIDGE"
    # Each end names the other as its peer.
    [[ $(jq -r '.[0].link_index' <<<"$veth") == $(jq -r '.[0].ifindex' <<<"$eth0") &&
        $(jq -r '.[0].link_index' <<<"$eth0") == $(jq -r '.[0].ifindex' <<<"$veth") ]] ||
        tif_fail "$pod: ${POD_VETH[$pod]} and the pod's eth0 are not peers"
    [[ -z $(ip -j link show "${POD_VETH[$pod]}" 2>/dev/null | jq -r '.[]?') ]] ||
        tif_fail "$pod: ${POD_VETH[$pod]} leaked into the test netns"
done
[[ $web_ns != "$db_ns" ]] || tif_fail "both pods share netns $web_ns"
[[ ${POD_VETH[web-7d9f]} != "${POD_VETH[db-0]}" ]] || tif_fail "both pods share a veth"

# --- TCP from web-7d9f to db-0 ------------------------------------------------------------------
port=5432
nsenter --net="${POD_NETNS[db-0]}" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(30)
c, peer = s.accept(); c.settimeout(10)
line = c.makefile().readline().strip()
c.sendall(("pong %s from %s\n" % (line, peer[0])).encode()); c.close()
' "${POD_IP[db-0]}" "$port" >"$TIF_TMP/listener.out" 2>&1 &
listener=$!
tif_cleanup_push "kill $listener 2>/dev/null || true"
for _ in $(seq 50); do
    nsenter --net="${POD_NETNS[db-0]}" ss -Hltn "sport = :$port" | grep -q . && break
    sleep 0.1
done
# shellcheck disable=SC2016 # $1 $2 expand in the inner bash
reply=$(nsenter --net="${POD_NETNS[web-7d9f]}" timeout 10 bash -c '
    exec 3<>"/dev/tcp/$1/$2" && echo ping >&3 && read -r line <&3 && echo "$line"' _ \
    "${POD_IP[db-0]}" "$port") || tif_fail "TCP web-7d9f -> db-0 failed: $(cat "$TIF_TMP/listener.out")"
[[ $reply == "pong ping from ${POD_IP[web-7d9f]}" ]] || tif_fail "unexpected reply '$reply'"
wait "$listener" || tif_fail "listener failed: $(cat "$TIF_TMP/listener.out")"
echo "TCP web-7d9f -> db-0:$port: $reply"
# The pod network is the runtime netns' alone: the test netns has no link to it. (Not checked
# by connecting: some sandboxes' egress proxies accept a TCP connection to any address.)
route=$(ip -o route get "${POD_IP[db-0]}" 2>/dev/null || true)
[[ $route != *"dev $CRI_BRIDGE "* && $route != *"dev veth"* ]] ||
    tif_fail "the test netns routes to the pods itself: $route"

# --- a container in web-7d9f (the pause image, run as a workload) -------------------------------
mkdir -p "$TIF_TMP/share"
echo hello >"$TIF_TMP/share/f"
ctr_id=$(cri_tool create-container "${POD_ID[web-7d9f]}" --name sidecar --image "$CRI_PAUSE_IMAGE" \
    --mount "$TIF_TMP/share:/share:ro" --cap-add NET_ADMIN --run-as-user 0 -- /pause)
cri_tool start-container "$ctr_id"
cst=$(cri_tool container-status "$ctr_id")
[[ $(jq -r .state <<<"$cst") == running ]] || tif_fail "container state: $(jq -c . <<<"$cst")"
[[ $(jq -r '.mounts[0].container_path' <<<"$cst") == /share && $(jq -r '.mounts[0].readonly' <<<"$cst") == true ]] ||
    tif_fail "container mounts: $(jq -c .mounts <<<"$cst")"
cpid=$(jq -r .pid <<<"$cst")
[[ $(ino "/proc/$cpid/ns/net") == "$web_ns" ]] || tif_fail "container pid $cpid is not in web-7d9f's netns"
[[ $(ino "/proc/$cpid/ns/pid") != $(ino "/proc/${POD_PID[web-7d9f]}/ns/pid") ]] ||
    tif_fail "container shares the pause process's pid namespace"
[[ $(cat "/proc/$cpid/root/share/f") == hello ]] || tif_fail "bind mount not visible in the container"
grep -q "$(cri_cgroup_parent "${POD_UID[web-7d9f]}")/$ctr_id\$" "/proc/$cpid/cgroup" ||
    tif_fail "container not under the pod cgroup: $(cat "/proc/$cpid/cgroup")"
[[ $(cri_tool list-containers --pod "${POD_ID[web-7d9f]}" | jq -r '.[].name') == sidecar ]] ||
    tif_fail "list-containers --pod"
echo "container sidecar: pid $cpid in web-7d9f's netns, /share mounted read-only"

# --- teardown: stop and remove, then nothing is left ---------------------------------------------
pause_pids="${POD_PID[web-7d9f]} ${POD_PID[db-0]} $cpid"
cri_tool stop-container --grace 2 "$ctr_id"
cri_tool remove-container "$ctr_id"
for pod in web-7d9f db-0; do
    cri_remove_pod "${POD_ID[$pod]}"
    if cri_tool pod-status "${POD_ID[$pod]}" >/dev/null 2>&1; then
        tif_fail "$pod still has a status after RemovePodSandbox"
    fi
    [[ ! -e ${POD_NETNS[$pod]} ]] || tif_fail "$pod: netns file ${POD_NETNS[$pod]} left"
    ip -n "$CRI_NETNS" link show "${POD_VETH[$pod]}" >/dev/null 2>&1 &&
        tif_fail "$pod: veth ${POD_VETH[$pod]} left in the runtime netns"
done
[[ $(cri_tool list-pods | jq length) == 0 ]] || tif_fail "pods left: $(cri_tool list-pods | jq -c .)"
[[ $(cri_tool list-containers | jq length) == 0 ]] || tif_fail "containers left"
for p in $pause_pids; do
    tif_alive "$p" && tif_fail "pod process $p still alive"
done
left=$(cri__own_mounts)
[[ -z $left ]] || tif_fail "mounts left under $CRI_DIR after removing the pods: $left"
# Only containerd itself is left of the runtime's processes.
[[ $(cri__own_pids | tr '\n' ' ') == "$CRI_CONTAINERD_PID " ]] ||
    tif_fail "runtime processes besides containerd: $(cri__own_pids | tr '\n' ' ')"

# The whole runtime goes too (what the exit cleanup does, checked here).
containerd_pid=$CRI_CONTAINERD_PID
cri_stop_runtime
tif_alive "$containerd_pid" && tif_fail "containerd $containerd_pid still running"
[[ -z $(cri__own_pids) ]] || tif_fail "runtime processes left: $(cri__own_pids | tr '\n' ' ')"
[[ -z $(cri__own_mounts) ]] || tif_fail "mounts left: $(cri__own_mounts)"
[[ ! -e /run/netns/$CRI_NETNS ]] || tif_fail "netns $CRI_NETNS left"
ip link show "$CRI_BRIDGE" >/dev/null 2>&1 && tif_fail "bridge $CRI_BRIDGE in the test netns"
for pod in web-7d9f db-0; do
    if compgen -G "/sys/fs/cgroup/*/kubepods/besteffort/pod${POD_UID[$pod]}" >/dev/null; then
        tif_fail "$pod: cgroup kubepods/besteffort/pod${POD_UID[$pod]} left"
    fi
done
echo "PASS: cri_harness"
