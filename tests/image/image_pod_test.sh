#!/usr/bin/env bash
# The chart's pod through a real runtime (issue 27): the image (scripts/image.sh) imported into
# containerd, and the DaemonSet's pod as the chart renders it (tests/helm/render, default
# values) created through CRI the way the kubelet would: a hostNetwork sandbox, the init
# containers in order, then the daemon, each with the securityContext, args and volume mounts
# read from the rendered chart (tests/image/chart_pod.js), not repeated here.
#
# The node is the runtime's network namespace (cri_lib.sh runs containerd in a netns of its own:
# a hostNetwork pod gets exactly that one) and this test's mount namespace, which containerd
# inherits. The chart's hostPath volumes map to stand-ins: /sys/fs/bpf -> an empty directory,
# a shared mount as on a systemd node but with no bpffs (the init container mount-bpffs must
# mount it, Bidirectional); /run/traceiface -> a root-owned directory; /run/containerd -> a
# directory holding this runtime's socket; /sys/kernel/btf, /proc, /var/run/netns -> the real
# ones; the ConfigMap -> a directory with its data.
#
# Asserts: every init container exits 0 (and mount-bpffs really mounted bpffs on the "node";
# prepare-dirs gave the pin and span-socket directories to the daemon's user); /metrics answers
# on the node's address; every traceiface_probe_up is 1; the daemon runs as the chart's user
# and keeps only CAP_NET_ADMIN (/proc and traceiface_capabilities agree); the span socket is
# there; the workload pod's veth is named with its pod over CRI (the chart's k8s defaults, as
# uid 65534); its TCP retransmits under loss (tbf on its eth0) are counted on its veth; a
# third pod, mounting the span-socket directory, binds a connection to a trace id and its
# retransmit lines and exemplar carry it;
# after deleting the pod and running it again (a DaemonSet rollout): the pinned maps are
# adopted, the veth's counters did not go back, and exactly one of our programs sits on each
# hook of the veth.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../integration/lib.sh
source "$root/tests/integration/lib.sh"
# shellcheck source=SCRIPTDIR/../integration/cri_lib.sh
source "$root/tests/integration/cri_lib.sh"

tif_require_cmd node go curl iperf3 tc bpftool nsenter jq tar
[[ -d $root/tests/js/node_modules/js-yaml ]] || tif_skip_or_fail "tests/js/node_modules missing"
[[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ]] ||
    tif_skip_or_fail "golang-github-masterminds-sprig-dev not installed"
[[ -r /sys/kernel/btf/vmlinux ]] || tif_skip_or_fail "no /sys/kernel/btf/vmlinux"
[[ -x $TIF_BUILD_DIR/traceiface ]] || tif_skip_or_fail "$TIF_BUILD_DIR/traceiface not built"

# --- the image: the build's binary packed as scripts/image.sh does ---
archive=$TIF_BUILD_DIR/traceiface-image.oci.tar
# (The size budget is image.build's check, not this test's.)
TIF_IMAGE_SKIP_BUILD=1 TIF_IMAGE_MAX_GZ_MIB=256 TIF_IMAGE_MAX_MIB=1024 \
    bash "$root/scripts/image.sh" >"$TIF_TMP/image.log" 2>&1 ||
    tif_fail "scripts/image.sh: $(tail -5 "$TIF_TMP/image.log")"
grep '^image: size' "$TIF_TMP/image.log"

# --- the chart, rendered with the default values ---
mkdir -p "$TIF_BUILD_DIR/go-cache"
(cd "$root/tests/helm/render" && GOPATH=/usr/share/gocode GO111MODULE=off GOPROXY=off \
    GOFLAGS='' GOCACHE="$TIF_BUILD_DIR/go-cache" go build -o "$TIF_TMP/render" .) ||
    tif_fail "building tests/helm/render failed"
"$TIF_TMP/render" -chart "$root/helm/traceiface" -f "$root/tests/helm/scenarios/default.yaml" \
    >"$TIF_TMP/chart.yaml" || tif_fail "rendering the chart failed"
node "$here/chart_pod.js" "$TIF_TMP/chart.yaml" >"$TIF_TMP/pod.json" ||
    tif_fail "chart_pod.js could not read the DaemonSet"
