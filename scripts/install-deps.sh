#!/usr/bin/env bash
# Install the Debian 12 packages traceiface needs to build and test. Idempotent: when all
# are present it only prints one line; apt-get runs only when something is missing.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
    prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libboost-dev doctest-dev
    clang-format iperf3 prometheus iproute2 curl jq procps
    # libFuzzer and the sanitizer runtimes for clang (tests/fuzz); only a Recommends of clang.
    libclang-rt-dev
    # bench/overhead_bench.sh compares traceiface with an equivalent bpftrace script, and
    # profiles the hooks' share of the CPU with perf (bench/hook_profile.sh).
    bpftrace linux-perf
    # The Go span-context client (clients/go/spanctx) and its test: Go 1.19, stdlib only.
    golang-go
    # The integration harness self-test scrapes it; listed since it is only a Recommends.
    prometheus-node-exporter
    # The landing-page test renders the page in a real browser and reads the DOM back.
    chromium python3
    # --config.file: Debian's yaml-cpp, the maintained C++ YAML parser that keeps line marks
    # (every config error names file, line and key).
    libyaml-cpp-dev
    # The Helm chart test renders the chart with Go and the packaged sprig; yamllint checks it.
    golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev yamllint
    # The old-kernel test boots Debian's packaged kernels under qemu with a busybox initramfs.
    qemu-system-x86 busybox-static cpio
    # The CRI test harness (tests/cri): a real container runtime for pod sandboxes, no registry.
    containerd # the runtime with its CRI plugin (1.6), started per test in a private netns
    runc # the OCI runtime containerd's runc v2 shim runs the pods with
    containernetworking-plugins # CNI bridge, host-local and loopback for the pods' networks
    # The CRI gRPC API (proto/cri), for cri_tool and the exporter's own CRI client.
    libgrpc++-dev # gRPC C++ runtime the generated stubs link
    protobuf-compiler-grpc # grpc_cpp_plugin, generates the service stubs
    libprotobuf-dev # protobuf C++ runtime and headers for the generated messages
    protobuf-compiler # protoc
    # The container image (scripts/image.sh, tests/image): setcap/getcap for the binary's file
    # capabilities; umoci unpacks the OCI archive in the test (an independent reader of it).
    libcap2-bin umoci
    # The Go integrations (clients/go/spanctx/*, each its own module) build in GOPATH mode
    # against Debian's packaged libraries, and their tests run the real servers: grpc-go for
    # grpcserver, nats.go + nats-server for natsconn, pgx v4 / lib/pq + PostgreSQL for sqlconn.
    golang-google-grpc-dev golang-github-nats-io-go-nats-dev nats-server
    golang-github-jackc-pgx-v4-dev golang-github-lib-pq-dev postgresql
)
# Node.js is on the machine image; Debian's only where it is not.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

# npm packages of the dashboard and chart tests, pinned by tests/js/package-lock.json, into
# tests/js/node_modules; `npm ci` runs only when the lock file is newer than the install.
js_deps() {
    local d
    d=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/js" && pwd)
    [[ -f $d/node_modules/.package-lock.json &&
        ! $d/package-lock.json -nt $d/node_modules/.package-lock.json ]] && return 0
    echo "install-deps: npm ci in tests/js"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
}
DAEMONS=(/usr/bin/prometheus /usr/bin/prometheus-node-exporter)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    js_deps
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ $EUID -ne 0 ]]; then
    echo "install-deps: ERROR: must run as root to install packages (try: sudo $0)" >&2
    exit 1
fi

# PIDs of the daemons running now, so only ones the package install starts get stopped.
daemon_pids() {
    local proc exe d
    for proc in /proc/[0-9]*; do
        exe=$(readlink "$proc/exe" 2>/dev/null) || continue
        for d in "${DAEMONS[@]}"; do
            if [[ $exe == "$d" ]]; then echo "${proc#/proc/}"; fi
        done
    done
}
before=" $(daemon_pids | tr '\n' ' ') "

# Keep maintainer scripts from starting services (prometheus, node-exporter) where
# invoke-rc.d is honoured; a pre-existing policy-rc.d is left as it is.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
rc=0
# Finish any interrupted configuration first: apt won't redo a half-configured package.
dpkg --configure -a || rc=$?
apt-get update -q || rc=$?
apt-get install -y -q -o Dpkg::Use-Pty=0 "${PACKAGES[@]}" || rc=$?

# Stop whatever the install started anyway (systemd units, init scripts).
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl stop prometheus.service prometheus-node-exporter.service 2>/dev/null || true
fi
for pid in $(daemon_pids); do
    [[ $before == *" $pid "* ]] && continue
    echo "install-deps: stopping $(readlink "/proc/$pid/exe" 2>/dev/null) (pid $pid) started by the install"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
done
if ss -Hltn '( sport = :9090 or sport = :9100 )' | grep -q .; then
    echo "install-deps: WARNING: something still listens on 9090/9100:" >&2
    ss -ltnp '( sport = :9090 or sport = :9100 )' >&2 || true
fi
if ((rc != 0)); then
    echo "install-deps: ERROR: apt/dpkg failed (exit $rc)" >&2
    exit "$rc"
fi
echo "install-deps: installed ${missing[*]}"
js_deps
