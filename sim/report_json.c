/* report_json.c -- report.json, printed in pieces (see report_json.h). */
#include "report_json.h"

#include <stdio.h>
#include <string.h>

#include "check_evidence.h"
#include "pd_err.h"
#include "pd_json.h"

static int putn(FILE *out, const char *s, size_t n)
{
    return fwrite(s, 1, n, out) == n ? PD_OK : PD_EIO;
}

static int put(FILE *out, const char *s)
{
    return putn(out, s, strlen(s));
}

/* Prints item compactly onto out and frees it. A NULL item is OOM. */
static int put_item(FILE *out, cJSON *item)
{
    if (item == NULL)
        return PD_ENOMEM;
    char *text = pd_json_print(item);
    cJSON_Delete(item);
    if (text == NULL)
        return PD_ENOMEM;
    int rc = put(out, text);
    cJSON_free(text);
    return rc;
}

static cJSON *counts_json(const struct sim_check_counts *c)
{
    int64_t v[SIM_COUNTS_N];
    sim__counts_values(c, v);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o != NULL && i < SIM_COUNTS_N; i++)
        pd_json_add_i64(o, sim_expect_counts[i], v[i]);
    return o;
}

/* Pass: every invariant held and every expectation of the scenario was met
 * (its story happened). */
static bool verdict_pass(const struct sim_results *res)
{
    for (int i = 0; i < SIM_INV_COUNT; i++)
        if (res->count[i] > 0)
            return false;
    return res->expect_unmet == 0;
}

/* expectations: each of the scenario's, as written, with what the run
 * showed of it. */
static cJSON *expectations_json(const struct sim_model *m, const struct sim_results *res)
{
    cJSON *a = cJSON_CreateArray();
    char what[256];
    for (size_t i = 0; a != NULL && i < m->n_expect; i++) {
        const struct sim_expect *e = &m->expect[i];
        cJSON *x = cJSON_CreateObject();
        if (x == NULL)
            break;
        sim_expect_describe(e, what, sizeof what);
        cJSON_AddStringToObject(x, "what", what);
        cJSON_AddItemToObject(x, "expect", sim_expect_to_json(e));
        pd_json_add_i64(x, "seen", res->expect_seen[i]);
        cJSON_AddBoolToObject(x, "met", res->expect_seen[i] >= e->at_least);
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

static cJSON *invariants_json(const struct sim_results *res)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < SIM_INV_COUNT; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", sim_check_invariant_name(i));
        cJSON_AddBoolToObject(e, "holds", res->count[i] == 0);
        pd_json_add_i64(e, "checked", res->checked[i]);
        pd_json_add_i64(e, "violations", res->count[i]);
        pd_json_add_i64(e, "listed", res->count[i] < SIM_CHECK_MAX_LISTED
                                         ? res->count[i] : SIM_CHECK_MAX_LISTED);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static cJSON *sut_json(const struct sim_model *m)
{
    if (m->run.sut != NULL)
        return cJSON_Duplicate(m->run.sut, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "reference");
    return o;
}

/* Everything before "violations": one small tree, printed without its
 * closing brace so the big arrays can follow. */
static int put_head(const struct sim_model *m, const struct sim_results *res,
                    FILE *out)
{
    const struct sim_run_info *ri = &m->run;
    cJSON *h = cJSON_CreateObject();
    if (h == NULL)
        return PD_ENOMEM;
    cJSON_AddStringToObject(h, "schema", SIM_REPORT_SCHEMA);
    cJSON *sc = cJSON_AddObjectToObject(h, "scenario");
    sim__json_str(sc, "name", ri->name);
    sim__json_str(sc, "description", ri->description);
    sim__json_str(sc, "file", ri->file);
    cJSON_AddNumberToObject(h, "seed", ri->seed);
    cJSON_AddNumberToObject(h, "time_scale", ri->time_scale);
    cJSON *sut = sut_json(m);
    if (sut != NULL) {
        cJSON_DeleteItemFromObject(sut, "attach_passed");
        cJSON_AddBoolToObject(sut, "attach_passed", res->reproducible);
        cJSON_AddItemToObject(h, "sut", sut);
    }
    sim__json_str(h, "started_at", ri->started_at);
    pd_json_add_i64(h, "duration_ms", ri->duration_ms);
    sim__json_time(h, "sim_started_at", ri->sim_started_at);
    sim__json_time(h, "sim_finished_at", ri->sim_finished_at);
    cJSON_AddItemToObject(h, "counts", counts_json(&res->counts));
    cJSON_AddStringToObject(h, "verdict", verdict_pass(res) ? "pass" : "fail");
    cJSON_AddItemToObject(h, "invariants", invariants_json(res));
    cJSON_AddItemToObject(h, "expectations", expectations_json(m, res));
    char *text = pd_json_print(h);
    cJSON_Delete(h);
    if (text == NULL)
        return PD_ENOMEM;
    size_t len = strlen(text);
    int rc = putn(out, text, len - 1);     /* drop the final '}' */
    cJSON_free(text);
    return rc;
}

static cJSON *violation_json(const struct sim_model *m, const struct sim_violation *v)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "invariant", sim_check_invariant_name(v->inv));
    sim__json_str(o, "order", v->order);
    sim__json_str(o, "key", sim__s(m, v->key));
    sim__json_str(o, "summary", v->summary);
    cJSON_AddItemReferenceToObject(o, "evidence", v->evidence);
    cJSON_AddItemReferenceToObject(o, "faults", v->faults);
    return o;
}

