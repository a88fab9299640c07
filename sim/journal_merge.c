/* journal_merge.c -- the merged journal: collect references, sort by t,
 * format line by line into a temp file, rename.
 *
 * The references are the checker's largest allocation after the model (13
 * per order in a no-fault run), so each is one 8-byte key and they are
 * sorted in place (glibc's qsort would malloc a second array of the same
 * size). A key is dt << 32 | k: dt the event's time minus its window's
 * first, k its place in (src, a, b) order over every sub-record of the
 * model, so sorting keys as integers sorts by (t, src, a, b). A window
 * spanning more than 2^32 ms shifts dt right until it fits; then keys with
 * equal dt are put in exact (t, k) order by a second pass over each such
 * run.
 *
 * Nor are all the keys held at once: a histogram of the events' times
 * splits the run into windows of consecutive times holding at most
 * SIM_MERGE_WINDOW keys each (one time's events are never split; a
 * bucket holding more gets a histogram of its own, so one outlying time
 * cannot put every other event in one bucket), and the windows are
 * collected, sorted and written one after another, each by one more walk
 * over the model. At 10,000 orders that is 128 KiB of keys
 * instead of 1 MiB, at the journal's peak, for eight cheap walks. */
#include "journal_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_afile.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_rand.h"
#include "sim_json.h"

enum src {
    SRC_GATEWAY = 0, SRC_HIST, SRC_PTRADE, SRC_PREFUND, SRC_PNOTIF,
    SRC_SUB, SRC_PAYCALL, SRC_PAYER, SRC_BQUERY, SRC_RECEIPT, SRC_ACK, SRC_PROCESS,
    SRC_COUNT
};

#define N_ORDER_SRC (SRC_PNOTIF - SRC_HIST + 1)   /* sources inside P orders */

/* One event, decoded from its key for formatting. */
struct ev {
    int64_t t;
    uint32_t src, a, b;   /* source, record index, sub-record index */
};

/* Where each source's events start in k, and for the sources inside P
 * orders, where each order's sub-records start (prefix sums). */
struct ev_index {
    uint64_t base[SRC_COUNT + 1];
    uint32_t *start[N_ORDER_SRC];   /* orders.n + 1 entries each */
};

enum pass { PASS_SPAN, PASS_HIST, PASS_FILL };

struct evs {
    enum pass pass;
    uint64_t *v;        /* PASS_FILL: the window's keys */
    size_t n, cap;      /* PASS_SPAN: every event; PASS_FILL: the window's */
    int64_t t_min, t_max;           /* PASS_SPAN's findings */
    uint64_t lo, span;  /* PASS_HIST, PASS_FILL: the times [lo, lo + span] (as uint64) */
    uint64_t width;     /* ms a histogram bucket covers */
    uint32_t *hist;     /* PASS_HIST: events per bucket */
    uint64_t blo, bhi;  /* PASS_FILL: the window's buckets [blo, bhi) */
    uint64_t t0;        /* PASS_FILL: the window's first time (as uint64) */
    unsigned shift;     /* PASS_FILL: dt = (t - t0) >> shift */
};

static size_t src_records(const struct sim_model *m, uint32_t src)
{
    switch (src) {
    case SRC_GATEWAY: return m->gj.n;
    case SRC_SUB: return m->subs.n;
    case SRC_PAYCALL: return m->paycalls.n;
    case SRC_PAYER: return m->payer.n;
    case SRC_BQUERY: return m->bqueries.n;
    case SRC_RECEIPT: case SRC_ACK: return m->receipts.n;
    case SRC_PROCESS: return m->pevents.n;
    default: return m->orders.n;
    }
}

/* Sub-records of record a in src (1 outside P orders). */
static uint32_t src_len(const struct sim_model *m, uint32_t src, size_t a)
{
    const struct sim_porder *o = &m->orders.v[a];
    switch (src) {
    case SRC_HIST: return o->n_hist;
    case SRC_PTRADE: return o->n_trades;
    case SRC_PREFUND: return o->n_refunds;
    case SRC_PNOTIF: return o->n_notifs;
    default: return 1;
    }
}

