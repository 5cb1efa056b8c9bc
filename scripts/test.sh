#!/usr/bin/env bash
# Build, check formatting, run every ctest test. Exits non-zero if any step fails; a format
# failure still runs the tests, and ctest's summary stays the last thing printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

banner() { printf '\n==================== %s ====================\n' "$*"; }

banner "1/3 build"
scripts/build.sh

banner "2/3 clang-format check"
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

banner "3/3 ctest"
ctest_rc=0
(cd build && ctest --output-on-failure --timeout 900) || ctest_rc=$?

((ctest_rc != 0)) && exit "$ctest_rc"
exit "$format_rc"
