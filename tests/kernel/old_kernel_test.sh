#!/usr/bin/env bash
# The probes on the oldest kernels we claim to support: boots Debian's packaged kernels under
# qemu (Debian 11's 5.10 and Debian 12's 6.1 by default) with an initramfs holding the real
# build/traceiface, and asserts on each that every probe loaded and attached
# (traceiface_probe_up == 1) and actually ran (tc packets on lo, connect latency and RTT
# samples of the guest's own TCP traffic). The verifier's refusals, if any, are printed from
# the guest's JSON log.
#
# Needs network once per kernel (cached under $TIF_BUILD_DIR/old-kernels), qemu-system-x86,
# busybox-static and cpio; the guest runs curl (with its libraries) for HTTP. TIF_OLD_KERNELS="bullseye bookworm" picks the Debian suites.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/kernel_lib.sh"

tif_require_cmd qemu-system-x86_64 cpio gzip dpkg-deb apt-get ldd strip curl
[[ -x /bin/busybox ]] || tif_skip_or_fail "busybox-static not installed (/bin/busybox)"
ldd /bin/busybox >/dev/null 2>&1 && tif_skip_or_fail "/bin/busybox is dynamic: install busybox-static"
[[ -x $TIF_BUILD_DIR/traceiface ]] || tif_fail "no exporter at $TIF_BUILD_DIR/traceiface"
[[ $(uname -m) == x86_64 ]] || tif_skip_or_fail "the packaged kernels are amd64 (this is $(uname -m))"

SUITES=(${TIF_OLD_KERNELS:-bullseye bookworm})
TIMEOUT_S=90 # per boot with KVM: boot ~2 s, exporter start, 3 s of traffic
[[ -r /dev/kvm && -w /dev/kvm && ${TIF_QEMU_ACCEL:-} != tcg ]] || TIMEOUT_S=400

start=$SECONDS
base="$TIF_TMP/base.cpio.gz"
tif_build_base_initramfs "$TIF_BUILD_DIR/traceiface" "$base"
echo "initramfs: $(du -h "$base" | cut -f1) (exporter, curl, their libraries, busybox)"

# check_console SUITE LOG: the assertions on one guest's console output.
check_console() {
    local suite=$1 log=$2 metrics kernel
    grep -q '^TIF-DONE' "$log" || {
        tail -n 60 "$log" >&2
        tif_fail "$suite: the guest did not finish its script"
    }
    kernel=$(awk '$1 == "TIF-KERNEL" {print $2; exit}' "$log")
    echo "$suite: kernel $kernel, exporter ready: $(awk '$1 == "TIF-READY" {print $2}' "$log")"
    metrics=$(sed -n '/^TIF-METRICS-BEGIN/,/^TIF-METRICS-END/p' "$log" | tr -d '\r')
    # What the exporter chose on this kernel (the "probe attached" lines name the variants).
    sed -n '/^TIF-LOG-BEGIN/,/^TIF-LOG-END/p' "$log" |
        grep -E '"msg":"(probe attached|kernel features)"' | sed "s/^/  $suite: /" || true
    local bad
    bad=$(grep '^traceiface_probe_up' <<<"$metrics" | awk '$NF != 1' || true)
    local n
    n=$(grep -c '^traceiface_probe_up' <<<"$metrics" || true)
    if [[ -n $bad || $n -lt 4 ]]; then
        echo "--- $suite ($kernel): exporter log (warn/error lines) ---" >&2
        sed -n '/^TIF-LOG-BEGIN/,/^TIF-LOG-END/p' "$log" |
            grep -E '"level":"(warn|error)"' | cut -c1-400 | tail -n 80 >&2 || true
        echo "--- metrics ---" >&2
        echo "$metrics" >&2
        tif_fail "$suite ($kernel): probes not up: ${bad:-only $n probe_up series}"
    fi
    grep '^traceiface_probe_up' <<<"$metrics" | sed "s/^/  $suite: /"
    local pk conn rtt
    # Sum of the samples of metric $1 on lo (awk: no match is 0, not a pipefail exit).
    lo_sum() { awk -v m="$1" 'index($0, m "{") == 1 && /iface="lo"/ {s += $NF} END {print s + 0}' <<<"$metrics"; }
    pk=$(lo_sum traceiface_packets_total)
    conn=$(lo_sum traceiface_tcp_connect_latency_seconds_count)
    rtt=$(lo_sum traceiface_tcp_rtt_seconds_count)
    echo "  $suite: lo packets $pk, connect samples $conn, rtt samples $rtt"
    if [[ $pk == 0 || $conn == 0 || $rtt == 0 ]]; then
        echo "--- $suite: metrics ---" >&2
        echo "$metrics" >&2
    fi
    tif_assert_cmp "$pk" -gt 0 "$suite: the tc programs counted no packet on lo"
    # No tcx before 6.6: --bpf.tc-attach=auto must have fallen back to clsact filters.
    sed -n '/^TIF-LOG-BEGIN/,/^TIF-LOG-END/p' "$log" | grep -q '"probe":"tc_packets","attach":"clsact"' ||
        tif_fail "$suite: the tc programs were not attached through clsact"
    tif_assert_cmp "$conn" -gt 0 "$suite: no connect-latency sample of the guest's connects"
    tif_assert_cmp "$rtt" -gt 0 "$suite: no RTT sample of the guest's flows"
    local rc
    rc=$(awk '$1 == "TIF-EXIT" {print $2}' "$log" | tr -d '\r')
    [[ $rc == 0 ]] || tif_fail "$suite: the exporter exited $rc on SIGTERM"
}

for suite in "${SUITES[@]}"; do
    t0=$SECONDS
    tree=$(tif_fetch_kernel "$suite")
    echo "$suite: $(cat "$tree/version") (fetch/cache $((SECONDS - t0)) s)"
    tif_build_modules_initramfs "$tree" "$TIF_TMP/modules-$suite.cpio.gz"
    cat "$base" "$TIF_TMP/modules-$suite.cpio.gz" >"$TIF_TMP/initrd-$suite"
    log="$TIF_TMP/console-$suite.log"
    t0=$SECONDS
    tif_boot "$tree/vmlinuz" "$TIF_TMP/initrd-$suite" "$log" "$TIMEOUT_S"
    echo "$suite: guest ran $((SECONDS - t0)) s"
    # Kept next to the cache for a look after a failure; overwritten by the next run.
    cp "$log" "$TIF_KERNEL_CACHE/$suite/console.log" 2>/dev/null || true
    check_console "$suite" "$log"
done
echo "PASS: old_kernel_test (${SUITES[*]}) in $((SECONDS - start)) s"
