#!/usr/bin/env bash
# hostNetwork pods by their sockets' cgroup (issue 26): a hostNetwork pod created through CRI
# (containerd 1.6, cri_lib.sh) shares the node's network namespace, so only the cgroup of a
# socket can name its pod. Its container (a static span-context client, in an image of its
# own) uploads through loss to a pod, its connection bound to a trace id. Asserts: its
# retransmit lines say host_network=true and name the pod (namespace, name, uid) and its
# container (the id the runtime gave it) and carry the trace id; the same upload from a
# process of the node (in no pod's cgroup) says host_network=true and names no pod;
# traceiface_k8s_pod_cgroups{state="live"} counts exactly the pod cgroups the hierarchy holds;
# a container of an ordinary pod uploading to the node is named by its netns and its
# container id by its socket's cgroup.
#
# runc makes each container's cgroup in the cgroup v2 hierarchy as well as in v1, so the
# kernel records the container's v2 cgroup on its sockets; this cgroup v1 machine just does
# not mount that hierarchy, and the test mounts it in its own mount namespace, where a cgroup
# v2 node has it (/sys/fs/cgroup), passed with --k8s.cgroup-root. Oracle: the runtime's pod and
# container status, the hierarchy's directories, the client's port.
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

cri_run_pod web-0 shop --label app=web --log-dir "$TIF_TMP/logs"
web_id=$CRI_POD_ID web_ip=$CRI_POD_IP web_veth=$CRI_POD_VETH
cri_run_pod agent-0 infra --host-network --label app=agent --log-dir "$TIF_TMP/logs"
agent_id=$CRI_POD_ID agent_uid=$CRI_POD_UID agent_pid=$CRI_POD_PID
[[ $(stat -L -c %i "/proc/$agent_pid/ns/net") == $(stat -L -c %i "/run/netns/$CRI_NETNS") ]] ||
    tif_fail "the hostNetwork pod is not in the node's (runtime) network namespace"
echo "pod infra/agent-0 (hostNetwork): uid $agent_uid; pod shop/web-0: $web_ip on $web_veth"

# --- the node's cgroup v2 hierarchy, where a cgroup v2 node has it ------------------------------
cg2=$TIF_TMP/cgroup2
mkdir -p "$cg2"
mount -t cgroup2 none "$cg2" || tif_fail "cannot mount cgroup2"
tif_cleanup_push "umount -l '$cg2'"
grep -q "^0::/kubepods/besteffort/pod$agent_uid/" "/proc/$agent_pid/cgroup" ||
    tif_fail "runc did not put the sandbox in a v2 kubepods cgroup: $(grep '^0::' "/proc/$agent_pid/cgroup")"
# pod_cgroups: the kubepods pod and container directories there now (the oracle of the gauge).
pod_cgroups() { find "$cg2/kubepods" -mindepth 2 -maxdepth 3 -type d -path '*/pod*' 2>/dev/null | wc -l; }

# --- the client image: span_client_tool, static ---------------------------------------------------
mkdir -p "$TIF_TMP/client-root" "$TIF_TMP/span"
g++ -std=c++20 -O2 -static -pthread -I"$TIF_REPO_ROOT/clients/cpp" \
    -o "$TIF_TMP/client-root/span_client_tool" "$TIF_REPO_ROOT/tests/span_client_tool.cpp" ||
    tif_fail "could not build the static span client"
cri_pack_image "$TIF_TMP/client.oci.tar" localhost/traceiface/span-client:1 \
    "$TIF_TMP/client-root" /span_client_tool || tif_fail "could not pack the client image"
cri_import_image "$TIF_TMP/client.oci.tar"

# --- the exporter in the runtime netns -------------------------------------------------------
port=$(tif_free_port)
url=http://127.0.0.1:$port
nsenter --net="/run/netns/$CRI_NETNS" "$TIF_BUILD_DIR/traceiface" --web.listen-address="127.0.0.1:$port" \
    --span.socket="$TIF_TMP/span/span.sock" --bpf.pin-path= --iface.include='veth.*' \
    --k8s.cri-endpoint="$CRI_ENDPOINT" --k8s.cgroup-root="$cg2" --k8s.relist-interval=1s \
    --log.event-rate=0 >"$TIF_TMP/exporter.out" 2>"$TIF_TMP/exporter.err" &