pod=$(cat "$TIF_TMP/pod.json")
[[ $(jq -r .hostNetwork <<<"$pod") == true ]] || tif_fail "the chart's pod is not hostNetwork"
daemon=$(jq -c '.containers[] | select(.init | not)' <<<"$pod")
[[ $(jq -s length <<<"$daemon") == 1 ]] || tif_fail "want one container besides init containers"
user=$(jq -r .runAsUser <<<"$daemon") group=$(jq -r .runAsGroup <<<"$daemon")
port=$(jq -r '.args[] | select(startswith("--web.listen-address=")) | sub(".*:"; "")' <<<"$daemon")
[[ $port =~ ^[0-9]+$ ]] || tif_fail "no --web.listen-address=:PORT in the daemon's args"
echo "chart: init containers $(jq -r '[.containers[] | select(.init) | .name] | join(", ")' <<<"$pod");" \
    "daemon as $user:$group, caps $(jq -r '.capAdd | join(",")' <<<"$daemon"), port $port"

# --- the node's stand-ins ---
node_dir=$TIF_TMP/node
mkdir -p "$node_dir/sys/fs/bpf" "$node_dir/run/traceiface" "$node_dir/configmaps"
chmod 0755 "$node_dir/run/traceiface" # made by the kubelet (DirectoryOrCreate): root, 0755
# /sys/fs/bpf as a shared mount with nothing on it: Bidirectional needs a shared source, and
# the init container must mount bpffs there. Unmounted after the runtime is gone (pushed
# before cri_start_runtime, so run after it).
mount --bind "$node_dir/sys/fs/bpf" "$node_dir/sys/fs/bpf"
mount --make-shared "$node_dir/sys/fs/bpf"
tif_cleanup_push "umount -R -l '$node_dir/sys/fs/bpf'"
[[ $(stat -f -c %T "$node_dir/sys/fs/bpf") != bpf_fs ]] || tif_fail "stand-in already bpffs"
for cm in $(jq -r '.configMaps | keys[]' <<<"$pod"); do
    mkdir -p "$node_dir/configmaps/$cm"
    for key in $(jq -r --arg c "$cm" '.configMaps[$c] | keys[]' <<<"$pod"); do
        jq -j --arg c "$cm" --arg k "$key" '.configMaps[$c][$k]' <<<"$pod" \
            >"$node_dir/configmaps/$cm/$key"
    done
