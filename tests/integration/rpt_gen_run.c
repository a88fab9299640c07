/* rpt-gen-run -- writes a synthetic but realistic run folder (report.json
 * and journal.ndjson as docs/dev/interfaces.md fixes them) with N orders,
 * for the report size and rendering tests until real large runs exist.
 *
 *   rpt-gen-run DIR N [VIOLATIONS]
 *
 * Each order follows one of the stories a chaos scenario produces: paid
 * with one callback, callbacks dropped then retried or queried, a
 * duplicate submission refused, abandoned and closed, a delayed or
 * duplicated callback, a charge after close refunded; notifications with
 * retries; a process kill every 2,000 orders. Details carry per-order
 * trade numbers and amounts, and each line the trade_no of its
 * out_trade_no, as the checker writes them, so the size measured is
 * honest.
 * Deterministic: the same N gives the same files. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600000LL

struct gen {
    FILE *j;
    uint64_t rng;
    long long callbacks, charges, paid, closed, refunds, notes, dups;
};

static uint32_t draw(struct gen *g, uint32_t n)
{
    g->rng = g->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(g->rng >> 33) % n;
}

/* The gateway's trade_no of order k's trade, and the order's amount. */
static unsigned trade_no(int k)
{
    return 420000000u + (unsigned)k * 7u;
}

static int amount(int k)
{
    return (10 + k % 90) * 100 + k % 100;
}

static void ev(struct gen *g, long long t, const char *lane, int k, const char *kind,
               const char *detail, const char *fault, int attempt)
{
    fprintf(g->j, "{\"t\":%lld,\"lane\":\"%s\",\"key\":\"chaos-%d\",\"order_id\":\"o-%016x\","
                  "\"out_trade_no\":", t, lane, k, 0x5f2c0000u + (unsigned)k);
    if (attempt > 0)
        fprintf(g->j, "\"o-%016x-%d\",\"trade_no\":\"%u\"", 0x5f2c0000u + (unsigned)k, attempt,
                trade_no(k));
    else
        fputs("null,\"trade_no\":null", g->j);
    fprintf(g->j, ",\"kind\":\"%s\",\"detail\":\"%s\",\"fault\":", kind, detail);
    if (fault)
        fprintf(g->j, "\"%s\"}\n", fault);
    else
        fputs("null}\n", g->j);
}

struct story {
    const char *status;
    int charges, callbacks, queries, notes;
    const char *faults[3];
};

static void notify(struct gen *g, long long *t, int k, const char *status, struct story *s)
{
    char d[160];
    int fails = draw(g, 10) == 0 ? 1 + (int)draw(g, 2) : 0;
    for (int a = 1; a <= fails + 1; a++) {
        snprintf(d, sizeof d, "event ev-o-%016x-1 seq 1 %s attempt %d", 0x5f2c0000u + (unsigned)k,
                 status, a);
        ev(g, *t, "sut", k, "notification", d, NULL, 0);
        ev(g, *t + 9, "business", k, "ack", a <= fails ? "answered 500 (business busy)"
                                                       : "receipt applied, answered 200", NULL, 0);
        *t += a <= fails ? 30000LL * a : 0;
    }
    s->notes = fails + 1;
    g->notes += fails + 1;
}

static void paid_story(struct gen *g, long long t, int k, int drops, const char *fault,
                       struct story *s)
{
    char d[160];
    unsigned tn = trade_no(k);
    ev(g, t + 40, "business", k, "pay", "POST /orders/{id}/pay -> 200", NULL, 0);
    snprintf(d, sizeof d, "create status=200 attempt=1 trade_no=%u state=NOTPAY", tn);
    ev(g, t + 52, "gateway", k, "trade_created", d, NULL, 1);
    ev(g, t + 55, "sut", k, "status", "UNPAID -> PAYING (pay)", NULL, 0);
    long long at = t + 600 + draw(g, 4000);
    snprintf(d, sizeof d, "pay status=200 attempt=1 payer_key=chaos-%d charged amount=%d", k,
             amount(k));
    ev(g, at, "gateway", k, "charge", d, NULL, 1);
    at += 100 + draw(g, 400);
    for (int a = 1; a <= drops; a++, at += 15000LL * a)
        ev(g, at, "gateway", k, "callback", a == 1 ? "attempt 1: not delivered"
                                                   : "attempt 2: not delivered", "drop", 1);
    if (drops >= 2) {
        ev(g, at - 5000, "gateway", k, "query", "query -> 200 SUCCESS", NULL, 1);
        s->queries = 1;
    }
    snprintf(d, sizeof d, "callback status=200 attempt=%d event_id=ev-%u-SUCCESS copy=1 acked%s",
             drops + 1, tn, fault ? " (held back)" : "");
    ev(g, at, "gateway", k, "callback", d, fault, 1);
    if (fault && strcmp(fault, "duplicate") == 0)
        ev(g, at + 3, "gateway", k, "callback", "duplicate delivery -> 200 SUCCESS", "duplicate", 1);
    ev(g, at + 8, "sut", k, "status", "PAYING -> PAID (callback)", NULL, 0);
    s->status = "PAID";
    s->charges = 1;
    s->callbacks = drops + 1 + (fault && strcmp(fault, "duplicate") == 0);
    at += 20;
    notify(g, &at, k, "PAID", s);
    g->paid++;
}

