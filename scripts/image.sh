#!/usr/bin/env bash
# Builds the container image traceiface/traceiface:<version> as an OCI archive, here, without a
# container engine:
#   scripts/image.sh            builds build/traceiface (Release unless the build dir is
#                               already configured), writes build/traceiface-image.oci.tar
#   scripts/image.sh --rootfs DIR   only assembles the image's root filesystem into DIR from an
#                               already built binary (the Containerfile's build stage uses it)
# $TIF_BUILD_DIR overrides build/; $TIF_IMAGE_MAX_GZ_MIB / $TIF_IMAGE_MAX_MIB the size budget;
# TIF_IMAGE_SKIP_BUILD=1 packs the binary already in the build dir as it is.
#
# Why no buildah/umoci/docker: the image is one layer of files we pick ourselves, so the layer is
# written with GNU tar and the OCI layout (config, manifest, index) with jq. That needs no
# container runtime, storage driver or daemon (buildah wants a runtime for anything but COPY and
# user-namespace/storage setup; umoci's repack stamps the current time into history), keeps the
# security.capability xattr under our control (tar --xattrs, PAX SCHILY.xattr records, which
# containerd, podman and umoci apply on unpack), and is reproducible byte for byte: sorted
# entries, mtimes and the config's dates at SOURCE_DATE_EPOCH (the last commit), uid/gid 0,
# gzip -n. tests/image/image_test.sh unpacks the archive with umoci (an independent reader) and
# runs the result.
#
# Contents and why: the dynamically linked binary, exactly the shared libraries ldd lists and
# the ELF interpreter, a two-line /etc/passwd and /etc/group (root, nobody), nothing else: no
# shell, no package manager. Not static: Debian's cpp-httplib is a shared library only (it pulls
# libssl/libcrypto/brotli), and a static glibc would lose getaddrinfo for --loki.url hosts.
# The binary carries file capabilities (CAPS below): Kubernetes and containerd give a non-root
# process no ambient capabilities, so without them uid 65534 would start with none after
# execve (the probes fail with EPERM). Permitted only ("+p", no effective bit): the kernel then
# grants what the bounding set (the chart's capabilities) allows and execve never fails for the
# rest, where "+ep" fails with EPERM unless the bounding set holds every one; the daemon raises
# them itself (core/capabilities.h). BPF, PERFMON, NET_ADMIN: the probes. SYS_PTRACE and
# DAC_OVERRIDE: pod identity only (the chart adds them with k8s.enabled), kept by the resolver
# thread alone. The daemon drops to CAP_NET_ADMIN once its probes are loaded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TIF_BUILD_DIR:-$root/build}
# Size budget. Measured: 5.6 MiB gzipped, 14 MiB unpacked before pod identity; 10.8 / 27.9
# with it (gRPC, protobuf and abseil for the CRI client are most of the growth).
max_gz_mib=${TIF_IMAGE_MAX_GZ_MIB:-13}
max_mib=${TIF_IMAGE_MAX_MIB:-34}
CAPS=cap_dac_override,cap_sys_ptrace,cap_net_admin,cap_perfmon,cap_bpf+p
UID_GID=65534

die() {
    echo "image: ERROR: $*" >&2
    exit 1
}
need() {
    local c
    for c in "$@"; do command -v "$c" >/dev/null || die "$c not found (scripts/install-deps.sh)"; done
}

# The root filesystem of the image, from the binary $1, into the empty or new directory $2.
assemble_rootfs() {
    local bin=$1 out=$2 interp lib dest
    need ldd readelf strip setcap getcap
    mkdir -p "$out"
    [[ -z $(ls -A "$out") ]] || die "$out is not empty"
    install -d -m 0755 "$out/usr/bin" "$out/etc"
    strip --strip-unneeded -o "$out/usr/bin/traceiface" "$bin"
    chmod 0755 "$out/usr/bin/traceiface"
    interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
    [[ -n $interp ]] || die "$bin has no ELF interpreter (static?)"
    # Every library the loader resolves, at the path it resolved it to, and the interpreter at
    # its PT_INTERP path; real files (symlinks followed). The default search path of ld.so
    # finds them without /etc/ld.so.cache.
    for lib in "$interp" $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
        dest=$out$lib
        install -d -m 0755 "$(dirname "$dest")"
        install -m 0755 "$(readlink -f "$lib")" "$dest"
    done
    ldd "$bin" | grep -q 'not found' && die "ldd: a library of $bin is missing"
    printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' \
        >"$out/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$out/etc/group"
    chmod 0644 "$out/etc/passwd" "$out/etc/group"
    # Last: chown (by install or tar) clears security.capability.
    setcap "$CAPS" "$out/usr/bin/traceiface"
    getcap "$out/usr/bin/traceiface" | grep -q cap_bpf || die "setcap did not stick"
}

if [[ ${1:-} == --rootfs ]]; then
    [[ -n ${2:-} ]] || die "usage: $0 --rootfs DIR"
    assemble_rootfs "$build/traceiface" "$2"
    exit 0