done
# node_path HOSTPATH: where the chart's hostPath is on this test's node.
node_path() {
    case $1 in
    /sys/fs/bpf | /sys/fs/bpf/*) echo "$node_dir$1" ;;
    /run/traceiface | /run/traceiface/*) echo "$node_dir$1" ;;
    /sys/kernel/btf | /proc) echo "$1" ;;
    # cgroup v1 here: the daemon finds no v2 hierarchy in it and says so.
    /sys/fs/cgroup) echo "$1" ;;
    # The runtime's netns bind mounts: the node's own directory (ip netns, cri_lib.sh).
    /var/run/netns | /run/netns) echo /run/netns ;;
    # The runtime socket's directory: this test's containerd socket, bound into a stand-in.
    /run/containerd) echo "$node_dir/run/containerd" ;;
    *) tif_fail "the chart mounts hostPath $1, which this test has no stand-in for" ;;
    esac
}

cri_start_runtime
cri_import_image "$archive"
# The node's /run/containerd/containerd.sock is this runtime's socket.
mkdir -p "$node_dir/run/containerd"
touch "$node_dir/run/containerd/containerd.sock"
mount --bind "$CRI_SOCK" "$node_dir/run/containerd/containerd.sock"
tif_cleanup_push "umount -l '$node_dir/run/containerd/containerd.sock'"
image=$(jq -r .image <<<"$daemon")
cri_tool images | jq -e --arg i "docker.io/$image" 'any(.[]; .repo_tags[]? == $i)' >/dev/null ||
    tif_fail "containerd does not list $image after the import: $(cri_tool images | jq -c .)"
node_ns=/run/netns/$CRI_NETNS
in_node() { nsenter --net="$node_ns" "$@"; }
metrics() { in_node curl -sf --max-time 5 "http://$CRI_GATEWAY:$port/metrics"; }

# create_container POD_ID CONTAINER_JSON: CreateContainer with what the chart says; prints the id.
create_container() {
    local pod_id=$1 c=$2 m host flags=()
    local -a mounts
    flags+=(--name "$(jq -r .name <<<"$c")" --image "$(jq -r .image <<<"$c")" --host-network)
    while IFS= read -r m; do
        if [[ $(jq -r '.hostPath // empty' <<<"$m") != "" ]]; then
            host=$(node_path "$(jq -r .hostPath <<<"$m")")
        else
            host=$node_dir/configmaps/$(jq -r .configMap <<<"$m")
        fi
        mounts+=(--mount "$host:$(jq -r '.containerPath + ":" + (if .readOnly then "ro" else "rw" end) + "," + .propagation' <<<"$m")")
    done < <(jq -c '.mounts[]' <<<"$c")
    flags+=("${mounts[@]}")
    while IFS= read -r a; do flags+=(--cap-add "$a"); done < <(jq -r '.capAdd[]' <<<"$c")
    while IFS= read -r a; do flags+=(--cap-drop "$a"); done < <(jq -r '.capDrop[]' <<<"$c")
    while IFS= read -r a; do flags+=(--env "$a"); done < <(jq -r '.env | to_entries[] |
        "\(.key)=\(if .value == "<NODE_NAME>" then "tif-node" else .value end)"' <<<"$c")
    [[ $(jq -r .runAsUser <<<"$c") == null ]] || flags+=(--run-as-user "$(jq -r .runAsUser <<<"$c")")
    [[ $(jq -r .runAsGroup <<<"$c") == null ]] || flags+=(--run-as-group "$(jq -r .runAsGroup <<<"$c")")
    [[ $(jq -r .privileged <<<"$c") == true ]] && flags+=(--privileged)
    [[ $(jq -r .noNewPrivs <<<"$c") == true ]] && flags+=(--no-new-privs)
    [[ $(jq -r .readOnlyRootFilesystem <<<"$c") == true ]] && flags+=(--readonly-rootfs)
    # containerd 1.6 runs a container without a seccomp profile unconfined: the chart's
    # Unconfined, or no profile at all.
    [[ $(jq -r '.seccomp // "Unconfined"' <<<"$c") == Unconfined ]] ||
        tif_fail "$(jq -r .name <<<"$c"): seccomp $(jq -r .seccomp <<<"$c") not mapped by this test"
    while IFS= read -r a; do flags+=(--command "$a"); done < <(jq -r '.command[]' <<<"$c")
    while IFS= read -r a; do flags+=(--arg "$a"); done < <(jq -r '.args[]' <<<"$c")
    cri_tool create-container "$pod_id" "${flags[@]}"
}

# run_chart_pod NAME: the DaemonSet's pod: sandbox, init containers to completion, the daemon.
# Sets TPOD_ID, DAEMON_CID, DAEMON_PID.
run_chart_pod() {
    local name=$1 c cid st i logs=$TIF_TMP/logs/$1
    mkdir -p "$logs"
    # Privileged sandbox when a container is, as the kubelet makes it.
    local -a priv=()
    [[ $(jq -r 'any(.containers[]; .privileged)' <<<"$pod") == true ]] && priv=(--privileged)
    cri_run_pod "$name" monitoring --host-network "${priv[@]}" --log-dir "$logs" --label app=traceiface
    TPOD_ID=$CRI_POD_ID
    while IFS= read -r c; do
        cid=$(create_container "$TPOD_ID" "$c") || tif_fail "CreateContainer $(jq -r .name <<<"$c")"
        cri_tool start-container "$cid" || tif_fail "StartContainer $(jq -r .name <<<"$c")"
        st=$(cri_wait_exited "$cid" 10)
        [[ $(jq -r .state <<<"$st") == exited && $(jq -r .exit_code <<<"$st") == 0 ]] ||
            tif_fail "init container $(jq -r .name <<<"$c"): $(jq -c '{state, exit_code, reason, message}' <<<"$st"): $(cat "$logs/$(jq -r .name <<<"$c").log" 2>/dev/null)"
        echo "  init $(jq -r .name <<<"$c"): exit 0: $(sed 's/^[^ ]* [^ ]* [^ ]* //' "$logs/$(jq -r .name <<<"$c").log" 2>/dev/null | jq -r .msg 2>/dev/null | paste -sd';')"
    done < <(jq -c '.containers[] | select(.init)' <<<"$pod")
    DAEMON_CID=$(create_container "$TPOD_ID" "$daemon") || tif_fail "CreateContainer traceiface"
    cri_tool start-container "$DAEMON_CID" || tif_fail "StartContainer traceiface"
    DAEMON_PID=$(cri_tool container-status "$DAEMON_CID" | jq -r .pid)
    for ((i = 0; i < 300; i++)); do
        in_node curl -sf -o /dev/null --max-time 1 "http://$CRI_GATEWAY:$port/-/ready" && return 0
        [[ $(cri_tool container-status "$DAEMON_CID" | jq -r .state) == running ]] || break
        sleep 0.1
    done
    tif_fail "the daemon is not ready: $(cri_tool container-status "$DAEMON_CID" | jq -c '{state, exit_code}'): $(tail -5 "$logs/traceiface.log")"
}

# A workload pod first: its CNI setup gives the node its bridge and address ($CRI_GATEWAY),
# which a node has before the DaemonSet's pod arrives.
cri_run_pod web-0 shop --label app=web
web_id=$CRI_POD_ID web_veth=$CRI_POD_VETH
echo "pod shop/web-0: $CRI_POD_IP, veth $web_veth; the node's address $CRI_GATEWAY"

# --- first start ---
t0=$(date +%s%N)
echo "pod traceiface-a:"
run_chart_pod traceiface-a
echo "  ready after $((($(date +%s%N) - t0) / 1000000)) ms (sandbox, init containers, daemon)"
[[ $(stat -f -c %T "$node_dir/sys/fs/bpf") == bpf_fs ]] ||
    tif_fail "mount-bpffs did not mount bpffs on the node's /sys/fs/bpf"
for d in sys/fs/bpf/traceiface run/traceiface; do
    [[ $(stat -c %u:%g "$node_dir/$d") == "$user:$group" ]] ||
        tif_fail "/$d on the node is $(stat -c %u:%g "$node_dir/$d"), not $user:$group"
done
ino() { stat -L -c %i "$1"; }
[[ $(ino "/proc/$DAEMON_PID/ns/net") == $(ino "$node_ns") ]] ||
    tif_fail "the daemon is not in the node's (runtime) network namespace"
status=$(cat "/proc/$DAEMON_PID/status")
[[ $(awk '/^Uid:/ { print $2 $3 $4 $5 }' <<<"$status") == "$user$user$user$user" ]] ||
    tif_fail "daemon Uid: $(grep ^Uid: <<<"$status"), want $user"
[[ $(awk '/^Gid:/ { print $2 }' <<<"$status") == "$group" ]] || tif_fail "daemon Gid is not $group"
# (NoNewPrivs is 1 by now: the daemon sets it itself once it has dropped its capabilities.)
capeff=$(awk '/^CapEff:/ { print $2 }' <<<"$status")
echo "daemon pid $DAEMON_PID: $(grep ^Uid: <<<"$status" | tr -s '\t' ' '), CapEff $capeff, CapBnd $(awk '/^CapBnd:/ { print $2 }' <<<"$status")"
[[ $capeff == 0000000000001000 ]] || tif_fail "daemon CapEff $capeff, want CAP_NET_ADMIN alone"

m=$(metrics) || tif_fail "/metrics does not answer on $CRI_GATEWAY:$port"
probes=$(grep '^traceiface_probe_up{' <<<"$m")
echo "$probes" | sed 's/^/  /'
[[ $(wc -l <<<"$probes") -ge 4 ]] && ! grep -qv ' 1$' <<<"$probes" || tif_fail "a probe is down"
caps=$(grep '^traceiface_capabilities{' <<<"$m" | grep ' 1$' || true)
echo "$caps" | sed 's/^/  /'
effective=$(grep 'set="effective"' <<<"$caps" | sed 's/.*capability="\([A-Z_]*\)".*/\1/' | paste -sd,)
[[ $effective == CAP_NET_ADMIN ]] ||
    tif_fail "traceiface_capabilities effective: '$effective', want CAP_NET_ADMIN alone"
[[ -S $node_dir/run/traceiface/span.sock ]] ||
    tif_fail "no span socket in the node's /run/traceiface: $(ls -la "$node_dir/run/traceiface")"
echo "  span socket: $(stat -c '%A %u:%g' "$node_dir/run/traceiface/span.sock")"
grep '^traceiface_bpf_pinned_maps{' <<<"$m" | grep ' 1$' | sed 's/^/  /'
grep '^traceiface_bpf_pinned_maps{' <<<"$m" | grep ' 1$' | grep -q 'outcome="created"' ||
    tif_fail "first start: no pinned maps created"

# --- pod identity with the chart's defaults (k8s.enabled, uid 65534) ---
# The runtime's socket is root's (0660): the resolver thread reaches it with the chart's
# DAC_OVERRIDE, and reads the sandbox's netns link with SYS_PTRACE; no other thread may
# keep them, and none may keep BPF or PERFMON (gRPC's threads included).
echo "  runtime socket: $(stat -c '%A %u:%g' "$node_dir/run/containerd/containerd.sock")"
# wait_named VETH NS/POD: until interface_info names VETH's pod (15 s at most).
wait_named() {
    local named= m= i source
    for ((i = 0; i < 150; i++)); do
        m=$(metrics) || true
        named=$(grep "^traceiface_interface_info{" <<<"$m" | grep -F "iface=\"$1\"" |
            sed -E 's/.*namespace="([^"]*)".*pod="([^"]*)".*/\1\/\2/; t; s/.*/?/' | sed -n 1p)
        [[ $named == "$2" ]] && break
        sleep 0.1
    done
    source=$(grep '^traceiface_k8s_identity_source{' <<<"$m" | grep ' 1$' || true)
    echo "  $1 named '$named' after $((i / 10)).$((i % 10)) s; $source"
    [[ $named == "$2" ]] ||
        tif_fail "interface_info of $1: '$named', want $2 ($source; $(grep '"k8s"' "$TIF_TMP/logs/traceiface-a/traceiface.log" | tail -2))"
    [[ $source == *'source="cri"'* ]] || tif_fail "identity source: '$source', want cri"
}
wait_named "$web_veth" shop/web-0
# tcaps TASK: "effective permitted" of one thread, hex.
tcaps() { awk '/^CapEff:/ { e = $2 } /^CapPrm:/ { p = $2 } END { print e, p }' "$1/status"; }
resolver_threads=0
for t in /proc/$DAEMON_PID/task/*; do
    read -r eff prm < <(tcaps "$t")
    case $eff:$prm in
    0000000000001000:0000000000001000 | 0000000000000000:0000000000000000) ;;
    # CAP_SYS_PTRACE | CAP_DAC_OVERRIDE: the resolver thread and gRPC's.
    0000000000080002:0000000000080002) resolver_threads=$((resolver_threads + 1)) ;;
    *) tif_fail "thread ${t##*/} ($(cat "$t/comm")) holds CapEff $eff CapPrm $prm" ;;
    esac