/* The event's time, SIM_NO_TIME when it is not in the journal. */
static int64_t src_time(const struct sim_model *m, uint32_t src, size_t a, uint32_t b)
{
    switch (src) {
    case SRC_GATEWAY: return m->gj.v[a].at;
    case SRC_HIST: return m->orders.v[a].hist[b].at;
    case SRC_PTRADE: return m->orders.v[a].trades[b].created_at;
    case SRC_PREFUND: return m->orders.v[a].refunds[b].at;
    case SRC_PNOTIF: return m->orders.v[a].notifs[b].delivered_at;
    case SRC_SUB: return m->subs.v[a].at;
    case SRC_PAYCALL: return m->paycalls.v[a].at;
    case SRC_PAYER: return m->payer.v[a].at;
    case SRC_BQUERY: return m->bqueries.v[a].at;
    case SRC_RECEIPT: return m->receipts.v[a].at;
    case SRC_ACK: {
        int64_t ans = m->receipts.v[a].answered;
        return ans >= 200 && ans < 300 ? m->receipts.v[a].at : SIM_NO_TIME;
    }
    default: return m->pevents.v[a].at;
    }
}

/* The histogram bucket of t, UINT64_MAX when t is outside [lo, lo + span]. */
static uint64_t bucket_of(const struct evs *e, int64_t t)
{
    uint64_t d = (uint64_t)t - e->lo;
    return d > e->span ? UINT64_MAX : d / e->width;
}

static void push(struct evs *e, int64_t t, uint64_t k)
{
    if (t == SIM_NO_TIME)
        return;
    if (e->pass == PASS_SPAN) {
        e->t_min = e->n == 0 || t < e->t_min ? t : e->t_min;
        e->t_max = e->n == 0 || t > e->t_max ? t : e->t_max;
        e->n++;
    } else if (e->pass == PASS_HIST) {
        uint64_t b = bucket_of(e, t);
        if (b != UINT64_MAX)
            e->hist[b]++;
    } else {
        uint64_t b = bucket_of(e, t);
        if (b < e->blo || b >= e->bhi)
            return;
        PD_ASSERT(e->n < e->cap);
        uint64_t dt = ((uint64_t)t - e->t0) >> e->shift;
        e->v[e->n++] = dt << 32 | k;
    }
}

/* Walks every sub-record in (src, a, b) order, numbering them k; fills the
 * index on the way. PD_ETOOBIG past 2^32 sub-records. */
static int collect(const struct sim_model *m, struct ev_index *ix, struct evs *e)
{
    uint64_t k = 0;
    for (uint32_t src = 0; src < SRC_COUNT; src++) {
        ix->base[src] = k;
        bool in_order = src >= SRC_HIST && src <= SRC_PNOTIF;
        uint32_t *start = in_order ? ix->start[src - SRC_HIST] : NULL;
        size_t n = src_records(m, src);
        for (size_t a = 0; a < n; a++) {
            if (start != NULL)
                start[a] = (uint32_t)(k - ix->base[src]);
            uint32_t len = src_len(m, src, a);
            if (k + len > UINT32_MAX)
                return PD_ETOOBIG;
            for (uint32_t b = 0; b < len; b++, k++)
                push(e, src_time(m, src, a, b), k);
        }
        if (start != NULL)
            start[n] = (uint32_t)(k - ix->base[src]);
    }
    ix->base[SRC_COUNT] = k;
    return PD_OK;
}

static struct ev decode(const struct sim_model *m, const struct ev_index *ix, uint64_t key)
{
    uint64_t k = key & UINT32_MAX;
    struct ev e = {0};
    while (ix->base[e.src + 1] <= k)
        e.src++;
    uint32_t idx = (uint32_t)(k - ix->base[e.src]);
    if (e.src >= SRC_HIST && e.src <= SRC_PNOTIF) {
        const uint32_t *start = ix->start[e.src - SRC_HIST];
        size_t lo = 0, hi = m->orders.n;     /* the last order whose start <= idx */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (start[mid] <= idx)
                lo = mid;
            else
                hi = mid;
        }
        e.a = (uint32_t)lo;
        e.b = idx - start[lo];
    } else {
        e.a = idx;
    }
    e.t = src_time(m, e.src, e.a, e.b);
    return e;
}