exporter=$!
tif_cleanup_push "tif_kill_wait $exporter 5"
scrape() { rt curl -sf --max-time 5 "$url/metrics"; }
for _ in $(seq 100); do
    rt curl -sf -o /dev/null --max-time 2 "$url/-/ready" && break
    tif_alive "$exporter" || break
    sleep 0.2
done
rt curl -sf -o /dev/null --max-time 2 "$url/-/ready" || {
    tail -n 30 "$TIF_TMP/exporter.out" "$TIF_TMP/exporter.err" >&2
    tif_fail "exporter not ready in the runtime netns"
}
grep -q '"msg":"hostNetwork pods'"'"' sockets named by their cgroup v2"' "$TIF_TMP/exporter.out" ||
    tif_fail "no log line naming the cgroup v2 root"

# --- the sink in the workload pod, loss on the way to it ------------------------------------------
rt tc qdisc add dev "$web_veth" root tbf rate 4mbit burst 8kb latency 5ms
sinkport=$(tif_free_port)
# nsenter itself in the background, not a function (cri_pod_exec, rt): $! must be the sink
# (nsenter execs it), or the cleanup kills a subshell and leaves the sink running.
nsenter --net="$(cri_pod_netns "$web_id")" "$TIF_TMP/client-root/span_client_tool" sink "$sinkport" \
    >"$TIF_TMP/sink.log" 2>&1 &
sink=$!
tif_cleanup_push "tif_kill_wait $sink 2"
for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink.log" && break; sleep 0.1; done

# --- the hostNetwork pod's container uploads, bound to a trace ------------------------------------
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
span=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
cid=$(cri_tool create-container "$agent_id" --name agent --image localhost/traceiface/span-client:1 \
    --host-network --mount "$TIF_TMP/span:/run/traceiface:ro" \
    --arg upload --arg /run/traceiface/span.sock --arg "$web_ip" --arg "$sinkport" \
    --arg 5 --arg "$trace" --arg "$span" --arg agent.Report) || tif_fail "CreateContainer agent"
cri_tool start-container "$cid" || tif_fail "StartContainer agent"
st=$(cri_wait_exited "$cid" 25)
client_log=$(sed 's/^[^ ]* [^ ]* [^ ]* //' "$TIF_TMP/logs/agent.log" 2>/dev/null || true)
[[ $(jq -r .state <<<"$st") == exited && $(jq -r .exit_code <<<"$st") == 0 ]] ||
    tif_fail "the agent container: $(jq -c '{state, exit_code, reason}' <<<"$st"): $client_log"
cookie=$(awk '/^cookie/ { print $2 }' <<<"$client_log")
echo "container $cid (hostNetwork) uploaded 5 s, socket cookie $cookie bound to trace $trace"
# --- the same from the node's own process -------------------------------------------------------
rt "$TIF_TMP/client-root/span_client_tool" upload "$TIF_TMP/span/span.sock" "$web_ip" "$sinkport" \
    3 "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" "$span" node.Report >"$TIF_TMP/node-upload.log" 2>&1 ||
    tif_fail "the node's upload: $(cat "$TIF_TMP/node-upload.log")"
node_cookie=$(awk '/^cookie/ { print $2 }' "$TIF_TMP/node-upload.log")
# --- and a container of the ordinary pod uploads to the node: its pod by netns, its container
# by its socket's cgroup ---
cri_pod_exec "$web_id" tc qdisc add dev eth0 root tbf rate 4mbit burst 8kb latency 5ms
nodeport=$(tif_free_port)
nsenter --net="/run/netns/$CRI_NETNS" "$TIF_TMP/client-root/span_client_tool" sink "$nodeport" \
    >"$TIF_TMP/node-sink.log" 2>&1 &
node_sink=$!
tif_cleanup_push "tif_kill_wait $node_sink 2"
for _ in $(seq 50); do grep -q listening "$TIF_TMP/node-sink.log" && break; sleep 0.1; done
web_cid=$(cri_tool create-container "$web_id" --name web --image localhost/traceiface/span-client:1 \
    --mount "$TIF_TMP/span:/run/traceiface:ro" \
    --arg upload --arg /run/traceiface/span.sock --arg "$CRI_GATEWAY" --arg "$nodeport" \
    --arg 5 --arg "$trace" --arg "$span" --arg web.Push) || tif_fail "CreateContainer web"
