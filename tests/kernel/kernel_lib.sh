# shellcheck shell=bash
# Helpers of old_kernel_test.sh and bond_slave_test.sh: fetch a Debian release's packaged
# kernel with the modules a test names, build the initramfs, boot it. Source after
# tests/integration/lib.sh (uses TIF_TMP, tif_fail, tif_cleanup_push).
#
# Downloads go to $TIF_BUILD_DIR/old-kernels/<suite>/ and are reused on every later run without
# touching the network (TIF_OLD_KERNEL_REFRESH=1 resolves the newest kernel again). apt runs
# with a private sources list, lists, cache and an empty status file, so the host's apt
# configuration and state are neither used nor changed; it checks the archive signature
# (Debian's keyring) and the .deb's SHA256 from the signed index.

TIF_KERNEL_CACHE=${TIF_KERNEL_CACHE:-$TIF_BUILD_DIR/old-kernels}
# Guest modules every test needs: clsact (sch_ingress) and cls_bpf, which Debian builds as
# modules.
TIF_GUEST_MODULES=(sch_ingress cls_bpf)

tif__apt() {
    local d=$1
    shift
    apt-get -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts="$d/empty" \
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status=/dev/null \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$d/empty" \
        -o APT::Architecture=amd64 -o Acquire::Languages=none -o Debug::NoLocking=1 \
        -o APT::Sandbox::User=root "$@"
}