/* ---- sorting ---- */

/* Exact order when dt was shifted: by t, then k. */
struct exact { const struct sim_model *m; const struct ev_index *ix; };

static bool key_less(const struct exact *x, uint64_t p, uint64_t q)
{
    if (x == NULL)
        return p < q;
    int64_t tp = decode(x->m, x->ix, p).t, tq = decode(x->m, x->ix, q).t;
    if (tp != tq)
        return tp < tq;
    return (p & UINT32_MAX) < (q & UINT32_MAX);
}

/* Moves v[i] down the max-heap v[0..n). */
static void sift_down(const struct exact *x, uint64_t *v, size_t i, size_t n)
{
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && key_less(x, v[big], v[l]))
            big = l;
        if (r < n && key_less(x, v[big], v[r]))
            big = r;
        if (big == i)
            return;
        uint64_t tmp = v[i];
        v[i] = v[big];
        v[big] = tmp;
        i = big;
    }
}

/* Heapsort: in place, O(n log n), no extra memory. x NULL: by key. */
static void heapsort_keys(const struct exact *x, uint64_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(x, v, i, n);
    for (size_t end = n; end > 1; end--) {
        uint64_t tmp = v[0];
        v[0] = v[end - 1];
        v[end - 1] = tmp;
        sift_down(x, v, 0, end - 1);
    }
}

static void sort_events(const struct sim_model *m, const struct ev_index *ix, struct evs *e)
{
    heapsort_keys(NULL, e->v, e->n);
    if (e->shift == 0)
        return;     /* dt exact: the keys' order is (t, k) */
    const struct exact x = {m, ix};
    for (size_t i = 0, j; i < e->n; i = j) {
        for (j = i + 1; j < e->n && e->v[j] >> 32 == e->v[i] >> 32; j++)
            ;
        if (j - i > 1)
            heapsort_keys(&x, e->v + i, j - i);
    }
}

static void index_free(struct ev_index *ix)
{
    for (size_t i = 0; i < N_ORDER_SRC; i++)
        free(ix->start[i]);
}

/* The first pass: counts the events and finds their time span. */
static int collect_span(const struct sim_model *m, struct ev_index *ix, struct evs *e)
{
    memset(e, 0, sizeof *e);
    memset(ix, 0, sizeof *ix);
    for (size_t i = 0; i < N_ORDER_SRC; i++)
        if ((ix->start[i] = malloc((m->orders.n + 1) * sizeof *ix->start[i])) == NULL)
            return PD_ENOMEM;
    e->pass = PASS_SPAN;
    return collect(m, ix, e);
}

size_t sim_journal_merge_count(const struct sim_model *m)
{
    struct ev_index ix;
    struct evs e;
    int rc = collect_span(m, &ix, &e);
    size_t n = rc == PD_OK ? e.n : 0;
    index_free(&ix);
    return n;
}

/* ---- formatting ---- */

/* A JSON string, or null for NULL ("" stays a string, unlike
 * sim_json_str_or_null). */
static void put_json_str(FILE *f, const char *s)
{
    if (s == NULL)
        fputs("null", f);
    else
        sim_json_str(f, s);
}

struct line {
    int64_t t;
    const char *lane, *kind;
    sim_sid key, order_id, out_trade_no, fault;   /* model strings, 0 = null */
    char detail[320];
};

/* The gateway's trade_no of out_trade_no when G holds that trade, else 0.
 * Every line gets it, whatever its lane: the report writers template a
 * detail's trade number with it (docs/reports.md "Embedded data"). */
static sim_sid trade_no_of(const struct sim_model *m, sim_sid out_trade_no)
{
    int32_t t = sim__map_get(&m->trade_by_otn, out_trade_no);
    return t != SIM_NONE ? m->trades.v[t].trade_no : 0;
}

