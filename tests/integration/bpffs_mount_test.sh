#!/usr/bin/env bash
# A host without bpffs at /sys/fs/bpf (minimal hosts, containers, fresh CI machines): the
# exporter mounts it for its pins, as bpftool does, and pins its counter maps there. A pin
# directory elsewhere that is not on bpffs is the user's choice: refused with a warning, the
# exporter runs unpinned and keeps serving. lib.sh runs the test in a private mount namespace
# (TIF_BPFFS=none: with nothing at /sys/fs/bpf), so the host's own bpffs (if any) is neither
# seen nor touched, and the mount dies with the test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TIF_BPFFS=none
source "$here/lib.sh"

tif_require_root_bpf
tif_require_cmd curl
bpffs() { [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]]; }
[[ ${TIF_PRIVATE_MNTNS:-} == done ]] || tif_fail "not in a private mount namespace (unshare missing?)"
bpffs && tif_fail "/sys/fs/bpf is still bpffs in the test's mount namespace"

pinned() { tif_metric_sum "$TIF_EXPORTER_URL/metrics" "^traceiface_bpf_pinned_maps\\{object=\"$1\",outcome=\"$2\"\\}"; }

# ---- 1. the standard place: mounted, then pinned --------------------------------------------
tif_start_exporter "$(tif_free_port)" # a private --bpf.pin-path under /sys/fs/bpf
bpffs || tif_fail "the exporter did not mount bpffs at /sys/fs/bpf"
grep -q '"msg":"mounted a BPF filesystem for the pins".*"path":"/sys/fs/bpf"' \
    "$TIF_TMP/exporter.out" || tif_fail "no log line for the mount"
for o in tc_stats tcp_retransmit tcp_latency; do
    tif_assert_cmp "$(pinned "$o" created)" "==" 1 "$o maps pinned on the mounted bpffs"
done
n=$(find /sys/fs/bpf/tif-test-* -mindepth 2 -maxdepth 2 | wc -l)
tif_assert_cmp "$n" ">=" 3 "pin files under /sys/fs/bpf"
tif_assert_cmp "$(tif_metric_sum "$TIF_EXPORTER_URL/metrics" '^traceiface_bpf_pin_filesystem\{state="mounted"\}')" "==" 1 \
    "traceiface_bpf_pin_filesystem says mounted"
echo "bpffs mounted at /sys/fs/bpf; $n pins"
tif_kill_wait "$TIF_EXPORTER_PID" 5

# ---- 2. elsewhere, not bpffs: a warning, unpinned, still serving ------------------------------
mkdir -p "$TIF_TMP/pins"
tif_start_exporter "$(tif_free_port)" --bpf.pin-path="$TIF_TMP/pins"
grep -q '"level":"warn","msg":"no map pinning.*is not on a BPF filesystem' "$TIF_TMP/exporter.out" ||
    tif_fail "no warning for a pin directory off bpffs: $(head -c 2000 "$TIF_TMP/exporter.out")"
for o in tc_stats tcp_retransmit tcp_latency; do
    tif_assert_cmp "$(pinned "$o" unpinned)" "==" 1 "$o maps unpinned"
done
curl -sf -o /dev/null "$TIF_EXPORTER_URL/metrics" || tif_fail "/metrics not served unpinned"
tif_assert_cmp "$(tif_metric_sum "$TIF_EXPORTER_URL/metrics" '^traceiface_bpf_pin_filesystem\{state="unavailable"\}')" "==" 1 \
    "traceiface_bpf_pin_filesystem says unavailable"
echo "PASS: bpffs mounted for pins at /sys/fs/bpf; a pin path off bpffs refused and served unpinned"