done
echo "  threads: $(ls "/proc/$DAEMON_PID/task" | wc -l), $resolver_threads with SYS_PTRACE+DAC_OVERRIDE"
((resolver_threads >= 1)) || tif_fail "no thread keeps the resolver's capabilities"

# --- TCP under loss from the workload pod, counted on its veth ---
cri_pod_exec "$web_id" tc qdisc add dev eth0 root tbf rate 4mbit burst 8kb latency 5ms
tif_iperf_server "$CRI_NETNS" "$CRI_GATEWAY"
# series NAME IFACE: the sum of a counter's series for IFACE (0 when absent).
series() {
    metrics | awk -v n="$1" -v i="iface=\"$2\"" 'index($0, n "{") == 1 && index($0, i) { s += $NF }
        END { printf "%.0f\n", s }'
}
upload() {
    cri_pod_exec "$web_id" timeout 40 iperf3 -c "$CRI_GATEWAY" -t "$1" -C bbr --connect-timeout 3000 \
        >"$TIF_TMP/iperf-$2.log" 2>&1 || tif_fail "iperf3 failed: $(tail -3 "$TIF_TMP/iperf-$2.log")"
}
upload 4 a
sleep 1
rtx_a=$(series traceiface_tcp_retransmit_segments_total "$web_veth")
pkt_a=$(series traceiface_packets_total "$web_veth")
echo "veth $web_veth: retransmitted segments $rtx_a, packets $pkt_a"
((rtx_a > 0)) || tif_fail "no retransmits counted on $web_veth"
((pkt_a > 0)) || tif_fail "no packets counted on $web_veth"

