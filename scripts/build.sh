#!/usr/bin/env bash
# Configures and builds SecretMesh. Usage: scripts/build.sh [--sanitize] 
#   (default: optimised build in build/; --sanitize: ASan+UBSan build in build-asan/)
# Prints the build directory on its last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
args=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSM_SANITIZE=ON)
fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$dir" -G Ninja "${args[@]}" >&2
cmake --build "$dir" -j "$jobs" >&2
echo "$dir"
