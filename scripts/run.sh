#!/usr/bin/env bash
# Build, then run the exporter with the given arguments (needs root for BPF).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build.sh >&2
exec build/traceiface "$@"
