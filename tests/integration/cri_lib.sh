# shellcheck shell=bash
# shellcheck disable=SC2034 # CRI_* are set here for the sourcing test to read
# A real container runtime for integration tests: containerd (Debian's 1.6, CRI plugin) + runc +
# the CNI bridge/host-local plugins, in a network namespace of the test's own, with config,
# root, state and socket under $TIF_TMP. Pods are created through CRI by tests/cri/cri_tool.
# See tests/cri/README.md. Source after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"; source "$(dirname "$0")/cri_lib.sh"
#   tif_require_root_bpf        # or at least root
#   cri_start_runtime           # skips (77), or fails under CI=true, when it cannot start
#   cri_run_pod web-7d9f shop   # sets CRI_POD_ID CRI_POD_UID CRI_POD_NETNS CRI_POD_PID
#                               #      CRI_POD_IP CRI_POD_VETH
#   cri_pod_exec "$CRI_POD_ID" ip -4 addr     # run a host command inside the pod's netns
#
# Everything (pods, shims, containerd, mounts, the netns and bridge, the cgroups made for the
# pods) is removed by the cleanup lib.sh runs at exit, failed test or not.
[[ -n ${CRI_LIB_LOADED:-} ]] && return 0
CRI_LIB_LOADED=1
[[ -n ${TIF_LIB_LOADED:-} ]] || {
    echo "cri_lib.sh: source lib.sh first" >&2
    exit 1
}

CRI_TOOL=${CRI_TOOL:-$TIF_BUILD_DIR/tests/cri/cri_tool}
CRI_PAUSE_IMAGE=localhost/traceiface/pause:1
CRI_CNI_BIN_DIR=${CRI_CNI_BIN_DIR:-/usr/lib/cni}
# Filled in by cri_start_runtime.
CRI_DIR='' CRI_NETNS='' CRI_BRIDGE='' CRI_SUBNET='' CRI_GATEWAY='' CRI_SOCK='' CRI_ENDPOINT=''
CRI_CONTAINERD_PID=''
# Filled in by cri_run_pod.
CRI_POD_ID='' CRI_POD_UID='' CRI_POD_NETNS='' CRI_POD_PID='' CRI_POD_IP='' CRI_POD_VETH=''
CRI_CGROUP_DIRS=()

# cri_tool against this test's runtime.
cri_tool() { "$CRI_TOOL" --endpoint "$CRI_ENDPOINT" "$@"; }

# Kubernetes-style cgroup parent of a pod (cgroupfs driver): /kubepods/besteffort/pod<UID>.
cri_cgroup_parent() { echo "/kubepods/besteffort/pod$1"; }

# cri_build_pause_image OUT.tar: a static C program that waits in pause() (reaping children,
# exiting on TERM/INT like Kubernetes' pause), packed as $CRI_PAUSE_IMAGE (cri_pack_image).
cri_build_pause_image() {
    local out=${1:?usage: cri_build_pause_image OUT.tar} d
    d=$(mktemp -d "$TIF_TMP/pause-build.XXXXXX")
    mkdir -p "$d/rootfs"
    cat >"$d/pause.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { _exit(128 + sig); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
    struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &q, NULL);
    sigaction(SIGTERM, &q, NULL);
    sigaction(SIGCHLD, &r, NULL);
    for (;;) pause();
}
EOF
    gcc -static -Os -s -o "$d/rootfs/pause" "$d/pause.c" || return 1
    cri_pack_image "$out" "$CRI_PAUSE_IMAGE" "$d/rootfs" /pause
    rm -rf "$d"
}