static void closed_story(struct gen *g, long long t, int k, bool late_charge, struct story *s)
{
    ev(g, t + 40, "business", k, "pay", "POST /orders/{id}/pay -> 200", NULL, 0);
    ev(g, t + 52, "gateway", k, "trade_created", "create -> 200", NULL, 1);
    ev(g, t + 55, "sut", k, "status", "UNPAID -> PAYING (pay)", NULL, 0);
    ev(g, t + 900000, "gateway", k, "query", "query -> 200 NOTPAY", NULL, 1);
    ev(g, t + 900010, "gateway", k, "close", "close -> 200 CLOSED", NULL, 1);
    ev(g, t + 900015, "sut", k, "status", "PAYING -> CLOSED (close_confirmed)", NULL, 0);
    s->status = "CLOSED";
    s->queries = 1;
    long long at = t + 900030;
    if (late_charge) {
        ev(g, t + 900500, "gateway", k, "charge", "payer paid after close (pay_late)", "pay_late", 1);
        ev(g, t + 900600, "gateway", k, "callback", "attempt 1 -> 200 SUCCESS", NULL, 1);
        ev(g, t + 900700, "gateway", k, "refund", "refund rf-1 -> 200 SUCCESS", NULL, 1);
        ev(g, t + 900710, "sut", k, "status", "CLOSED -> REFUNDED (charge_after_close)", NULL, 0);
        s->status = "REFUNDED";
        s->charges = 1;
        s->callbacks = 1;
        g->refunds++;
        at = t + 900720;
    }
    notify(g, &at, k, s->status, s);
    g->closed++;
}

static void order(struct gen *g, int k, struct story *s)
{
    long long t = T0 + (long long)k * 37;
    memset(s, 0, sizeof *s);
    ev(g, t, "business", k, "submit", "POST /orders -> 201", NULL, 0);
    ev(g, t + 3, "sut", k, "status", "NEW -> UNPAID (submit)", NULL, 0);
    uint32_t r = draw(g, 100);
    if (r >= 60 && r < 70) {
        ev(g, t + 20, "business", k, "submit", "POST /orders (immediate duplicate) -> 409", NULL, 0);
        ev(g, t + 21, "sut", k, "duplicate_refused", "DUPLICATE_ORDER for client_ref", NULL, 0);
        g->dups++;
    }
    if (r < 60 || (r >= 60 && r < 70))
        paid_story(g, t, k, 0, NULL, s);
    else if (r < 85)
        paid_story(g, t, k, 1 + (int)draw(g, 2), NULL, s), s->faults[0] = "callback.drop";
    else if (r < 93)
        closed_story(g, t, k, false, s);
    else if (r < 98)
        paid_story(g, t, k, 0, r & 1 ? "delay" : "duplicate", s),
            s->faults[0] = r & 1 ? "callback.delay" : "callback.duplicate";
    else
        closed_story(g, t, k, true, s), s->faults[0] = "payer.pay_late";
    if (s->queries && s->faults[0] && strcmp(s->faults[0], "callback.drop") == 0)
        s->faults[1] = "query.slow";
    g->callbacks += s->callbacks;
    g->charges += s->charges;
}

static void write_orders(FILE *f, struct story *st, int n, int viol_every)
{
    fputs("\"orders\":[\n", f);
    for (int k = 0; k < n; k++) {
        struct story *s = &st[k];
        bool bad = viol_every && k % viol_every == viol_every / 2;
        fprintf(f, "%s{\"key\":\"chaos-%d\",\"order_id\":\"o-%016x\",\"status\":\"%s\","
                   "\"amount\":%d,\"currency\":\"CNY\",\"charges\":%d,\"callbacks\":%d,"
                   "\"queries\":%d,\"notifications\":%d,\"faults\":[",
                k ? ",\n" : "", k, 0x5f2c0000u + (unsigned)k, s->status,
                amount(k), s->charges + bad, s->callbacks, s->queries, s->notes);
        for (int i = 0; i < 3 && s->faults[i]; i++)
            fprintf(f, "%s\"%s\"", i ? "," : "", s->faults[i]);
        fputs("]}", f);
    }
    fputs("],\n", f);
}

