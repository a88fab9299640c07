/* rpt_svg.c -- the histograms (inline SVG) and the fault coverage table
 * of report.html, computed here so they show without any script.
 *
 * Time from payment to PAID is measured on the journal: from an order's
 * first "pay" event to its first SUT "status" event whose detail names
 * PAID as a word (so "UNPAID" does not count). The other histograms use the
 * per-order counts of report.json. Only numbers and our own labels go into
 * the SVG; fault and status names in the coverage table are escaped. */
#include <stdlib.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "rpt_internal.h"

#define HIST_BINS_MAX 20
#define COVER_MAX 64      /* fault kinds or statuses shown */

struct hist {
    const char *id, *title, *unit;
    int64_t *v;
    size_t n;
};

/* A bin width from 1, 2, 5 x 10^k that spreads [0, max] over at most
 * HIST_BINS_MAX bins. */
static int64_t bin_width(int64_t max)
{
    int64_t w = 1;
    for (int64_t step = 1; (max / w) + 1 > HIST_BINS_MAX; step *= 10) {
        if ((max / (2 * step)) + 1 <= HIST_BINS_MAX)
            w = 2 * step;
        else if ((max / (5 * step)) + 1 <= HIST_BINS_MAX)
            w = 5 * step;
        else
            w = 10 * step;
    }
    return w;
}

/* Bars with their counts on top; small integer ranges get a label per bin. */
static void bars(struct rpt__out *o, const struct hist *h, const size_t *bins, size_t nb,
                 int64_t w, size_t top)
{
    const int x0 = 44, y0 = 150, pw = 300, ph = 110;
    int bw = pw / (int)nb;
    for (size_t b = 0; b < nb; b++) {
        int bh = top ? (int)((double)bins[b] * ph / (double)top + 0.5) : 0;
        if (bins[b] > 0 && bh < 1)
            bh = 1;
        int x = x0 + (int)b * bw;
        rpt__printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"><title>%lld..%lld %s: "
                       "%zu orders</title></rect>", x + 1, y0 - bh, bw > 2 ? bw - 2 : 1, bh,
                    (long long)(b * (size_t)w), (long long)((b + 1) * (size_t)w - 1), h->unit,
                    bins[b]);
        if (bins[b] > 0 && nb <= 12)
            rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax mid\">%zu</text>", x + bw / 2,
                        y0 - bh - 3, bins[b]);
        if (nb <= 12 && w == 1)
            rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax mid\">%zu</text>", x + bw / 2,
                        y0 + 13, b);
    }
    rpt__printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", x0, y0, x0 + pw, y0);
    if (!(nb <= 12 && w == 1)) {
        rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax\">0</text>", x0, y0 + 13);
        rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax end\">%lld %s</text>", x0 + pw,
                    y0 + 13, (long long)(nb * (size_t)w), h->unit);
    }
    rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax end\">%zu</text>", x0 - 4, y0 - ph + 4,
                top);
    rpt__printf(o, "<text x=\"%d\" y=\"%d\" class=\"ax end\">0</text>", x0 - 4, y0);
}

static void histogram(struct rpt__out *o, const struct hist *h)
{
    int64_t max = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i] > max)
            max = h->v[i];
    int64_t w = bin_width(max);
    size_t nb = (size_t)(max / w) + 1;
    size_t bins[HIST_BINS_MAX + 1] = {0}, top = 0;
    for (size_t i = 0; i < h->n; i++) {
        size_t b = h->v[i] < 0 ? 0 : (size_t)(h->v[i] / w);
        bins[b < nb ? b : nb - 1]++;
    }
    for (size_t b = 0; b < nb; b++)
        top = bins[b] > top ? bins[b] : top;
    rpt__printf(o, "<figure class=\"hist\" id=\"%s\"><figcaption>%s <span class=\"muted\">"
                   "(%zu orders)</span></figcaption>", h->id, h->title, h->n);
    rpt__puts(o, "<svg viewBox=\"0 0 360 170\" width=\"360\" height=\"170\" role=\"img\">");
    if (h->n == 0)
        rpt__puts(o, "<text x=\"180\" y=\"90\" class=\"ax mid\">no data</text>");
    else
        bars(o, h, bins, nb, w, top);
    rpt__puts(o, "</svg></figure>\n");
}

