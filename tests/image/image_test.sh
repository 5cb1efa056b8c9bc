#!/usr/bin/env bash
# The container image (scripts/image.sh): builds the OCI archive into $TIF_BUILD_DIR, unpacks it
# with umoci (a reader independent of the tar that wrote it), and checks what it promises: only
# the binary, its libraries, the loader and /etc/{passwd,group}; the file capabilities on the
# binary; user 65534, the entrypoint and the OCI labels in the config; the size budget; a second
# build giving the same layer digest. Then the proof: the unpacked root filesystem's binary,
# chrooted, as uid/gid 65534 with no inheritable or ambient capabilities and a bounding set of
# BPF, PERFMON, NET_ADMIN (what containerd gives a non-root container of the chart), brings
# every probe up; with no_new_privs (allowPrivilegeEscalation: false) the file capabilities are
# not granted and the probes fail; as root with no_new_privs (the chart's runAsRoot) they come up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export TIF_BUILD_DIR=${TIF_BUILD_DIR:-$root/build}

skip_or_fail() {
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: $* (CI=true: not skipping)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[[ $EUID -eq 0 ]] || skip_or_fail "needs root (setcap, chroot, BPF)"
for c in umoci jq curl setpriv chroot unshare getcap setcap tar gzip python3; do
    command -v "$c" >/dev/null || skip_or_fail "$c not installed (scripts/install-deps.sh)"
done
[[ -r /sys/kernel/btf/vmlinux ]] || skip_or_fail "no /sys/kernel/btf/vmlinux"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/traceiface-image-test.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    # The mounts live in the runs' private mount namespaces: nothing to unmount here.
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- build, twice: the second time from the same binary, for the reproducibility check ---
archive=$TIF_BUILD_DIR/traceiface-image.oci.tar
bash "$root/scripts/image.sh" >"$tmp/image1.log" 2>&1 ||
    fail "scripts/image.sh: $(tail -5 "$tmp/image1.log")"
grep '^image:' "$tmp/image1.log"
cp "$archive" "$tmp/first.oci.tar"
TIF_IMAGE_SKIP_BUILD=1 bash "$root/scripts/image.sh" >"$tmp/image2.log" 2>&1 ||
    fail "scripts/image.sh (second): $(tail -5 "$tmp/image2.log")"

version=$(sed -n 's/^project(traceiface VERSION \([0-9.]*\) .*/\1/p' "$root/CMakeLists.txt")
ref=traceiface/traceiface:$version
mkdir "$tmp/oci" "$tmp/oci2"
tar -xf "$archive" -C "$tmp/oci"
tar -xf "$tmp/first.oci.tar" -C "$tmp/oci2"
idx=$tmp/oci/index.json
[[ $(jq -r '.manifests | length' "$idx") == 1 ]] || fail "index.json: not one manifest"
[[ $(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$idx") == "$ref" ]] ||
    fail "index.json: ref.name is not $ref"
[[ $(jq -r '.manifests[0].annotations["io.containerd.image.name"]' "$idx") == "docker.io/$ref" ]] ||
    fail "index.json: io.containerd.image.name is not docker.io/$ref"
blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
manifest=$(blob "$tmp/oci" "$(jq -r '.manifests[0].digest' "$idx")")
config=$(blob "$tmp/oci" "$(jq -r '.config.digest' "$manifest")")
# Every blob is what its digest says.
for f in "$tmp"/oci/blobs/sha256/*; do
    [[ $(sha256sum "$f" | cut -d' ' -f1) == "${f##*/}" ]] || fail "blob ${f##*/}: digest mismatch"
done
layer=$(jq -r '.layers[0].digest' "$manifest")
layer2=$(jq -r '.layers[0].digest' "$(blob "$tmp/oci2" "$(jq -r '.manifests[0].digest' \
    "$tmp/oci2/index.json")")")
[[ $layer == "$layer2" ]] || fail "two builds of one binary: layer $layer != $layer2"
if cmp -s "$archive" "$tmp/first.oci.tar"; then
    echo "reproducible: the two archives are identical (layer $layer)"
else
    echo "reproducible: same layer $layer (the configs differ: HEAD moved between the builds)"
fi

# --- config: user, entrypoint, labels ---
[[ $(jq -r '.config.User' "$config") == 65534:65534 ]] || fail "config: User is not 65534:65534"
[[ $(jq -c '.config.Entrypoint' "$config") == '["/usr/bin/traceiface"]' ]] ||
    fail "config: Entrypoint is not the binary"
for l in source version revision title description created; do
    v=$(jq -r --arg k "org.opencontainers.image.$l" '.config.Labels[$k] // empty' "$config")
    [[ -n $v ]] || fail "config: no label org.opencontainers.image.$l"
done
[[ $(jq -r '.config.Labels["org.opencontainers.image.version"]' "$config") == "$version" ]] ||
    fail "config: version label is not $version"
[[ $(jq -r '.config.Labels["org.opencontainers.image.revision"]' "$config") =~ ^[0-9a-f]{40}$ ]] ||
    fail "config: revision label is not a git commit"

# --- size budget (scripts/image.sh's defaults) ---
max_gz=$(sed -n 's/^max_gz_mib=\${TIF_IMAGE_MAX_GZ_MIB:-\([0-9]*\)}$/\1/p' "$root/scripts/image.sh")
size=$(jq -r '.layers[0].size' "$manifest")
[[ -n $max_gz ]] && ((size <= max_gz * 1048576)) || fail "layer $size bytes over $max_gz MiB"

# --- the root filesystem: umoci unpack, nothing but what is listed ---
timeout 120 umoci unpack --image "$tmp/oci:$ref" "$tmp/bundle" >/dev/null ||
    fail "umoci unpack refused the image"
rootfs=$tmp/bundle/rootfs
bin=$rootfs/usr/bin/traceiface
[[ -x $bin ]] || fail "no /usr/bin/traceiface in the image"
# Permitted only (=p): execve must not fail when the bounding set withholds some (run 1 below
# has no SYS_PTRACE or DAC_OVERRIDE in it); the binary raises them itself.
want_caps=cap_dac_override,cap_net_admin,cap_sys_ptrace,cap_perfmon,cap_bpf=p
[[ $(getcap "$bin" | awk '{ print $2 }') == "$want_caps" ]] ||
    fail "file capabilities: '$(getcap "$bin")', want $want_caps"
# Reproducible across checkouts: nothing in the binary names where it was built (the probes'
# BTF line info is relative: cmake/bpf.cmake).
for p in "$root" "$(cd "$TIF_BUILD_DIR" && pwd -P)"; do
    ! grep -a -q -F "$p/" "$bin" || fail "the binary holds the build machine's path $p: $(
        strings "$bin" | grep -F "$p/" | sed -n 1,3p | paste -sd' ')"
done
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
want=$(
    printf '%s\n' /etc/passwd /etc/group /usr/bin/traceiface "$interp"
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
)
have=$(cd "$rootfs" && find . ! -type d | sed 's/^\.//')
extra=$(comm -13 <(sort -u <<<"$want") <(sort -u <<<"$have"))
missing=$(comm -23 <(sort -u <<<"$want") <(sort -u <<<"$have"))
[[ -z $extra ]] || fail "files in the image that are not needed: $extra"
[[ -z $missing ]] || fail "files missing from the image: $missing"
[[ -z $(cd "$rootfs" && find . -perm /6000) ]] || fail "set-id files in the image"
grep -q '^nobody:x:65534:65534:' "$rootfs/etc/passwd" || fail "/etc/passwd: no nobody 65534"
chroot "$rootfs" /usr/bin/traceiface --version >"$tmp/version.out" 2>&1 ||
    fail "--version in the image: $(cat "$tmp/version.out")"
grep -q "$version" "$tmp/version.out" || fail "--version does not say $version"
echo "rootfs: $(wc -l <<<"$have") files; $(head -1 "$tmp/version.out")"

# --- run it: chroot into the image, the kernel's interfaces bind-mounted as a runtime would ---
mkdir -p "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/run"
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# run NAME SETPRIV-ARGS... : starts the image's binary; sets $port, $pid, $out.
run() {
    local name=$1
    shift
    port=$(free_port)
    out=$tmp/$name.out
    # A private mount namespace: its mounts go away with the process.
    unshare --mount --propagation private -- bash -c '
        r=$1; shift
        mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev" &&
            mount -t tmpfs -o mode=0777 tmpfs "$r/run" || exit 99
        exec "$@"' bash "$rootfs" setpriv "$@" \
        /usr/bin/traceiface --web.listen-address="127.0.0.1:$port" --span.socket=/run/span.sock \
        --bpf.pin-path= --iface.include='^$' >"$out" 2>&1 &
    pid=$!
    pids+=("$pid")
}
# ready [PATH]: waits up to 20 s for PATH (/-/ready) to answer 200 (0) or the process to end (1).
ready() {
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -sf -o /dev/null "http://127.0.0.1:$port${1:-/-/ready}" && return 0
        sleep 0.1
    done
    return 1
}
probes_up() {
    local m
    m=$(curl -sf "http://127.0.0.1:$port/metrics") || return 1
    m=$(grep '^traceiface_probe_up{' <<<"$m")
    echo "$m" | sed 's/^/  /'
    [[ $(wc -l <<<"$m") -ge 4 ]] && ! grep -qv ' 1$' <<<"$m"
}
stop() {
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
chroot_as() { echo chroot --userspec="$1" --groups="${1#*:}" "$rootfs"; }
# The bounding set a container of the chart has (BPF, PERFMON, NET_ADMIN), plus what chroot
# itself needs before it switches to the user; nothing inheritable or ambient.
bset=-all,+bpf,+perfmon,+net_admin,+sys_chroot,+setuid,+setgid

# 1. uid 65534 with the file capabilities: every probe up, then only CAP_NET_ADMIN. The
# bounding set lacks the file's SYS_PTRACE and DAC_OVERRIDE (the chart without k8s.enabled).
# shellcheck disable=SC2046
run nonroot --inh-caps=-all --ambient-caps=-all --bounding-set="$bset" $(chroot_as 65534:65534)
ready || fail "uid 65534: not ready: $(grep -v '"libbpf"' "$out" | grep -m3 '"error"\|warn')"
echo "uid 65534, file capabilities, bounding BPF PERFMON NET_ADMIN:"
probes_up || fail "uid 65534: a probe is down"
[[ $(awk '/^Uid:/ { print $2 }' "/proc/$pid/status") == 65534 ]] || fail "not uid 65534"
[[ $(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status") == 0000000000001000 ]] ||
    fail "uid 65534: effective capabilities are not CAP_NET_ADMIN alone"
stop

# 2. The same with no_new_privs (allowPrivilegeEscalation: false): no capability at all.
# shellcheck disable=SC2046
run nnp --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="$bset" \
    $(chroot_as 65534:65534)
if ready /-/healthy && probes_up >/dev/null; then
    fail "uid 65534 with no_new_privs: probes came up (file capabilities were expected to be ignored)"
fi
grep -q 'Operation not permitted' "$out" || fail "no_new_privs: no EPERM in the log: $(tail -3 "$out")"
echo "uid 65534 with no_new_privs: file capabilities ignored, probes fail with EPERM (expected)"
stop

# 3. root with no_new_privs and the same bounding set (the chart's securityContext.runAsRoot).
# shellcheck disable=SC2046
run root --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="$bset" \
    $(chroot_as 0:0)
ready || fail "root: not ready: $(grep -v '"libbpf"' "$out" | grep -m3 '"error"\|warn')"
echo "root, no_new_privs, bounding BPF PERFMON NET_ADMIN:"
probes_up || fail "root: a probe is down"
stop
echo "PASS: image $ref: $(numfmt --to=iec-i --suffix=B "$size") compressed, runs as uid 65534 on its file capabilities"
