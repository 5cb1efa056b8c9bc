#!/usr/bin/env bash
# Install dependencies, then configure and build into build/. Extra cmake configure
# arguments come from $CMAKE_ARGS (split on whitespace), e.g. CMAKE_ARGS="-DFOO=ON".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
read -r -a extra <<<"${CMAKE_ARGS:-}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}"
cmake --build build -j"$(nproc)"
