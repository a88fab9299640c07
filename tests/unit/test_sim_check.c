/* Proves the checker's invariants on hand-written G/P/B histories.
 *
 * Every case starts from tests/data/check/base.json (a run that keeps every
 * invariant) and edits it into the history some bug would leave behind: the
 * zoo of issue 6 (no PAYING lock, reconciler closing locally, outbox outside
 * the transaction, non-idempotent callbacks...) and each rule of
 * docs/checker.md. A "breaks" case asserts that the named invariant is
 * violated on the named order (the exact "scenario invariant order" prefix of
 * the violation line); a "holds" case asserts that every invariant holds,
 * so it also proves the checker does not cry wolf on the legal variants
 * (late payment refunded, UNKNOWN round trips, a double-click race won by the
 * second click...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pd_err.h"
#include "pd_util.h"
#include "test_sim_check_fixture.h"

#define T(s) "17672256" #s "000"     /* T + s seconds, as JSON digits; s is 2 digits */

struct check_case {
    const char *name;
    const char *inv;      /* NULL: every invariant holds */
    const char *order;
    struct fx_edit edits[FX_MAX_EDITS];
};

#define CHARGED_TRADE(otn, key, amount)                                                   \
    "{'out_trade_no':'" otn "','trade_no':'42" otn "','merchant_id':'m-1','amount':" amount \
    ",'currency':'CNY','attach':'" key "','state':'SUCCESS','created_at':" T(10)          \
    ",'closed_at':null,'charges':[{'at':" T(11) ",'amount':" amount "}],'refunds':[],"     \
    "'refunded_amount':0,'callbacks':{'attempts':1,'acked':true,'acked_at':" T(12)        \
    ",'gave_up':false,'pending':false}}"

#define CLOSED_ORDER(id, ref)                                                              \
    "{'order_id':'" id "','client_ref':'" ref "','amount':500,'currency':'CNY',"          \
    "'status':'CLOSED','history':[{'at':" T(30) ",'from':null,'to':'UNPAID','cause':"     \
    "'submit'},{'at':" T(80) ",'from':'UNPAID','to':'CLOSED','cause':'expired_unpaid'}]," \
    "'trades':[],'refunds':[],'notifications':[{'event_id':'ev-" id "','seq':1,'status':"  \
    "'CLOSED','attempts':1,'delivered_at':" T(81) ",'last_http_status':200}]}"

/* An order P created at `at`, closed unpaid 50 s later (at + 50 < T(99)). */
#define ORDER_AT(id, ref, at)                                                              \
    "{'order_id':'" id "','client_ref':'" ref "','amount':500,'currency':'CNY',"          \
    "'created_at':" at ",'status':'CLOSED','history':[{'at':" at ",'from':null,"          \
    "'to':'UNPAID','cause':'submit'},{'at':" T(85) ",'from':'UNPAID','to':'CLOSED',"      \
    "'cause':'expired_unpaid'}],'trades':[],'refunds':[],'notifications':[{'event_id':"   \
    "'ev-" id "','seq':1,'status':'CLOSED','attempts':1,'delivered_at':" T(86)            \
    ",'last_http_status':200}]}"

/* Three originals sent at T+20..22 s that the SUT created 8 s later each. */
#define QUEUED_ORIGINALS                                                                   \
    {"business", "submissions[]", SUB("k-8", "original", T(20), "201", "o-8", "k-8")},    \
        {"business", "submissions[]", SUB("k-9", "original", T(21), "201", "o-9", "k-9")}, \
        {"business", "submissions[]", SUB("k-10", "original", T(22), "201", "o-10", "k-10")}, \
        {"export", "orders[]", ORDER_AT("o-8", "k-8", T(28))},                            \
        {"export", "orders[]", ORDER_AT("o-9", "k-9", T(29))},                            \
        {"export", "orders[]", ORDER_AT("o-10", "k-10", T(30))}

#define RECEIPT(ev, order, status, amount, sig, applied)                                   \
    "{'at':" T(90) ",'event_id':'" ev "','order_id':'" order "','seq':1,'status':'" status \
    "','amount':" amount ",'currency':'CNY','client_ref':'k-1','signature_ok':" sig        \
    ",'answered':200,'applied':" applied "}"

#define FORGED(fault, status)                                                              \
    "{'seq':9,'at':" T(04) ",'op':'callback','out_trade_no':'o-1-1','key':'k-1','attempt':1," \
    "'fault':'forge." fault "','status':" status ",'detail':''}"

/* A submission the SUT refused without an order (404 while starting). */
#define SUB_LOST(key, kind, at, ref)                                                       \
    "{'key':'" key "','seq':0,'kind':'" kind "','original_key':'" key "','at':" at         \
    ",'status':404,'order_id':null,'error':'not_found','client_ref':'" ref                 \
    "','amount':500,'currency':'CNY','merchant_id':'m-1','user_id':'u-9'}"

#define SUB(key, kind, at, status, order, ref)                                             \
    "{'key':'" key "','seq':1,'kind':'" kind "','original_key':'" key "','at':" at         \
    ",'status':" status ",'order_id':'" order "','error':null,'client_ref':'" ref          \
    "','amount':500,'currency':'CNY','merchant_id':'m-1','user_id':'u-9'}"

