#!/usr/bin/env bash
# Proves a real npm JUnit consumer, junit-report-merger (pinned 7.0.1, the
# last release for Node 18, Debian 12's nodejs), loads and merges our
# per-run junit.xml files and reads our merged one: totals, suite names,
# failure messages naming the orders, and hostile strings that come back
# exactly as report.json had them. The package is installed into the build
# folder on first use (npm registry), never committed.
source "$(dirname "$0")/rpt_lib.sh"
command -v node >/dev/null || fail "node missing (Debian package nodejs)"
command -v npm >/dev/null || fail "npm missing (Debian package npm)"
rpt_prepare npm
NPM_DIR=$RPT_WORK/npm-pkgs   # kept between runs: installed once
PKG=$NPM_DIR/node_modules/junit-report-merger/package.json
if ! grep -q '"version": "7.0.1"' "$PKG" 2>/dev/null; then
  mkdir -p "$NPM_DIR"
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
    junit-report-merger@7.0.1 > "$W/npm-install.log" 2>&1 ||
    fail "npm install junit-report-merger@7.0.1: $(tail -5 "$W/npm-install.log")"
fi
node "$PD_SOURCE_DIR/tests/integration/rpt_junit_npm.js" "$NPM_DIR/node_modules" "$W" "$FAIL_ORDER"