static void put_line(const struct sim_model *m, FILE *f, const struct line *l)
{
    fprintf(f, "{\"t\":%lld,\"lane\":", (long long)l->t);
    put_json_str(f, l->lane);
    fputs(",\"key\":", f);
    put_json_str(f, sim__s(m, l->key));
    fputs(",\"order_id\":", f);
    put_json_str(f, sim__s(m, l->order_id));
    fputs(",\"out_trade_no\":", f);
    put_json_str(f, sim__s(m, l->out_trade_no));
    fputs(",\"trade_no\":", f);
    put_json_str(f, sim__s(m, trade_no_of(m, l->out_trade_no)));
    fputs(",\"kind\":", f);
    put_json_str(f, l->kind);
    fputs(",\"detail\":", f);
    put_json_str(f, l->detail);
    fputs(",\"fault\":", f);
    put_json_str(f, sim__s(m, l->fault));
    fputs("}\n", f);
}

/* The string of id, or "?" when there is none. */
static const char *q(const struct sim_model *m, sim_sid id)
{
    return id != 0 ? sim__s(m, id) : "?";
}

/* " <prefix><string of id>" pieces of a detail: both "" when id is 0. */
static const char *pre(sim_sid id, const char *prefix)
{
    return id != 0 ? prefix : "";
}

static const char *opt(const struct sim_model *m, sim_sid id)
{
    return id != 0 ? sim__s(m, id) : "";
}

static const char *gateway_kind(const char *op, int64_t status)
{
    static const char *const map[][2] = {{"create", "trade_created"}, {"query", "query"},
                                         {"close", "close"}, {"refund", "refund"},
                                         {"callback", "callback"}};
    if (strcmp(op, "pay") == 0)
        return status == 200 ? "charge" : "pay";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(op, map[i][0]) == 0)
            return map[i][1];
    return op;
}

/* The gateway journal file, for the lines not kept whole (check_model.h). */
struct gj_file {
    FILE *f;
    int64_t pos;        /* where the next getline starts */
    char *buf;
    size_t cap;
    cJSON *line;        /* the line read last: the event's strings point into it */
    int rc;             /* the first error: the merge stops */
};

static void gj_file_close(struct gj_file *gf)
{
    if (gf->f != NULL)
        fclose(gf->f);
    free(gf->buf);
    cJSON_Delete(gf->line);
}

static void gj_fail(struct gj_file *gf, const struct sim_model *m, const struct sim_gjref *r,
                    const char *what)
{
    if (gf->rc == PD_OK)
        PD_LOG(PD_LOG_ERROR, "sim", "act=merge file=%s byte=%lu err=\"%s\"",
               m->gj_file ? m->gj_file : "?", (unsigned long)r->line_at, what);
    gf->rc = PD_EIO;
}

/* Reads line r again from the file into gf->line (x points into it). It
 * must still be the line the model read (its bytes' hash, then its time,
 * trade and key, no fault, the same types), else the file changed since
 * and the merge fails. */
static bool gj_read(const struct sim_model *m, struct gj_file *gf, const struct sim_gjref *r,
                    struct sim_gjtext *x)
{
    if (gf->rc != PD_OK)
        return false;
    if (gf->f == NULL && (m->gj_file == NULL || (gf->f = fopen(m->gj_file, "r")) == NULL)) {
        gj_fail(gf, m, r, "cannot be opened again");
        return false;
    }
    if (gf->pos != (int64_t)r->line_at) {   /* lines are read mostly in order */
        if (fseeko(gf->f, (off_t)r->line_at, SEEK_SET) != 0) {
            gj_fail(gf, m, r, "cannot seek");
            return false;
        }
        gf->pos = r->line_at;
    }
    ssize_t n = getline(&gf->buf, &gf->cap, gf->f);
    if (n < 0) {
        gj_fail(gf, m, r, "changed since it was read: line missing");
        return false;
    }
    gf->pos += n;
    if ((uint32_t)pd_hash_bytes(gf->buf, (size_t)n) != r->hash) {
        gj_fail(gf, m, r, "changed since it was read");
        return false;
    }
    cJSON_Delete(gf->line);
    gf->line = cJSON_ParseWithLength(gf->buf, (size_t)n);
    struct pd_json_err err;
    /* Read as the loader read it; the same time, trade and key besides the
     * hash (32 bits), so a collision cannot print another line's fields. */
    bool ok = sim__read_gjline(gf->line, "", x, &err) == PD_OK && x->at == r->at &&
              sim__s_eq(m, r->out_trade_no, x->out_trade_no) &&
              sim__s_eq(m, r->key, x->key) && x->fault == NULL;
    if (!ok)
        gj_fail(gf, m, r, "changed since it was read");
    return ok;
}