static const struct check_case cases[] = {
    {"base run", NULL, NULL, {{0}}},

    /* ---- no_lost_payment ---- */
    {"reconciler gives up and closes locally: P CLOSED, G charged", "no_lost_payment", "o-2",
     {{"ledger", "trades[1].charges", "[{'at':" T(50) ",'amount':500}]"},
      {"ledger", "trades[1].state", "'SUCCESS'"}}},
    {"outbox written outside the transaction: PAID, no receipt", "no_lost_payment", "o-1",
     {{"export", "orders[0].notifications", "[]"},
      {"business", "receipts[1]", NULL},
      {"business", "receipts[0]", NULL}}},
    {"timed-out create treated as failed: a trade P never lists, found by attach",
     "no_lost_payment", "o-2", {{"ledger", "trades[]", CHARGED_TRADE("o-2-2", "k-2", "500")}}},
    {"charged trade that belongs to no order at all", "no_lost_payment", "o-9-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")}}},
    {"closed locally, the late payment refunded: money safe, close never confirmed",
     "legal_history", "o-2",
     {{"ledger", "trades[1].charges", "[{'at':" T(70) ",'amount':500}]"},
      {"ledger", "trades[1].refunds", "[{'out_refund_no':'rf-1','amount':500,'at':" T(75) "}]"},
      {"ledger", "trades[1].refunded_amount", "500"},
      {"ledger", "trades[1].state", "'REFUND'"},
      {"ledger", "trades[1].closed_at", "null"},
      {"journal", "[5]", NULL},
      {"export", "orders[1].refunds", "[{'out_refund_no':'rf-1','out_trade_no':'o-2-1',"
                                      "'amount':500,'status':'SUCCESS','at':" T(75)
                                      ",'reason':'charge_after_close'}]"}}},
    {"closing locally without closing at the gateway: the trade stays open",
     "legal_history", "o-2",
     {{"ledger", "trades[1].state", "'NOTPAY'"}, {"ledger", "trades[1].closed_at", "null"},
      {"journal", "[5]", NULL}}},
    {"the gateway answered the close 200 but left the trade open (fake_success), "
     "the late payment refunded",
     NULL, NULL,
     {{"ledger", "trades[1].charges", "[{'at':" T(70) ",'amount':500}]"},
      {"ledger", "trades[1].refunds", "[{'out_refund_no':'rf-1','amount':500,'at':" T(75) "}]"},
      {"ledger", "trades[1].refunded_amount", "500"},
      {"ledger", "trades[1].state", "'REFUND'"},
      {"ledger", "trades[1].closed_at", "null"},
      {"journal", "[5].fault", "'fake_success'"},
      {"export", "orders[1].refunds", "[{'out_refund_no':'rf-1','out_trade_no':'o-2-1',"
                                      "'amount':500,'status':'SUCCESS','at':" T(75)
                                      ",'reason':'charge_after_close'}]"}}},
    {"late payment after close kept, not refunded", "no_lost_payment", "o-2",
     {{"ledger", "trades[1].charges", "[{'at':" T(70) ",'amount':500}]"}}},

    /* ---- no_double_charge ---- */
    {"no PAYING lock: a second trade charged, P does not list it", "no_double_charge", "o-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-1-2", "k-1", "1999")}}},
    {"new out_trade_no on retry: both trades listed and charged", "no_double_charge", "o-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-1-2", "k-1", "1999")},
      {"export", "orders[0].trades[]", "{'out_trade_no':'o-1-2','attempt':2,'state':'SUCCESS'}"}}},
    {"one trade charged twice", "no_double_charge", "o-1",
     {{"ledger", "trades[0].charges[]", "{'at':" T(20) ",'amount':1999}"}}},
    {"one trade charged twice, the extra refunded: still a gateway double charge",
     "no_double_charge", "o-1",
     {{"ledger", "trades[0].charges[]", "{'at':" T(20) ",'amount':1999}"},
      {"ledger", "trades[0].refunds", "[{'out_refund_no':'rf-3','amount':1999,'at':" T(40) "}]"},
      {"ledger", "trades[0].refunded_amount", "1999"}}},
    {"an orphan trade charged twice", "no_double_charge", "o-9-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")},
      {"ledger", "trades[2].charges[]", "{'at':" T(20) ",'amount':700}"}}},
    {"two orphan trades charged under one workload key", "no_double_charge", "k-9",
     {{"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")},
      {"ledger", "trades[]", CHARGED_TRADE("o-9-2", "k-9", "700")}}},
    {"new out_trade_no on retry: a second trade opened beside an open one, nobody paid it",
     "no_double_charge", "o-2",
     {{"ledger", "trades[1].closed_at", "null"}, {"ledger", "trades[1].state", "'NOTPAY'"},
      {"ledger", "trades[]", "{'out_trade_no':'o-2-2','amount':500,'currency':'CNY','attach':"
                             "'k-2','state':'CLOSED','created_at':" T(03) ",'closed_at':"
                             T(60) ",'charges':[],'refunds':[]}"}}},
    {"a second trade opened after the first was charged, its charge refunded",
     "no_double_charge", "o-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-1-2", "k-1", "1999")},
      {"ledger", "trades[2].refunds", "[{'out_refund_no':'rf-2','amount':1999,'at':" T(40) "}]"},
      {"ledger", "trades[2].refunded_amount", "1999"}}},
    {"a new trade only after the first was closed at the gateway (holds)", NULL, NULL,
     {{"ledger", "trades[0].out_trade_no", "'o-1-0'"},
      {"ledger", "trades[0].charges", "[]"}, {"ledger", "trades[0].state", "'CLOSED'"},
      {"ledger", "trades[0].closed_at", T(02)},
      {"ledger", "trades[]", CHARGED_TRADE("o-1-1", "k-1", "1999")}}},

    /* ---- no_phantom_payment ---- */
    {"callback applied without checking the signature: PAID, G never charged",
     "no_phantom_payment", "o-1",
     {{"ledger", "trades[0].charges", "[]"}, {"ledger", "trades[0].state", "'NOTPAY'"}}},
    {"B told PAID for an order P closed", "no_phantom_payment", "o-2",
     {{"business", "receipts[]", RECEIPT("ev-o-2-9", "o-2", "PAID", "500", "true", "true")}}},
    {"B told PAID for an order P does not hold", "no_phantom_payment", "o-77",
     {{"business", "receipts[]", RECEIPT("ev-o-77", "o-77", "PAID", "500", "true", "true")}}},

    {"callbacks applied without checking the signature: a forgery acknowledged",
     "no_phantom_payment", "o-1", {{"journal", "[]", FORGED("bad_signature", "200")}}},
    {"a stale-timestamp forgery acknowledged", "no_phantom_payment", "o-1",
     {{"journal", "[]", FORGED("stale_timestamp", "200")}}},
    {"forgeries refused, a replay acknowledged (holds)", NULL, NULL,
     {{"journal", "[]", FORGED("bad_signature", "401")},
      {"journal", "[]", FORGED("wrong_amount", "400")},
      {"journal", "[]", FORGED("unknown_out_trade_no", "404")},
      {"journal", "[]", FORGED("replay", "200")}}},

    /* ---- amount_integrity ---- */
    {"callbacks applied without checking the amount: a forged amount acknowledged",
     "amount_integrity", "o-1", {{"journal", "[]", FORGED("wrong_amount", "200")}}},
    {"callback applied without checking the amount: G charged 1, P paid 1999",
     "amount_integrity", "o-1",
     {{"ledger", "trades[0].amount", "1"},
      {"ledger", "trades[0].charges", "[{'at':" T(03) ",'amount':1}]"}}},
    {"G trade in another currency", "amount_integrity", "o-1",
     {{"ledger", "trades[0].currency", "'USD'"}}},
    {"B receipt with another amount", "amount_integrity", "o-1",
     {{"business", "receipts[1].amount", "199"}, {"business", "receipts[0].amount", "199"}}},
    {"P order amount differs from the driver's submission", "amount_integrity", "o-1",
     {{"business", "submissions[0].amount", "2999"}}},

    /* ---- consistent_notifications ---- */
    {"non-idempotent callback handling: a new event id per copy",
     "consistent_notifications", "o-1",
     {{"business", "receipts[]", RECEIPT("ev-o-1-1b", "o-1", "PAID", "1999", "true", "true")}}},
    {"PAID and CLOSED notified for one order", "consistent_notifications", "o-1",
     {{"business", "receipts[]", RECEIPT("ev-o-1-2", "o-1", "CLOSED", "1999", "true", "false")}}},
    {"receipt with a bad signature applied", "consistent_notifications", "o-1",
     {{"business", "receipts[]", RECEIPT("ev-o-1-1", "o-1", "PAID", "1999", "false", "true")}}},
    {"two deliveries of one event disagree", "consistent_notifications", "o-1",
     {{"business", "receipts[0].seq", "2"}}},
    {"the last receipt contradicts P's final status", "consistent_notifications", "o-3",
     {{"business", "receipts[3].status", "'UNPAID'"}}},
    {"P lists one status under two event ids", "consistent_notifications", "o-1",
     {{"export", "orders[0].notifications[]", "{'event_id':'ev-o-1-9','seq':2,'status':'PAID',"
                                              "'attempts':1,'delivered_at':null}"}}},
    {"a forged receipt refused, not applied (holds)", NULL, NULL,
     {{"business", "receipts[]", RECEIPT("ev-o-1-1", "o-1", "PAID", "1999", "false", "false")}}},

    /* ---- duplicate_submission_rejected ---- */
    {"no duplicate check: in-window resubmission accepted", "duplicate_submission_rejected",
     "o-4",
     {{"business", "submissions[2].status", "201"},
      {"business", "submissions[2].order_id", "'o-4'"},
      {"export", "orders[]", CLOSED_ORDER("o-4", "k-1~dup1")}}},
    {"in-window resubmission refused but created an order anyway",
     "duplicate_submission_rejected", "o-4",
     {{"export", "orders[]", CLOSED_ORDER("o-4", "k-1~dup1")}}},
    {"409 naming another order than the original", "duplicate_submission_rejected", "o-1",
     {{"business", "submissions[2].order_id", "'o-2'"}}},
    {"a legitimate original refused", "duplicate_submission_rejected", "k-5",
     {{"business", "submissions[]", SUB("k-5", "original", T(01), "409", "o-1", "k-5")}}},
    {"after-window resubmission refused", "duplicate_submission_rejected", "k-2~dup1",
     {{"business", "submissions[3].status", "409"},
      {"business", "submissions[3].order_id", "'o-2'"},
      {"export", "orders[2]", NULL}}},
    {"labelled after_window but accepted 2 s after the original: judged in-window",
     "duplicate_submission_rejected", "o-3",
     {{"business", "submissions[3].at", T(02)}, {"export", "orders[2].created_at", T(02)}}},
    {"original retried, accepted 30 s after its first try; a resubmission 35 s after that "
     "first try refused: inside the SUT's window (holds)", NULL, NULL,
     {{"business", "submissions[0].retried", "true"},
      {"export", "orders[0].created_at", T(30)},
      {"business", "submissions[2].at", T(35)}}},
    {"a resubmission 35 s after a prompt original refused: outside the window",
     "duplicate_submission_rejected", "k-1~dup1",
     {{"business", "submissions[2].at", T(35)}}},
    {"originals queued 8 s in the SUT; a copy sent 16 s after one of them, 8 s after the SUT "
     "created it, refused: inside the window on the SUT's clock (holds)", NULL, NULL,
     {QUEUED_ORIGINALS,
      {"business", "submissions[]", SUB("k-8", "after_window", T(36), "409", "o-8", "k-8~dup1")}}},
    {"the same queued originals; a copy sent 25 s after the SUT created its original refused: "
     "outside the window", "duplicate_submission_rejected", "k-8~dup1",
     {QUEUED_ORIGINALS,
      {"business", "submissions[]", SUB("k-8", "after_window", T(53), "409", "o-8", "k-8~dup1")}}},
    {"check-then-insert race: a concurrent double-click accepted twice",
     "duplicate_submission_rejected", "o-5",
     {{"business", "submissions[]", SUB("k-2", "concurrent", T(01), "201", "o-5", "k-2~dup2")},
      {"export", "orders[]", CLOSED_ORDER("o-5", "k-2~dup2")}}},
    {"labelled immediate but sent 30 s later, accepted: judged after the window (holds)",
     NULL, NULL, {{"business", "submissions[3].kind", "'immediate'"}}},
    {"original retried after a lost answer, refused naming its own order (holds)", NULL, NULL,
     {{"business", "submissions[0].status", "409"}}},
    {"after-window resubmission retried, refused naming the order it created (holds)",
     NULL, NULL, {{"business", "submissions[3].status", "409"}}},
    {"double-click race won by the second click (holds)", NULL, NULL,
     {{"business", "submissions[]", SUB("k-6", "original", T(01), "409", "o-6", "k-6")},
      {"business", "submissions[]", SUB("k-6", "concurrent", T(01), "201", "o-6", "k-6~dup1")},
      {"export", "orders[]", CLOSED_ORDER("o-6", "k-6~dup1")}}},

    {"original answered 404 by a SUT still starting, its immediate resubmission accepted: "
     "the first order (holds)", NULL, NULL,
     {{"business", "submissions[]", SUB_LOST("k-7", "original", T(01), "k-7")},
      {"business", "submissions[]", SUB("k-7", "immediate", T(02), "201", "o-7", "k-7~dup1")},
      {"export", "orders[]", CLOSED_ORDER("o-7", "k-7~dup1")}}},
    {"original answered 404, then two resubmissions both accepted",
     "duplicate_submission_rejected", "o-8",
     {{"business", "submissions[]", SUB_LOST("k-7", "original", T(01), "k-7")},
      {"business", "submissions[]", SUB("k-7", "immediate", T(02), "201", "o-7", "k-7~dup1")},
      {"business", "submissions[]", SUB("k-7", "immediate", T(03), "201", "o-8", "k-7~dup2")},
      {"export", "orders[]", CLOSED_ORDER("o-7", "k-7~dup1")},
      {"export", "orders[]", CLOSED_ORDER("o-8", "k-7~dup2")}}},

    /* ---- legal_history ---- */
    {"UNPAID -> PAID skips PAYING", "legal_history", "o-1",
     {{"export", "orders[0].history[1]", NULL},
      {"export", "orders[0].history[1].from", "'UNPAID'"}}},
    {"PAID left for PAYING", "legal_history", "o-1",
     {{"export", "orders[0].history[]", "{'at':" T(40) ",'from':'PAID','to':'PAYING',"
                                        "'cause':'query'}"},
      {"export", "orders[0].status", "'PAYING'"}}},
    {"history goes back in time", "legal_history", "o-1",
     {{"export", "orders[0].history[2].at", T(00)}}},
    {"history does not start with null -> UNPAID", "legal_history", "o-1",
     {{"export", "orders[0].history[0].from", "'PAYING'"}}},
    {"an entry's from is not the previous to", "legal_history", "o-1",
     {{"export", "orders[0].history[2].from", "'UNKNOWN'"}}},
    {"PAYING <-> UNKNOWN round trips and a refused trade (holds)", NULL, NULL,
     {{"export", "orders[0].history",
       "[{'at':" T(00) ",'from':null,'to':'UNPAID','cause':'submit'},"
       "{'at':" T(01) ",'from':'UNPAID','to':'PAYING','cause':'pay'},"
       "{'at':" T(01) ",'from':'PAYING','to':'UNPAID','cause':'create_rejected'},"
       "{'at':" T(01) ",'from':'UNPAID','to':'PAYING','cause':'pay'},"
       "{'at':" T(02) ",'from':'PAYING','to':'UNKNOWN','cause':'create_ambiguous'},"
       "{'at':" T(05) ",'from':'UNKNOWN','to':'PAYING','cause':'query'},"
       "{'at':" T(18) ",'from':'PAYING','to':'PAID','cause':'callback'}]"}}},

    /* ---- convergence ---- */
    {"a charge not accounted for at the end: P CLOSED, G kept the money", "convergence", "o-2",
     {{"ledger", "trades[1].charges", "[{'at':" T(50) ",'amount':500}]"},
      {"ledger", "trades[1].state", "'SUCCESS'"}}},
    {"a charge not accounted for at the end: no order at all", "convergence", "o-9-1",
     {{"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")}}},
    {"the run never became quiet", "convergence", "(run)",
     {{"run", "quiet", "false"}, {"run", "quiet_at", "null"}}},
    {"quiet later than the bound after the faults healed", "convergence", "(run)",
     {{"run", "quiet_at", "1767226300000"}}},
    {"an order still PAYING at the end", "convergence", "o-2",
     {{"export", "orders[1].history[2]", NULL}, {"export", "orders[1].status", "'PAYING'"},
      {"export", "orders[1].notifications", "[]"}, {"business", "receipts[2]", NULL}}},
    {"business never acknowledged the final status", "convergence", "o-2",
     {{"export", "orders[1].notifications[0].delivered_at", "null"},
      {"business", "receipts[2].answered", "500"}, {"business", "receipts[2].applied", "false"}}},
    {"business refuses PAID forever, scenario says it never heals (holds)", NULL, NULL,
     {{"scenario", "business_faults", "[{'action':'error','status':500,'probability':1,"
                                      "'from':'0s','until':'forever'}]"},
      {"business", "receipts[1].answered", "500"}, {"business", "receipts[1].applied", "false"},
      {"export", "orders[0].notifications[0].delivered_at", "null"}}},
    {"business refuses PAID, the fault should have healed: B never told",
     "no_lost_payment", "o-1",
     {{"business", "receipts[1].answered", "500"}, {"business", "receipts[1].applied", "false"},
      {"export", "orders[0].notifications[0].delivered_at", "null"}}},
    {"outbox written outside the transaction: no notification at all", "convergence", "o-1",
     {{"export", "orders[0].notifications", "[]"},
      {"business", "receipts[1]", NULL},
      {"business", "receipts[0]", NULL}}},
    {"business never acks, faults never heal: not judged (holds)", NULL, NULL,
     {{"run", "faults_healed_at", "null"},
      {"export", "orders[1].notifications[0].delivered_at", "null"},
      {"business", "receipts[2].answered", "500"}, {"business", "receipts[2].applied", "false"}}},
};

