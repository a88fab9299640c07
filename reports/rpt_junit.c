/* rpt_junit.c -- a run as a JUnit <testsuite>: one <testcase> per
 * invariant, a <failure> per violated invariant; one per expectation of
 * the scenario, a <failure> per unmet one.
 *
 * The failure message names the orders (CI systems show it in one line);
 * the failure text holds what the person on call needs without opening
 * anything else: per order the summary, the faults met, the planned faults
 * and the evidence, then the seed and the replay command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

static void attr(struct rpt__out *o, const char *name, const char *value)
{
    rpt__printf(o, " %s=\"", name);
    rpt__xml(o, value ? value : "", true);
    rpt__puts(o, "\"");
}

static void property(struct rpt__out *o, const char *name, const char *value)
{
    if (value == NULL)
        return;
    rpt__puts(o, "      <property");
    attr(o, "name", name);
    attr(o, "value", value);
    rpt__puts(o, "/>\n");
}

static void properties(struct rpt__out *o, const struct rpt__report *r)
{
    char num[64];
    rpt__puts(o, "    <properties>\n");
    property(o, "seed", r->seed);
    property(o, "verdict", r->verdict);
    property(o, "replay", r->replay);
    property(o, "scenario.file", r->scenario_file);
    property(o, "sut.kind", r->sut_kind);
    property(o, "sut", r->sut_target);
    snprintf(num, sizeof num, "%lld", (long long)r->time_scale);
    property(o, "time_scale", r->time_scale ? num : NULL);
    if (r->has_reproducible)
        property(o, "fault_plan_reproducible", r->fault_plan_reproducible ? "true" : "false");
    for (size_t i = 0; i < r->n_counts; i++) {
        char name[96];
        snprintf(name, sizeof name, "counts.%.80s", r->counts[i].name);
        snprintf(num, sizeof num, "%lld", (long long)r->counts[i].value);
        property(o, name, num);
    }
    rpt__puts(o, "    </properties>\n");
}

static bool viol_is(const struct rpt__viol *v, const char *inv)
{
    return strcmp(v->invariant, inv) == 0;
}

/* "violated by 3 orders: o-1 (key k-1), o-2 (key k-2), o-3" for the message
 * attribute. The count is the invariant's exact one when report.json lists
 * fewer violations than it found (it lists at most 1,000 per invariant). */
static void failure_message(struct rpt__out *o, const struct rpt__report *r,
                            const struct rpt__inv *def, const char *inv)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_viols; i++)
        n += viol_is(&r->viols[i], inv);
    if (def != NULL && def->violations > 0 && (size_t)def->violations > n)
        n = (size_t)def->violations;
    if (n == 0) {
        rpt__puts(o, strcmp(inv, "verdict") == 0 ? "is fail with no violated invariant or "
                                                   "unmet expectation listed"
                                                 : "does not hold (no order listed)");
        return;
    }
    rpt__printf(o, "violated by %zu order%s", n, n == 1 ? "" : "s");
    size_t shown = 0;
    for (size_t i = 0; i < r->n_viols && shown < RPT_MSG_ORDERS_MAX; i++) {
        const struct rpt__viol *v = &r->viols[i];
        if (!viol_is(v, inv))
            continue;
        rpt__puts(o, shown++ ? ", " : ": ");
        rpt__xml(o, v->order ? v->order : "(no order id)", true);
        if (v->key) {
            rpt__puts(o, " (key ");
            rpt__xml(o, v->key, true);
            rpt__puts(o, ")");
        }
    }
    if (n > shown)
        rpt__printf(o, " and %zu more", n - shown);
}

static void string_list(struct rpt__out *o, const cJSON *arr, const char *sep)
{
    size_t i = 0;
    for (const cJSON *e = arr ? arr->child : NULL; e != NULL; e = e->next, i++) {
        rpt__puts(o, i ? sep : "");
        rpt__xml(o, e->valuestring, false);
    }
    if (i == 0)
        rpt__puts(o, "none");
}

char *rpt__evidence_text(const cJSON *evidence)
{
    char *text = cJSON_Print(evidence);
    if (text != NULL && strlen(text) > RPT_EVIDENCE_MAX_BYTES)
        strcpy(text + RPT_EVIDENCE_MAX_BYTES - 40, "\n... (cut; full evidence in report.json)");
    return text;
}

const cJSON *rpt__plan_for(const struct rpt__report *r, const struct rpt__viol *v)
{
    /* A run-level violation ("(run)", convergence) shows the run's process
     * faults, which the checker files under the key "*". */
    const char *key = v->order && strcmp(v->order, "(run)") == 0 ? "*" : v->key;
    const cJSON *plan = key && r->fault_plan ? cJSON_GetObjectItemCaseSensitive(r->fault_plan, key)
                                             : NULL;
    return cJSON_IsArray(plan) && plan->child ? plan : NULL;
}

