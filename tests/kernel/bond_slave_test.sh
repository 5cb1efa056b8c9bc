#!/usr/bin/env bash
# Retransmits per bond slave, which the host kernel (no bonding driver) cannot show: boots
# Debian 12's packaged 6.1 kernel under qemu (as old_kernel_test.sh does) with bonding, veth
# and sch_netem; bond_guest_init.sh uploads through a balance-rr bond0 whose slave bsa alone
# loses 2% (netem). The guest's only TCP besides the upload is the exporter's HTTP on lo, so the
# sender netns' TcpRetransSegs delta is the kernel's count of the upload's retransmits. Asserts
# that traceiface_tcp_egress_retransmit_segments_total of bsa + bsb equals it, that bond0's
# own count equals it too, that bsa's is > 0, and that lo's is 0.
#
# Needs what old_kernel_test.sh needs, plus iproute2 (ip, tc: copied into the guest).
# TIF_BOND_KERNEL picks the Debian suite (default bookworm).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/kernel_lib.sh"

tif_require_cmd qemu-system-x86_64 cpio gzip dpkg-deb apt-get ldd strip curl modinfo ip tc
[[ -x /bin/busybox ]] || tif_skip_or_fail "busybox-static not installed (/bin/busybox)"
ldd /bin/busybox >/dev/null 2>&1 && tif_skip_or_fail "/bin/busybox is dynamic: install busybox-static"
[[ -x $TIF_BUILD_DIR/traceiface ]] || tif_fail "no exporter at $TIF_BUILD_DIR/traceiface"
[[ $(uname -m) == x86_64 ]] || tif_skip_or_fail "the packaged kernels are amd64 (this is $(uname -m))"

suite=${TIF_BOND_KERNEL:-bookworm}
TIMEOUT_S=120 # with KVM: boot ~2 s, exporter start, 5 s of upload (TCG: ~30 s in all)
[[ -r /dev/kvm && -w /dev/kvm && ${TIF_QEMU_ACCEL:-} != tcg ]] || TIMEOUT_S=400
TIMEOUT_S=${TIF_BOND_TIMEOUT:-$TIMEOUT_S} # whole VM, seconds

start=$SECONDS
tree=$(tif_fetch_kernel "$suite" "${TIF_GUEST_MODULES[@]}" bonding veth sch_netem)
echo "$suite: $(cat "$tree/version") (fetch/cache $((SECONDS - start)) s)"
init="$TIF_REPO_ROOT/tests/kernel/bond_guest_init.sh"
tif_build_base_initramfs "$TIF_BUILD_DIR/traceiface" "$TIF_TMP/base.cpio.gz" "$init" \
    "$(command -v ip)" "$(command -v tc)"
tif_build_modules_initramfs "$tree" "$TIF_TMP/modules.cpio.gz" \
    "${TIF_GUEST_MODULES[@]}" bonding veth sch_netem
cat "$TIF_TMP/base.cpio.gz" "$TIF_TMP/modules.cpio.gz" >"$TIF_TMP/initrd"
log="$TIF_TMP/console.log"
# Kept next to the cache for a look after a failure, a hung guest's too (the cleanup runs
# before $TIF_TMP goes); overwritten by the next run.
tif_cleanup_push "cp '$log' '$TIF_KERNEL_CACHE/$suite/bond-console.log'"
t0=$SECONDS
tif_boot "$tree/vmlinuz" "$TIF_TMP/initrd" "$log" "$TIMEOUT_S"
echo "$suite: guest ran $((SECONDS - t0)) s"
tr -d '\r' <"$log" >"$log.txt"
log=$log.txt

dump() {
    echo "--- guest console (TIF lines) ---" >&2
    grep '^TIF-' "$log" | grep -v '^TIF-SNMP ' | cut -c1-400 >&2 || true
}
grep -q '^TIF-DONE' "$log" || { tail -n 60 "$log" >&2; tif_fail "the guest did not finish its script"; }
if grep -q '^TIF-FAIL' "$log"; then
    dump
    tif_fail "guest: $(sed -n 's/^TIF-FAIL //p' "$log" | head -1)"
fi
grep -E '^TIF-(KERNEL|BOND|QDISC bond0|READY|UPLOAD)' "$log"
grep -q '^TIF-READY yes' "$log" || { dump; tif_fail "the exporter did not watch lo, bond0, bsa, bsb"; }
grep -q '^TIF-UPLOAD rc 0 ' "$log" || { dump; tif_fail "the upload through bond0 failed"; }
# The count is exact only while the master queues nothing (docs/metrics.md).
grep -q '^TIF-QDISC bond0 qdisc noqueue' "$log" || tif_fail "bond0 has a queueing qdisc"

# count TAG IFACE: the exporter's egress retransmit count of IFACE in the TAG scrape.
count() { awk -v t="TIF-$1" -v i="$2" '$1 == t && $2 == i {v = $3} END {print v + 0}' "$log"; }
delta() { echo $(($(count AFTER "$1") - $(count BEFORE "$1"))); }
snmp() { awk -v t="TIF-SNMP-$1" '$1 == t {print $2}' "$log"; }
kern=$(($(snmp AFTER) - $(snmp BEFORE)))
a=$(delta bsa) b=$(delta bsb) bond=$(delta bond0) lo=$(delta lo)
grep -q '^TIF-AFTER bond0 ' "$log" || { dump; tif_fail "no egress retransmit series for bond0"; }
drops=$(sed -n 's/^TIF-QDISC bsa [^(]*(dropped \([0-9]*\),.*/\1/p' "$log")
echo "$suite: TcpRetransSegs +$kern; egress retransmits: bsa (netem, ${drops:-?} drops) $a + bsb $b = $((a + b)), bond0 $bond, lo $lo"
sed -n 's/^TIF-QDISC \(bs[ab]\) /  qdisc \1: /p' "$log" | cut -c1-200
tif_assert_cmp "${drops:-0}" -gt 0 "drops by the netem on bsa (no loss: the retransmits would be reordering's alone)"
tif_assert_cmp "$a" -gt 0 "resent segments on the lossy slave bsa"
tif_assert_cmp "$lo" -eq 0 "resent segments on lo (the exporter's HTTP; would spoil the oracle)"
if ((a + b != kern || bond != kern)); then
    dump
    tif_fail "bsa $a + bsb $b = $((a + b)) and bond0 $bond must both equal TcpRetransSegs +$kern"
fi
rc=$(awk '$1 == "TIF-EXIT" {print $2}' "$log")
[[ $rc == 0 ]] || tif_fail "the exporter exited $rc on SIGTERM"
echo "PASS: bond_slave_test ($suite) in $((SECONDS - start)) s"
