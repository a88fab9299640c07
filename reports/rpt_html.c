/* rpt_html.c -- report.html: one self-contained page per run.
 *
 * What a person on call needs first is rendered here in C, as plain HTML
 * that shows even with scripts off: the verdict banner (seed, scenario,
 * counts, replay command), the violations with their faults and evidence,
 * the scenario's expectations, the invariants, the histograms and the
 * fault coverage. Everything that grows with the run (the orders table and
 * the per-order timelines) is embedded once as compact JSON and drawn by
 * the inline script on demand, so a 10,000-order report stays small and
 * opens fast.
 *
 * Safety: data strings reach the page only through rpt__html (entities)
 * or rpt__json_str (\u escapes for < > & U+2028 U+2029); the script puts
 * them in the DOM with textContent only. A Content-Security-Policy with a
 * per-file nonce is a second wall: script without the nonce never runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"
#include "rpt_assets.h"
#include "rpt_internal.h"

/* 16 random bytes as hex for the CSP nonce; falls back to time and
 * address bits when /dev/urandom is unreadable (the escaping still holds). */
static void make_nonce(char out[33])
{
    unsigned char raw[16] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof raw) {
        uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof raw; i++, x = x * 6364136223846793005ULL + 1)
            raw[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void head_common(struct rpt__out *o, const char *title, const char *script_src)
{
    rpt__puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    rpt__puts(o, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    rpt__puts(o, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                 "style-src 'unsafe-inline'; img-src data:; script-src ");
    rpt__puts(o, script_src);
    rpt__puts(o, "\">\n<title>");
    rpt__html(o, title);
    rpt__puts(o, "</title>\n<style>\n");
    rpt__putn(o, (const char *)rpt_asset_css, rpt_asset_css_len);
    rpt__puts(o, "</style>\n</head>\n<body>\n");
}

void rpt__html_head(struct rpt__out *o, const char *title)
{
    head_common(o, title, "'none'");
}

static void fact(struct rpt__out *o, const char *label, const char *value)
{
    rpt__puts(o, "<div class=\"fact\"><span class=\"k\">");
    rpt__html(o, label);
    rpt__puts(o, "</span><span class=\"v\">");
    rpt__html(o, value);
    rpt__puts(o, "</span></div>");
}

static void fact_i64(struct rpt__out *o, const char *label, int64_t value)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)value);
    fact(o, label, num);
}

static size_t failed_invariants(const struct rpt__report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_invs; i++)
        n += !r->invs[i].holds || r->invs[i].violations > 0;
    return n;
}

/* "850 ms", "12.3 s", "4 m 05 s", "26 h 58 m" for the banner. */
static void human_ms(char *out, size_t len, int64_t ms)
{
    long long s = (long long)(ms / 1000);
    if (ms < 1000)
        snprintf(out, len, "%lld ms", (long long)ms);
    else if (ms < 60000)
        snprintf(out, len, "%.1f s", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, len, "%lld m %02lld s", s / 60, s % 60);
    else
        snprintf(out, len, "%lld h %02lld m", s / 3600, (s / 60) % 60);
}

static void banner_facts(struct rpt__out *o, const struct rpt__report *r)
{
    char text[64];
    rpt__puts(o, "<div class=\"facts\">");
    fact(o, "seed", r->seed);
    fact_i64(o, "orders", (int64_t)r->n_orders);
    fact_i64(o, "violations", (int64_t)r->n_viols);
    snprintf(text, sizeof text, "%zu of %zu", r->n_invs - failed_invariants(r), r->n_invs);
    fact(o, "invariants hold", text);
    if (r->n_expects > 0) {
        snprintf(text, sizeof text, "%zu of %zu", r->n_expects - rpt__unmet_expectations(r),
                 r->n_expects);
        fact(o, "expectations met", text);
    }
    human_ms(text, sizeof text, r->duration_ms);
    fact(o, "real time", text);
    human_ms(text, sizeof text, r->sim_finished_at - r->sim_started_at);
    if (r->sim_finished_at > r->sim_started_at)
        fact(o, "simulated time", text);
    if (r->time_scale > 0)
        fact_i64(o, "time scale \xC3\x97", r->time_scale);
    if (r->sut_kind)
        fact(o, "SUT", r->sut_kind);
    if (r->has_reproducible)
        fact(o, "fault plan", r->fault_plan_reproducible ? "reproducible" : "NOT reproducible");
    rpt__puts(o, "</div>\n<div class=\"counts\">");
    for (size_t i = 0; i < r->n_counts; i++) {
        rpt__puts(o, "<span class=\"chip\">");
        rpt__html(o, r->counts[i].name);
        rpt__printf(o, " <b>%lld</b></span>", (long long)r->counts[i].value);
    }
    rpt__puts(o, "</div>\n");
}