/* Runs one case; prints what went wrong and returns false on a mismatch. */
static bool run_case(const struct check_case *c)
{
    cJSON *fx = fx_load(c->edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    int rc = sim_check_eval(&docs, NULL, &s);
    bool ok = rc == PD_OK && (c->inv == NULL ? (s.pass && s.n_lines == 0)
                                             : (!s.pass && fx_has(&s, c->inv, c->order)));
    if (!ok) {
        print_message("case \"%s\": expected %s %s, got rc %d:\n", c->name,
                      c->inv ? c->inv : "pass", c->order ? c->order : "", rc);
        fx_dump(&s);
    }
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
    return ok;
}

static void test_cases(void **state)
{
    (void)state;
    size_t failed = 0, n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++)
        failed += !run_case(&cases[i]);
    if (failed > 0)
        fail_msg("%zu of %zu cases failed", failed, n);
}

/* Every invariant has at least one case that breaks it; every case that
 * holds proves all eight hold together. */
static void test_every_invariant_broken(void **state)
{
    (void)state;
    for (int inv = 0; inv < SIM_INV_COUNT; inv++) {
        bool broken = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            broken |= cases[i].inv && strcmp(cases[i].inv, sim_check_invariant_name(inv)) == 0;
        if (!broken)
            fail_msg("no case breaks %s", sim_check_invariant_name(inv));
    }
}

