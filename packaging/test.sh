#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest's summary last).
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
BUILD=${SAFEQUANT_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure --timeout 900