static void plan_text(struct rpt__out *o, const struct rpt__report *r, const struct rpt__viol *v)
{
    const cJSON *plan = rpt__plan_for(r, v);
    if (plan == NULL)
        return;
    rpt__puts(o, "fault plan for this key:\n");
    for (const cJSON *f = plan->child; f != NULL; f = f->next) {
        const char *fields[] = {"source", "kind", "op", "detail"};
        rpt__puts(o, "  -");
        for (size_t k = 0; k < 4; k++) {   /* "at" (process events) below */
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(f, fields[k]);
            if (cJSON_IsString(it)) {
                rpt__printf(o, " %s=", fields[k]);
                rpt__xml(o, it->valuestring, false);
            }
        }
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(f, "attempt");
        if (cJSON_IsNumber(att))
            rpt__printf(o, " attempt=%.0f", att->valuedouble);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(f, "at");
        if (cJSON_IsNumber(at))
            rpt__printf(o, " at=%.0f", at->valuedouble);
        rpt__puts(o, "\n");
    }
}

/* label, then text (malloc'd, freed here) and a newline; NULL text is out
 * of memory. */
static void owned_text(struct rpt__out *o, const char *label, char *text)
{
    if (text == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        return;
    }
    rpt__puts(o, label);
    rpt__xml(o, text, false);
    rpt__puts(o, "\n");
    free(text);
}

static void evidence_text(struct rpt__out *o, const cJSON *evidence)
{
    if (evidence != NULL)
        owned_text(o, "evidence:\n", rpt__evidence_text(evidence));
}

/* "scenario NAME, seed N\nreplay: COMMAND\n" at the top of a failure text. */
static void run_lines(struct rpt__out *o, const struct rpt__report *r)
{
    rpt__puts(o, "scenario ");
    rpt__xml(o, r->scenario, false);
    rpt__puts(o, ", seed ");
    rpt__xml(o, r->seed, false);
    rpt__puts(o, "\nreplay: ");
    rpt__xml(o, r->replay, false);
    rpt__puts(o, "\n");
}

static void violation_text(struct rpt__out *o, const struct rpt__report *r,
                           const struct rpt__viol *v)
{
    rpt__puts(o, "\n--- order ");
    rpt__xml(o, v->order ? v->order : "(no order id)", false);
    rpt__puts(o, " (key ");
    rpt__xml(o, v->key ? v->key : "?", false);
    rpt__puts(o, ")\nsummary: ");
    rpt__xml(o, v->summary ? v->summary : "(none)", false);
    rpt__puts(o, "\nfaults met: ");
    string_list(o, v->faults, "; ");
    rpt__puts(o, "\n");
    plan_text(o, r, v);
    evidence_text(o, v->evidence);
}

static void failure_text(struct rpt__out *o, const struct rpt__report *r,
                         const struct rpt__inv *inv, const char *name)
{
    rpt__xml(o, name, false);
    if (inv != NULL)
        rpt__printf(o, " does not hold: %lld violation(s) over %lld checked.\n",
                    (long long)inv->violations, (long long)inv->checked);
    else
        rpt__puts(o, " does not hold.\n");
    run_lines(o, r);
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < r->n_viols; i++) {
        if (!viol_is(&r->viols[i], name))
            continue;
        if (total++ < RPT_VIOL_JUNIT_MAX && ++shown)
            violation_text(o, r, &r->viols[i]);
    }
    if (total > shown)
        rpt__printf(o, "\n... and %zu more violations of this invariant: see report.html\n",
                    total - shown);
    rpt__puts(o, "\nreplay: ");
    rpt__xml(o, r->replay, false);
    rpt__puts(o, "\n");
}

static void testcase(struct rpt__out *o, const struct rpt__report *r,
                     const struct rpt__inv *inv, const char *name, bool failed)
{
    rpt__puts(o, "    <testcase");
    attr(o, "name", name);
    rpt__puts(o, " classname=\"paydrill.");
    rpt__xml(o, r->scenario, true);
    rpt__puts(o, "\" time=\"0\"");
    if (!failed) {
        rpt__puts(o, "/>\n");
        return;
    }
    rpt__puts(o, ">\n      <failure type=\"invariant violated\" message=\"");
    rpt__xml(o, name, true);
    rpt__puts(o, " ");
    failure_message(o, r, inv, name);
    rpt__puts(o, "\">");
    failure_text(o, r, inv, name);
    rpt__puts(o, "</failure>\n    </testcase>\n");
}

static void expectation_text(struct rpt__out *o, const struct rpt__report *r,
                             const struct rpt__expect *x)
{
    rpt__puts(o, "expectation ");
    rpt__xml(o, x->what, false);
    rpt__printf(o, " not met: seen %lld, expected at least %lld.\n", (long long)x->seen,
                (long long)x->at_least);
    rpt__puts(o, "The scenario's story did not happen, so this run did not test what the "
                 "scenario says it tests.\n");
    if (x->why) {
        rpt__puts(o, "why: ");
        rpt__xml(o, x->why, false);
        rpt__puts(o, "\n");
    }
    owned_text(o, "expect: ", cJSON_PrintUnformatted(x->expect));
    run_lines(o, r);
}