/* Why the run failed, in one line, when no violation says it: the
 * scenario's story did not happen (its expectations), or the verdict alone. */
static void fail_reason(struct rpt__out *o, const struct rpt__report *r)
{
    size_t unmet = rpt__unmet_expectations(r);
    if (strcmp(r->verdict, "fail") != 0 || unmet == 0)
        return;
    rpt__puts(o, "<p class=\"reason\" id=\"fail-reason\">");
    if (r->n_viols == 0 && failed_invariants(r) == 0)
        rpt__puts(o, "No invariant was violated: the run fails because ");
    else
        rpt__puts(o, "Besides the violations, ");
    rpt__printf(o, "<a href=\"#expectations\">%zu of %zu expectation%s %s not met</a>: "
                   "the scenario's story did not happen.</p>",
                unmet, r->n_expects, r->n_expects == 1 ? "" : "s", unmet == 1 ? "was" : "were");
}

static void banner(struct rpt__out *o, const struct rpt__report *r)
{
    bool pass = strcmp(r->verdict, "pass") == 0;
    rpt__printf(o, "<header class=\"banner %s\" id=\"banner\">\n", pass ? "pass" : "fail");
    rpt__printf(o, "<div class=\"verdict\" id=\"verdict\">%s</div>\n", pass ? "PASS" : "FAIL");
    rpt__puts(o, "<div class=\"head\"><h1 id=\"scenario\">");
    rpt__html(o, r->scenario);
    rpt__puts(o, "</h1>");
    if (r->description) {
        rpt__puts(o, "<p class=\"desc\">");
        rpt__html(o, r->description);
        rpt__puts(o, "</p>");
    }
    fail_reason(o, r);
    banner_facts(o, r);
    rpt__puts(o, "<div class=\"replay\"><span class=\"k\">replay</span><code id=\"replay\">");
    rpt__html(o, r->replay);
    rpt__puts(o, "</code><button type=\"button\" id=\"copy-replay\">copy</button></div>");
    rpt__puts(o, "</div>\n</header>\n");
}

static void fault_chip(struct rpt__out *o, const char *s, size_t len, const long *att, size_t n)
{
    char *prefix = strndup(s, len);
    rpt__puts(o, "<span class=\"fault\">");
    rpt__html(o, prefix ? prefix : s);
    if (n > 0) {
        rpt__puts(o, n == 1 ? " attempt " : " attempts ");
        rpt__ranges(o, att, n);
    }
    rpt__puts(o, "</span> ");
    free(prefix);
}

static void fault_chips(struct rpt__out *o, const cJSON *arr)
{
    if (arr == NULL || arr->child == NULL)
        rpt__puts(o, "<span class=\"muted\">none</span>");
    else
        rpt__fault_groups(o, arr, fault_chip);
}

static bool same_str(const cJSON *a, const cJSON *b, const char *field)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, field);
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, field);
    if (!cJSON_IsString(x) || !cJSON_IsString(y))
        return cJSON_IsString(x) == cJSON_IsString(y);
    return strcmp(x->valuestring, y->valuestring) == 0;
}

static const char *const PLAN_FIELDS[] = {"source", "kind", "op", "detail"};

/* One plan line for f and every later entry with the same source, kind, op
 * and detail: their attempts become one range list. */