/* A violation carries its evidence from G, P and B and the faults its
 * order met (here the dropped first callback of k-1). */
static void test_violation_evidence(void **state)
{
    (void)state;
    const struct fx_edit edits[] = {
        {"ledger", "trades[]", CHARGED_TRADE("o-1-2", "k-1", "1999")}, {0}};
    cJSON *fx = fx_load(edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *report = NULL;
    assert_int_equal(sim_check_eval(&docs, &report, &s), PD_OK);
    assert_string_equal(cJSON_GetObjectItem(report, "verdict")->valuestring, "fail");
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(report, "violations"), 0);
    assert_non_null(v);
    assert_string_equal(cJSON_GetObjectItem(v, "invariant")->valuestring, "no_double_charge");
    assert_string_equal(cJSON_GetObjectItem(v, "order")->valuestring, "o-1");
    assert_string_equal(cJSON_GetObjectItem(v, "key")->valuestring, "k-1");
    const cJSON *ev = cJSON_GetObjectItem(v, "evidence");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "G"),
                                                            "trades")), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "P"), "status")->valuestring,
                        "PAID");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "B"),
                                                            "receipts")), 2);
    const cJSON *faults = cJSON_GetObjectItem(v, "faults");
    assert_string_equal(cJSON_GetArrayItem(faults, 0)->valuestring, "callback.drop attempt 1");
    const cJSON *inv = cJSON_GetArrayItem(cJSON_GetObjectItem(report, "invariants"), 1);
    assert_string_equal(cJSON_GetObjectItem(inv, "name")->valuestring, "no_double_charge");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(inv, "holds")));
    cJSON_Delete(report);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* report.json of the base run: schema, counts, fault plan, per-order rows. */
