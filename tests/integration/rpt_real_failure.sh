#!/usr/bin/env bash
# The violation path on a real failing run, not a fixture: paydrill runs the
# callbacks-dropped-all scenario against payment-center-zoo with the
# no-reconciler bug (callbacks never come, nobody asks the gateway, so paid
# orders stay PAYING), must exit 1, and the run's report.html must then pass
# the same browser checks as the fixtures (verdict, the violated order in
# the index, the table and its timeline, no data script run), and its
# junit.xml must validate against the JUnit XSD.
set -euo pipefail
: "${PD_BIN_DIR:?set by CTest}" "${PD_SOURCE_DIR:?set by CTest}" "${RPT_WORK:?set by CTest}"
out=$RPT_WORK/real-failure
rm -rf "$out"
mkdir -p "$out"
set +e
"$PD_BIN_DIR/paydrill" run "$PD_SOURCE_DIR/scenarios/default/callbacks-dropped-all.json" \
  --sut-cmd "$PD_BIN_DIR/payment-center-zoo --bug no-reconciler" --out "$out/runs" --quiet \
  2>"$out/stderr.txt"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "FAIL: paydrill should exit 1 on the broken build, got $rc" >&2; tail "$out/stderr.txt" >&2; exit 1; }
run=$out/runs/callbacks-dropped-all
order=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["violations"][0]["order"])' "$run/report.json")
echo "ok: paydrill exit 1; first violated order $order"
xmllint --noout --schema "$PD_SOURCE_DIR/tests/junit.xsd" "$run/junit.xml"
grep -q '<failure' "$run/junit.xml" || { echo "FAIL: junit.xml has no <failure>" >&2; exit 1; }
echo "ok: the run's junit.xml validates and holds a failure"
RPT_FAIL_RUN=$run RPT_FAIL_ORDER=$order RPT_WORK=$out \
  bash "$PD_SOURCE_DIR/tests/integration/rpt_report_chromium.sh"