# our_progs: per hook of the veth, how many of our programs run there, read from the kernel by
# `traceiface list --json` in the node's netns: tcx programs named tif_tc_<hook> plus clsact
# filters (a CNI veth has no others). "ingress=N egress=N".
our_progs() {
    in_node "$TIF_BUILD_DIR/traceiface" list --json |
        jq -r --arg v "$web_veth" '.[] | select(.iface == $v) | [("ingress", "egress") as $h
            | "\($h)=\(([.[$h].tcx[]? | select(.prog_name == "tif_tc_" + $h)] | length)
                       + (.[$h].filters // 0))"] | join(" ")'
}
progs_a=$(our_progs)
echo "attached on $web_veth: $progs_a"

# --- an application pod binds its connection to a trace through the span socket ---
# The chart's span-socket hostPath mounted into an ordinary pod as docs/deploy.md shows it, its
# process neither root nor the daemon's user but in the socket's group (supplementalGroups).
# The C++ client (clients/cpp/traceiface_span.h, in tests/span_client_tool.cpp, linked
# statically into an image of its own) binds a TCP connection to a trace id and uploads
# through loss; the retransmit lines on the pod's veth and the exemplar carry that trace id.
span_dir=$(jq -r '.mounts[] | select(.containerPath == "/run/traceiface") | .hostPath' <<<"$daemon")
[[ -n $span_dir ]] || tif_fail "the daemon mounts no span-socket directory at /run/traceiface"
sock_gid=$(stat -c %g "$(node_path "$span_dir")/span.sock")
mkdir -p "$TIF_TMP/client-root"
g++ -std=c++20 -O2 -static -pthread -I"$root/clients/cpp" -o "$TIF_TMP/client-root/span_client_tool" \
    "$root/tests/span_client_tool.cpp" || tif_fail "could not build the static span client"
cri_pack_image "$TIF_TMP/client.oci.tar" localhost/traceiface/span-client:1 \
    "$TIF_TMP/client-root" /span_client_tool || tif_fail "could not pack the client image"
cri_import_image "$TIF_TMP/client.oci.tar"
app_logs=$TIF_TMP/logs/checkout-0
mkdir -p "$app_logs"
cri_run_pod checkout-0 shop --label app=checkout --log-dir "$app_logs"
app_id=$CRI_POD_ID app_veth=$CRI_POD_VETH
echo "pod shop/checkout-0: $CRI_POD_IP, veth $app_veth"
# Named before its traffic: events of a pod not yet resolved carry no pod (docs/k8s.md).
wait_named "$app_veth" shop/checkout-0
cri_pod_exec "$app_id" tc qdisc add dev eth0 root tbf rate 4mbit burst 8kb latency 5ms
sinkport=$(tif_free_port)
nsenter --net="$node_ns" "$TIF_TMP/client-root/span_client_tool" sink "$sinkport" \
    >"$TIF_TMP/sink.log" 2>&1 &
sink_pid=$!
tif_cleanup_push "tif_kill_wait $sink_pid 2"
for _ in $(seq 50); do grep -q listening "$TIF_TMP/sink.log" && break; sleep 0.1; done
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
span=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
cid=$(cri_tool create-container "$app_id" --name checkout --image localhost/traceiface/span-client:1 \
    --mount "$(node_path "$span_dir"):/run/traceiface:ro" --run-as-user 1000 --run-as-group 1000 \
    --supplemental-group "$sock_gid" --cap-drop ALL --no-new-privs --readonly-rootfs \
    --arg upload --arg /run/traceiface/span.sock --arg "$CRI_GATEWAY" --arg "$sinkport" \
    --arg 4 --arg "$trace" --arg "$span" --arg checkout.Pay) ||
    tif_fail "CreateContainer checkout"
cri_tool start-container "$cid" || tif_fail "StartContainer checkout"
st=$(cri_wait_exited "$cid" 20)
client_log=$(sed 's/^[^ ]* [^ ]* [^ ]* //' "$app_logs/checkout.log" 2>/dev/null || true)
[[ $(jq -r .state <<<"$st") == exited && $(jq -r .exit_code <<<"$st") == 0 ]] ||
    tif_fail "the span client: $(jq -c '{state, exit_code, reason}' <<<"$st"): $client_log"
cookie=$(awk '/^cookie/ { print $2 }' <<<"$client_log")
echo "  client uid 1000, groups 1000,$sock_gid: bound cookie $cookie to trace $trace, uploaded 4 s"
sleep 1
# The daemon's JSON lines, from its container log (CRI format: time stream tag line).
daemon_lines() { sed 's/^[^ ]* [^ ]* [^ ]* //' "$TIF_TMP/logs/traceiface-a/traceiface.log"; }
traced=$(daemon_lines | jq -R -c --arg t "$trace" 'fromjson? | select(.event == "tcp_retransmit"
    and .trace_id == $t) | {iface, namespace, pod, span_id, name, sock_cookie}' | sort | uniq -c)
echo "$traced" | sed 's/^/  /'
[[ -n $traced ]] || tif_fail "no retransmit line carries trace_id $trace"
wrong=$(daemon_lines | jq -R -c --arg t "$trace" --arg s "$span" --arg v "$app_veth" --arg c "$cookie" \
    'fromjson? | select(.event == "tcp_retransmit" and .trace_id == $t) | select((.iface == $v
     and .namespace == "shop" and .pod == "checkout-0" and .span_id == $s
     and .name == "checkout.Pay" and (.sock_cookie | tostring) == $c) | not)')
