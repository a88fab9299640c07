#!/usr/bin/env bash
# One command: measures mock-gateway side by side with WireMock (npm package
# `wiremock`, the standalone jar, Java 17) and nginx answering a fixed body,
# on the same create+query mix (bench/gw_mix.lua under wrk), on loopback,
# with fault rules loaded in mock-gateway that match nothing. Then the full
# order flow (create + pay + query, each pay owing a callback delivered to
# nginx) on mock-gateway alone.
#
#   bench/gw_bench.sh [build-dir]      (default: build-gw-bench, Release)
#
# Installs what it needs: wrk and nginx with apt-get, wiremock with npm into
# bench/out/. Writes bench/out/gw-bench.txt. Every server it starts is
# stopped by its pid at exit. Loopback only; every load run is bounded by
# wrk's -d.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
BUILD=${1:-$ROOT/build-gw-bench}
DURATION=${GW_BENCH_SECONDS:-10}
WARMUP=${GW_BENCH_WARMUP:-20}     # the JVM needs ~20 s of load to reach speed
CONN_LEVELS=${GW_BENCH_CONNECTIONS:-"16 64"}
THREADS=${GW_BENCH_THREADS:-2}
mkdir -p "$OUT"
RESULTS=$OUT/gw-bench.txt
: > "$RESULTS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! [ -x /usr/sbin/nginx ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null
fi
if [ ! -f "$OUT/wm/node_modules/wiremock/package.json" ]; then
  npm install --silent --prefix "$OUT/wm" wiremock >/dev/null
fi
JAR=$(ls "$OUT"/wm/node_modules/wiremock/build/wiremock-standalone-*.jar | head -1)

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target mock-gateway >/dev/null

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {   # wait until something answers on port $1 (30 s)
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2; return 1
}

# ---- nginx: the fixed-body ceiling, and the callback receiver ----
NGINX_PORT=$(free_port)
mkdir -p "$OUT/nginx"
cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $OUT/nginx/body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    default_type application/json;
    location /notify { return 200 '{"code":"SUCCESS"}'; }
    location / { return 200 '{"out_trade_no":"o-1","trade_no":"4200000001","trade_state":"NOTPAY","amount":1999,"currency":"CNY","merchant_id":"m-1","attach":null,"created_at":1767225600000,"success_time":null,"refunded_amount":0}'; }
  }
}
CONF
/usr/sbin/nginx -c "$OUT/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# ---- WireMock with equivalent stubs ----
WM_PORT=$(free_port)
rm -rf "$OUT/wm-root" && mkdir -p "$OUT/wm-root/mappings"
BODY='{"out_trade_no":"o-1","trade_no":"4200000001","trade_state":"NOTPAY","amount":1999,"currency":"CNY","merchant_id":"m-1","attach":null,"created_at":1767225600000,"success_time":null,"refunded_amount":0}'
cat > "$OUT/wm-root/mappings/create.json" <<JSON
{"request": {"method": "POST", "urlPath": "/v1/payments"},
 "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": $(python3 -c 'import json,sys;print(json.dumps(sys.argv[1]))' "$BODY")}}
JSON
cat > "$OUT/wm-root/mappings/query.json" <<JSON
{"request": {"method": "GET", "urlPathPattern": "/v1/payments/[A-Za-z0-9_.-]+"},
 "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": $(python3 -c 'import json,sys;print(json.dumps(sys.argv[1]))' "$BODY")}}
JSON
java -jar "$JAR" --port "$WM_PORT" --bind-address 127.0.0.1 --root-dir "$OUT/wm-root" \
  --no-request-journal --disable-request-logging --container-threads 200 \
  > "$OUT/wiremock.log" 2>&1 &
PIDS+=($!)

# ---- mock-gateway, with rules that never match ----
cat > "$OUT/gw-nomatch.json" <<'JSON'
{"rules": [
  {"id": "c", "op": "create", "orders": {"keys": ["no-such-order"]}, "action": {"type": "error", "status": 503}},
  {"id": "q", "op": "query", "orders": {"keys": ["no-such-order"]}, "action": {"type": "stale_query"}},
  {"id": "p", "op": "pay", "orders": {"keys": ["no-such-order"]}, "action": {"type": "rate_limit"}},
  {"id": "d", "op": "callback", "orders": {"keys": ["no-such-order"]}, "action": {"type": "drop"}}]}
