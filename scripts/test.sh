#!/usr/bin/env bash
# Build, build again with ASan+UBSan, check formatting, run every ctest test. Exits non-zero
# if any step fails; a failed sanitized build or format check still runs the tests, and
# ctest's summary stays the last thing printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

banner() { printf '\n==================== %s ====================\n' "$*"; }

# build/ registers asan.* tests (tests/sanitize.cmake): unit, bpf_load and every integration
# test again, with the binaries of build-asan, in the same ctest run and summary.
banner "1/4 build"
CMAKE_ARGS="${CMAKE_ARGS:-} -DTRACEIFACE_ASAN_BUILD_DIR=$PWD/build-asan" scripts/build.sh

banner "2/4 ASan+UBSan build (build-asan)"
# Only what the asan.* tests run; fuzzers are sanitized in build/ already.
asan_rc=0
{ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRACEIFACE_SANITIZE=ON \
    -DTRACEIFACE_FUZZ=OFF &&
    cmake --build build-asan -j"$(nproc)" --target traceiface traceiface_unit_tests \
        traceiface_bpf_load_test traceiface_tc_slot_table_test span_client_tool cri_tool; } || asan_rc=$?
((asan_rc == 0)) || echo "ASan build: FAILED (the asan.* tests will fail)" >&2

banner "3/4 clang-format check"
# Tracked and untracked-but-not-ignored sources; generated vmlinux headers are exempt.
list_sources() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard -- probes exporter http tests bench
    else
        find probes exporter http tests bench -type f -print0 2>/dev/null || true
    fi
}
files=()
while IFS= read -r -d '' f; do
    case $f in
    probes/vmlinux/* | vmlinux.h | */vmlinux.h) continue ;;
    *.c | *.h | *.cpp | *.hpp) [[ -f $f ]] && files+=("$f") ;;
    esac
done < <(list_sources | sort -zu)
format_rc=0
if ((${#files[@]} == 0)); then
    echo "no sources to check"
else
    clang-format --version
    clang-format --dry-run --Werror "${files[@]}" || format_rc=$?
    if ((format_rc == 0)); then
        echo "clang-format: ${#files[@]} files OK"
    else
        echo "clang-format: FAILED (run: clang-format -i on the files above)" >&2
    fi
fi

banner "4/4 ctest (build/, then asan.* with build-asan/)"
ctest_rc=0
(cd build && ctest --output-on-failure --timeout 900) || ctest_rc=$?

((ctest_rc != 0)) && exit "$ctest_rc"
((asan_rc != 0)) && exit "$asan_rc"
exit "$format_rc"
