#!/usr/bin/env bash
# Sets up, builds and runs every test through ctest.
# Usage: scripts/test.sh [--sanitize]   (--sanitize: the AddressSanitizer + UBSan build)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
dir=$(scripts/build.sh "$@" | tail -n 1)
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