static void test_report_shape(void **state)
{
    (void)state;
    cJSON *fx = fx_load(NULL);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *r = NULL;
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    assert_true(s.pass);
    assert_string_equal(cJSON_GetObjectItem(r, "schema")->valuestring, "paydrill.report/1");
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "pass");
    const cJSON *c = cJSON_GetObjectItem(r, "counts");
    assert_int_equal(cJSON_GetObjectItem(c, "orders")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(c, "submissions")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(c, "duplicates_sent")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(c, "duplicates_rejected")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(c, "paid")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(c, "closed")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(c, "charges")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(c, "callbacks")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(c, "notifications")->valueint, 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "invariants")), 8);
    const cJSON *plan = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fault_plan"), "k-1");
    assert_int_equal(cJSON_GetArraySize(plan), 2);   /* callback.drop + business nack */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(plan, 0), "kind")->valuestring,
                        "callback.drop");
    const cJSON *plan2 = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fault_plan"), "k-2");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(plan2, 0), "kind")->valuestring,
                        "payer.abandon");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "fault_plan_reproducible")));
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "orders"), 0);
    assert_string_equal(cJSON_GetObjectItem(o, "order_id")->valuestring, "o-1");
    assert_int_equal(cJSON_GetObjectItem(o, "callbacks")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(o, "notifications")->valueint, 2);
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* A scenario's expectations: the base run dropped one callback, charged
 * once, paid one order and refunded none, refused one resubmission (409),
 * answered one delivery 503 and made two pay calls; the SUT was killed once
 * (an edit).
 * Two expectations the run does not meet fail it although every invariant
 * holds, each with its line; met ones alone pass. */