[[ -z $wrong ]] || tif_fail "traced lines not on $app_veth / shop/checkout-0 / the bound span: $wrong"
om=$(in_node curl -sf --max-time 5 -H 'Accept: application/openmetrics-text; version=1.0.0' \
    "http://$CRI_GATEWAY:$port/metrics") || tif_fail "no OpenMetrics scrape"
ex=$(grep "^traceiface_tcp_retransmit_segments_total{iface=\"$app_veth\"" <<<"$om" |
    grep -F "# {trace_id=\"$trace\"" || true)
echo "  exemplar: ${ex:-none}"
[[ -n $ex ]] || tif_fail "no retransmit exemplar with trace_id $trace on $app_veth"

# --- a rollout: the pod deleted and created again ---
old_pid=$DAEMON_PID
t0=$(date +%s%N)
# As the kubelet deletes a pod: its containers stopped with the grace period (SIGTERM first),
# then the sandbox. (StopPodSandbox alone would SIGKILL them.)
grace=$(jq -r '.terminationGracePeriodSeconds // 30' <<<"$pod")
cri_tool stop-container --grace "$grace" "$DAEMON_CID" || tif_fail "StopContainer traceiface failed"
st=$(cri_tool container-status "$DAEMON_CID")
echo "  daemon stopped in $((($(date +%s%N) - t0) / 1000000)) ms, exit code $(jq -r .exit_code <<<"$st")"
[[ $(jq -r .exit_code <<<"$st") == 0 ]] || tif_fail "the daemon did not exit 0 on SIGTERM"
cri_remove_pod "$TPOD_ID" >/dev/null || tif_fail "removing the traceiface pod failed"
tif_alive "$old_pid" && tif_fail "the old daemon $old_pid still runs"
echo "pod traceiface-b:"
run_chart_pod traceiface-b
echo "  ready after $((($(date +%s%N) - t0) / 1000000)) ms from the deletion"
m=$(metrics)
grep '^traceiface_bpf_pinned_maps{' <<<"$m" | grep ' 1$' | sed 's/^/  /'
pinned=$(grep '^traceiface_bpf_pinned_maps{' <<<"$m" | grep ' 1$')
! grep -vq 'outcome="adopted"' <<<"$pinned" && [[ -n $pinned ]] ||
    tif_fail "after the restart not every pinned map set was adopted"