/* True when s names PAID as a whole word: "PAYING -> PAID" yes, "UNPAID" no. */
static bool names_paid(const char *s)
{
    for (const char *p = s ? strstr(s, "PAID") : NULL; p; p = strstr(p + 1, "PAID")) {
        bool left = p == s || !((p[-1] >= 'A' && p[-1] <= 'Z') || p[-1] == '_');
        bool right = !((p[4] >= 'A' && p[4] <= 'Z') || p[4] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* True when ev's detail, expanded from its template, names PAID. */
static bool detail_paid(const struct rpt__report *r, const struct rpt__journal *j,
                        const struct rpt__event *ev)
{
    if (ev->detail == 0)
        return false;
    const char *vals[RPT_TMPL_N];
    char amount[RPT_AMOUNT_CHARS];
    rpt__event_vals(r, j, ev, amount, vals);
    char text[RPT_DETAIL_MAX_BYTES + 1];
    int rc = rpt__detail_expand(j->strs.strs[ev->detail - 1], vals, text, sizeof text);
    PD_ASSERT(rc == PD_OK);   /* it gives back the cut detail */
    return names_paid(text);
}

/* Per order: ms from its first pay event to its first SUT status PAID. */
static size_t pay_to_paid(const struct rpt__report *r, const struct rpt__journal *j,
                          int64_t *out)
{
    long pay = rpt__strtab_find(&j->names, "pay");
    long status = rpt__strtab_find(&j->names, "status");
    size_t n = 0;
    int64_t *pay_at = malloc((r->n_orders + 1) * sizeof *pay_at);
    if (pay_at == NULL || pay < 0 || status < 0) {
        free(pay_at);
        return 0;
    }
    for (size_t k = 0; k < r->n_orders; k++)
        pay_at[k] = -1;
    for (size_t i = 0; i < j->n; i++) {
        const struct rpt__event *ev = &j->ev[i];
        if (ev->order < 0)
            continue;
        if ((long)ev->kind - 1 == pay && pay_at[ev->order] == -1)
            pay_at[ev->order] = ev->t;
        else if ((long)ev->kind - 1 == status && ev->lane == RPT_LANE_SUT &&
                 pay_at[ev->order] >= 0 && detail_paid(r, j, ev)) {
            out[n++] = ev->t - pay_at[ev->order];
            pay_at[ev->order] = -2;   /* measured once */
        }
    }
    free(pay_at);
    return n;
}

void rpt__html_histograms(struct rpt__out *o, const struct rpt__report *r,
                          const struct rpt__journal *j)
{
    int64_t *v = calloc(4 * (r->n_orders + 1), sizeof *v);
    if (v == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        return;
    }
    size_t no = r->n_orders, stride = no + 1;
    struct hist h[4] = {
        {"h-paid", "Time from payment to PAID", "ms", v, pay_to_paid(r, j, v)},
        {"h-callbacks", "Callbacks per order", "", v + stride, no},
        {"h-queries", "Queries per order", "", v + 2 * stride, no},
        {"h-notify", "Notification attempts per order", "", v + 3 * stride, no},
    };
    for (size_t k = 0; k < no; k++) {
        h[1].v[k] = r->orders[k].callbacks;
        h[2].v[k] = r->orders[k].queries;
        h[3].v[k] = r->orders[k].notifications;
    }
    rpt__puts(o, "<section id=\"histograms\">\n<h2>Histograms</h2>\n<div class=\"hists\">\n");
    for (size_t i = 0; i < 4; i++)
        histogram(o, &h[i]);
    rpt__puts(o, "</div>\n</section>\n");
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct cover {
    struct rpt__strtab faults, states;
    size_t *cells;        /* [fault][state] orders; column COVER_MAX = violated */
    bool *violated;
};

static int cover_count(struct cover *c, const struct rpt__report *r)
{
    for (size_t v = 0; v < r->n_viols; v++)
        if (r->viols[v].order_idx >= 0)
            c->violated[r->viols[v].order_idx] = true;
    for (size_t k = 0; k < r->n_orders; k++) {
        const struct rpt__order *ord = &r->orders[k];
        size_t s, f;
        if (rpt__strtab_add(&c->states, ord->status ? ord->status : "?", &s) != PD_OK)
            return PD_ENOMEM;
        for (const cJSON *e = ord->faults ? ord->faults->child : NULL; e; e = e->next) {
            if (rpt__strtab_add(&c->faults, e->valuestring, &f) != PD_OK)
                return PD_ENOMEM;
            if (f < COVER_MAX && s < COVER_MAX) {
                c->cells[f * (COVER_MAX + 1) + s]++;
                c->cells[f * (COVER_MAX + 1) + COVER_MAX] += c->violated[k];
            }
        }
    }
    return PD_OK;
}

static void cover_cell(struct rpt__out *o, size_t n, bool bad)
{
    if (n == 0)
        rpt__puts(o, "<td class=\"c0\">&middot;</td>");
    else
        rpt__printf(o, "<td class=\"%s\">%zu</td>", bad ? "cbad" : "c1", n);
}

static void cover_table(struct rpt__out *o, struct cover *c)
{
    size_t nf = c->faults.n < COVER_MAX ? c->faults.n : COVER_MAX;
    size_t ns = c->states.n < COVER_MAX ? c->states.n : COVER_MAX;
    const char **names = malloc((nf + 1) * sizeof *names);
    if (names == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        return;
    }
    memcpy(names, c->faults.strs, nf * sizeof *names);
    qsort(names, nf, sizeof *names, cmp_str);
    rpt__puts(o, "<table class=\"grid cover\"><thead><tr><th>fault kind \\ final state</th>");
    for (size_t s = 0; s < ns; s++) {
        rpt__puts(o, "<th>");
        rpt__html(o, c->states.strs[s]);
        rpt__puts(o, "</th>");
    }
    rpt__puts(o, "<th>in violated orders</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < nf; i++) {
        size_t f = (size_t)rpt__strtab_find(&c->faults, names[i]);
        rpt__puts(o, "<tr><td>");
        rpt__html(o, names[i]);
        rpt__puts(o, "</td>");
        for (size_t s = 0; s < ns; s++)
            cover_cell(o, c->cells[f * (COVER_MAX + 1) + s], false);
        cover_cell(o, c->cells[f * (COVER_MAX + 1) + COVER_MAX], true);
        rpt__puts(o, "</tr>\n");
    }
    rpt__puts(o, "</tbody></table>\n");
    free(names);
}

void rpt__html_coverage(struct rpt__out *o, const struct rpt__report *r)
{
    struct cover c;
    rpt__strtab_init(&c.faults);
    rpt__strtab_init(&c.states);
    c.cells = calloc(COVER_MAX * (COVER_MAX + 1), sizeof *c.cells);
    c.violated = calloc(r->n_orders + 1, sizeof *c.violated);
    rpt__puts(o, "<section id=\"coverage\">\n<h2>Fault coverage</h2>\n<p class=\"muted\">Orders "
                 "that met each fault kind, by the state they ended in.</p>\n");
    int rc = (c.cells && c.violated) ? cover_count(&c, r) : PD_ENOMEM;
    if (rc != PD_OK && o->rc == PD_OK)
        o->rc = rc;
    if (rc == PD_OK && c.faults.n == 0)
        rpt__puts(o, "<p>No order met a fault in this run.</p>\n");
    else if (rc == PD_OK)
        cover_table(o, &c);
    rpt__puts(o, "</section>\n");
    free(c.cells);
    free(c.violated);
    rpt__strtab_release(&c.faults);
    rpt__strtab_release(&c.states);
}