static void test_expectations(void **state)
{
    (void)state;
    const struct fx_edit edits[] = {
        {"scenario", "expect",
         "[{'gateway': {'op': 'callback', 'fault': 'drop'}},"
         " {'gateway': {'op': 'pay', 'status': 200, 'detail': 'charged'}, 'at_least': 2,"
         "  'why': 'the payer pays twice'},"
         " {'count': 'paid'}, {'count': 'refunds', 'why': 'money back'},"
         " {'process': {'target': 'sut', 'action': 'kill'}},"
         " {'process': {'target': 'gateway', 'action': 'kill'}, 'at_least': 1},"
         " {'business': {'record': 'submissions', 'status': 409}},"
         " {'business': {'record': 'receipts', 'status': 503}, 'at_least': 2},"
         " {'business': {'record': 'pay_calls'}, 'at_least': 2}]"},
        {"run", "process_events",
         "[{'at': " T(30) ", 'target': 'sut', 'action': 'kill', 'detail': 'x'}]"},
        {0}};
    cJSON *fx = fx_load(edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *r = NULL;
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    for (int i = 0; i < SIM_INV_COUNT; i++)
        assert_int_equal(s.violations[i], 0);
    assert_false(s.pass);
    assert_int_equal(s.expect_unmet, 4);
    assert_int_equal(s.n_lines, 4);
    assert_string_equal(s.lines[0],
                        "unit expectation - gateway op=pay status=200 detail~charged: seen 1, "
                        "expected at least 2: the scenario's story did not happen (the payer "
                        "pays twice)");
    assert_string_equal(s.lines[1], "unit expectation - count refunds: seen 0, expected at "
                                    "least 1: the scenario's story did not happen (money back)");
    assert_string_equal(s.lines[2], "unit expectation - process kill gateway: seen 0, expected "
                                    "at least 1: the scenario's story did not happen");
    assert_string_equal(s.lines[3], "unit expectation - business receipts status=503: seen 1, "
                                    "expected at least 2: the scenario's story did not happen");
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "fail");
    const cJSON *ex = cJSON_GetObjectItem(r, "expectations");
    assert_int_equal(cJSON_GetArraySize(ex), 9);
    const int64_t seen[] = {1, 1, 1, 0, 1, 0, 1, 1, 2};
    const bool met[] = {true, false, true, false, true, false, true, false, true};
    for (int i = 0; i < 9; i++) {
        const cJSON *e = cJSON_GetArrayItem(ex, i);
        assert_int_equal(cJSON_GetObjectItem(e, "seen")->valueint, seen[i]);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(e, "met")), met[i]);
    }
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ex, 0), "what")->valuestring,
                        "gateway op=callback fault=drop");
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);

    const struct fx_edit met_only[] = {
        {"scenario", "expect", "[{'gateway': {'op': 'callback', 'fault': 'drop'}},"
                               " {'count': 'closed', 'at_least': 2}]"},
        {0}};
    fx = fx_load(met_only);
    docs = fx_docs(fx);
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    assert_true(s.pass);
    assert_int_equal(s.n_lines, 0);
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "pass");
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);

    const struct fx_edit bad[] = {
        {"scenario", "expect", "[{'count': 'money'}]"}, {0}};
    fx = fx_load(bad);
    docs = fx_docs(fx);
    assert_int_not_equal(sim_check_eval(&docs, NULL, &s), PD_OK);
    if (strstr(s.error, "scenario.json") == NULL ||
        strstr(s.error, "expect[0].count: must be one of") == NULL)
        fail_msg("a malformed expectation in scenario.json: %s", s.error);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* Checks the base run with edits; fails unless some summary line is want
 * (whole) or contains it. */