static int put_violations(const struct sim_model *m, const struct sim_results *res,
                          FILE *out)
{
    int rc = put(out, ",\"violations\":[");
    for (size_t i = 0; rc == PD_OK && i < res->v.n; i++) {
        if (i > 0)
            rc = put(out, ",");
        if (rc == PD_OK)
            rc = put_item(out, violation_json(m, &res->v.v[i]));
    }
    return rc == PD_OK ? put(out, "]") : rc;
}

/* One fault_plan member "key": [...] when the key met any fault. */
static int put_plan_key(const struct sim_model *m, const struct sim_results *res,
                        sim_sid key, bool *first, FILE *out)
{
    cJSON *plan = sim__fault_plan_of(m, res, key);
    if (plan == NULL)
        return PD_ENOMEM;
    if (cJSON_GetArraySize(plan) == 0) {
        cJSON_Delete(plan);
        return PD_OK;
    }
    cJSON *k = cJSON_CreateString(sim__s(m, key));
    int rc = put(out, *first ? "" : ",");
    *first = false;
    if (rc == PD_OK)
        rc = put_item(out, k);
    if (rc == PD_OK)
        rc = put(out, ":");
    return rc == PD_OK ? put_item(out, plan) : (cJSON_Delete(plan), rc);
}

static cJSON *process_plan(const struct sim_model *m)
{
    cJSON *a = cJSON_CreateArray();
    char kind[96];
    for (size_t i = 0; a && i < m->pevents.n; i++) {
        const struct sim_pevent *p = &m->pevents.v[i];
        cJSON *e = cJSON_CreateObject();
        snprintf(kind, sizeof kind, "process.%s", sim__sp(m, p->action));
        cJSON_AddStringToObject(e, "source", "process");
        cJSON_AddStringToObject(e, "kind", kind);
        sim__json_str(e, "op", sim__s(m, p->target));
        pd_json_add_i64(e, "attempt", 0);
        pd_json_add_i64(e, "at", p->at);
        sim__json_str(e, "detail", sim__s(m, p->detail));
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

/* fault_plan: P's workload keys in export order, then keys only G or the
 * payer knew, then "*" for the run-wide process events. A key of P is
 * written at the first order carrying it (order_by_ref keeps the first), so
 * only the keys P lacks need a map of their own. */
static int put_fault_plan(const struct sim_model *m, const struct sim_results *res,
                          FILE *out)
{
    struct sim_map seen = {0};
    bool first = true;
    int rc = put(out, ",\"fault_plan\":{");
    for (size_t i = 0; rc == PD_OK && i < m->orders.n; i++) {
        sim_sid key = m->orders.v[i].client_ref;
        if (key != 0 && sim__map_get(&m->order_by_ref, key) == (int32_t)i)
            rc = put_plan_key(m, res, key, &first, out);
    }
    for (size_t i = 0; rc == PD_OK && i < m->gj.n + m->payer.n; i++) {
        sim_sid key = i < m->gj.n ? m->gj.v[i].key : m->payer.v[i - m->gj.n].key;
        if (key == 0 || sim__map_get(&m->order_by_ref, key) != SIM_NONE ||
            sim__map_get(&seen, key) != SIM_NONE)
            continue;
        rc = sim__map_put(&seen, key, 1);
        if (rc == PD_OK)
            rc = put_plan_key(m, res, key, &first, out);
    }
    sim__map_free(&seen);
    if (rc == PD_OK && m->pevents.n > 0) {
        rc = put(out, first ? "\"*\":" : ",\"*\":");
        if (rc == PD_OK)
            rc = put_item(out, process_plan(m));
    }
    return rc == PD_OK ? put(out, "}") : rc;
}

/* The distinct fault kinds of a list of "kind attempt n" lines. */
static cJSON *fault_kinds(cJSON *faults)
{
    cJSON *kinds = cJSON_CreateArray();
    const cJSON *f;
    cJSON_ArrayForEach(f, faults) {
        char kind[128];
        snprintf(kind, sizeof kind, "%s", f->valuestring);
        kind[strcspn(kind, " ")] = '\0';
        bool dup = false;
        const cJSON *k;
        cJSON_ArrayForEach(k, kinds) dup |= strcmp(k->valuestring, kind) == 0;
        if (!dup)
            cJSON_AddItemToArray(kinds, cJSON_CreateString(kind));
    }
    cJSON_Delete(faults);
    return kinds;
}

static cJSON *order_json(const struct sim_model *m, const struct sim_results *res, size_t oi)
{
    const struct sim_porder *o = &m->orders.v[oi];
    int64_t charges = 0, callbacks = 0, queries = 0, notifications = 0;
    for (int32_t t = o->first_trade; t != SIM_NONE; t = m->trades.v[t].next_of_order) {
        charges += m->trades.v[t].n_charges;
        callbacks += m->trades.v[t].n_callbacks;
        queries += m->trades.v[t].n_queries;
    }
    for (int32_t r = o->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order)
        notifications++;
    cJSON *x = cJSON_CreateObject();
    if (x == NULL)
        return NULL;
    sim__json_str(x, "key", sim__s(m, o->client_ref));
    sim__json_str(x, "order_id", sim__s(m, o->order_id));
    sim__json_str(x, "status", sim__s(m, o->status));
    pd_json_add_i64(x, "amount", o->amount);
    sim__json_str(x, "currency", sim__s(m, o->currency));
    pd_json_add_i64(x, "charges", charges);
    pd_json_add_i64(x, "callbacks", callbacks);
    pd_json_add_i64(x, "queries", queries);
    pd_json_add_i64(x, "notifications", notifications);
    cJSON *faults = sim__faults_of(m, res, o->client_ref, (int32_t)oi);
    cJSON_AddItemToObject(x, "faults", faults ? fault_kinds(faults) : cJSON_CreateArray());
    return x;
}

static int put_orders(const struct sim_model *m, const struct sim_results *res,
                      FILE *out)
{
    int rc = put(out, ",\"orders\":[");
    for (size_t i = 0; rc == PD_OK && i < m->orders.n; i++) {
        if (i > 0)
            rc = put(out, ",");
        if (rc == PD_OK)
            rc = put_item(out, order_json(m, res, i));
    }
    return rc == PD_OK ? put(out, "]") : rc;
}

static int put_tail(const struct sim_model *m, const struct sim_results *res,
                    const char *const *logs, FILE *out)
{
    cJSON *t = cJSON_CreateObject();
    if (t == NULL)
        return PD_ENOMEM;
    cJSON_AddBoolToObject(t, "fault_plan_reproducible", res->reproducible);
    cJSON *files = cJSON_AddObjectToObject(t, "files");
    cJSON_AddStringToObject(files, "journal", "journal.ndjson");
    cJSON *l = cJSON_AddArrayToObject(files, "logs");
    for (size_t i = 0; logs && l && logs[i]; i++)
        cJSON_AddItemToArray(l, cJSON_CreateString(logs[i]));
    sim__json_str(t, "replay", m->run.replay);
    char *text = pd_json_print(t);
    cJSON_Delete(t);
    if (text == NULL)
        return PD_ENOMEM;
    /* Splice "{a,b}" in as ",a,b}": the report's closing brace. */
    int rc = put(out, ",");
    if (rc == PD_OK)
        rc = put(out, text + 1);
    cJSON_free(text);
    return rc;
}

int sim_report_json_write(const struct sim_model *m, const struct sim_results *res,
                          const char *const *logs, FILE *out)
{
    int rc = put_head(m, res, out);
    if (rc == PD_OK)
        rc = put_violations(m, res, out);
    if (rc == PD_OK)
        rc = put_fault_plan(m, res, out);
    if (rc == PD_OK)
        rc = put_orders(m, res, out);
    if (rc == PD_OK)
        rc = put_tail(m, res, logs, out);
    if (rc == PD_OK)
        rc = put(out, "\n");
    return rc;
}
