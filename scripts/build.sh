#!/usr/bin/env bash
# Installs missing packages, then configures and builds.
#   scripts/build.sh            -> build/        (RelWithDebInfo, -Werror)
#   scripts/build.sh --sanitize -> build-asan/   (ASan + UBSan)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
dir="$top/build"
flags=()
if [ "${1:-}" = "--sanitize" ]; then
  dir="$top/build-asan"
  flags+=(-DPD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S "$top" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
echo "$dir"