static void expect_line(const struct fx_edit *edits, const char *want, bool whole)
{
    cJSON *fx = fx_load(edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    assert_int_equal(sim_check_eval(&docs, NULL, &s), PD_OK);
    bool found = false;
    for (size_t k = 0; k < s.n_lines; k++)
        found |= whole ? strcmp(s.lines[k], want) == 0 : strstr(s.lines[k], want) != NULL;
    if (!found) {
        fx_dump(&s);
        fail_msg("no line %s %s", whole ? "reads:" : "says", want);
    }
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* The run's own convergence line gives the bound as a duration and sums up
 * what was still open; a late quiet gives both durations. */
static void test_convergence_run_line(void **state)
{
    (void)state;
    const struct fx_edit never[] = {
        {"run", "quiet", "false"}, {"run", "quiet_at", "null"},
        {"export", "orders[1].history[2]", NULL}, {"export", "orders[1].status", "'PAYING'"},
        {"export", "orders[1].notifications", "[]"}, {"business", "receipts[2]", NULL},
        {"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")},
        {0}};
    const struct fx_edit late[] = {{"run", "quiet_at", "1767226300000"}, {0}};
    expect_line(never, "unit convergence (run) the run did not become quiet within the "
                       "convergence bound (10m): 1 order open (1 not final), 1 charge with no "
                       "order", true);
    expect_line(late, "unit convergence (run) quiet 690s after the faults healed, past the "
                      "convergence bound (10m)", true);
}

/* A resubmission's line says how long after the original it was sent, or
 * before it: a concurrent double-click may leave first. */
static void test_dup_timing_words(void **state)
{
    (void)state;
    static const char *const at[] = {"1767225600700", "1767225599700"};
    static const char *const want[] = {"(700 ms after the original)", "(300 ms before the original)"};
    for (int i = 0; i < 2; i++) {
        const struct fx_edit edits[] = {
            {"business", "submissions[2].status", "201"},
            {"business", "submissions[2].order_id", "'o-4'"},
            {"business", "submissions[2].kind", "'concurrent'"},
            {"business", "submissions[2].at", at[i]},
            {"export", "orders[]", CLOSED_ORDER("o-4", "k-1~dup1")},
            {0}};
        expect_line(edits, want[i], false);
    }
}

/* A business app that refuses the same delivery again and again shows as
 * one fault-plan entry with the count, not one per delivery. */
static void test_nack_runs(void **state)
{
    (void)state;
    const struct fx_edit edits[] = {
        {"business", "receipts[]", "{'at':" T(20) ",'event_id':'ev-o-1-1','order_id':'o-1',"
                                   "'status':'PAID','signature_ok':true,'answered':503,"
                                   "'applied':false}"},
        {"business", "receipts[1]", NULL},   /* move the acked delivery last */
        {"business", "receipts[]", "{'at':" T(30) ",'event_id':'ev-o-1-1','order_id':'o-1',"
                                   "'status':'PAID','signature_ok':true,'answered':503,"
                                   "'applied':false}"},
        {"business", "receipts[]", "{'at':" T(40) ",'event_id':'ev-o-1-1','order_id':'o-1',"
                                   "'status':'PAID','signature_ok':true,'answered':200,"
                                   "'applied':true}"},
        {0}};
    cJSON *fx = fx_load(edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *r = NULL;
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    fx_dump(&s);
    assert_true(s.pass);
    const cJSON *plan = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fault_plan"), "k-1");
    assert_int_equal(cJSON_GetArraySize(plan), 2);
    const cJSON *nack = cJSON_GetArrayItem(plan, 1);
    assert_string_equal(cJSON_GetObjectItem(nack, "kind")->valuestring, "business.nack");
    assert_string_equal(cJSON_GetObjectItem(nack, "detail")->valuestring,
                        "answered 503 to ev-o-1-1 on 3 deliveries in a row");
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* More violations than the listing limit: counts stay exact, at most
 * SIM_CHECK_MAX_LISTED are listed, and the printed lines end by saying how
 * many were left out. */
static void test_listing_limit(void **state)
{
    (void)state;
    const int extra = SIM_CHECK_MAX_LISTED + 5;
    cJSON *fx = fx_load(NULL);
    cJSON *orders = cJSON_GetObjectItem(cJSON_GetObjectItem(fx, "export"), "orders");
    const cJSON *tmpl = cJSON_GetArrayItem(orders, 2);
    for (int i = 0; i < extra; i++) {
        char id[32];
        cJSON *o = cJSON_Duplicate(tmpl, 1);
        snprintf(id, sizeof id, "o-x-%d", i);
        cJSON_ReplaceItemInObject(o, "order_id", cJSON_CreateString(id));
        snprintf(id, sizeof id, "kx-%d", i);
        cJSON_ReplaceItemInObject(o, "client_ref", cJSON_CreateString(id));
        cJSON_ReplaceItemInObject(o, "notifications", cJSON_CreateArray());
        cJSON *h1 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "history"), 1);
        cJSON_ReplaceItemInObject(h1, "from", cJSON_CreateString("PAYING"));
        cJSON_AddItemToArray(orders, o);
    }
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *r = NULL;
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    assert_int_equal(s.violations[SIM_INV_LEGAL_HISTORY], extra);
    assert_int_equal(s.violations[SIM_INV_CONVERGENCE], extra);   /* never notified */
    assert_int_equal(s.n_lines, 2 * SIM_CHECK_MAX_LISTED);
    const cJSON *inv = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "invariants"),
                                          SIM_INV_LEGAL_HISTORY);
    assert_int_equal(cJSON_GetObjectItem(inv, "violations")->valueint, extra);
    assert_int_equal(cJSON_GetObjectItem(inv, "listed")->valueint, SIM_CHECK_MAX_LISTED);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "violations")),
                     2 * SIM_CHECK_MAX_LISTED);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sim_check_print_violations(&s, f);
    fclose(f);
    assert_non_null(strstr(text, "unit legal_history o-x-0 history[1] starts from PAYING"));
    assert_non_null(strstr(text, "unit ... and 10 more violations (see report.json)\n"));
    free(text);
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* A SUT that does not pass client_ref on as attach still gets checked, and
 * the report says its fault plan is not reproducible. */