rtx_b=$(series traceiface_tcp_retransmit_segments_total "$web_veth")
pkt_b=$(series traceiface_packets_total "$web_veth")
echo "veth $web_veth after the restart: retransmitted segments $rtx_b, packets $pkt_b"
((rtx_b >= rtx_a)) || tif_fail "retransmits on $web_veth went back: $rtx_a -> $rtx_b"
((pkt_b >= pkt_a)) || tif_fail "packets on $web_veth went back: $pkt_a -> $pkt_b"
upload 3 b
sleep 1
rtx_c=$(series traceiface_tcp_retransmit_segments_total "$web_veth")
echo "after more traffic: retransmitted segments $rtx_c"
((rtx_c > rtx_b)) || tif_fail "the restarted daemon does not count retransmits on $web_veth"
progs_b=$(our_progs)
echo "attached on $web_veth: $progs_b"
[[ $progs_a == "ingress=1 egress=1" ]] || tif_fail "first start: on $web_veth: '$progs_a'"
[[ $progs_b == "ingress=1 egress=1" ]] ||
    tif_fail "after the restart not exactly one program of ours per hook on $web_veth: '$progs_b'"
echo "PASS: image_pod: chart pod as $user:$group through containerd, $web_veth named shop/web-0, trace $trace from shop/checkout-0 on its lines and exemplar; $rtx_a -> $rtx_b -> $rtx_c retransmits on $web_veth across a restart"
