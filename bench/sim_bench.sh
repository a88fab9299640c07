#!/usr/bin/env bash
# paydrill end to end: a no-fault 10,000-order run at time_scale 1 (orders/s,
# paydrill's peak RSS per order) and the default suite's wall time.
# Usage: bench/sim_bench.sh [BUILD_DIR]   (default build-sim; Release-like build)
# Wall time and RSS are measured from outside with /usr/bin/time -v (paydrill
# itself does not run under libfaketime). Results go to bench/out/sim/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-sim}
bin=$build/bin/paydrill
out=$top/bench/out/sim/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
cd "$top"

echo "== 10,000 orders, no faults, time_scale 1"
/usr/bin/time -v "$bin" run bench/sim_10k.json --out "$out/10k" --quiet \
    >"$out/10k.out" 2>"$out/10k.err" || { cat "$out/10k.err"; exit 1; }
run=$out/10k/bench-10k/run.json
python3 - "$run" "$out/10k.err" <<'PY'
import json, re, sys
run = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
orders = 10000
busy_ms = run["quiet_at"] - run["sim_started_at"]      # time_scale 1: real ms
print(f"orders={orders} quiet_after_ms={busy_ms} orders_per_s={orders * 1000 / busy_ms:.0f}")
print(f"run_duration_ms={run['duration_ms']} (with start-up, collection, checker, reports) wall={wall}")
print(f"paydrill_peak_rss_kb={rss_kb} bytes_per_order={rss_kb * 1024 / orders:.0f}")
PY

echo "== default suite wall time"
start=$(date +%s.%N)
"$bin" run scenarios/default --out "$out/suite" --quiet >"$out/suite.out" 2>"$out/suite.err" || true
end=$(date +%s.%N)
tail -2 "$out/suite.out"
python3 -c "print(f'suite_wall_s={$end - $start:.1f}')"
