#!/usr/bin/env bash
# Proves the size bound: a generated 10,000-order run (about 110,000
# journal events, 12 violations) gives a report.html under 10 MB, and that
# it is self-contained: no http(s) URL to load, no external src or href.
source "$(dirname "$0")/rpt_lib.sh"
W=$RPT_WORK/size
rm -rf "$W"
mkdir -p "$W/big"
"$PD_BIN_DIR/rpt-gen-run" "$W/big" 10000 12 || fail "rpt-gen-run"
[ "$(wc -l < "$W/big/journal.ndjson")" -gt 100000 ] || fail "the generator wrote too few events"
start=$(date +%s%N)
"$REPORT" "$W/big" || fail "paydrill-report"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
size=$(stat -c %s "$W/big/report.html")
echo "report.html: $size bytes for 10,000 orders, written in $ms ms"
[ "$size" -lt 10000000 ] || fail "report.html is $size bytes, over 10 MB"
[ "$size" -gt 1000000 ] || fail "report.html is $size bytes: too small to hold 10,000 orders"
# (the SVG namespace URI in the script is a name, not a load)
if grep -v "SVGNS = 'http://www.w3.org/2000/svg'" "$W/big/report.html" |
    grep -Eq '(src|href|action)="(https?:)?//|https?://|@import'; then
  fail "report.html refers to the network"
fi
ok "10,000-order report.html is $size bytes (< 10 MB) and self-contained"