static void write_violations(FILE *f, int n, int viol_every, int *count)
{
    fputs("\"violations\":[", f);
    *count = 0;
    for (int k = 0; viol_every && k < n; k++) {
        if (k % viol_every != viol_every / 2)
            continue;
        fprintf(f, "%s\n{\"invariant\":\"no_double_charge\",\"order\":\"o-%016x\","
                   "\"key\":\"chaos-%d\",\"summary\":\"2 charges for one order\","
                   "\"evidence\":{\"G\":{\"charges\":2},\"P\":{\"status\":\"PAID\"},\"B\":{}},"
                   "\"faults\":[\"create.commit_drop attempt 1\"]}",
                (*count)++ ? "," : "", 0x5f2c0000u + (unsigned)k, k);
    }
    fputs("],\n", f);
}

static int write_report(const char *dir, struct gen *g, struct story *st, int n, int viols)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    int every = viols > 0 ? (n / viols > 0 ? n / viols : 1) : 0, count = 0;
    fprintf(f, "{\"schema\":\"paydrill.report/1\",\"scenario\":{\"name\":\"chaos-%d\","
               "\"description\":\"generated: %d orders\",\"file\":\"scenarios/chaos.json\"},"
               "\"seed\":1234,\"time_scale\":500,\"sut\":{\"kind\":\"reference\"},"
               "\"started_at\":\"2026-11-26T03:00:00Z\",\"duration_ms\":61234,"
               "\"sim_started_at\":%lld,\"sim_finished_at\":%lld,\n", n, n, T0,
            T0 + (long long)n * 37 + 1000000);
    fprintf(f, "\"counts\":{\"orders\":%d,\"submissions\":%lld,\"duplicates_sent\":%lld,"
               "\"duplicates_rejected\":%lld,\"paid\":%lld,\"closed\":%lld,\"charges\":%lld,"
               "\"refunds\":%lld,\"callbacks\":%lld,\"notifications\":%lld},\n",
            n, n + g->dups, g->dups, g->dups, g->paid, g->closed, g->charges, g->refunds,
            g->callbacks, g->notes);
    write_violations(f, n, every, &count);
    fprintf(f, "\"verdict\":\"%s\",\"invariants\":[{\"name\":\"no_lost_payment\",\"holds\":true,"
               "\"checked\":%d,\"violations\":0},{\"name\":\"no_double_charge\",\"holds\":%s,"
               "\"checked\":%d,\"violations\":%d},{\"name\":\"duplicates_rejected\",\"holds\":true,"
               "\"checked\":%lld,\"violations\":0}],\n", count ? "fail" : "pass", n,
            count ? "false" : "true", n, count, g->dups);
    write_orders(f, st, n, every);
    fprintf(f, "\"fault_plan\":{},\"fault_plan_reproducible\":true,"
               "\"files\":{\"journal\":\"journal.ndjson\"},"
               "\"replay\":\"paydrill replay %s\"}\n", dir);
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rpt-gen-run DIR N [VIOLATIONS]\n");
        return 2;
    }
    int n = atoi(argv[2]), viols = argc > 3 ? atoi(argv[3]) : 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/journal.ndjson", argv[1]);
    struct gen g = {.j = fopen(path, "w"), .rng = 42};
    struct story *st = calloc((size_t)n + 1, sizeof *st);
    if (g.j == NULL || st == NULL || n <= 0)
        return 1;
    for (int k = 0; k < n; k++) {
        order(&g, k, &st[k]);
        if (k % 2000 == 1999)
            fprintf(g.j, "{\"t\":%lld,\"lane\":\"sut\",\"key\":null,\"order_id\":null,"
                         "\"out_trade_no\":null,\"trade_no\":null,\"kind\":\"process\",\"detail\":\"kill -9, "
                         "restart after 2 s\",\"fault\":\"process.kill\"}\n",
                    T0 + (long long)k * 37 + 500);
    }
    int rc = fclose(g.j) != 0 || write_report(argv[1], &g, st, n, viols);
    free(st);
    return rc;
}
