# rpt_lib.sh -- sourced by the rpt_* integration scripts.
#
# Each script works in its own folder $RPT_WORK/<name> (in the build
# folder, kept after the run as artefacts). The failing run defaults to the
# fixture tests/data/reports/fail; set RPT_FAIL_RUN to a real failing run
# folder (one with report.json and journal.ndjson) to use that instead, and
# RPT_FAIL_ORDER to the order id of its first violation.
set -euo pipefail
: "${PD_BIN_DIR:?set by CTest}" "${PD_SOURCE_DIR:?set by CTest}" "${RPT_WORK:?set by CTest}"
FIXTURES=$PD_SOURCE_DIR/tests/data/reports
XSD=$PD_SOURCE_DIR/tests/junit.xsd
REPORT=$PD_BIN_DIR/paydrill-report
FAIL_ORDER=${RPT_FAIL_ORDER:-o-7a10c0de00000003}

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# rpt_prepare NAME: a fresh $W with copies of the pass, fail and hostile
# runs, their reports written, and a suite in $W/out.
rpt_prepare() {
  W=$RPT_WORK/$1
  rm -rf "$W"
  mkdir -p "$W"
  cp -r "$FIXTURES/pass" "$FIXTURES/hostile" "$W/"
  cp -r "${RPT_FAIL_RUN:-$FIXTURES/fail}" "$W/fail"
  "$REPORT" "$W/pass" "$W/fail" "$W/hostile" || fail "paydrill-report on the fixtures"
  "$REPORT" --suite "$W/out" "$W/pass" "$W/fail" "$W/hostile" || fail "paydrill-report --suite"
}