static void fmt_gateway(const struct sim_model *m, struct gj_file *gf, const struct ev *e,
                        struct line *l)
{
    const struct sim_gjref *r = &m->gj.v[e->a];
    int32_t t = sim__map_get(&m->trade_by_otn, r->out_trade_no);
    int32_t o = t != SIM_NONE ? m->trades.v[t].order : SIM_NONE;
    l->lane = "gateway";
    l->key = r->key;
    l->order_id = o != SIM_NONE ? m->orders.v[o].order_id : 0;
    l->out_trade_no = r->out_trade_no;
    struct sim_gjtext x;
    if (r->line_at == SIM_GJ_WHOLE) {
        const struct sim_gjline *g = &m->gjx.v[r->whole];
        x = (struct sim_gjtext){.op = sim__sp(m, g->op), .detail = sim__s(m, g->detail),
                                .status = g->status, .attempt = g->attempt};
        l->fault = g->fault;
    } else if (!gj_read(m, gf, r, &x)) {
        return;
    }
    l->kind = gateway_kind(x.op, x.status);
    snprintf(l->detail, sizeof l->detail, "%s status=%lld attempt=%lld%s%s", x.op,
             (long long)x.status, (long long)x.attempt, x.detail != NULL ? " " : "",
             x.detail != NULL ? x.detail : "");
}

static void fmt_sut(const struct sim_model *m, const struct ev *e, struct line *l)
{
    const struct sim_porder *o = &m->orders.v[e->a];
    uint32_t b = e->b;
    l->lane = "sut";
    l->key = o->client_ref;
    l->order_id = o->order_id;
    if (e->src == SRC_HIST) {
        const struct sim_hist *h = &o->hist[b];
        l->kind = "status";
        snprintf(l->detail, sizeof l->detail, "%s->%s (%s)",
                 h->from != 0 ? sim__s(m, h->from) : "null", q(m, h->to), q(m, h->cause));
    } else if (e->src == SRC_PTRADE) {
        const struct sim_ptrade *t = &o->trades[b];
        l->kind = "trade_created";
        l->out_trade_no = t->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "attempt %lld state %s", (long long)t->attempt,
                 q(m, t->state));
    } else if (e->src == SRC_PREFUND) {
        const struct sim_prefund *r = &o->refunds[b];
        l->kind = "refund";
        l->out_trade_no = r->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "%s %lld %s (%s)", q(m, r->out_refund_no),
                 (long long)r->amount, q(m, r->status), q(m, r->reason));
    } else {
        const struct sim_pnotif *n = &o->notifs[b];
        l->kind = "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s delivered after %lld attempt(s), last "
                 "http %lld", q(m, n->event_id), q(m, n->status), (long long)n->attempts,
                 (long long)n->last_http_status);
    }
}