# cri_pack_image OUT.tar NAME ROOTFS ENTRYPOINT: ROOTFS's files as one layer of an OCI image
# archive (oci-layout, index.json naming it NAME) that `ctr images import` takes; no registry
# needed. For static binaries: nothing else (no libc) is in the image.
cri_pack_image() {
    local out=${1:?usage: cri_pack_image OUT.tar NAME ROOTFS ENTRYPOINT} name=${2:?} \
        rootfs=${3:?} entry=${4:?} d
    d=$(mktemp -d "$TIF_TMP/image-pack.XXXXXX")
    mkdir -p "$d/oci/blobs/sha256"
    # Reproducible layer: fixed owner and mtime, sorted names.
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" \
        -cf "$d/layer.tar" . || return 1
    local diff_id layer_gz layer_sz cfg cfg_sha cfg_sz man man_sha man_sz
    diff_id=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    gzip -n -9 "$d/layer.tar"
    layer_gz=$(sha256sum "$d/layer.tar.gz" | cut -d' ' -f1)
    layer_sz=$(stat -c %s "$d/layer.tar.gz")
    mv "$d/layer.tar.gz" "$d/oci/blobs/sha256/$layer_gz"
    cfg=$(jq -cn --arg diff "sha256:$diff_id" --arg e "$entry" '{architecture: "amd64",
        os: "linux", config: {Entrypoint: [$e], WorkingDir: "/"},
        rootfs: {type: "layers", diff_ids: [$diff]}}')
    cfg_sha=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
    cfg_sz=$(printf '%s' "$cfg" | wc -c)
    printf '%s' "$cfg" >"$d/oci/blobs/sha256/$cfg_sha"
    man=$(jq -cn --arg cd "sha256:$cfg_sha" --argjson cs "$cfg_sz" \
        --arg ld "sha256:$layer_gz" --argjson ls "$layer_sz" '{schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
        layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
                  size: $ls}]}')
    man_sha=$(printf '%s' "$man" | sha256sum | cut -d' ' -f1)
    man_sz=$(printf '%s' "$man" | wc -c)
    printf '%s' "$man" >"$d/oci/blobs/sha256/$man_sha"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
    jq -cn --arg md "sha256:$man_sha" --argjson ms "$man_sz" --arg name "$name" \
        '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: $md, size: $ms, platform: {architecture: "amd64", os: "linux"},
          annotations: {"io.containerd.image.name": $name,
                        "org.opencontainers.image.ref.name": ($name | sub(".*:"; ""))}}]}' \
        >"$d/oci/index.json"
    # Renamed into place: parallel tests may build the same cached archive.
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$d/oci" \
        -cf "$out.$$.tmp" . && mv "$out.$$.tmp" "$out"
    rm -rf "$d"
}

# cri_wait_exited ID SECS: polls container ID every 0.1 s until it has exited, SECS at most;
# prints its last status (container-status JSON) either way.
cri_wait_exited() {
    local id=${1:?usage: cri_wait_exited ID SECS} n=$((${2:?} * 10)) st i
    for ((i = 0; i < n; i++)); do
        st=$(cri_tool container-status "$id")
        [[ $(jq -r .state <<<"$st") == exited ]] && break
        sleep 0.1
    done
    printf '%s\n' "$st"
}

# cri_import_image ARCHIVE: import an OCI (or docker-save) image archive into the runtime's
# k8s.io namespace, where CRI sees it; unpacked for the CRI snapshotter. The archive's index
# must name the image (annotation io.containerd.image.name).
cri_import_image() {
    local archive=${1:?usage: cri_import_image ARCHIVE}
    ctr --address "$CRI_SOCK" -n k8s.io images import --snapshotter overlayfs "$archive" \
        >>"$CRI_DIR/ctr.log" 2>&1 ||
        tif_fail "ctr images import $archive failed: $(tail -3 "$CRI_DIR/ctr.log")"
}

# Processes whose command line names this runtime's directory (containerd, its shims), by pid.
# The pattern is read from a file so that grep's own command line does not match it.
cri__own_pids() {
    [[ -n $CRI_DIR ]] || return 0
    printf '%s/\n' "$CRI_DIR" >"$TIF_TMP/cri-pids.pattern"
    grep -lsaF -f "$TIF_TMP/cri-pids.pattern" /proc/[0-9]*/cmdline | cut -d/ -f3 | sort -n
}

# Mount points at or below this runtime's directory, deepest first.
cri__own_mounts() {
    [[ -n $CRI_DIR ]] || return 0
    awk -v d="$CRI_DIR" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r
}