static void test_not_reproducible(void **state)
{
    (void)state;
    const struct fx_edit edits[] = {{"ledger", "trades[1].attach", "null"}, {0}};
    cJSON *fx = fx_load(edits);
    struct sim_check_docs docs = fx_docs(fx);
    struct sim_check_summary s;
    cJSON *r = NULL;
    assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
    assert_true(s.pass);
    assert_false(s.fault_plan_reproducible);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r, "fault_plan_reproducible")));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "sut"),
                                                  "attach_passed")));
    cJSON_Delete(r);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
}

/* Malformed documents are refused with the file and the field path. */
static void test_malformed_docs(void **state)
{
    (void)state;
    static const struct {
        struct fx_edit edit;
        const char *error;
    } bad[] = {
        {{"ledger", "trades[0].amount", "'1999'"}, "ledger.json: trades[0].amount: must be an integer"},
        {{"export", "orders[1].history[0].to", "3"}, "export.json: orders[1].history[0].to: must be a string"},
        {{"business", "receipts", NULL}, "business.json: receipts: required"},
        {{"business", "submissions[0].kind", "'twice'"}, "business.json: submissions[0].kind: must be original, immediate, concurrent or after_window"},
        {{"run", "dedup_window_ms", NULL}, "run.json: dedup_window_ms: required"},
        {{"journal", "[1].at", "'soon'"}, "gateway-journal.ndjson: line 2.at: must be an integer"},
        {{"scenario", "", "[]"}, "scenario.json: top level: must be an object"},
        {{"export", "orders", "{}"}, "export.json: orders: must be an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fx_edit edits[2] = {bad[i].edit, {0}};
        cJSON *fx = fx_load(edits);
        struct sim_check_docs docs = fx_docs(fx);
        struct sim_check_summary s;
        assert_int_equal(sim_check_eval(&docs, NULL, &s), PD_EINVAL);
        assert_string_equal(s.error, bad[i].error);
        sim_check_summary_release(&s);
        cJSON_Delete(fx);
    }
}

/* A run that breaks most invariants at once, with process faults: its
 * report must list them all (and, when PD_REPORT_SAMPLES names a folder,
 * it is saved there with the passing base report for the schema test). */
static void test_report_samples(void **state)
{
    (void)state;
    const struct fx_edit edits[] = {
        {"run", "process_events", "[{'at':" T(05) ",'target':'sut','action':'kill','detail':"
                                  "'SIGKILL'},{'at':" T(06) ",'target':'sut','action':"
                                  "'restart','detail':null}]"},
        {"ledger", "trades[]", CHARGED_TRADE("o-9-1", "k-9", "700")},
        {"ledger", "trades[0].charges[]", "{'at':" T(20) ",'amount':1999}"},
        {"business", "submissions[2].status", "201"},
        {"export", "orders[0].history[2].from", "'UNKNOWN'"},
        {"business", "receipts[]", RECEIPT("ev-o-1-1", "o-1", "PAID", "1999", "false", "true")},
        {"run", "quiet", "false"},
        {"ledger", "trades[1].attach", "null"}};
    const char *dir = getenv("PD_REPORT_SAMPLES");
    for (int pass = 0; pass < 2; pass++) {
        cJSON *fx = fx_load(pass ? NULL : edits);
        struct sim_check_docs docs = fx_docs(fx);
        struct sim_check_summary s;
        cJSON *r = NULL;
        assert_int_equal(sim_check_eval(&docs, &r, &s), PD_OK);
        assert_int_equal(s.pass, pass);
        int broken = 0;
        for (int i = 0; i < SIM_INV_COUNT; i++)
            broken += s.violations[i] > 0;
        assert_true(pass ? broken == 0 : broken >= 5);
        if (!pass) {
            assert_true(fx_has(&s, "no_lost_payment", "o-9-1"));
            assert_true(fx_has(&s, "convergence", "(run)"));
            const cJSON *star = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fault_plan"), "*");
            assert_int_equal(cJSON_GetArraySize(star), 2);
            assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r, "fault_plan_reproducible")));
        }
        if (dir != NULL) {
            char path[512];
            snprintf(path, sizeof path, "%s/report-%s.json", dir, pass ? "pass" : "fail");
            char *text = cJSON_Print(r);
            assert_int_equal(pd_mkdirs(dir), PD_OK);
            assert_int_equal(pd_write_file(path, text, strlen(text)), PD_OK);
            free(text);
        }
        cJSON_Delete(r);
        sim_check_summary_release(&s);
        cJSON_Delete(fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_every_invariant_broken),
        cmocka_unit_test(test_violation_evidence),
        cmocka_unit_test(test_report_shape),
        cmocka_unit_test(test_nack_runs),
        cmocka_unit_test(test_listing_limit),
        cmocka_unit_test(test_not_reproducible),
        cmocka_unit_test(test_malformed_docs),
        cmocka_unit_test(test_report_samples),
        cmocka_unit_test(test_expectations),
        cmocka_unit_test(test_dup_timing_words),
        cmocka_unit_test(test_convergence_run_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