/* One test case per expectation, "expectation N: WHAT" (N from 1, so two
 * entries that differ only in at_least or why keep apart in CI): fails
 * when the run did not show the scenario's story happened. */
static void expectation_case(struct rpt__out *o, const struct rpt__report *r, size_t i)
{
    const struct rpt__expect *x = &r->expects[i];
    rpt__printf(o, "    <testcase name=\"expectation %zu: ", i + 1);
    rpt__xml(o, x->what, true);
    rpt__puts(o, "\" classname=\"paydrill.");
    rpt__xml(o, r->scenario, true);
    rpt__puts(o, "\" time=\"0\"");
    if (x->met) {
        rpt__puts(o, "/>\n");
        return;
    }
    rpt__printf(o, ">\n      <failure type=\"expectation not met\" message=\"seen %lld, "
                   "expected at least %lld: the scenario's story did not happen",
                (long long)x->seen, (long long)x->at_least);
    if (x->why) {
        rpt__puts(o, " (");
        rpt__xml(o, x->why, true);
        rpt__puts(o, ")");
    }
    rpt__puts(o, "\">");
    expectation_text(o, r, x);
    rpt__puts(o, "</failure>\n    </testcase>\n");
}

/* Violations may name an invariant report.json does not list: those get a
 * test case of their own, so nothing the checker found is hidden. */
static size_t orphan_invariants(const struct rpt__report *r, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_viols && n < max; i++) {
        const char *inv = r->viols[i].invariant;
        bool known = false;
        for (size_t k = 0; k < r->n_invs && !known; k++)
            known = strcmp(r->invs[k].name, inv) == 0;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(names[k], inv) == 0;
        if (!known)
            names[n++] = inv;
    }
    return n;
}

static bool inv_failed(const struct rpt__report *r, const struct rpt__inv *inv)
{
    if (!inv->holds || inv->violations > 0)
        return true;
    for (size_t i = 0; i < r->n_viols; i++)
        if (viol_is(&r->viols[i], inv->name))
            return true;
    return false;
}

static void suite_open(struct rpt__out *o, const struct rpt__report *r, int id,
                       size_t tests, size_t failures)
{
    rpt__puts(o, id >= 0 ? "  <testsuite" : "<testsuite");
    attr(o, "name", r->scenario);
    rpt__printf(o, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\"", tests,
                failures);
    rpt__printf(o, " time=\"%lld.%03lld\"", (long long)(r->duration_ms / 1000),
                (long long)(r->duration_ms % 1000));
    if (r->started_at)
        attr(o, "timestamp", r->started_at);
    rpt__puts(o, " hostname=\"paydrill\"");
    if (id >= 0)
        rpt__printf(o, " id=\"%d\" package=\"paydrill\"", id);
    rpt__puts(o, ">\n");
}

void rpt__junit_suite(struct rpt__out *o, const struct rpt__report *r, int id,
                      size_t *tests_out, size_t *failures_out)
{
    const char *orphans[16];
    size_t n_orphans = orphan_invariants(r, orphans, 16);
    size_t failures = n_orphans;
    for (size_t i = 0; i < r->n_invs; i++)
        failures += inv_failed(r, &r->invs[i]);
    failures += rpt__unmet_expectations(r);
    /* A failed verdict with no failing invariant and no unmet expectation
     * still turns CI red. */
    bool verdict_case = strcmp(r->verdict, "fail") == 0 && failures == 0;
    size_t tests = r->n_invs + n_orphans + r->n_expects + verdict_case;
    suite_open(o, r, id, tests, failures + verdict_case);
    if (tests_out)
        *tests_out += tests;
    if (failures_out)
        *failures_out += failures + verdict_case;
    properties(o, r);
    for (size_t i = 0; i < r->n_invs; i++)
        testcase(o, r, &r->invs[i], r->invs[i].name, inv_failed(r, &r->invs[i]));
    for (size_t i = 0; i < n_orphans; i++)
        testcase(o, r, NULL, orphans[i], true);
    for (size_t i = 0; i < r->n_expects; i++)
        expectation_case(o, r, i);
    if (verdict_case)
        testcase(o, r, NULL, "verdict", true);
    rpt__puts(o, "    <system-out>");
    rpt__puts(o, "scenario ");
    rpt__xml(o, r->scenario, false);
    rpt__puts(o, " seed ");
    rpt__xml(o, r->seed, false);
    rpt__printf(o, " verdict %s\nreplay: ", r->verdict);
    rpt__xml(o, r->replay, false);
    rpt__puts(o, "\n</system-out>\n");
    rpt__puts(o, id >= 0 ? "  </testsuite>\n" : "</testsuite>\n");
}