JSON
rm -rf "$OUT/gw-data"
"$BUILD/bin/mock-gateway" --listen 127.0.0.1:0 --data-dir "$OUT/gw-data" --log-level warn \
  --faults "$OUT/gw-nomatch.json" --threads 384 > "$OUT/gw.stdout" 2> "$OUT/gw.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$OUT/gw.stdout" 2>/dev/null && break; sleep 0.1; done
GW_URL=$(sed -n 's/^listening on //p' "$OUT/gw.stdout")
wait_port "$NGINX_PORT"; wait_port "$WM_PORT"

# Warms a target up (WARMUP s, 0 to skip), then prints wrk's "Requests/sec:"
# at each connection level.
run_wrk() {   # name url warmup [env...]
  local name=$1 url=$2 warm=$3; shift 3
  [ "$warm" -gt 0 ] && env GW_BENCH_RUN="w$RANDOM$RANDOM" "$@" wrk -t"$THREADS" -c64 \
    -d"${warm}s" -s "$ROOT/bench/gw_mix.lua" "$url" > /dev/null
  local c rps non2xx line="$name"
  for c in $CONN_LEVELS; do
    env GW_BENCH_RUN="m$RANDOM$RANDOM" "$@" wrk -t"$THREADS" -c"$c" -d"${DURATION}s" \
      -s "$ROOT/bench/gw_mix.lua" "$url" > "$OUT/wrk-$name-c$c.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$name-c$c.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$OUT/wrk-$name-c$c.txt")
    echo "$name c=$c rps=$rps non2xx=${non2xx:-0}" | tee -a "$RESULTS" >&2
    line="$line $rps"
  done
  echo "$line"
}

echo "machine: nproc=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\" load=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" | tee -a "$RESULTS"
echo "load: wrk -t$THREADS -d${DURATION}s at connections: $CONN_LEVELS (after ${WARMUP}s warm-up at 64), bench/gw_mix.lua" | tee -a "$RESULTS"
# Two rounds, the three servers interleaved, best of the two per cell: the
# machine is shared, and interleaving spreads its background load evenly.
GW=$(run_wrk mock-gateway "$GW_URL" "$WARMUP")
WM=$(run_wrk wiremock "http://127.0.0.1:$WM_PORT" "$WARMUP")
NG=$(run_wrk nginx "http://127.0.0.1:$NGINX_PORT" "$WARMUP")
GW2=$(run_wrk mock-gateway "$GW_URL" 0)
WM2=$(run_wrk wiremock "http://127.0.0.1:$WM_PORT" 0)
NG2=$(run_wrk nginx "http://127.0.0.1:$NGINX_PORT" 0)
python3 - "$CONN_LEVELS" "$GW" "$WM" "$NG" "$GW2" "$WM2" "$NG2" <<'PY' | tee -a "$RESULTS"
import sys
levels = sys.argv[1].split()
r1 = [a.split() for a in sys.argv[2:5]]
r2 = [a.split() for a in sys.argv[5:8]]
rows = [[a[0]] + [str(max(float(x), float(y))) for x, y in zip(a[1:], b[1:])]
        for a, b in zip(r1, r2)]
print("| connections | mock-gateway req/s | WireMock req/s | nginx req/s | mock-gateway / WireMock | mock-gateway / nginx |")
print("|---|---|---|---|---|---|")
for i, c in enumerate(levels):
    gw, wm, ng = (float(r[i + 1]) for r in rows)
    print(f"| {c} | {gw:.0f} | {wm:.0f} | {ng:.0f} | {gw / wm:.1f}x | {gw / ng:.2f} |")
PY
FULL=$(run_wrk mock-gateway-full "$GW_URL" 0 GW_BENCH_PAY=1 GW_BENCH_NOTIFY="http://127.0.0.1:$NGINX_PORT/notify")
sleep 2
STATUS=$(curl -s "$GW_URL/sim/status")
python3 - "$CONN_LEVELS" "$FULL" "$STATUS" <<'PY' | tee -a "$RESULTS"
import json, sys
levels = sys.argv[1].split(); full = sys.argv[2].split()[1:]; st = json.loads(sys.argv[3])
for c, r in zip(levels, full):
    print(f"full flow at {c} connections (create+pay+query, callbacks to nginx): "
          f"{float(r):.0f} req/s = {float(r) / 3:.0f} orders/s")
print(f"after 2 s: charges={st['charges']} callbacks_pending={st['callbacks_pending']} "
      f"callbacks_in_flight={st['callbacks_in_flight']}")
PY
echo "results in $RESULTS" >&2
