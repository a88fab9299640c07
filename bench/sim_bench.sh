#!/usr/bin/env bash
# paydrill end to end: a no-fault run at time_scale 1 (orders/s, paydrill's
# peak RSS per order) and the default suite's wall time.
# Usage: bench/sim_bench.sh [BUILD_DIR] [SCENARIO]
#   BUILD_DIR defaults to build-sim (Release-like build); SCENARIO to
#   bench/sim_10k.json (bench/sim_50k.json: the per-order slope). SUITE=0 in
#   the environment skips the default suite. RUNS=N (default 1) runs the
#   scenario N times and ends with the median and range of each rate: this
#   machine's speed swings by a third within the hour, so quote medians.
#   HARNESS_CPUS=LIST runs paydrill and mock-gateway on those CPUs only
#   (paydrill run --harness-cpus LIST; the SUT keeps every CPU), for the
#   benchmark and the suite alike. Default: the last CPU when paydrill may
#   use exactly two (where it was measured: docs/benchmarks.md, Stop 22),
#   else nothing; HARNESS_CPUS=none places nothing (paydrill run's own
#   default: use it to compare with builds before --harness-cpus, and with
#   every figure before Stop 22, which were taken unplaced).
# Wall time is measured from outside with /usr/bin/time -v (paydrill itself
# does not run under libfaketime). paydrill's own peak RSS comes from its
# exit log line (getrusage RUSAGE_SELF, whole command: runner, checker and
# report writers, all in the one process); /usr/bin/time's "Maximum resident
# set size" is NOT paydrill's: it is the largest of paydrill and every child
# it reaped, i.e. often payment-center's. Results go to bench/out/sim/; the
# KEEP newest result folders stay (default 5: a 10,000-order run folder is
# ~100 MB).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-sim}
scenario=${2:-$top/bench/sim_10k.json}
bin=$build/bin/paydrill
out=$top/bench/out/sim/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
# Older results go, newest first kept (names are UTC times: they sort).
keep=${KEEP:-5}
ls -1d "$top"/bench/out/sim/*/ 2>/dev/null | sort -r | tail -n +$((keep + 1)) | xargs -r rm -rf
cd "$top"
name=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['name'])" "$scenario")
orders=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['workload']['orders'])" "$scenario")

runs=${RUNS:-1}
harness=""
cpus=${HARNESS_CPUS:-}
if [ -z "$cpus" ]; then
  cpus=$(python3 -c "import os; a = os.sched_getaffinity(0); print(max(a) if len(a) == 2 else '')")
fi
if [ -n "$cpus" ] && [ "$cpus" != none ]; then
  harness="--harness-cpus $cpus"
  echo "== paydrill and mock-gateway on CPU(s) $cpus, the SUT on every CPU paydrill may use (HARNESS_CPUS=none: no placement)"
else
  echo "== no placement: paydrill, mock-gateway and the SUT wherever the scheduler puts them"
fi
for i in $(seq 1 "$runs"); do
run=$out/run$i
[ "$runs" = 1 ] && run=$out/run
echo "== $name: $orders orders, no faults, time_scale 1, run $i of $runs (load: $(uptime | sed 's/.*load/load/'))"
# Only the last run's folder stays: each is ~100 MB.
[ "$i" -gt 1 ] && rm -rf "$out/run$((i - 1))/$name"
PAYDRILL_LOG=info /usr/bin/time -v "$bin" run "$scenario" --out "$run" --quiet $harness \
    >"$run.out" 2>"$run.err" || { cat "$run.err"; exit 1; }
python3 - "$run/$name/run.json" "$run.err" "$orders" "$out/rates" <<'PY'
import json, re, sys
run = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
orders = int(sys.argv[3])
rates = open(sys.argv[4], "a")
tree_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
self_kb = int(re.search(r"act=exit peak_rss_kb=(\d+)", err).group(1))
runner_kb = run["runner_peak_rss_kb"]
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
busy_ms = run["quiet_at"] - run["sim_started_at"]      # time_scale 1: real ms
print(f"orders={orders} quiet_after_ms={busy_ms} orders_per_s={orders * 1000 / busy_ms:.0f}")
# The same run without the harness's last look: from the first submission
# to the last notification the business acknowledged (journal.ndjson),
# leaving out the quiet check's final export scan (scan_real_ms, logged).
first = last = None
for line in open(sys.argv[1].rsplit("/", 1)[0] + "/journal.ndjson"):
    if '"kind":"submit"' in line or '"kind":"ack"' in line:
        e = json.loads(line)
        if e["kind"] == "submit" and first is None:
            first = e["t"]
        if e["kind"] == "ack":
            last = e["t"] if last is None else max(last, e["t"])
scans = re.findall(r"act=quiet_check quiet=1 scan_real_ms=(\d+)", err)
pipe = orders * 1000 / (last - first) if first is not None and last is not None and last > first else 0
if pipe:
    print(f"first_submit_to_last_ack_ms={last - first} orders_per_s={pipe:.0f} "
          f"(without the quiet check's final export scan: {scans[-1] if scans else '?'} ms)")
rates.write(f"{orders * 1000 / busy_ms:.0f} {pipe:.0f}\n")
print(f"run_duration_ms={run['duration_ms']} (with start-up, collection, checker, reports) wall={wall}")
print(f"paydrill_peak_rss_kb={self_kb} bytes_per_order={self_kb * 1024 / orders:.0f} "
      "(runner + checker + report writers, one process)")
print(f"runner_peak_rss_kb={runner_kb} bytes_per_order={runner_kb * 1024 / orders:.0f} "
      "(before the checker)")
print(f"process_tree_max_rss_kb={tree_kb} (/usr/bin/time: max of paydrill, payment-center, mock-gateway)")
PY
done
if [ "$runs" -gt 1 ]; then
    python3 - "$out/rates" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
for k, what in ((0, "until quiet"), (1, "first submit to last ack")):
    v = sorted(r[k] for r in rows)
    print(f"median_orders_per_s={statistics.median(v):.0f} ({what}; {len(v)} runs, {v[0]}-{v[-1]})")
PY
fi

[ "${SUITE:-1}" = 0 ] && exit 0
echo "== default suite wall time"
start=$(date +%s.%N)
"$bin" run scenarios/default --out "$out/suite" --quiet $harness >"$out/suite.out" 2>"$out/suite.err" || true
end=$(date +%s.%N)
tail -2 "$out/suite.out"
python3 -c "print(f'suite_wall_s={$end - $start:.1f}')"