static void fmt_business(const struct sim_model *m, const struct ev *e, struct line *l)
{
    l->lane = "business";
    if (e->src == SRC_SUB) {
        const struct sim_submission *s = &m->subs.v[e->a];
        l->key = s->key;
        l->order_id = s->order_id;
        l->kind = s->status == 409 ? "duplicate_refused" : "submit";
        snprintf(l->detail, sizeof l->detail, "%s client_ref=%s status=%lld%s%s",
                 sim__sp(m, s->kind), q(m, s->client_ref), (long long)s->status,
                 pre(s->error, " error="), opt(m, s->error));
    } else if (e->src == SRC_PAYCALL) {
        const struct sim_paycall *p = &m->paycalls.v[e->a];
        l->key = p->key;
        l->order_id = p->order_id;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "pay call status=%lld body_status=%s",
                 (long long)p->status, q(m, p->body_status));
    } else if (e->src == SRC_PAYER) {
        const struct sim_payer *p = &m->payer.v[e->a];
        l->key = p->key;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "payer %s status=%lld%s%s", q(m, p->action),
                 (long long)p->status, pre(p->code, " code="), opt(m, p->code));
    } else if (e->src == SRC_BQUERY) {
        const struct sim_bquery *bq = &m->bqueries.v[e->a];
        l->key = bq->key;
        l->order_id = bq->order_id;
        l->kind = "query";
        snprintf(l->detail, sizeof l->detail, "business asks the SUT: status=%lld order %s",
                 (long long)bq->status, q(m, bq->body_status));
    } else {
        const struct sim_receipt *x = &m->receipts.v[e->a];
        l->key = x->client_ref;
        l->order_id = x->order_id;
        l->kind = e->src == SRC_ACK ? "ack" : "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s seq=%lld answered=%lld signature_ok=%s "
                 "applied=%s", q(m, x->event_id), q(m, x->status),
                 (long long)(x->seq == SIM_NO_TIME ? 0 : x->seq),
                 (long long)x->answered, x->signature_ok ? "true" : "false",
                 x->applied ? "true" : "false");
    }
}

static void fmt_event(const struct sim_model *m, struct gj_file *gf, const struct ev *e,
                      struct line *l)
{
    memset(l, 0, sizeof *l);
    l->t = e->t;
    if (e->src == SRC_GATEWAY) {
        fmt_gateway(m, gf, e, l);
    } else if (e->src <= SRC_PNOTIF) {
        fmt_sut(m, e, l);
    } else if (e->src == SRC_PROCESS) {
        const struct sim_pevent *p = &m->pevents.v[e->a];
        l->lane = sim__s_eq(m, p->target, "gateway") ? "gateway" : "sut";
        l->kind = "process";
        snprintf(l->detail, sizeof l->detail, "%s %s%s%s", q(m, p->action), q(m, p->target),
                 pre(p->detail, " "), opt(m, p->detail));
    } else {
        fmt_business(m, e, l);
    }
    /* Business records carry a key; find the order by it when they lack one. */
    if (l->order_id == 0 && l->key != 0) {
        int32_t o = sim__map_get(&m->order_by_ref, l->key);
        if (o != SIM_NONE)
            l->order_id = m->orders.v[o].order_id;
    }
}

#define N_BUCKETS 4096u

/* The end (exclusive) of the window starting at bucket b: buckets are added
 * while the window stays within cap keys; its first is always taken. */
static uint32_t window_end(const struct evs *e, uint32_t nb, uint32_t b, size_t cap,
                           size_t *count)
{
    size_t sum = 0;
    uint32_t end = b;
    while (end < nb && (end == b || sum + e->hist[end] <= cap))
        sum += e->hist[end++];
    *count = sum;
    return end;
}

/* Collects, sorts and writes the count events of buckets [blo, bhi). */
static int write_window(const struct sim_model *m, struct ev_index *ix, struct evs *e,
                        uint32_t blo, uint32_t bhi, size_t count, struct gj_file *gf, FILE *f)
{
    if (count > e->cap) {       /* the largest window so far: no copy needed */
        free(e->v);
        e->cap = 0;
        if ((e->v = malloc(count * sizeof *e->v)) == NULL)
            return PD_ENOMEM;
        e->cap = count;
    }
    e->pass = PASS_FILL;
    e->n = 0;
    e->blo = blo;
    e->bhi = bhi;
    e->t0 = e->lo + blo * e->width;
    /* The window's times lie in [t0, t0 + (bhi - blo) * width). */
    uint64_t nbk = bhi - blo;
    uint64_t span = nbk > UINT64_MAX / e->width ? UINT64_MAX : nbk * e->width - 1;
    e->shift = 0;
    while (span >> e->shift > UINT32_MAX)
        e->shift++;
    int rc = collect(m, ix, e);
    if (rc != PD_OK)
        return rc;
    PD_ASSERT(e->n == count);
    sort_events(m, ix, e);
    struct line l;
    for (size_t i = 0; i < e->n && gf->rc == PD_OK; i++) {
        struct ev ev = decode(m, ix, e->v[i]);
        fmt_event(m, gf, &ev, &l);
        put_line(m, f, &l);
    }
    return gf->rc;
}

