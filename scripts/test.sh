#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test
# (labels unit, integration, scenarios, zoo) with CTest.
#   scripts/test.sh              normal build (build/)
#   scripts/test.sh --sanitize   ASan+UBSan build (build-asan/); the zoo is
#                                left out there: it runs the same scenarios
#                                against 13 broken builds and proves nothing
#                                more under sanitizers, at 3x the time.
# Extra arguments after the flag go to ctest (e.g. -L unit).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mode=""
if [ "${1:-}" = "--sanitize" ]; then mode=--sanitize; shift; fi
dir=$("$top/scripts/build.sh" $mode)
# libfaketime leaves /dev/shm/faketime_shm_PID and sem.faketime_sem_PID
# behind when a process under it is killed with SIGKILL (the tests do that on
# purpose); a later process that gets the same PID then fails to start
# ("shm_open failed: File exists"). Remove those whose process is gone.
for f in /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_*; do
  [ -e "$f" ] || continue
  pid=${f##*_}
  [ -d "/proc/$pid" ] || rm -f "$f"
done
args=(--test-dir "$dir" --output-on-failure -j 2)
if [ -n "$mode" ]; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:verify_asan_link_order=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  args+=(-LE zoo)
fi
exec ctest "${args[@]}" "$@"