cri_tool start-container "$web_cid" || tif_fail "StartContainer web"
st=$(cri_wait_exited "$web_cid" 25)
web_log=$(sed 's/^[^ ]* [^ ]* [^ ]* //' "$TIF_TMP/logs/web.log" 2>/dev/null || true)
[[ $(jq -r .state <<<"$st") == exited && $(jq -r .exit_code <<<"$st") == 0 ]] ||
    tif_fail "the web container: $(jq -c '{state, exit_code, reason}' <<<"$st"): $web_log"
web_cookie=$(awk '/^cookie/ { print $2 }' <<<"$web_log")
echo "container $web_cid of shop/web-0 uploaded 5 s to the node, socket cookie $web_cookie"
sleep 0.5

want=$(pod_cgroups) have=
for _ in $(seq 30); do
    have=$(scrape | awk '/^traceiface_k8s_pod_cgroups\{state="live"\} / { print $2 }')
    [[ $have == "$want" ]] && break
    sleep 0.1
    want=$(pod_cgroups)
done
echo "traceiface_k8s_pod_cgroups{state=\"live\"} $have; pod and container directories in the hierarchy: $want"
[[ $have == "$want" ]] || tif_fail "traceiface_k8s_pod_cgroups $have, the hierarchy has $want"

lines() { # lines COOKIE: the retransmit lines of that socket
    grep '"event":"tcp_retransmit"' "$TIF_TMP/exporter.out" | jq -c --argjson c "$1" 'select(.sock_cookie == $c)'
}
n_pod=$(lines "$cookie" | wc -l)
n_node=$(lines "$node_cookie" | wc -l)
echo "retransmit lines: $n_pod from the pod's container, $n_node from the node's process"
((n_pod > 0 && n_node > 0)) || tif_fail "no retransmit lines to check ($n_pod, $n_node)"
lines "$cookie" | sed -n 1p
# The resolver finds a new container's cgroup at its next relist (1 s here; a busy runtime can
# delay that): lines before it name no pod. From the first line that names the pod on, every
# line must (it stays known), and no line may name another pod or container.
# check_named COOKIE JQ_FILTER: JQ_FILTER true for a named line, false for an unnamed one.
check_named() {
    local cookie=$1 named=$2 all first bad
    all=$(lines "$cookie")
    first=$(jq -s "map($named) | index(true) // -1" <<<"$all")
    ((first >= 0)) || tif_fail "no line of socket $cookie names its pod/container: $(sed -n 1p <<<"$all")"
    bad=$(jq -s -c --argjson f "$first" "to_entries[] | select(.key >= \$f and (.value | $named | not)) | .value" <<<"$all" | sed -n 1,3p)
    [[ -z $bad ]] || tif_fail "socket $cookie: after line $first, lines not naming it: $bad"
    echo "  socket $cookie: $(wc -l <<<"$all") lines, named from line $first on"
}
bad=$(lines "$cookie" | jq -c 'select(has("pod") and .pod != "agent-0")' | sed -n 1,3p)
[[ -z $bad ]] || tif_fail "lines of the hostNetwork pod's socket naming another pod: $bad"
check_named "$cookie" "(.host_network == true and .namespace == \"infra\" and .pod == \"agent-0\"
    and .pod_uid == \"$agent_uid\" and .container_id == \"$cid\" and .trace_id == \"$trace\")"
bad=$(lines "$node_cookie" | jq -c 'select((.host_network == true and (has("pod") | not)
    and (has("pod_uid") | not)) | not)' | sed -n 1,3p)
[[ -z $bad ]] || tif_fail "lines from the node's own process name a pod: $bad"
n_web=$(lines "$web_cookie" | wc -l)
((n_web > 0)) || tif_fail "no retransmit lines of the web container's socket"
bad=$(lines "$web_cookie" | jq -c --arg cid "$web_cid" 'select(.namespace != "shop" or .pod != "web-0"
    or has("host_network") or (has("container_id") and .container_id != $cid))' | sed -n 1,3p)
[[ -z $bad ]] || tif_fail "lines of shop/web-0's container naming something else: $bad"
check_named "$web_cookie" ".container_id == \"$web_cid\""
echo "$n_web lines of shop/web-0's container name the pod (netns) and the container (cgroup)"
echo "PASS: hostNetwork pod infra/agent-0 (container ${cid:0:12}) named on $n_pod lines by its socket's cgroup, with its trace; $n_node node lines say host_network and no pod"