/* Writes the total events with times in [lo, lo + span] in windows of at
 * most cap keys (see the top). A bucket holding more than cap events gets
 * a histogram of its own, down to buckets of one ms: one time's events are
 * the only window that may be larger (an outlier time must not put every
 * event in one bucket, hence one window). Each level narrows the buckets
 * 4096 times: at most 6 levels for a span of 2^64 ms. */
static int write_range(const struct sim_model *m, struct ev_index *ix, struct evs *e,
                       uint64_t lo, uint64_t span, size_t total, size_t cap,
                       struct gj_file *gf, FILE *f)
{
    /* One window when every key fits: two buckets cover any span (a
     * width of span / 2 + 1 cannot overflow), and no histogram is needed. */
    uint32_t nb = total <= cap ? 2 : N_BUCKETS;
    uint64_t width = span / nb + 1;
    uint32_t *hist = calloc(nb, sizeof *hist);
    if (hist == NULL)
        return PD_ENOMEM;
    e->lo = lo;
    e->span = span;
    e->width = width;
    e->hist = hist;
    int rc = PD_OK;
    if (nb == 2) {
        hist[0] = (uint32_t)total;      /* only the count matters: one window */
        cap = total;
    } else {
        e->pass = PASS_HIST;
        rc = collect(m, ix, e);
    }
    size_t count;
    for (uint32_t b = 0, end; rc == PD_OK && b < nb; b = end) {
        e->lo = lo;             /* a level below changed them */
        e->span = span;
        e->width = width;
        e->hist = hist;
        end = window_end(e, nb, b, cap, &count);
        if (count > cap && width > 1)   /* one bucket (window_end), several times */
            rc = write_range(m, ix, e, lo + b * width,
                             width - 1 < span - b * width ? width - 1 : span - b * width,
                             count, cap, gf, f);
        else if (count > 0)
            rc = write_window(m, ix, e, b, end, count, gf, f);
    }
    free(hist);
    e->hist = NULL;
    return rc;
}

_Thread_local size_t sim__journal_merge_peak;   /* per thread: checks of --jobs run side by side */

static int write_events(const struct sim_model *m, struct ev_index *ix, struct evs *e,
                        size_t cap, struct gj_file *gf, FILE *f)
{
    sim__journal_merge_peak = 0;
    if (e->n == 0)
        return PD_OK;
    e->cap = 0;
    int rc = write_range(m, ix, e, (uint64_t)e->t_min,
                         (uint64_t)e->t_max - (uint64_t)e->t_min, e->n, cap, gf, f);
    sim__journal_merge_peak = e->cap;
    free(e->v);
    e->v = NULL;
    return rc;
}

int sim__journal_merge_write_cap(const struct sim_model *m, const char *path, size_t cap)
{
    struct ev_index ix;
    struct evs e;
    int rc = collect_span(m, &ix, &e);
    /* Streamed: the journal of a large run is too big to hold as one buffer. */
    struct pd_afile af;
    if (rc == PD_OK && pd_afile_open(&af, path) != PD_OK)
        rc = PD_EIO;
    if (rc == PD_OK) {
        struct gj_file gf = {.rc = PD_OK};
        rc = write_events(m, &ix, &e, cap > 0 ? cap : 1, &gf, af.f);
        gj_file_close(&gf);
        if (rc == PD_OK)
            rc = pd_afile_commit(&af);
        else
            pd_afile_abort(&af);
    }
    index_free(&ix);
    return rc;
}

int sim_journal_merge_write(const struct sim_model *m, const char *path)
{
    return sim__journal_merge_write_cap(m, path, SIM_MERGE_WINDOW);
}