static void plan_line(struct rpt__out *o, const cJSON *f, bool *done, long *att)
{
    rpt__puts(o, "<li>");
    for (size_t k = 0; k < 4; k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(f, PLAN_FIELDS[k]);
        if (cJSON_IsString(it)) {
            rpt__printf(o, "<span class=\"pk\">%s</span> ", PLAN_FIELDS[k]);
            rpt__html(o, it->valuestring);
            rpt__puts(o, " ");
        }
    }
    size_t n = 0, i = 0;
    for (const cJSON *g = f; g != NULL; g = g->next, i++) {
        bool same = true;
        for (size_t k = 0; k < 4 && same; k++)
            same = same_str(f, g, PLAN_FIELDS[k]);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(g, "attempt");
        if (same && !done[i] && (g == f || cJSON_IsNumber(a))) {
            done[i] = true;
            if (cJSON_IsNumber(a))
                att[n++] = (long)a->valuedouble;
        }
    }
    if (n > 0) {
        rpt__printf(o, "<span class=\"pk\">%s</span> ", n == 1 ? "attempt" : "attempts");
        rpt__ranges(o, att, n);
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(f, "at");
    if (cJSON_IsNumber(at))
        rpt__printf(o, " <span class=\"pk\">at</span> %.0f", at->valuedouble);
    rpt__puts(o, "</li>");
}

static void plan_list(struct rpt__out *o, const struct rpt__report *r, const struct rpt__viol *v)
{
    const cJSON *plan = rpt__plan_for(r, v);
    if (plan == NULL)
        return;
    size_t n = (size_t)cJSON_GetArraySize(plan);
    bool *done = calloc(n + 1, sizeof *done);
    long *att = malloc((n + 1) * sizeof *att);
    if (done == NULL || att == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
    } else {
        rpt__puts(o, "<div class=\"row\"><span class=\"k\">fault plan</span><ul class=\"plan\">");
        size_t i = 0;
        for (const cJSON *f = plan->child; f != NULL; f = f->next, i++)
            if (!done[i])
                plan_line(o, f, done + i, att);
        rpt__puts(o, "</ul></div>");
    }
    free(done);
    free(att);
}

static void evidence(struct rpt__out *o, const cJSON *ev)
{
    if (ev == NULL)
        return;
    char *text = rpt__evidence_text(ev);
    if (text == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        return;
    }
    rpt__puts(o, "<details class=\"evidence\" open><summary>evidence (G = gateway ledger, "
                 "P = payment-center export, B = business receipts)</summary><pre>");
    rpt__html(o, text);
    rpt__puts(o, "</pre></details>");
    free(text);
}

static void violation(struct rpt__out *o, const struct rpt__report *r, size_t i)
{
    const struct rpt__viol *v = &r->viols[i];
    rpt__printf(o, "<details class=\"viol\" id=\"v-%zu\" data-order=\"%ld\"%s>\n<summary>", i,
                v->order_idx, i == 0 ? " open" : "");
    rpt__puts(o, "<span class=\"inv\">");
    rpt__html(o, v->invariant);
    rpt__puts(o, "</span> <span class=\"oid\">");
    rpt__html(o, v->order ? v->order : "(no order id)");
    rpt__puts(o, "</span> <span class=\"key\">key ");
    rpt__html(o, v->key ? v->key : "?");
    rpt__puts(o, "</span> <span class=\"sum\">");
    rpt__html(o, v->summary);
    rpt__puts(o, "</span></summary>\n<div class=\"vbody\">");
    rpt__puts(o, "<div class=\"row\"><span class=\"k\">faults met</span>");
    fault_chips(o, v->faults);
    rpt__puts(o, "</div>");
    plan_list(o, r, v);
    rpt__printf(o, "<div class=\"tl\" data-order=\"%ld\"></div>", v->order_idx);
    evidence(o, v->evidence);
    rpt__puts(o, "</div>\n</details>\n");
}

/* One line per violation, before the expanded ones, so every broken order
 * is on the first screen even when the first timeline is long. */
static void violation_index(struct rpt__out *o, const struct rpt__report *r, size_t shown)
{
    rpt__puts(o, "<div class=\"vindex\"><table class=\"grid vindex\" id=\"violation-index\"><thead><tr>"
                 "<th>invariant</th><th>order</th><th>key</th><th>what broke</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        const struct rpt__viol *v = &r->viols[i];
        rpt__puts(o, "<tr class=\"bad\"><td class=\"inv\">");
        rpt__html(o, v->invariant);
        rpt__printf(o, "</td><td class=\"oid\"><a href=\"#v-%zu\">", i);
        rpt__html(o, v->order ? v->order : "(no order id)");
        rpt__puts(o, "</a></td><td>");
        rpt__html(o, v->key);
        rpt__puts(o, "</td><td>");
        rpt__html(o, v->summary);
        rpt__puts(o, "</td></tr>\n");
    }
    rpt__puts(o, "</tbody></table></div>\n");
}

/* "no_lost_payment 38 · convergence 41": which invariants broke, at a glance. */
static void violation_summary(struct rpt__out *o, const struct rpt__report *r)
{
    rpt__puts(o, "<div class=\"vsum\" id=\"violated-invariants\">");
    for (size_t i = 0; i < r->n_invs; i++) {
        const struct rpt__inv *inv = &r->invs[i];
        if (inv->holds && inv->violations == 0)
            continue;
        rpt__puts(o, "<span class=\"chip\">");
        rpt__html(o, inv->name);
        rpt__printf(o, " <b>%lld</b></span> ", (long long)inv->violations);
    }
    rpt__puts(o, "</div>\n");
}

static void violations(struct rpt__out *o, const struct rpt__report *r)
{
    rpt__printf(o, "<section id=\"violations\">\n<h2>Violations <span class=\"n\">%zu</span></h2>\n",
                r->n_viols);
    if (r->n_viols == 0)
        rpt__puts(o, "<p class=\"ok\">No invariant was violated.</p>\n");
    size_t shown = r->n_viols < RPT_VIOL_HTML_MAX ? r->n_viols : RPT_VIOL_HTML_MAX;
    if (shown > 0) {
        violation_summary(o, r);
        violation_index(o, r, shown);
    }
    for (size_t i = 0; i < shown; i++)
        violation(o, r, i);
    if (r->n_viols > shown)
        rpt__printf(o, "<p class=\"muted\">%zu more violations: filter the orders table by "
                       "\"violated only\" to see them all.</p>\n", r->n_viols - shown);
    rpt__puts(o, "</section>\n");
}

/* The scenario's expectations: did its story happen? Only when it has any. */
static void expectations(struct rpt__out *o, const struct rpt__report *r)
{
    if (r->n_expects == 0)
        return;
    size_t unmet = rpt__unmet_expectations(r);
    rpt__puts(o, "<section id=\"expectations\">\n<h2>Expectations");
    if (unmet > 0)
        rpt__printf(o, " <span class=\"n\">%zu not met</span>", unmet);
    rpt__puts(o, "</h2>\n<table class=\"grid\"><thead><tr><th>expectation</th><th>why</th>"
                 "<th>expected at least</th><th>seen</th><th>result</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_expects; i++) {
        const struct rpt__expect *x = &r->expects[i];
        rpt__printf(o, "<tr class=\"%s\"><td>", x->met ? "ok" : "bad");
        rpt__html(o, x->what);
        rpt__puts(o, "</td><td>");
        if (x->why)
            rpt__html(o, x->why);
        else
            rpt__puts(o, "<span class=\"muted\">not given</span>");
        rpt__printf(o, "</td><td>%lld</td><td>%lld</td><td>%s</td></tr>\n",
                    (long long)x->at_least, (long long)x->seen, x->met ? "met" : "NOT MET");
    }
    rpt__puts(o, "</tbody></table>\n</section>\n");
}

static void invariants(struct rpt__out *o, const struct rpt__report *r)
{
    rpt__puts(o, "<section id=\"invariants\">\n<h2>Invariants</h2>\n<table class=\"grid\">"
                 "<thead><tr><th>invariant</th><th>result</th><th>checked</th>"
                 "<th>violations</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_invs; i++) {
        const struct rpt__inv *inv = &r->invs[i];
        bool ok = inv->holds && inv->violations == 0;
        rpt__printf(o, "<tr class=\"%s\"><td>", ok ? "ok" : "bad");
        rpt__html(o, inv->name);
        rpt__printf(o, "</td><td>%s</td><td>%lld</td><td>%lld</td></tr>\n",
                    ok ? "holds" : "VIOLATED", (long long)inv->checked,
                    (long long)inv->violations);
    }
    rpt__puts(o, "</tbody></table>\n</section>\n");
}

static void orders_section(struct rpt__out *o)
{
    rpt__puts(o,
        "<section id=\"orders\">\n<h2>Orders</h2>\n"
        "<div class=\"controls\"><input id=\"q\" type=\"search\" placeholder=\"search id or key\">"
        "<select id=\"f-status\"><option value=\"\">any status</option></select>"
        "<select id=\"f-fault\"><option value=\"\">any fault</option></select>"
        "<label><input id=\"f-viol\" type=\"checkbox\"> violated only</label>"
        "<span id=\"o-count\" class=\"muted\"></span></div>\n"
        "<table class=\"grid\" id=\"orders-table\"><thead><tr><th>order id</th><th>key</th>"
        "<th>final status</th><th>amount</th><th>charges</th><th>callbacks</th><th>queries</th>"
        "<th>notifications</th><th>faults met</th><th>violated</th></tr></thead>"
        "<tbody id=\"orders-body\"></tbody></table>\n"
        "<div class=\"pager\"><button type=\"button\" id=\"prev\">&larr; prev</button>"
        "<span id=\"page\"></span><button type=\"button\" id=\"next\">next &rarr;</button></div>\n"
        "<noscript><p>The orders table and the timelines need JavaScript; the data is in "
        "report.json and journal.ndjson.</p></noscript>\n</section>\n");
}

static void page_body(struct rpt__out *o, const struct rpt__report *r,
                      const struct rpt__journal *j)
{
    banner(o, r);
    rpt__puts(o, "<nav><a href=\"#violations\">violations</a>");
    if (r->n_expects > 0)
        rpt__puts(o, "<a href=\"#expectations\">expectations</a>");
    rpt__puts(o, "<a href=\"#invariants\">invariants</a><a href=\"#orders\">orders</a>"
                 "<a href=\"#histograms\">histograms</a><a href=\"#coverage\">fault coverage"
                 "</a></nav>\n<main>\n");
    violations(o, r);
    expectations(o, r);
    invariants(o, r);
    orders_section(o);
    rpt__html_histograms(o, r, j);
    rpt__html_coverage(o, r);
    rpt__puts(o, "</main>\n<footer>paydrill report &middot; inputs: report.json (");
    rpt__puts(o, "paydrill.report/1), ");
    rpt__html(o, r->journal_name);
    rpt__printf(o, " (%zu events)</footer>\n", j->n);
}

void rpt__html_report(struct rpt__out *o, const struct rpt__report *r,
                      const struct rpt__journal *j)
{
    char nonce[33], src[64], title[256];
    make_nonce(nonce);
    snprintf(src, sizeof src, "'nonce-%s'", nonce);
    snprintf(title, sizeof title, "%s %.200s seed %s", strcmp(r->verdict, "pass") ? "FAIL" : "PASS",
             r->scenario, r->seed);
    head_common(o, title, src);
    page_body(o, r, j);
    rpt__puts(o, "<script type=\"application/json\" id=\"rpt-data\">");
    /* The escapers keep '<' out of the block; check, since a slip here would
     * let data close the script element. */
    o->no_lt = true;
    rpt__html_embed(o, r, j);
    o->no_lt = false;
    rpt__printf(o, "</script>\n<script nonce=\"%s\">\n", nonce);
    rpt__putn(o, (const char *)rpt_asset_js, rpt_asset_js_len);
    rpt__puts(o, "</script>\n</body>\n</html>\n");
}
