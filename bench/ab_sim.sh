#!/usr/bin/env bash
# ab_sim.sh -- two builds side by side, end to end, alternating runs.
#
#   bench/ab_sim.sh [N] DIR_A DIR_B [SCENARIO] [BUILD]
#
# DIR_A and DIR_B are checkouts, each built in BUILD (default build-rel).
# Runs `paydrill run SCENARIO` (default bench/sim_10k.json) N times (default
# 3) for each, A then B, and counts each process's events over the whole
# run with `perf stat -p` (perf must be allowed to attach:
# kernel.perf_event_paranoid <= 2 for your own processes). One line per
# run: the end-to-end rate, then for payment-center, mock-gateway and
# paydrill's runner, per order: CPU ms, system calls, context switches,
# pwrite, pread, futex and poll calls. Compare pairs, not absolutes: the
# machine is noisy (docs/benchmarks.md).
# ENV_A and ENV_B (optional) are "NAME=value ..." set for A's and B's runs:
# one checkout against itself with a knob turned, e.g.
#   ENV_A=PAYDRILL_HTTP_CLIENT=curl bench/ab_sim.sh 5 . .
set -euo pipefail
n=3
if [[ ${1:-} =~ ^[0-9]+$ ]]; then n=$1; shift; fi
if [ $# -lt 2 ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
a=$1 b=$2 scen=${3:-bench/sim_10k.json} build=${4:-build-rel}
command -v perf >/dev/null || { echo "ab_sim.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
ev="syscalls:sys_enter_pwrite64,syscalls:sys_enter_pread64,syscalls:sys_enter_futex"
ev="$ev,syscalls:sys_enter_poll,raw_syscalls:sys_enter,context-switches,task-clock"
out=$(mktemp -d /tmp/ab_sim.XXXXXX)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$n"); do
  for side in A B; do
    if [ $side = A ]; then d=$a; envs=${ENV_A:-}; else d=$b; envs=${ENV_B:-}; fi
    rm -rf "$out/run"
    # shellcheck disable=SC2086 # envs is a list of NAME=value words
    (cd "$d" && exec env $envs "$build/bin/paydrill" run "$scen" --out "$out/run" --quiet) >/dev/null 2>&1 &
    pid=$!
    pc="" gw="" pd=""
    for _ in $(seq 500); do
      for p in $pid $(pgrep -P $pid || true); do
        pc=$(pgrep -x -P "$p" payment-center || true)
        gw=$(pgrep -x -P "$p" mock-gateway || true)
        if [ -n "$pc" ] && [ -n "$gw" ]; then pd=$p; break; fi
      done
      [ -n "$pd" ] && break
      sleep 0.02
    done
    [ -n "$pd" ] || { echo "ab_sim.sh: $d: payment-center or mock-gateway never started" >&2; exit 1; }
    perfs=()
    for x in pc gw pd; do
      setsid perf stat -e "$ev" -x, -o "$out/$x.txt" -p "${!x}" 2>/dev/null &
      perfs+=($!)
    done
    while kill -0 "$pc" 2>/dev/null; do sleep 0.2; done
    wait $pid || true
    sleep 0.5
    for q in "${perfs[@]}"; do pkill -INT -P "$q" 2>/dev/null || true; kill -INT "$q" 2>/dev/null || true; done
    sleep 0.5
    run=$(ls -d "$out"/run/*/ | head -1)
    line=$(python3 - "$run" <<'PY'
import json, sys
run = json.load(open(sys.argv[1] + "/run.json"))
orders = json.load(open(sys.argv[1] + "/report.json"))["counts"]["orders"]
print(orders, int(orders * 1000 / max(1, run["quiet_at"] - run["sim_started_at"])))
PY
)
    orders=${line% *}
    text="$side $(basename "$(cd "$d" && pwd)")${envs:+ ($envs)} rate=${line#* }"
    for x in pc gw pd; do
      text="$text | $x $(awk -F, -v n="$orders" '{v[$3]=$1} END {printf "cpu=%.3f sc=%.1f cs=%.1f pw=%.1f pr=%.1f fx=%.1f po=%.1f", v["task-clock"]/n, v["raw_syscalls:sys_enter"]/n, v["context-switches"]/n, v["syscalls:sys_enter_pwrite64"]/n, v["syscalls:sys_enter_pread64"]/n, v["syscalls:sys_enter_futex"]/n, v["syscalls:sys_enter_poll"]/n}' "$out/$x.txt")"
    done
    echo "$text"
  done
done
