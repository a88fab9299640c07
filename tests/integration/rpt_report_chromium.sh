#!/usr/bin/env bash
# Proves report.html works in a real browser, opened from file:// in
# headless Chromium with no network:
#  - the failing run shows FAIL, the right counts, the violated order's id
#    in the violation index, in the script-drawn orders table and in the
#    timeline drawn for the first violation;
#  - the hostile run renders (its script ran, the JSON parsed) yet no
#    script from the data ran: the title is ours, the body got no
#    data-pwned attribute, no element with a pwned-* id exists, and the
#    hostile id shows as text. A control page that embeds the same payload
#    raw does get pwned, so these checks can fail;
#  - every detail of the drawn timelines shows exactly as the journal has
#    it, though report.html carries details as templates
#    (rpt_dom_details.py): the failing order's gateway lines (trade_created,
#    charge, callback) with its amount and trade_no as ~a and ~g; the
#    hostile order's with literal ~k, ~a, ~g, ~~, its own key, a markup
#    trade_no, and its amount and trade_no inside longer numbers;
#  - the 10,000-order report renders all its orders (paged).
# The screenshot (report-violation.png) stays in the work folder.
source "$(dirname "$0")/rpt_lib.sh"
command -v chromium >/dev/null || fail "chromium missing (Debian package chromium)"
rpt_prepare chromium

chrome() {
  local prof
  prof=$(mktemp -d "$W/profile-XXXXXX")
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$prof" "$@" 2>> "$W/chromium.log"
  local rc=$?
  rm -rf "$prof"
  return $rc
}
dom() { chrome --virtual-time-budget=5000 --dump-dom "file://$1" > "$2" || fail "chromium on $1"; }
has() { grep -q -- "$2" "$1" || fail "$3 (no '$2' in $1)"; }
hasnt() { if grep -Eq -- "$2" "$1"; then fail "$3 ('$2' found in $1)"; fi; }

dom "$W/fail/report.html" "$W/fail.dom.html"
has "$W/fail.dom.html" 'id="verdict">FAIL<' "failing run shows FAIL"
hasnt "$W/fail.dom.html" 'data-render-error="' "the report script ran without error"
has "$W/fail.dom.html" 'data-rendered="' "the report script ran"
has "$W/fail.dom.html" "<a href=\"#v-0\">$FAIL_ORDER</a>" "violation index names the order"
has "$W/fail.dom.html" "<td class=\"id\">$FAIL_ORDER</td>" "orders table (drawn by script) lists the order"
has "$W/fail.dom.html" "timeline of $FAIL_ORDER" "the first violation's timeline is drawn"
if [ -z "${RPT_FAIL_RUN:-}" ]; then
  has "$W/fail.dom.html" 'data-rendered="8"' "8 orders rendered"
  has "$W/fail.dom.html" '<span class="k">orders</span><span class="v">8</span>' "banner counts orders"
  has "$W/fail.dom.html" '<span class="k">violations</span><span class="v">2</span>' "banner counts violations"
  has "$W/fail.dom.html" '8 of 8 orders' "table count"
  has "$W/fail.dom.html" 'fault: commit_drop' "timeline shows the fault applied"
  has "$W/fail.dom.html" '<span class="k">seed</span><span class="v">42</span>' "banner shows the seed"
fi
ok "failing report: verdict, counts, violated order, table, timeline"
# The gateway's lines carry the order's amount and the trade's trade_no:
# report.html has them as ~a and ~g, so the comparison below expands both.
for tmpl in 'amount=~a' 'trade_no=~g'; do
  has "$W/fail/report.html" "$tmpl" "report.html templates the gateway's details"
done
python3 "$PD_SOURCE_DIR/tests/integration/rpt_dom_details.py" "$W/fail.dom.html" "$W/fail" \
  "$FAIL_ORDER" || fail "the failing order's timeline shows its journal details"
ok "failing report: the timeline's details expand to the journal's"

# The passing report and the index are checked on their files by the unit
# tests (the index has no script); each browser start costs seconds on a
# loaded machine, so this test starts Chromium only where a browser matters.

dom "$W/hostile/report.html" "$W/hostile.dom.html"
has "$W/hostile.dom.html" 'data-rendered="2"' "hostile report still renders"
has "$W/hostile.dom.html" '<title>FAIL hostile' "title is ours"
hasnt "$W/hostile.dom.html" '<title>pwned' "data script set the title"
hasnt "$W/hostile.dom.html" 'data-pwned="1"' "data script touched the body"
hasnt "$W/hostile.dom.html" '<[a-zA-Z][^<>]*id="pwned' "data markup became an element"
has "$W/hostile.dom.html" "&lt;/script&gt;&lt;script&gt;document.title='pwned'" "hostile id shown as text"
ok "hostile report: nothing from the data ran or became markup"
python3 "$PD_SOURCE_DIR/tests/integration/rpt_dom_details.py" "$W/hostile.dom.html" "$W/hostile" \
  || fail "the hostile order's timeline shows its journal details (literal ~k, ~a, ~g, ~~ included)"
ok "hostile report: details with literal template codes show as written"

# Control: the same payload embedded raw does run, so the checks above bite.
{
  echo '<!DOCTYPE html><html><head><title>control</title></head><body><div>'
  echo "</script><script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
  echo '<img id="pwned-img" src=x onerror="document.title='"'"'pwned'"'"'"></div></body></html>'
} > "$W/control.html"
dom "$W/control.html" "$W/control.dom.html"
has "$W/control.dom.html" '<title>pwned' "control page: raw payload runs"
has "$W/control.dom.html" 'data-pwned="1"' "control page: raw payload touches the body"
ok "control page is pwned as expected"

mkdir -p "$W/big"
"$PD_BIN_DIR/rpt-gen-run" "$W/big" 10000 12 || fail "rpt-gen-run"
"$REPORT" "$W/big" || fail "paydrill-report on the 10,000-order run"
start=$(date +%s%N)
dom "$W/big/report.html" "$W/big.dom.html"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
has "$W/big.dom.html" 'data-rendered="10000"' "10,000 orders rendered"
has "$W/big.dom.html" '10000 of 10000 orders' "table counts 10,000"
[ "$(grep -o '<tr class="order' "$W/big.dom.html" | wc -l)" -eq 50 ] || fail "one page of 50 rows drawn"
render=$(grep -o 'data-render-ms="[0-9]*"' "$W/big.dom.html" | grep -o '[0-9]*')
ok "10,000-order report: script done in ${render} ms (parse + first page + first timeline); ${ms} ms wall with browser start"

chrome --hide-scrollbars --window-size=1400,1000 --virtual-time-budget=5000 \
  --screenshot="$W/report-violation.png" "file://$W/fail/report.html" > /dev/null || fail "screenshot"
for png in report-violation.png; do
  [ "$(head -c 8 "$W/$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
  [ "$(stat -c %s "$W/$png")" -gt 20000 ] || fail "$png is suspiciously small"
done
ok "screenshot: $W/report-violation.png (docs/img/report-violation.png is a copy)"