# tif_fetch_kernel SUITE [MODULE...]: prints the directory holding vmlinuz, modules/*.ko and
# version; MODULEs (default TIF_GUEST_MODULES) and the modules they depend on are in modules/.
# A cached tree lacking one is extracted again from the cached .deb (no network), keeping the
# modules it had, so tests asking for different modules share one tree.
tif_fetch_kernel() {
    local suite=$1 top="$TIF_KERNEL_CACHE/$1"
    shift
    local tree="$top/tree" d="$top/apt" m f deb=
    local -a mods=("$@")
    ((${#mods[@]})) || mods=("${TIF_GUEST_MODULES[@]}")
    if [[ -s $tree/vmlinuz && -s $tree/version && ${TIF_OLD_KERNEL_REFRESH:-0} != 1 ]]; then
        f=ok
        for m in "${mods[@]}"; do [[ -s $tree/modules/$m.ko ]] || f=; done
        if [[ -n $f ]]; then
            echo "$tree"
            return 0
        fi
        deb=$(ls "$top/deb/$(sed 's/_.*//' "$tree/version")_"*.deb 2>/dev/null | tail -1 || true)
    fi
    for f in "$tree"/modules/*.ko; do [[ -e $f ]] && mods+=("$(basename "$f" .ko)"); done
    [[ -n $deb ]] || deb=$(tif__download_kernel "$suite") || exit $?
    # Each name once: tar reports a repeated pattern as not found (the first one took the file).
    mapfile -t mods < <(printf '%s\n' "${mods[@]}" | sort -u)
    # Extract only what the guest needs into a fresh tree, then swap it in. Debian's .deb has no
    # modules.dep (depmod runs at install), so each module's "depends" field is followed, one
    # pass over the archive per level (bonding needs tls, bridge stp and llc).
    local x="$top/extract"
    rm -rf "$x" "$tree.new"
    mkdir -p "$x" "$tree.new/modules"
    local -a want=('./boot/vmlinuz-*') todo=("${mods[@]}") next
    while ((${#todo[@]})); do
        for m in "${todo[@]}"; do want+=("*/$m.ko*"); done
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards "${want[@]}" ||
            tif_fail "extracting $deb failed"
        next=()
        for m in "${todo[@]}"; do
            [[ -s $tree.new/modules/$m.ko ]] && continue
            f=$(find "$x" -name "$m.ko*" | head -1)
            [[ -n $f ]] || tif_fail "$deb has no module $m"
            case $f in
            *.xz) xz -dc "$f" >"$tree.new/modules/$m.ko" ;;
            *.zst) zstd -qdc "$f" >"$tree.new/modules/$m.ko" ;;
            *) cp "$f" "$tree.new/modules/$m.ko" ;;
            esac
            for f in $(modinfo -F depends "$tree.new/modules/$m.ko" | tr , ' '); do
                [[ -s $tree.new/modules/$f.ko ]] || next+=("$f")
            done
        done
        ((${#next[@]})) || break
        mapfile -t todo < <(printf '%s\n' "${next[@]}" | sort -u)
        want=()
    done
    cp "$x"/boot/vmlinuz-* "$tree.new/vmlinuz"
    basename "$deb" >"$tree.new/version"
    rm -rf "$x" "$tree"
    mv "$tree.new" "$tree"
    echo "$tree"
}

# tif__download_kernel SUITE: resolves the suite's current kernel package and downloads it
# into the cache (once); prints the .deb's path.
tif__download_kernel() {
    local suite=$1 top="$TIF_KERNEL_CACHE/$1"
    local d="$top/apt"
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/empty" "$top/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
        "http://deb.debian.org/debian $suite main" >"$d/sources.list"
    tif__apt "$d" update >"$top/apt-update.log" 2>&1 ||
        tif_skip_or_fail "apt-get update for $suite failed (offline?): $(tail -2 "$top/apt-update.log")"
    # The metapackage names the release's current kernel ABI, e.g. linux-image-5.10.0-32-amd64.
    local pkg
    pkg=$(apt-cache -o Dir::Etc::SourceList="$d/sources.list" \
        -o Dir::Etc::SourceParts="$d/empty" -o Dir::State::Lists="$d/lists" \
        -o Dir::Cache="$d/cache" -o Dir::State::status=/dev/null -o APT::Architecture=amd64 \
        depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    [[ -n $pkg ]] || tif_fail "no kernel package found behind linux-image-amd64 in $suite"
    local deb
    deb=$(ls "$top/deb/${pkg}_"*.deb 2>/dev/null | tail -1 || true)
    if [[ -z $deb ]]; then
        (cd "$top/deb" && tif__apt "$d" download "$pkg") >"$top/apt-download.log" 2>&1 ||
            tif_skip_or_fail "download of $pkg failed: $(tail -2 "$top/apt-download.log")"
        deb=$(ls "$top/deb/${pkg}_"*.deb | tail -1)
    fi
    echo "$deb"
}

# tif_build_base_initramfs EXE OUT [INIT [BIN...]]: busybox, INIT (default guest_init.sh) as
# /init, EXE, curl and the BINs (at their host paths) with every library ldd lists, as a gzip'd
# newc archive. The kernel unpacks concatenated archives, so the per-kernel modules are a second
# archive appended to this one. Not busybox wget: static glibc's resolver dlopen()s the libc we
# ship for the exporter and crashes.
tif_build_base_initramfs() {
    local exe=$1 out=$2 init=${3:-$TIF_REPO_ROOT/tests/kernel/guest_init.sh} root="$TIF_TMP/initramfs"
    local -a bins=("$(command -v curl)" "${@:4}")
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/usr/bin" "$root/modules"
    cp /bin/busybox "$root/bin/busybox"
    install -m 755 "$init" "$root/init"
    # A stripped copy: the debug info is of no use in the guest and would triple the archive.
    strip -o "$root/usr/bin/traceiface" "$exe" || cp "$exe" "$root/usr/bin/traceiface"
    local lib b
    for b in "${bins[@]}"; do
        mkdir -p "$root$(dirname "$b")"
        cp "$b" "$root$b"
    done
    # "libx.so.1 => /path (0x..)" and the loader's "/lib64/ld-linux-x86-64.so.2 (0x..)".
    while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(for b in "$exe" "${bins[@]}"; do ldd "$b"; done |
        awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
    [[ -n $(ls "$root"/lib64/ld-linux* 2>/dev/null) ]] || tif_fail "ldd listed no loader for $exe"
    (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
}

# tif_build_modules_initramfs TREE OUT [MODULE...]: the MODULEs (default TIF_GUEST_MODULES)
# and what they depend on under /modules, and /modules/order listing them dependencies first:
# nothing in the guest runs depmod/modprobe, its /init insmods in that order.
tif_build_modules_initramfs() {
    local tree=$1 out=$2 root="$TIF_TMP/modroot" m
    shift 2
    local -a mods=("$@")
    ((${#mods[@]})) || mods=("${TIF_GUEST_MODULES[@]}")
    rm -rf "$root"
    mkdir -p "$root/modules"
    tif__module_order() {
        local d
        [[ -e $root/modules/$1.ko ]] && return 0
        [[ -s $tree/modules/$1.ko ]] || tif_fail "module $1 is not in $tree"
        for d in $(modinfo -F depends "$tree/modules/$1.ko" | tr , ' '); do tif__module_order "$d"; done
        cp "$tree/modules/$1.ko" "$root/modules/"
        echo "$1.ko" >>"$root/modules/order"
    }
    for m in "${mods[@]}"; do tif__module_order "$m"; done
    (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
}

# tif_boot KERNEL INITRD CONSOLE_LOG TIMEOUT_S: boots without network or disks; returns once
# the guest powers off, fails when it has not within the timeout. KVM when /dev/kvm works,
# else TCG (the caller gives TCG more time; TIF_QEMU_ACCEL=tcg forces it).
tif_boot() {
    local kernel=$1 initrd=$2 log=$3 secs=$4 accel=${TIF_QEMU_ACCEL:-}
    if [[ -z $accel ]]; then
        accel=tcg
        [[ -r /dev/kvm && -w /dev/kvm ]] && accel=kvm
    fi
    local -a acc=(-accel tcg -cpu max)
    [[ $accel == kvm ]] && acc=(-accel kvm -cpu host)
    qemu-system-x86_64 -nodefaults -display none -monitor none -no-reboot -m 1024 -smp 2 \
        "${acc[@]}" -kernel "$kernel" -initrd "$initrd" -serial "file:$log" \
        -append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null >"$log.qemu" 2>&1 &
    local pid=$! i rc=0
    # qemu itself, not a wrapper: the exit trap must be able to kill exactly this process.
    tif_cleanup_push "kill -KILL $pid 2>/dev/null || true"
    for ((i = 0; i < secs * 5; i++)); do
        tif_alive "$pid" || break
        sleep 0.2
    done
    if tif_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        tif_fail "guest did not power off within $secs s (console: $log)"
    fi
    wait "$pid" || rc=$?
    if ((rc != 0)) && [[ $accel == kvm ]] && grep -qi kvm "$log.qemu"; then
        echo "KVM unusable ($(head -1 "$log.qemu")); retrying with TCG"
        TIF_QEMU_ACCEL=tcg tif_boot "$kernel" "$initrd" "$log" $((secs * 4))
        return
    fi
    ((rc == 0)) || tif_fail "qemu exited $rc: $(tail -5 "$log.qemu")"
}