# cri_stop_runtime: stop and remove every container and pod, stop containerd, kill any shim
# left, unmount what is left under $CRI_DIR, delete the bridge, the netns and the pod cgroups.
# cri_start_runtime registers it as cleanup (it runs at exit, failed test or not); a test may
# call it earlier to check that nothing is left. Calling it twice is harmless.
cri_stop_runtime() {
    # Best effort throughout, also when called from a `set -e` test (options restored on return).
    local - id pid m i c
    set +e
    if [[ -S $CRI_SOCK ]]; then
        for id in $(cri_tool --timeout 10 list-containers 2>/dev/null | jq -r '.[].id'); do
            cri_tool --timeout 20 stop-container --grace 2 "$id"
            cri_tool --timeout 20 remove-container "$id"
        done
        for id in $(cri_tool --timeout 10 list-pods 2>/dev/null | jq -r '.[].id'); do
            cri_tool --timeout 20 stop-pod "$id"
            cri_tool --timeout 20 remove-pod "$id"
        done
    fi
    [[ -n $CRI_CONTAINERD_PID ]] && tif_kill_wait "$CRI_CONTAINERD_PID" 10
    CRI_CONTAINERD_PID=
    # Shims (and their containers) left by a pod that would not go: kill them by pid.
    for i in 1 2 3; do
        pid=$(cri__own_pids)
        [[ -z $pid ]] && break
        # shellcheck disable=SC2086
        kill -KILL $pid 2>/dev/null
        sleep 0.3
    done
    for m in $(cri__own_mounts); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    if [[ -n $CRI_NETNS && -e /run/netns/$CRI_NETNS ]]; then
        ip -n "$CRI_NETNS" link del "$CRI_BRIDGE" 2>/dev/null
        ip netns del "$CRI_NETNS" 2>/dev/null
    fi
    # The pod cgroups runc made under the kubepods parents (runc removes only the leaves).
    for ((i = ${#CRI_CGROUP_DIRS[@]} - 1; i >= 0; i--)); do
        for c in /sys/fs/cgroup/*/"${CRI_CGROUP_DIRS[i]}" /sys/fs/cgroup/"${CRI_CGROUP_DIRS[i]}"; do
            [[ -d $c ]] && rmdir "$c" 2>/dev/null
        done
    done
    # runc makes the same paths in the cgroup v2 hierarchy too, which this cgroup v1 node does
    # not mount, and leaves them (leaves included): mounted here for a moment to remove them.
    local v2
    if v2=$(mktemp -d "${TMPDIR:-/tmp}/tif-cgroup2.XXXXXX") && mount -t cgroup2 none "$v2" 2>/dev/null; then
        for ((i = ${#CRI_CGROUP_DIRS[@]} - 1; i >= 0; i--)); do
            c=$v2/${CRI_CGROUP_DIRS[i]}
            [[ -d $c ]] || continue
            # A pod's own directory with what runc left in it; the shared parents only if empty.
            if [[ ${c##*/} == pod* ]]; then
                find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
            else
                rmdir "$c" 2>/dev/null
            fi
        done
        umount "$v2"
    fi
    [[ -n $v2 ]] && rmdir "$v2" 2>/dev/null
    return 0
}

# Which of /kubepods, /kubepods/besteffort exist before the runtime makes them (left alone).
cri__note_cgroup_dirs() {
    local rel
    for rel in kubepods kubepods/besteffort; do
        compgen -G "/sys/fs/cgroup/*/$rel" >/dev/null || [[ -d /sys/fs/cgroup/$rel ]] ||
            CRI_CGROUP_DIRS+=("$rel")
    done
}

