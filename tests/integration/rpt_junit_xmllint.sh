#!/usr/bin/env bash
# Proves every junit.xml the report writers produce -- per run (passing,
# failing, hostile strings, failing on an unmet expectation alone, a
# generated 10,000-order run) and merged (a
# clean suite and a suite with an unreadable run) -- validates against the
# JUnit schema tests/junit.xsd with xmllint, that the merged totals add up,
# and that the schema does reject a broken file (so the check can fail).
source "$(dirname "$0")/rpt_lib.sh"
command -v xmllint >/dev/null || fail "xmllint missing (Debian package libxml2-utils)"
rpt_prepare xmllint

mkdir -p "$W/big" "$W/broken"
cp -r "$FIXTURES/expect" "$W/"
"$REPORT" "$W/expect" || fail "paydrill-report on the expect fixture"
"$PD_BIN_DIR/rpt-gen-run" "$W/big" 10000 12 || fail "rpt-gen-run"
"$REPORT" "$W/big" || fail "paydrill-report on the 10,000-order run"
"$REPORT" --suite "$W/out-all" "$W/pass" "$W/fail" "$W/hostile" "$W/expect" "$W/big" ||
  fail "suite of 5"
printf '{"schema": "paydrill.report/1", "seed":' > "$W/broken/report.json"
set +e
"$REPORT" --suite "$W/out-broken" "$W/pass" "$W/broken" 2> "$W/broken.err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a suite with an unreadable run must exit 2, got $rc"
grep -q "broken/report.json: not valid JSON" "$W/broken.err" || fail "error names the file: $(cat "$W/broken.err")"

for f in pass fail hostile expect big out out-all out-broken; do
  xmllint --noout --schema "$XSD" "$W/$f/junit.xml" 2> "$W/$f.xmllint" ||
    fail "$f/junit.xml does not validate: $(cat "$W/$f.xmllint")"
  ok "$f/junit.xml validates against tests/junit.xsd"
done

# The merged totals are the sums of the runs' own.
attr() { grep -m1 "<testsuite " "$1" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9]*'; }
tests=0; failures=0
for f in pass fail hostile expect big; do
  tests=$((tests + $(attr "$W/$f/junit.xml" tests)))
  failures=$((failures + $(attr "$W/$f/junit.xml" failures)))
done
if [ -z "${RPT_FAIL_RUN:-}" ]; then
  [ "$tests" -eq 22 ] && [ "$failures" -eq 5 ] || fail "fixture totals $tests/$failures, want 22/5"
fi
head -2 "$W/out-all/junit.xml" |
  grep -q "<testsuites name=\"paydrill\" tests=\"$tests\" failures=\"$failures\" errors=\"0\"" ||
  fail "merged totals: $(head -2 "$W/out-all/junit.xml" | tail -1), want $tests/$failures"
[ "$(grep -c '<testsuite ' "$W/out-all/junit.xml")" -eq 5 ] || fail "5 testsuites expected"
grep -q '<failure type="expectation not met"' "$W/out-all/junit.xml" || fail "unmet expectation's failure missing"
grep -q '<error type="report unreadable"' "$W/out-broken/junit.xml" || fail "error test case missing"
ok "merged totals and the error test case"

sed '0,/<testsuite \(.*\) tests="[0-9]*"/s//<testsuite \1 tests="five"/' \
  "$W/fail/junit.xml" > "$W/tampered.xml"
grep -q 'tests="five"' "$W/tampered.xml" || fail "could not tamper with fail/junit.xml"
if xmllint --noout --schema "$XSD" "$W/tampered.xml" 2>/dev/null; then
  fail "the schema accepted tests=\"five\": it checks nothing"
fi
ok "the schema rejects a tampered file"