fi
[[ $# -eq 0 ]] || die "usage: $0 [--rootfs DIR]"
[[ $EUID -eq 0 ]] || die "must run as root (setcap, and the capability xattr in the layer)"
need cmake git jq tar gzip sha256sum
started=$(date +%s.%N)

# Version: CMake's project(), which the chart's appVersion (the default image tag) must match.
version=$(sed -n 's/^project(traceiface VERSION \([0-9.]*\) .*/\1/p' "$root/CMakeLists.txt")
[[ -n $version ]] || die "no project(traceiface VERSION ...) in CMakeLists.txt"
app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/helm/traceiface/Chart.yaml")
[[ $app == "$version" ]] ||
    die "helm/traceiface/Chart.yaml appVersion \"$app\" != CMake project VERSION $version"
repo=traceiface/traceiface
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
source_url=${TIF_IMAGE_SOURCE:-$(git -C "$root" remote get-url origin 2>/dev/null || true)}
source_url=${source_url:-https://github.com/traceiface/traceiface}
if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    echo "image: note: the work tree has uncommitted changes; revision $revision is approximate"
fi

# The repository's normal build; a fresh build dir is configured Release.
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
grep -qE '^TRACEIFACE_SANITIZE:BOOL=(ON|1|TRUE|YES)$' "$build/CMakeCache.txt" &&
    die "$build is a sanitizer build; use another TIF_BUILD_DIR"
case $btype in
Release | RelWithDebInfo | MinSizeRel) ;;
*) echo "image: note: $build is CMAKE_BUILD_TYPE=\"$btype\", not an optimised build" ;;
esac
[[ ${TIF_IMAGE_SKIP_BUILD:-} == 1 ]] || cmake --build "$build" -j"$(nproc)" --target traceiface

work=$(mktemp -d "${TMPDIR:-/tmp}/traceiface-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
assemble_rootfs "$build/traceiface" "$work/rootfs"
"$work/rootfs/usr/bin/traceiface" --version >/dev/null || die "the image's binary does not run"

# --- the layer: GNU tar, reproducible, xattrs kept (only security.capability) ---
oci=$work/oci
mkdir -p "$oci/blobs/sha256"
find "$work/rootfs" -depth -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# Entries without "./", sorted; PAX headers named without the pid; no atime/ctime.
(cd "$work/rootfs" && LC_ALL=C tar --create --format=posix --sort=name --numeric-owner \
    --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" --xattrs \
    --xattrs-include=security.capability --no-acls --no-selinux \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --file="$work/layer.tar" -- *)
# (GNU tar lists no xattrs; the PAX record is there or not.)
[[ $(grep -a -c 'SCHILY.xattr.security.capability=' "$work/layer.tar") == 1 ]] ||
    die "the layer tar lost security.capability"
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
mv "$work/layer.tar.gz" "$oci/blobs/sha256/$layer"
layer_size=$(stat -c %s "$oci/blobs/sha256/$layer")
raw_size=$(du -sb "$work/rootfs" | cut -f1)

# blob FILE: moves FILE into the layout under its digest, prints "digest size".
blob() {
    local d
    d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$oci/blobs/sha256/$d"
    echo "$d $(stat -c %s "$oci/blobs/sha256/$d")"
}
labels=$(jq -n -c --arg v "$version" --arg r "$revision" --arg s "$source_url" --arg c "$created" '{
    "org.opencontainers.image.title": "traceiface",
    "org.opencontainers.image.description": "eBPF Prometheus exporter of per-network-interface TCP health (retransmits, RTT, connect latency, packet sizes, oversize frames)",
    "org.opencontainers.image.version": $v,
    "org.opencontainers.image.revision": $r,
    "org.opencontainers.image.source": $s,
    "org.opencontainers.image.created": $c}')
jq -n -c -S --arg c "$created" --arg d "sha256:$diff_id" --argjson l "$labels" \
    --arg u "$UID_GID:$UID_GID" '{
    created: $c, architecture: "amd64", os: "linux",
    config: {User: $u, Entrypoint: ["/usr/bin/traceiface"], WorkingDir: "/",
        Env: ["PATH=/usr/bin"], ExposedPorts: {"9742/tcp": {}}, Labels: $l},
    rootfs: {type: "layers", diff_ids: [$d]},
    history: [{created: $c, created_by: "scripts/image.sh"}]}' >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")
jq -n -c -S --arg cd "sha256:$config" --argjson cs "$config_size" --arg ld "sha256:$layer" \
    --argjson ls "$layer_size" --argjson l "$labels" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
        size: $ls}],
    annotations: $l}' >"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")
# ref.name for skopeo/podman (oci-archive:FILE:NAME), io.containerd.image.name for
# `ctr images import`, normalised as the kubelet asks for it.
jq -n -c -S --arg md "sha256:$manifest" --argjson ms "$manifest_size" \
    --arg ref "$repo:$version" --arg full "docker.io/$repo:$version" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md,
        size: $ms, platform: {architecture: "amd64", os: "linux"},
        annotations: {"org.opencontainers.image.ref.name": $ref,
            "io.containerd.image.name": $full}}]}' >"$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"

mkdir -p "$build"
out=$build/traceiface-image.oci.tar
find "$oci" -depth -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$oci" && LC_ALL=C tar --create --format=posix --sort=name --numeric-owner --owner=0 \
    --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --file="$out.tmp" oci-layout index.json blobs)
mv "$out.tmp" "$out"

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
elapsed=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "image: $repo:$version -> $out"
echo "image: manifest sha256:$manifest, layer sha256:$layer"
echo "image: size $(mib "$layer_size") MiB compressed (budget $max_gz_mib), $(mib "$raw_size") MiB" \
    "unpacked (budget $max_mib); ${elapsed}s"
((layer_size <= max_gz_mib * 1048576)) ||
    die "compressed layer $(mib "$layer_size") MiB is over the budget of $max_gz_mib MiB"
((raw_size <= max_mib * 1048576)) ||
    die "unpacked root filesystem $(mib "$raw_size") MiB is over the budget of $max_mib MiB"
