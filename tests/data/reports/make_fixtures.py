#!/usr/bin/env python3
"""Writes the fixture run folders pass/, fail/, hostile/ and expect/ beside
this file.

A developer tool, not run by CI (the folders are committed). The stories
follow docs/dev/interfaces.md: report.json (paydrill.report/1) and the
merged journal.ndjson, in simulated milliseconds. Re-run after a schema
change: python3 tests/data/reports/make_fixtures.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1767225600000  # 2026-01-01T00:00:00Z, the simulated epoch

INVARIANTS = ["no_lost_payment", "no_double_charge", "duplicates_rejected",
              "business_notified", "states_agree"]


# The gateway's trade_no of each out_trade_no, as the checker writes it on
# every journal line (null when the gateway has no such trade).
TRADE_NOS = {}


def trade_no(otn, given=None):
    """The trade_no of otn: given the first time, else the next 42000000NN."""
    if otn is not None and otn not in TRADE_NOS:
        TRADE_NOS[otn] = given or "42%08d" % (len(TRADE_NOS) + 1)
    return TRADE_NOS.get(otn)


def ev(t, lane, key, oid, kind, detail=None, fault=None, otn=None):
    return {"t": t, "lane": lane, "key": key, "order_id": oid, "out_trade_no": otn,
            "trade_no": trade_no(otn), "kind": kind, "detail": detail, "fault": fault}


def happy(key, oid, t, callbacks=1, drop=0, queries=0, amount=1999):
    """A paid order: submit, pay, trade, charge, callbacks (first `drop`
    dropped), optional queries, PAID, notification, ack. The gateway's
    details are shaped as the checker writes them, with the trade_no and
    the amount in them."""
    otn = oid + "-1"
    tn = trade_no(otn)
    e = [ev(t, "business", key, oid, "submit", "POST /orders -> 201", otn=None),
         ev(t + 3, "sut", key, oid, "status", "NEW -> UNPAID (submit)"),
         ev(t + 40, "business", key, oid, "pay", "POST /orders/%s/pay -> 200" % oid),
         ev(t + 52, "gateway", key, oid, "trade_created",
            "create status=200 attempt=1 trade_no=%s state=NOTPAY" % tn, otn=otn),
         ev(t + 55, "sut", key, oid, "status", "UNPAID -> PAYING (pay)"),
         ev(t + 900, "gateway", key, oid, "charge",
            "pay status=200 attempt=1 payer_key=%s charged amount=%d" % (key, amount), otn=otn)]
    at = t + 1000
    faults = []
    for a in range(1, callbacks + 1):
        if a <= drop:
            e.append(ev(at, "gateway", key, oid, "callback",
                        "callback status=0 attempt=%d event_id=ev-%s-SUCCESS copy=1" % (a, tn),
                        "drop", otn))
            faults.append("callback.drop")
        else:
            e.append(ev(at, "gateway", key, oid, "callback",
                        "callback status=200 attempt=%d event_id=ev-%s-SUCCESS copy=1 acked" % (a, tn),
                        None, otn))
        at += 15000 * a
    for q in range(queries):
        e.append(ev(at - 5000 + q * 100, "gateway", key, oid, "query",
                    "query status=200 attempt=%d trade_no=%s trade_state=SUCCESS" % (q + 1, tn), otn=otn))
    paid_at = at - 14990
    e.append(ev(paid_at, "sut", key, oid, "status", "PAYING -> PAID (%s)" % ("query" if queries and drop >= callbacks else "callback")))
    e.append(ev(paid_at + 20, "sut", key, oid, "notification", "event ev-%s-1 seq 1 PAID attempt 1" % oid))
    e.append(ev(paid_at + 26, "business", key, oid, "ack", "receipt PAID applied, answered 200"))
    return e, sorted(set(faults))


def order_row(key, oid, status, charges, callbacks, queries, notes, faults, amount=1999):
    return {"key": key, "order_id": oid, "status": status, "amount": amount, "currency": "CNY",
            "charges": charges, "callbacks": callbacks, "queries": queries,
            "notifications": notes, "faults": faults}


def write(name, report, journal):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for f in ("junit.xml", "report.html"):
        p = os.path.join(d, f)
        if os.path.exists(p):
            os.remove(p)
    with open(os.path.join(d, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    journal.sort(key=lambda x: x["t"])
    with open(os.path.join(d, "journal.ndjson"), "w", encoding="utf-8") as f:
        for line in journal:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def base_report(name, desc, seed, verdict, orders, invariants, violations, fault_plan, counts):
    return {
        "schema": "paydrill.report/1",
        "scenario": {"name": name, "description": desc, "file": "scenarios/default/%s.json" % name},
        "seed": seed, "time_scale": 500,
        "sut": {"kind": "reference", "command": "payment-center --db run/pc.db", "url": None,
                "attach_passed": True, "process_faults_supported": True},
        "started_at": "2026-11-26T03:00:00Z", "duration_ms": 4312,
        "sim_started_at": T0, "sim_finished_at": T0 + 600000,
        "counts": counts, "verdict": verdict, "invariants": invariants,
        "violations": violations, "fault_plan": fault_plan, "fault_plan_reproducible": True,
        "orders": orders,
        "files": {"journal": "journal.ndjson", "logs": ["gateway.log", "sut.log"]},
        "replay": "paydrill replay /work/runs/2026-11-26T030000Z/%s" % name,
    }


def make_pass():
    journal, orders, plan = [], [], {}
    for i in range(1, 7):
        key, oid = "happy-%d" % i, "o-%016x" % (0x5f2c9a1d0b7e4c00 + i)
        drop = 1 if i in (2, 5) else 0
        e, faults = happy(key, oid, T0 + i * 700, callbacks=1 + drop, drop=drop)
        journal += e
        if drop:
            plan[key] = [{"source": "gateway", "kind": "callback.drop", "op": "callback",
                          "attempt": 1, "detail": "drop the first callback"}]
        orders.append(order_row(key, oid, "PAID", 1, 1 + drop, 0, 1, faults))
    inv = [{"name": n, "holds": True, "checked": 6, "violations": 0} for n in INVARIANTS]
    counts = {"orders": 6, "submissions": 6, "duplicates_sent": 0, "duplicates_rejected": 0,
              "paid": 6, "closed": 0, "charges": 6, "refunds": 0, "callbacks": 8, "notifications": 6}
    write("pass", base_report("happy-path", "Six orders paid; two first callbacks dropped and retried.",
                              7, "pass", orders, inv, [], plan, counts), journal)


def make_fail():
    journal, orders, plan = [], [], {}
    for i in (1, 2, 4, 5, 7, 8):
        key, oid = "chaos-%d" % i, "o-%016x" % (0x7a10c0de00000000 + i)
        drop = 2 if i == 4 else (1 if i in (2, 7) else 0)
        e, faults = happy(key, oid, T0 + i * 1000, callbacks=1 + drop, drop=drop, queries=1 if drop == 2 else 0)
        journal += e
        orders.append(order_row(key, oid, "PAID", 1, 1 + drop, 1 if drop == 2 else 0, 1, faults))
        if drop:
            plan[key] = [{"source": "gateway", "kind": "callback.drop", "op": "callback",
                          "attempt": a, "detail": "drop"} for a in range(1, drop + 1)]
    # chaos-3: an ambiguous create made the SUT open a second trade; the payer paid both.
    key, oid = "chaos-3", "o-7a10c0de00000003"
    t = T0 + 3000
    journal += [
        ev(t, "business", key, oid, "submit", "POST /orders -> 201"),
        ev(t + 3, "sut", key, oid, "status", "NEW -> UNPAID (submit)"),
        ev(t + 40, "business", key, oid, "pay", "POST /orders/%s/pay -> 200" % oid),
        ev(t + 52, "gateway", key, oid, "trade_created",
           "create status=200 attempt=1 trade_no=%s state=NOTPAY, answer lost (commit_drop)"
           % trade_no(oid + "-1", "4200000731"), "commit_drop", oid + "-1"),
        ev(t + 3052, "sut", key, oid, "status", "UNPAID -> PAYING (create_ambiguous)"),
        ev(t + 3060, "gateway", key, oid, "trade_created",
           "create status=200 attempt=1 trade_no=%s state=NOTPAY" % trade_no(oid + "-2", "4200000732"),
           None, oid + "-2"),
        ev(t + 3900, "gateway", key, oid, "charge",
           "pay status=200 attempt=1 payer_key=%s charged amount=1999" % key, None, oid + "-2"),
        ev(t + 4100, "gateway", key, oid, "charge",
           "pay status=200 attempt=1 payer_key=%s charged amount=1999 (late pay on the first trade)" % key,
           None, oid + "-1"),
        ev(t + 4200, "gateway", key, oid, "callback",
           "callback status=200 attempt=1 event_id=ev-4200000732-SUCCESS copy=1 acked", None, oid + "-2"),
        ev(t + 4210, "gateway", key, oid, "callback",
           "callback status=200 attempt=1 event_id=ev-4200000731-SUCCESS copy=2 acked (duplicate)",
           "duplicate", oid + "-1"),
        ev(t + 4215, "sut", key, oid, "status", "PAYING -> PAID (callback)"),
        ev(t + 4240, "sut", key, oid, "notification", "event ev-%s-1 seq 1 PAID attempt 1" % oid),
        ev(t + 4250, "business", key, oid, "ack", "receipt PAID applied, answered 200"),
    ]
    orders.append(order_row(key, oid, "PAID", 2, 2, 0, 1, ["create.commit_drop", "callback.duplicate"]))
    plan[key] = [{"source": "gateway", "kind": "create.commit_drop", "op": "create", "attempt": 1,
                  "detail": "commit the trade, drop the answer"},
                 {"source": "payer", "kind": "payer.pay_late", "op": "pay", "attempt": 1,
                  "detail": "pay the first trade after the second"}]
    # chaos-6: callbacks all dropped, the query answered stale, the SUT closed a paid order.
    key, oid = "chaos-6", "o-7a10c0de00000006"
    t = T0 + 6000
    journal += [
        ev(t, "business", key, oid, "submit", "POST /orders -> 201"),
        ev(t + 3, "sut", key, oid, "status", "NEW -> UNPAID (submit)"),
        ev(t + 40, "business", key, oid, "pay", "POST /orders/%s/pay -> 200" % oid),
        ev(t + 52, "gateway", key, oid, "trade_created",
           "create status=200 attempt=1 trade_no=%s state=NOTPAY" % trade_no(oid + "-1", "4200000761"),
           None, oid + "-1"),
        ev(t + 55, "sut", key, oid, "status", "UNPAID -> PAYING (pay)"),
        ev(t + 880, "gateway", key, oid, "charge",
           "pay status=200 attempt=1 payer_key=%s charged amount=1999" % key, None, oid + "-1"),
    ] + [
        ev(t + 1000 + 15000 * (a - 1), "gateway", key, oid, "callback",
           "callback status=0 attempt=%d event_id=ev-4200000761-SUCCESS copy=1" % a, "drop", oid + "-1")
        for a in (1, 2, 3)
    ] + [
        ev(t + 300000, "gateway", key, oid, "query",
           "query status=200 attempt=1 trade_no=4200000761 trade_state=NOTPAY (stale state served)",
           "stale_query", oid + "-1"),
        ev(t + 300010, "gateway", key, oid, "close",
           "close status=200 attempt=1 trade_no=4200000761 (trade already SUCCESS!)", None, oid + "-1"),
        ev(t + 300015, "sut", key, oid, "status", "PAYING -> CLOSED (close_confirmed)"),
        ev(t + 300030, "sut", key, oid, "notification", "event ev-%s-1 seq 1 CLOSED attempt 1" % oid),
        ev(t + 300041, "business", key, oid, "ack", "receipt CLOSED applied, answered 200"),
    ]
    orders.append(order_row(key, oid, "CLOSED", 1, 3, 1, 1, ["callback.drop", "query.stale_query"]))
    plan[key] = [{"source": "gateway", "kind": "callback.drop", "op": "callback", "attempt": a,
                  "detail": "drop"} for a in (1, 2, 3)] + [
                 {"source": "gateway", "kind": "query.stale_query", "op": "query", "attempt": 1,
                  "detail": "answer NOTPAY"}]
    journal.append({"t": T0 + 200000, "lane": "sut", "key": None, "order_id": None,
                    "out_trade_no": None, "trade_no": None, "kind": "process", "detail": "kill -9 payment-center (restart after 2 s)",
                    "fault": "process.kill"})
    orders.sort(key=lambda o: o["key"])
    viols = [
        {"invariant": "no_double_charge", "order": "o-7a10c0de00000003", "key": "chaos-3",
         "summary": "the payer was charged twice (2 trades SUCCESS, 2 charges) for one order",
         "evidence": {"G": {"trades": [
             {"out_trade_no": "o-7a10c0de00000003-1", "state": "SUCCESS", "charges": [{"at": T0 + 7100, "amount": 1999}]},
             {"out_trade_no": "o-7a10c0de00000003-2", "state": "SUCCESS", "charges": [{"at": T0 + 6900, "amount": 1999}]}]},
             "P": {"status": "PAID", "trades": [{"out_trade_no": "o-7a10c0de00000003-1", "attempt": 1, "state": "UNKNOWN"},
                                                {"out_trade_no": "o-7a10c0de00000003-2", "attempt": 2, "state": "SUCCESS"}],
                   "refunds": []},
             "B": {"receipts": [{"status": "PAID", "seq": 1, "applied": True}]}},
         "faults": ["create.commit_drop attempt 1", "callback.duplicate attempt 1"]},
        {"invariant": "no_lost_payment", "order": "o-7a10c0de00000006", "key": "chaos-6",
         "summary": "gateway says SUCCESS and charged 19.99 CNY, payment center closed the order and never refunded",
         "evidence": {"G": {"state": "SUCCESS", "charges": [{"at": T0 + 6880, "amount": 1999}], "refunds": [],
                            "callbacks": {"attempts": 3, "acked": False, "gave_up": True}},
                      "P": {"status": "CLOSED", "history": [{"to": "CLOSED", "cause": "close_confirmed"}], "refunds": []},
                      "B": {"receipts": [{"status": "CLOSED", "seq": 1, "applied": True}]}},
         "faults": ["callback.drop attempt 1", "callback.drop attempt 2", "callback.drop attempt 3",
                    "query.stale_query attempt 1"]},
    ]
    inv = []
    for n in INVARIANTS:
        bad = sum(1 for v in viols if v["invariant"] == n)
        inv.append({"name": n, "holds": bad == 0, "checked": 8, "violations": bad})
    counts = {"orders": 8, "submissions": 8, "duplicates_sent": 0, "duplicates_rejected": 0,
              "paid": 7, "closed": 1, "charges": 9, "refunds": 0, "callbacks": 16, "notifications": 8}
    write("fail", base_report("callback-chaos", "Callbacks dropped, duplicated and answered stale; one SUT kill.",
                              42, "fail", orders, inv, viols, plan, counts), journal)


def make_expect():
    """No invariant violated, yet the verdict is fail: one of the scenario's
    two expectations was not met (no close was answered ORDERPAID), so its
    story did not happen."""
    journal, orders = [], []
    for i in range(1, 4):
        key, oid = "race-%d" % i, "o-%016x" % (0x3c105e0000000000 + i)
        e, faults = happy(key, oid, T0 + i * 900)
        journal += e
        orders.append(order_row(key, oid, "PAID", 1, 1, 0, 1, faults))
    inv = [{"name": n, "holds": True, "checked": 3, "violations": 0} for n in INVARIANTS]
    counts = {"orders": 3, "submissions": 3, "duplicates_sent": 0, "duplicates_rejected": 0,
              "paid": 3, "closed": 0, "charges": 3, "refunds": 0, "callbacks": 3, "notifications": 3}
    rep = base_report("close-refused-just-paid",
                      "Close an order the payer has just paid; the gateway must refuse with ORDERPAID.",
                      11, "fail", orders, inv, [], {}, counts)
    rep["expectations"] = [
        {"what": "count paid", "expect": {"count": "paid", "at_least": 1,
                                          "why": "orders get paid"},
         "seen": 3, "met": True},
        {"what": "gateway op=close status=409 detail~ORDERPAID",
         "expect": {"gateway": {"op": "close", "status": 409, "detail": "ORDERPAID"},
                    "at_least": 1, "why": "a close raced the payment & the gateway refused it"},
         "seen": 0, "met": False},
    ]
    write("expect", rep, journal)


HOSTILE_ID = "</script><script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
HOSTILE_KEY = "<img id=\"pwned-img\" src=x onerror=\"document.title='pwned'\">"
HOSTILE_NAME = "evil & co\" '<!-- \u2028\u2029 ]]> \x01\x07 <b id=\"pwned-b\">bold</b>"
# report.html carries details as templates (~k, ~o, ~t, ~a, ~g, ~~ for a
# ~): a detail holding the codes literally, its own key, amount and
# trade_no beside them, and the amount and trade_no inside longer numbers
# and words (not whole tokens, so not replaced), must still show exactly
# as written.
TILDE_TRAP = " ~k ~~ ~o~t~ ~x ~ ~a ~g ~~a ~~g a~a g~g"
# The hostile order's trade_no is markup too; its amount is 1 (the 1 of
# "attempt=1" is a whole token, that of "4200000001" and "x1" is not).
HOSTILE_TRADE_NO = "42<b id=\"pwned-tn\">1</b>"
HOSTILE_AMOUNT = 1


def make_hostile():
    key, oid = HOSTILE_KEY, HOSTILE_ID
    tn = trade_no(oid + "-1", HOSTILE_TRADE_NO)
    e, _ = happy(key, oid, T0 + 1000, amount=HOSTILE_AMOUNT)
    numbers = " %d%s 4200000001 x1 1y ~1 (1) %s0 a%s ~%s~" % (HOSTILE_AMOUNT, tn, tn, tn, tn)
    for x in e:
        x["detail"] = ((x["detail"] or "") + " " + HOSTILE_NAME + TILDE_TRAP + " ~" + key + "~~" +
                       numbers)
    e[-3]["fault"] = "<svg onload=alert(1)>"
    orders = [order_row(key, oid, "PAID<script>", 2, 1, 0, 1, ["<i id=\"pwned-i\">x</i>", "callback.drop"],
                        amount=HOSTILE_AMOUNT)]
    e2, _ = happy("plain-1", "o-plain-1", T0 + 2000)
    orders.append(order_row("plain-1", "o-plain-1", "PAID", 1, 1, 0, 1, []))
    viols = [{"invariant": "no_double_charge</td><td id=\"pwned-td\">", "order": oid, "key": key,
              "summary": "merchant " + HOSTILE_NAME + " charged twice",
              "evidence": {"G": {"merchant_id": HOSTILE_NAME, "attach": "</script><!--"}},
              "faults": ["<script>document.title='pwned'</script>"]}]
    inv = [{"name": "no_double_charge</td><td id=\"pwned-td\">", "holds": False, "checked": 2, "violations": 1},
           {"name": "no_lost_payment", "holds": True, "checked": 2, "violations": 0}]
    counts = {"orders": 2, "charges": 3, "paid": 2}
    rep = base_report("hostile </script><script>document.title='pwned'</script> & \"quotes\"",
                      "Every string here tries to break out: " + HOSTILE_NAME, 99, "fail",
                      orders, inv, viols, {key: [{"source": "gateway", "kind": "<b id=\"pwned-plan\">x</b>",
                                                  "op": "callback", "attempt": 1, "detail": HOSTILE_NAME}]}, counts)
    rep["replay"] = "paydrill replay '/tmp/x</script><script>document.title=\"pwned\"</script>'"
    write("hostile", rep, e + e2)


if __name__ == "__main__":
    make_pass()
    make_fail()
    make_hostile()
    make_expect()
