-- wrk script: the create+query mix of the mock-gateway benchmark.
-- Each wrk thread POSTs new trades (unique out_trade_no) and, in between,
-- GETs the trade it created LAG requests earlier (long since answered), so
-- half the requests are creates and half are queries of existing trades.
-- GW_BENCH_PAY=1 adds the payer: create, pay, query (one order = 3 requests),
-- which makes mock-gateway owe and deliver a callback per order.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local run = os.getenv("GW_BENCH_RUN") or tostring(os.time())
local with_pay = os.getenv("GW_BENCH_PAY") == "1"
local notify = os.getenv("GW_BENCH_NOTIFY") or "http://127.0.0.1:9/notify"
local LAG = 256
local created = {}
local n = 0
local step = 0

local function create()
  n = n + 1
  local otn = string.format("b%s-%d-%d", run, tid, n)
  created[n % LAG] = otn
  local body = string.format(
    '{"out_trade_no":"%s","amount":1999,"currency":"CNY","notify_url":"%s",' ..
    '"merchant_id":"m-1","attach":"bench-%d-%d"}', otn, notify, tid, n)
  return wrk.format("POST", "/v1/payments", {["Content-Type"] = "application/json"}, body)
end

function request()
  step = step + 1
  local phases = with_pay and 3 or 2
  local phase = step % phases
  local old = created[(n + 1) % LAG]   -- created LAG-1 creates ago
  if phase == 0 or old == nil then
    return create()
  end
  if with_pay and phase == 1 then
    return wrk.format("POST", "/sim/payer/" .. old .. "/pay")
  end
  return wrk.format("GET", "/v1/payments/" .. old)
end