# cri_start_runtime: start containerd + CRI in a private netns and import the pause image.
# Sets CRI_DIR CRI_NETNS CRI_BRIDGE CRI_SUBNET CRI_GATEWAY CRI_SOCK CRI_ENDPOINT
# CRI_CONTAINERD_PID; exports CRI_ENDPOINT (cri_tool's default). Skips, or fails with CI=true,
# when a tool is missing or the runtime does not come up.
cri_start_runtime() {
    [[ $EUID -eq 0 ]] || tif_skip_or_fail "the CRI harness needs root (euid $EUID)"
    tif_require_cmd containerd containerd-shim-runc-v2 runc ctr ip jq gcc nsenter
    [[ -x $CRI_TOOL ]] || tif_skip_or_fail "cri_tool not built: $CRI_TOOL"
    local p
    for p in bridge host-local loopback; do
        [[ -x $CRI_CNI_BIN_DIR/$p ]] || tif_skip_or_fail "CNI plugin $p missing in $CRI_CNI_BIN_DIR"
    done

    CRI_DIR=$TIF_TMP/cri
    CRI_NETNS=tifcri$$
    CRI_BRIDGE=tifcri$$
    CRI_SOCK=$CRI_DIR/containerd.sock
    CRI_ENDPOINT=unix://$CRI_SOCK
    export CRI_ENDPOINT
    mkdir -p "$CRI_DIR"/{root,state,cni-conf,cni-ipam,opt}
    # A /24 in 10.214.0.0/16 from the PID, skipping one in use anywhere on the host (the pods'
    # addresses live only in the private netns, but a clash would confuse a reader).
    local i n
    for ((i = 0; i < 256; i++)); do
        n=$((($$ + i) % 256))
        [[ -z $(ip -4 -o addr show to "10.214.$n.0/24") ]] && break
    done
    CRI_SUBNET=10.214.$n.0/24 CRI_GATEWAY=10.214.$n.1

    # Cleanup first, so a failure anywhere below still removes what was made.
    cri__note_cgroup_dirs
    tif_cleanup_push cri_stop_runtime

    ip netns add "$CRI_NETNS" || tif_skip_or_fail "ip netns add $CRI_NETNS failed"
    ip -n "$CRI_NETNS" link set lo up

    jq -n --arg br "$CRI_BRIDGE" --arg subnet "$CRI_SUBNET" --arg gw "$CRI_GATEWAY" \
        --arg ipam "$CRI_DIR/cni-ipam" '{cniVersion: "1.0.0", name: "tif-cri",
        plugins: [{type: "bridge", bridge: $br, isGateway: true, ipMasq: false,
                   hairpinMode: true,
                   ipam: {type: "host-local", dataDir: $ipam,
                          ranges: [[{subnet: $subnet, gateway: $gw}]],
                          routes: [{dst: "0.0.0.0/0"}]}}]}' >"$CRI_DIR/cni-conf/10-tif-cri.conflist"

    cat >"$CRI_DIR/config.toml" <<EOF
version = 2
root = "$CRI_DIR/root"
state = "$CRI_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CRI_SOCK"

[ttrpc]
  address = "$CRI_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CRI_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CRI_CNI_BIN_DIR"
    conf_dir = "$CRI_DIR/cni-conf"
    max_conf_num = 1
