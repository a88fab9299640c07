#!/usr/bin/env bash
# Installs missing packages, then configures and builds.
#   scripts/build.sh            -> build/        (RelWithDebInfo, -Werror)
#   scripts/build.sh --sanitize -> build-asan/   (ASan + UBSan)
#   scripts/build.sh --release  -> build-rel/    (Release, -O3: how the
#                                  benchmarks build; GCC warns differently)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
dir="$top/build"
flags=()
if [ "${1:-}" = "--sanitize" ]; then
  dir="$top/build-asan"
  flags+=(-DPD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
elif [ "${1:-}" = "--release" ]; then
  dir="$top/build-rel"
  flags+=(-DCMAKE_BUILD_TYPE=Release)
fi
cmake -S "$top" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
echo "$dir"