EOF

    # nsenter --net (not `ip netns exec`, which would also give containerd a mount namespace
    # of its own): the pods' netns bind mounts and rootfs mounts stay visible to the test.
    nsenter --net="/run/netns/$CRI_NETNS" containerd --config "$CRI_DIR/config.toml" \
        >"$CRI_DIR/containerd.log" 2>&1 &
    CRI_CONTAINERD_PID=$!
    for ((i = 0; i < 100; i++)); do
        [[ -S $CRI_SOCK ]] && cri_tool --timeout 2 version >/dev/null 2>&1 && break
        tif_alive "$CRI_CONTAINERD_PID" || break
        sleep 0.1
    done
    if ! cri_tool --timeout 5 version >/dev/null 2>&1; then
        echo "--- containerd.log (last 30) ---" >&2
        tail -n 30 "$CRI_DIR/containerd.log" >&2
        tif_skip_or_fail "containerd did not come up on $CRI_SOCK"
    fi

    # The pause image archive is cached in the build dir, rebuilt when this file changes.
    local archive=${TIF_BUILD_DIR:+$TIF_BUILD_DIR/tests/cri/pause-image.tar}
    if [[ -z $archive || ! -d ${archive%/*} ]]; then archive=$CRI_DIR/pause-image.tar; fi
    if [[ ! -s $archive || ${BASH_SOURCE[0]} -nt $archive ]]; then
        cri_build_pause_image "$archive" || tif_skip_or_fail "building the pause image failed"
    fi
    cri_import_image "$archive"
    # CRI reports NetworkReady once it has loaded the CNI config.
    for ((i = 0; i < 50; i++)); do
        [[ $(cri_tool status | jq -r '.conditions.NetworkReady.status') == true ]] && return 0
        sleep 0.1
    done
    tif_fail "CRI network not ready: $(cri_tool status | jq -c .conditions)"
}

# cri_pod_netns ID / cri_pod_pid ID / cri_pod_ip ID: print one field of the pod's status.
cri_pod_netns() { cri_tool pod-status "$1" | jq -r '.netns // empty'; }
cri_pod_pid() { cri_tool pod-status "$1" | jq -r '.pid // empty'; }
cri_pod_ip() { cri_tool pod-status "$1" | jq -r '.ip // empty'; }

# cri_pod_exec ID CMD...: run a host command in the pod's network namespace.
cri_pod_exec() {
    local id=${1:?usage: cri_pod_exec POD_ID CMD...} ns
    shift
    ns=$(cri_pod_netns "$id")
    [[ -n $ns ]] || tif_fail "pod $id has no netns path"
    nsenter --net="$ns" "$@"
}

# cri_pod_veth ID: the host-side (runtime netns) veth of the pod: the interface in
# $CRI_NETNS whose ifindex is the peer (iflink) of the pod's eth0.
cri_pod_veth() {
    local id=${1:?usage: cri_pod_veth POD_ID} peer
    # ip, not /sys/class/net: sysfs shows the netns it was mounted in, not the caller's.
    peer=$(cri_pod_exec "$id" ip -j link show eth0 | jq -r '.[0].link_index // empty')
    [[ $peer =~ ^[0-9]+$ ]] || return 1
    ip -n "$CRI_NETNS" -j link show | jq -r --argjson i "$peer" '.[] | select(.ifindex == $i) | .ifname'
}

# cri_run_pod NAME NAMESPACE [cri_tool run-pod flags...]: run a pod sandbox with a fresh UID
# and the Kubernetes cgroup parent /kubepods/besteffort/pod<UID>. Call it directly (not in
# $(...)): it sets CRI_POD_ID CRI_POD_UID CRI_POD_NETNS CRI_POD_PID CRI_POD_IP CRI_POD_VETH
# (the last three empty with --host-network).
cri_run_pod() {
    local name=${1:?usage: cri_run_pod NAME NAMESPACE [FLAGS...]} ns=${2:?namespace} st
    shift 2
    CRI_POD_UID=$(cat /proc/sys/kernel/random/uuid)
    CRI_CGROUP_DIRS+=("kubepods/besteffort/pod$CRI_POD_UID")
    CRI_POD_ID=$(cri_tool run-pod --name "$name" --namespace "$ns" --uid "$CRI_POD_UID" \
        --cgroup-parent "$(cri_cgroup_parent "$CRI_POD_UID")" "$@") ||
        tif_fail "RunPodSandbox $ns/$name failed"
    st=$(cri_tool pod-status "$CRI_POD_ID") || tif_fail "PodSandboxStatus $CRI_POD_ID failed"
    CRI_POD_NETNS=$(jq -r '.netns // empty' <<<"$st")
    CRI_POD_PID=$(jq -r '.pid // empty' <<<"$st")
    CRI_POD_IP=$(jq -r '.ip // empty' <<<"$st")
    CRI_POD_VETH=
    if [[ $(jq -r .network_mode <<<"$st") == pod ]]; then
        CRI_POD_VETH=$(cri_pod_veth "$CRI_POD_ID") || tif_fail "no host veth for pod $CRI_POD_ID"
    fi
}

# cri_remove_pod ID: stop and remove a pod sandbox (and its containers).
cri_remove_pod() {
    local id=${1:?usage: cri_remove_pod POD_ID}
    cri_tool stop-pod "$id" || return 1
    cri_tool remove-pod "$id"
}
