/* gw_cb.c -- callback delivery: a scheduler thread and a bounded pool of
 * workers, each with its own HTTP client.
 *
 * The callbacks still owed live in the ledger (table callbacks) and, while
 * the process runs, in a min-heap by due time. The scheduler pops what is
 * due, asks the fault rules what to do with this attempt (drop, delay,
 * duplicate, reorder, plus stale and forged extra deliveries), and hands
 * deliveries to the workers through a queue it never fills past a bound, so
 * a slow receiver slows delivery down but never loses a callback: what
 * cannot be handed over stays in the heap (and in the ledger).
 *
 * Time is read only through pd_now_ms/pd_mono_ms and waited with a
 * CLOCK_MONOTONIC condition variable, both of which libfaketime speeds up,
 * so a 24 h schedule runs in seconds under a x1000 clock. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_internal.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_sign.h"
#include "pd_time.h"
#include "pd_util.h"

#define EXTRAS_PER_ATTEMPT 16     /* stale/forge rules applied to one attempt */
#define WAIT_CAP_MS 1000          /* longest scheduler sleep (simulated ms) */
#define CB_RESP_MAX 65536         /* bytes of a receiver's answer we read */
#define FORGED_SECRET "forged-by-mock-gateway"

/* A callback still owed. Owned by exactly one place at a time: the heap, the
 * held list, or a worker's job. */
struct owed {
    struct gw_owed p;             /* persisted progress */
    uint64_t gen;                 /* reset generation it belongs to */
    struct gw_trade t;
    char *body;                   /* the genuine SUCCESS notification */
    size_t len;
    const char *key;              /* t.attach or t.out_trade_no */
    const char *fault;            /* label of the current attempt (delay, reorder...) */
    uint64_t release_at;          /* reorder: dispatch count that releases it */
    int64_t hold_deadline;        /* reorder: latest release */
    bool sent_once;               /* last_* below are valid */
    int64_t last_ts;
    char last_nonce[PD_NONCE_MAX + 1];
    char last_sig[PD_SIG_HEX_LEN + 1];
};

/* An extra delivery (duplicate copy, stale state, forgery); never retried. */
struct extra {
    uint64_t gen;
    char url[GW_URL_MAX + 1];
    char *body;
    size_t len;
    bool presigned;               /* replay: send ts/nonce/sig exactly as given */
    int64_t ts;
    char nonce[PD_NONCE_MAX + 1];
    char sig[PD_SIG_HEX_LEN + 1];
    bool bad_secret;
    int64_t skew_ms;
    char out_trade_no[GW_ID_MAX + 1];
    char key[GW_TEXT_MAX + 1];
    int attempt;
    char fault[40];
};

struct item {
    int64_t due;
    struct owed *o;
    struct extra *x;
};

struct job {
    struct job *next;
    struct owed *o;               /* genuine delivery, or NULL */
    struct extra *x;              /* extra delivery, or NULL */
    int copies;                   /* sequential copies of the genuine one */
    bool replay;                  /* resend the genuine bytes afterwards */
    int64_t replay_after_ms;
    struct extra *then[EXTRAS_PER_ATTEMPT];   /* stale states, queued once the genuine one was sent */
    int64_t then_ms[EXTRAS_PER_ATTEMPT];
    int n_then;
};

struct gw_cb {
    gw *g;
    pthread_mutex_t mu;
    pthread_cond_t sched_cv;      /* CLOCK_MONOTONIC */
    pthread_cond_t work_cv;
    bool stop;
    uint64_t gen;
    struct item *heap;
    size_t heap_n, heap_cap;
    struct owed **held;
    size_t held_n, held_cap;
    struct job *q_head, *q_tail;
    size_t q_len, q_cap;
    uint64_t dispatched;          /* genuine attempts handed out */
    uint64_t finished;            /* genuine attempts sent (or dropped): releases reorder holds */
    int64_t pending;              /* owed and alive */
    int64_t in_flight;            /* deliveries being sent or waiting as extras */
    int64_t sched_wake_at;        /* when the waiting scheduler wakes (pd_now_ms) */
    pthread_t sched;
    pthread_t *workers;
    int n_workers;
};

/* ---- heap and queue (called with mu held) ---- */

static bool item_less(const struct item *a, const struct item *b)
{
    return a->due < b->due;
}

static int heap_push(struct gw_cb *cb, struct item it)
{
    if (cb->heap_n == cb->heap_cap) {
        size_t cap = cb->heap_cap ? cb->heap_cap * 2 : 1024;
        struct item *h = realloc(cb->heap, cap * sizeof *h);
        if (h == NULL)
            return PD_ENOMEM;
        cb->heap = h;
        cb->heap_cap = cap;
    }
    size_t i = cb->heap_n++;
    while (i > 0 && item_less(&it, &cb->heap[(i - 1) / 2])) {
        cb->heap[i] = cb->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    cb->heap[i] = it;
    /* The scheduler sleeps until its next due item: only an earlier one
     * needs to wake it (a wake-up per push was a futex round trip and a
     * scheduler pass per callback). */
    if (it.due < cb->sched_wake_at)
        pthread_cond_signal(&cb->sched_cv);
    return PD_OK;
}

static struct item heap_pop(struct gw_cb *cb)
{
    struct item top = cb->heap[0];
    struct item last = cb->heap[--cb->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= cb->heap_n)
            break;
        if (c + 1 < cb->heap_n && item_less(&cb->heap[c + 1], &cb->heap[c]))
            c++;
        if (!item_less(&cb->heap[c], &last))
            break;
        cb->heap[i] = cb->heap[c];
        i = c;
    }
    if (cb->heap_n > 0)
        cb->heap[i] = last;
    return top;
}

static void enqueue(struct gw_cb *cb, struct job *j)
{
    j->next = NULL;
    if (cb->q_tail)
        cb->q_tail->next = j;
    else
        cb->q_head = j;
    cb->q_tail = j;
    cb->q_len++;
    pthread_cond_signal(&cb->work_cv);
}

static struct job *dequeue(struct gw_cb *cb)
{
    struct job *j = cb->q_head;
    if (j == NULL)
        return NULL;
    cb->q_head = j->next;
    if (cb->q_head == NULL)
        cb->q_tail = NULL;
    cb->q_len--;
    return j;
}

static void owed_free(struct owed *o)
{
    if (o != NULL)
        free(o->body);
    free(o);
}

static void extra_free(struct extra *x)
{
    if (x != NULL)
        free(x->body);
    free(x);
}

/* ---- bodies ---- */

/* The notification body for trade t in state (SUCCESS or an older one), with
 * optional tampering for forgeries. Caller frees. */
char *gw__callback_body(const struct gw_trade *t, const char *state, int64_t amount,
                        const char *out_trade_no, const char *merchant_id)
{
    char event_id[64];
    snprintf(event_id, sizeof event_id, "ev-%s-%s", t->trade_no, state);
    bool success = strcmp(state, "SUCCESS") == 0;
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o != NULL && cJSON_AddStringToObject(o, "event_id", event_id) &&
        cJSON_AddStringToObject(o, "out_trade_no", out_trade_no) &&
        cJSON_AddStringToObject(o, "trade_no", t->trade_no) &&
        cJSON_AddStringToObject(o, "trade_state", state) &&
        cJSON_AddNumberToObject(o, "amount", (double)amount) &&
        cJSON_AddStringToObject(o, "currency", t->currency) &&
        cJSON_AddStringToObject(o, "merchant_id", merchant_id) &&
        (t->attach[0] ? cJSON_AddStringToObject(o, "attach", t->attach) != NULL
                      : cJSON_AddNullToObject(o, "attach") != NULL) &&
        (success ? cJSON_AddNumberToObject(o, "success_time", (double)t->success_time) != NULL
                 : cJSON_AddNullToObject(o, "success_time") != NULL))
        text = pd_json_print(o);
    cJSON_Delete(o);
    return text;
}

static struct owed *owed_new(const struct gw_trade *t, const struct gw_owed *p, uint64_t gen)
{
    struct owed *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->t = *t;
    o->p = *p;
    o->gen = gen;
    o->key = o->t.attach[0] ? o->t.attach : o->t.out_trade_no;
    o->body = gw__callback_body(t, "SUCCESS", t->amount, t->out_trade_no, t->merchant_id);
    if (o->body == NULL) {
        free(o);
        return NULL;
    }
    o->len = strlen(o->body);
    return o;
}

static struct extra *extra_new(const struct owed *o, char *body, const char *fault)
{
    struct extra *x = calloc(1, sizeof *x);
    if (x == NULL || body == NULL) {
        free(x);
        free(body);
        return NULL;
    }
    x->gen = o->gen;
    pd_strlcpy(x->url, o->t.notify_url, sizeof x->url);
    x->body = body;
    x->len = strlen(body);
    pd_strlcpy(x->out_trade_no, o->t.out_trade_no, sizeof x->out_trade_no);
    pd_strlcpy(x->key, o->key, sizeof x->key);
    x->attempt = o->p.attempts;
    pd_strlcpy(x->fault, fault, sizeof x->fault);
    return x;
}

/* ---- delivery (worker side, no lock held) ---- */

struct sent {
    int64_t at;                   /* simulated ms when the delivery started */
    int64_t ts;
    char nonce[PD_NONCE_MAX + 1];
    char sig[PD_SIG_HEX_LEN + 1];
    long status;
    bool acked;
    char detail[96];
};

/* Acknowledged only by 200 and a JSON object whose code is "SUCCESS". */
static bool is_ack(long status, const char *body)
{
    if (status != 200 || body == NULL)
        return false;
    cJSON *doc = cJSON_Parse(body);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(doc, "code");
    bool ok = cJSON_IsObject(doc) && cJSON_IsString(code) && strcmp(code->valuestring, "SUCCESS") == 0;
    cJSON_Delete(doc);
    return ok;
}

/* Signs (unless s arrives presigned) and POSTs one notification. */
static void post_signed(gw *g, pd_http_client *http, const char *url, const char *body,
                        size_t len, bool presigned, const char *secret, int64_t skew_ms,
                        struct sent *s)
{
    s->at = pd_now_ms();
    if (!presigned) {
        s->ts = pd_now_ms() / 1000 - skew_ms / 1000;
        if (pd_nonce(s->nonce) != PD_OK)
            snprintf(s->nonce, sizeof s->nonce, "n%016" PRIx64, (uint64_t)pd_mono_ms());
        pd_sign(secret, s->ts, s->nonce, body, len, s->sig);
    }
    char h_ts[64], h_nonce[96], h_sig[96];
    snprintf(h_ts, sizeof h_ts, "X-Gateway-Timestamp: %" PRId64, s->ts);
    snprintf(h_nonce, sizeof h_nonce, "X-Gateway-Nonce: %s", s->nonce);
    snprintf(h_sig, sizeof h_sig, "X-Gateway-Signature: %s", s->sig);
    const char *headers[] = {"Content-Type: application/json", h_ts, h_nonce, h_sig, NULL};
    struct pd_http_resp resp;
    int rc = pd_http_request(http, "POST", url, headers, body, len,
                             (long)g->cfg.callback_timeout_ms, CB_RESP_MAX, &resp);
    s->status = rc == PD_OK ? resp.status : 0;
    s->acked = rc == PD_OK && is_ack(resp.status, resp.body);
    if (rc != PD_OK)
        snprintf(s->detail, sizeof s->detail, "no answer: %s", pd_strerror(rc));
    else
        snprintf(s->detail, sizeof s->detail, "%s", s->acked ? "acked" : "not acknowledged");
    pd_http_resp_release(&resp);
}

/* at: when the delivery started (0 = now, for attempts never sent). */
static void journal_cb(gw *g, int64_t at, const char *otn, const char *key, int attempt,
                       const char *fault, long status, const char *detail)
{
    struct gw_jentry e = {at ? at : pd_now_ms(), "callback", otn, key, (uint64_t)attempt, fault,
                          (int)status, detail};
    gw_journal_append(g->journal, &e);
}

static void send_extra(gw *g, pd_http_client *http, struct extra *x)
{
    struct sent s = {0};
    if (x->presigned) {
        s.ts = x->ts;
        memcpy(s.nonce, x->nonce, sizeof s.nonce);
        memcpy(s.sig, x->sig, sizeof s.sig);
    }
    post_signed(g, http, x->url, x->body, x->len, x->presigned,
                x->bad_secret ? FORGED_SECRET : g->secret, x->skew_ms, &s);
    gw__inc(&g->metrics[GW_M_CB_EXTRA]);
    journal_cb(g, s.at, x->out_trade_no, x->key, x->attempt, x->fault, s.status, s.detail);
}

/* The genuine delivery of one attempt, its sequential copies, and a replay.
 * Returns true when the receiver acknowledged any of them. */
static bool send_genuine(gw *g, pd_http_client *http, struct job *j)
{
    struct owed *o = j->o;
    bool acked = false;
    for (int c = 0; c < (j->copies > 0 ? j->copies : 1); c++) {
        struct sent s = {0};
        post_signed(g, http, o->t.notify_url, o->body, o->len, false, g->secret, 0, &s);
        acked = acked || s.acked;
        o->sent_once = true;
        o->last_ts = s.ts;
        memcpy(o->last_nonce, s.nonce, sizeof o->last_nonce);
        memcpy(o->last_sig, s.sig, sizeof o->last_sig);
        char detail[160];
        snprintf(detail, sizeof detail, "event_id=ev-%s-SUCCESS copy=%d %s", o->t.trade_no,
                 c + 1, s.detail);
        journal_cb(g, s.at, o->t.out_trade_no, o->key, o->p.attempts, o->fault, s.status, detail);
    }
    gw__inc(&g->metrics[acked ? GW_M_CB_ACKED : GW_M_CB_FAILED]);
    return acked;
}

/* ---- progress of an owed callback (mu held) ---- */

static void persist(struct gw_cb *cb, const struct owed *o, enum gw_cb_state st, int64_t acked_at)
{
    if (gw_store_cb_update(cb->g->store, &o->p, st, acked_at) != PD_OK)
        PD_LOG(PD_LOG_ERROR, "gw", "act=cb_persist out_trade_no=%s", o->t.out_trade_no);
}

int64_t gw__next_due(const int64_t *schedule_ms, size_t n, int attempts, int64_t now_ms)
{
    if (attempts < 1 || (size_t)attempts > n)
        return -1;
    return now_ms + schedule_ms[attempts - 1];
}

/* After a failed (or dropped) attempt: due again after the next schedule
 * step, or given up when the schedule is used up. Takes o. */
static void schedule_next(struct gw_cb *cb, struct owed *o, int64_t now)
{
    const struct gw_config *cfg = &cb->g->cfg;
    int64_t due = gw__next_due(cfg->schedule_ms, cfg->schedule_n, o->p.attempts, now);
    if (due < 0) {
        persist(cb, o, GW_CB_GAVE_UP, 0);
        gw__inc(&cb->g->metrics[GW_M_CB_GAVE_UP]);
        PD_LOG(PD_LOG_WARN, "gw", "act=cb_gave_up out_trade_no=%s attempts=%d",
               o->t.out_trade_no, o->p.attempts);
        cb->pending--;
        owed_free(o);
        return;
    }
    o->p.due_at = due;
    persist(cb, o, GW_CB_PENDING, 0);
    if (heap_push(cb, (struct item){o->p.due_at, o, NULL}) != PD_OK) {
        cb->pending--;       /* still owed in the ledger: resumed at restart */
        owed_free(o);
    }
}

static void finish_owed(struct gw_cb *cb, struct owed *o, bool acked)
{
    int64_t now = pd_now_ms();
    if (o->gen != cb->gen) {  /* the ledger was reset while it was in flight */
        owed_free(o);
        return;
    }
    if (!acked) {
        schedule_next(cb, o, now);
        return;
    }
    persist(cb, o, GW_CB_ACKED, now);
    cb->pending--;
    owed_free(o);
}

/* ---- deciding an attempt (scheduler, mu held) ---- */

struct plan {
    const struct gw_rule *primary;                 /* drop, delay, duplicate, reorder */
    const struct gw_rule *extras[EXTRAS_PER_ATTEMPT];  /* stale, forge */
    size_t n_extras;
};

static void make_plan(gw *g, struct gw_rules *rules, const struct gw_event *ev, struct plan *p)
{
    size_t pos = 0;
    const struct gw_rule *r;
    memset(p, 0, sizeof *p);
    while ((r = gw_rules_next(rules, ev, &pos)) != NULL) {
        bool extra = r->action.type == GW_ACT_STALE || r->action.type == GW_ACT_FORGE;
        if (extra && p->n_extras < EXTRAS_PER_ATTEMPT)
            p->extras[p->n_extras++] = r;
        else if (!extra && p->primary == NULL)
            p->primary = r;
    }
    (void)g;
}

static struct extra *forge_extra(const struct owed *o, const struct gw_rule *r)
{
    const struct gw_action *a = &r->action;
    const struct gw_trade *t = &o->t;
    char fault[40], otn[GW_ID_MAX + 1], mid[GW_ID_MAX + 1];
    snprintf(fault, sizeof fault, "forge.%s", gw_forge_name(a->forge));
    snprintf(otn, sizeof otn, "forged-%.40s", t->trade_no);
    snprintf(mid, sizeof mid, "m-forged-%.50s", t->merchant_id);
    char *body = gw__callback_body(t, "SUCCESS",
                            a->forge == GW_FORGE_WRONG_AMOUNT ? t->amount + 1 : t->amount,
                            a->forge == GW_FORGE_UNKNOWN_TRADE ? otn : t->out_trade_no,
                            a->forge == GW_FORGE_OTHER_MERCHANT ? mid : t->merchant_id);
    struct extra *x = extra_new(o, body, fault);
    if (x != NULL) {
        x->bad_secret = !a->valid_signature;
        x->skew_ms = a->forge == GW_FORGE_STALE_TIMESTAMP ? a->skew_ms : 0;
    }
    return x;
}

/* A replay: the exact bytes of the last genuine delivery. */
static struct extra *replay_extra(const struct owed *o)
{
    if (!o->sent_once)
        return NULL;
    struct extra *x = extra_new(o, strdup(o->body), "forge.replay");
    if (x != NULL) {
        x->presigned = true;
        x->ts = o->last_ts;
        memcpy(x->nonce, o->last_nonce, sizeof x->nonce);
        memcpy(x->sig, o->last_sig, sizeof x->sig);
    }
    return x;
}

static void queue_extra(struct gw_cb *cb, struct extra *x, int64_t due)
{
    if (x == NULL)
        return;
    cb->in_flight++;
    if (due > pd_now_ms()) {
        if (heap_push(cb, (struct item){due, NULL, x}) != PD_OK) {
            cb->in_flight--;
            extra_free(x);
        }
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        cb->in_flight--;
        extra_free(x);
        return;
    }
    j->x = x;
    enqueue(cb, j);
}

/* Stale and forged deliveries of this attempt. Sets *replay / *replace. */
static void apply_extras(struct gw_cb *cb, struct owed *o, const struct plan *p, int64_t now,
                         struct job *genuine, bool *replace)
{
    for (size_t i = 0; i < p->n_extras; i++) {
        const struct gw_action *a = &p->extras[i]->action;
        gw__inc(&cb->g->faults[a->type]);
        if (a->type == GW_ACT_STALE) {
            char *body = gw__callback_body(&o->t, a->state, o->t.amount, o->t.out_trade_no,
                                           o->t.merchant_id);
            struct extra *x = extra_new(o, body, "stale");
            /* An older state *after* the final one: it waits for the
             * genuine delivery to be done, then `after` more. */
            if (genuine != NULL && x != NULL) {
                genuine->then[genuine->n_then] = x;
                genuine->then_ms[genuine->n_then++] = a->dist.fixed_ms;
            } else {
                queue_extra(cb, x, now + a->dist.fixed_ms);
            }
        } else if (a->forge == GW_FORGE_REPLAY && !a->replace && genuine != NULL) {
            genuine->replay = true;
            genuine->replay_after_ms = a->dist.fixed_ms;
        } else if (a->forge == GW_FORGE_REPLAY) {
            queue_extra(cb, replay_extra(o), now + a->dist.fixed_ms);
            *replace = *replace || a->replace;
        } else {
            queue_extra(cb, forge_extra(o, p->extras[i]), now + a->dist.fixed_ms);
            *replace = *replace || a->replace;
        }
    }
}

/* Delay and reorder take effect once per attempt, before it is sent: the
 * attempt goes back to the heap (delay) or to the held list (reorder), with
 * the fact persisted so a restart does not apply it twice. Returns true when
 * the attempt was deferred (o was taken). */
static bool defer(struct gw_cb *cb, struct owed *o, const struct gw_rule *r,
                  const struct gw_event *ev, int64_t now)
{
    int attempt = (int)ev->attempt;
    if (r->action.type == GW_ACT_DELAY && o->p.delayed_attempt != attempt) {
        o->p.delayed_attempt = attempt;
        o->p.due_at = now + gw_dist_draw(&r->action.dist, r, ev, "delay");
        persist(cb, o, GW_CB_PENDING, 0);
        if (heap_push(cb, (struct item){o->p.due_at, o, NULL}) != PD_OK) {
            cb->pending--;
            owed_free(o);
        }
        return true;
    }
    if (r->action.type == GW_ACT_REORDER && o->p.held_attempt != attempt) {
        if (cb->held_n == cb->held_cap) {
            size_t cap = cb->held_cap ? cb->held_cap * 2 : 256;
            struct owed **h = realloc(cb->held, cap * sizeof *h);
            if (h == NULL)
                return false;     /* cannot hold: send it now */
            cb->held = h;
            cb->held_cap = cap;
        }
        o->p.held_attempt = attempt;
        o->release_at = cb->finished + (uint64_t)r->action.after;
        o->hold_deadline = now + r->action.hold_ms;
        persist(cb, o, GW_CB_PENDING, 0);
        cb->held[cb->held_n++] = o;
        return true;
    }
    return false;
}

static const char *attempt_fault(const struct owed *o, const struct gw_rule *primary, int attempt)
{
    if (primary != NULL && primary->action.type != GW_ACT_DELAY &&
        primary->action.type != GW_ACT_REORDER)
        return gw_act_name(primary->action.type);
    if (o->p.held_attempt == attempt)
        return "reorder";
    if (o->p.delayed_attempt == attempt)
        return "delay";
    return NULL;
}

/* The event and plan of o's next attempt at now. Returns the rules the
 * plan points into: the caller drops that reference when done with it. */
static struct gw_rules *plan_next(struct gw_cb *cb, const struct owed *o, int64_t now,
                                  struct gw_event *ev, struct plan *p)
{
    gw *g = cb->g;
    *ev = (struct gw_event){GW_OP_CALLBACK, o->key, o->t.out_trade_no,
                            (uint64_t)o->p.attempts + 1, now, g->epoch_ms, g->cfg.seed};
    struct gw_rules *rules = gw__rules(g);
    make_plan(g, rules, ev, p);
    return rules;
}

/* Hands out attempt attempts+1 of o as plan_next planned it. Takes o. */
static void dispatch_planned(struct gw_cb *cb, struct owed *o, int64_t now,
                             const struct gw_event *ev, const struct plan *p)
{
    gw *g = cb->g;
    int attempt = o->p.attempts + 1;
    if (p->primary != NULL && defer(cb, o, p->primary, ev, now))
        return;
    o->p.attempts = attempt;
    o->fault = attempt_fault(o, p->primary, attempt);
    if (o->fault != NULL)
        gw__inc(&g->faults[p->primary ? p->primary->action.type : GW_ACT_NONE]);
    cb->dispatched++;
    struct job *j = calloc(1, sizeof *j);
    bool replace = false;
    enum gw_act act = p->primary ? p->primary->action.type : GW_ACT_NONE;
    apply_extras(cb, o, p, now, j, &replace);
    if (j != NULL && act == GW_ACT_DUPLICATE) {
        const struct gw_action *a = &p->primary->action;
        j->copies = a->concurrent ? 1 : a->copies;
        for (int c = 1; a->concurrent && c < a->copies; c++)
            queue_extra(cb, extra_new(o, strdup(o->body), "duplicate"), 0);
    }
    if (act == GW_ACT_DROP || replace || j == NULL) {
        for (int i = 0; j != NULL && i < j->n_then; i++)
            queue_extra(cb, j->then[i], now + j->then_ms[i]);
        free(j);
        gw__inc(&g->metrics[GW_M_CB_DROPPED]);
        cb->finished++;
        journal_cb(g, now, o->t.out_trade_no, o->key, attempt,
                   act == GW_ACT_DROP ? "drop" : "forge.replace", 0,
                   j == NULL ? "not sent: out of memory" : "not sent (fault)");
        schedule_next(cb, o, now);
        return;
    }
    j->o = o;
    cb->in_flight++;
    enqueue(cb, j);
}

/* Decides and hands out attempt attempts+1 of o. Takes o. */
static void dispatch_owed(struct gw_cb *cb, struct owed *o, int64_t now)
{
    struct gw_event ev;
    struct plan p;
    struct gw_rules *rules = plan_next(cb, o, now, &ev, &p);
    dispatch_planned(cb, o, now, &ev, &p);
    gw_rules_unref(rules);
}

/* Releases held (reordered) callbacks once `after` later attempts were
 * delivered (answered or timed out) or dropped, or when the longest hold
 * passed. Returns the earliest pending hold deadline. */
static int64_t release_held(struct gw_cb *cb, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < cb->held_n;) {
        struct owed *o = cb->held[i];
        if (cb->finished >= o->release_at || now >= o->hold_deadline) {
            cb->held[i] = cb->held[--cb->held_n];
            dispatch_owed(cb, o, now);
            continue;
        }
        if (o->hold_deadline < next)
            next = o->hold_deadline;
        i++;
    }
    return next;
}

/* ---- threads ---- */

static void wait_until(struct gw_cb *cb, int64_t delta_ms)
{
    if (delta_ms > WAIT_CAP_MS)
        delta_ms = WAIT_CAP_MS;
    if (delta_ms < 1)
        delta_ms = 1;
    struct timespec ts = pd_mono_deadline(delta_ms);
    cb->sched_wake_at = pd_now_ms() + delta_ms;
    pthread_cond_timedwait(&cb->sched_cv, &cb->mu, &ts);
}

static void *sched_main(void *arg)
{
    struct gw_cb *cb = arg;
    pthread_mutex_lock(&cb->mu);
    while (!cb->stop) {
        int64_t now = pd_now_ms();
        uint64_t finished = cb->finished;
        int64_t next = release_held(cb, now);
        while (cb->heap_n > 0 && cb->heap[0].due <= now && cb->q_len < cb->q_cap) {
            struct item it = heap_pop(cb);
            if (it.x != NULL) {
                struct job *j = calloc(1, sizeof *j);
                if (j == NULL) {
                    cb->in_flight--;
                    extra_free(it.x);
                    continue;
                }
                j->x = it.x;
                enqueue(cb, j);
            } else {
                dispatch_owed(cb, it.o, now);
            }
        }
        /* A dropped attempt counts as finished here, in the scheduler:
         * a reordered callback it releases goes out now, not at the next
         * wake-up (nobody else signals for it). */
        if (cb->finished != finished && cb->held_n > 0)
            continue;
        if (cb->heap_n > 0 && cb->heap[0].due < next)
            next = cb->heap[0].due;
        /* A full queue: sleep until a worker takes a job (it signals). */
        wait_until(cb, cb->q_len >= cb->q_cap ? WAIT_CAP_MS
                       : next == INT64_MAX   ? WAIT_CAP_MS
                                             : next - pd_now_ms());
    }
    pthread_mutex_unlock(&cb->mu);
    return NULL;
}

static void run_job(struct gw_cb *cb, pd_http_client *http, struct job *j)
{
    gw *g = cb->g;
    if (j->x != NULL) {
        send_extra(g, http, j->x);
        pthread_mutex_lock(&cb->mu);
        cb->in_flight--;
        pthread_mutex_unlock(&cb->mu);
        extra_free(j->x);
        return;
    }
    bool acked = send_genuine(g, http, j);
    struct extra *replay = j->replay ? replay_extra(j->o) : NULL;
    if (replay != NULL && j->replay_after_ms == 0) {
        send_extra(g, http, replay);
        extra_free(replay);
        replay = NULL;
    }
    pthread_mutex_lock(&cb->mu);
    cb->in_flight--;
    cb->finished++;
    if (replay != NULL)
        queue_extra(cb, replay, pd_now_ms() + j->replay_after_ms);
    for (int i = 0; i < j->n_then; i++)
        queue_extra(cb, j->then[i], pd_now_ms() + j->then_ms[i]);
    finish_owed(cb, j->o, acked);
    if (cb->held_n > 0)     /* one more finished may release a reordered one */
        pthread_cond_signal(&cb->sched_cv);
    pthread_mutex_unlock(&cb->mu);
}

static void *worker_main(void *arg)
{
    struct gw_cb *cb = arg;
    pd_http_client *http = pd_http_client_new();
    if (http == NULL) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=cb_worker err=ENOMEM");
        return NULL;
    }
    pthread_mutex_lock(&cb->mu);
    while (!cb->stop) {
        bool was_full = cb->q_len >= cb->q_cap;
        struct job *j = dequeue(cb);
        if (j == NULL) {
            pthread_cond_wait(&cb->work_cv, &cb->mu);
            continue;
        }
        if (was_full)       /* room in the queue again for the scheduler */
            pthread_cond_signal(&cb->sched_cv);
        pthread_mutex_unlock(&cb->mu);
        run_job(cb, http, j);
        free(j);
        pthread_mutex_lock(&cb->mu);
    }
    pthread_mutex_unlock(&cb->mu);
    pd_http_client_free(http);
    return NULL;
}

/* ---- life cycle ---- */

struct loaded {
    struct gw_owed *v;
    size_t n, cap;
};

static void collect(void *ctx, const struct gw_owed *owed)
{
    struct loaded *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct gw_owed *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return;   /* stays owed in the ledger; resumed at the next start */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *owed;
}

/* Puts every callback the ledger still owes back in the heap. */
static int resume_owed(struct gw_cb *cb)
{
    struct loaded l = {0};
    int rc = gw_store_cb_load(cb->g->store, collect, &l);
    for (size_t i = 0; rc == PD_OK && i < l.n; i++) {
        struct gw_trade t;
        if (gw_store_get_by_id(cb->g->store, l.v[i].trade_id, &t) != PD_OK)
            continue;
        struct owed *o = owed_new(&t, &l.v[i], cb->gen);
        if (o == NULL || heap_push(cb, (struct item){o->p.due_at, o, NULL}) != PD_OK) {
            owed_free(o);
            continue;
        }
        cb->pending++;
    }
    if (l.n > 0)
        PD_LOG(PD_LOG_INFO, "gw", "act=cb_resume owed=%zu", l.n);
    free(l.v);
    return rc;
}

static int init_sync(struct gw_cb *cb)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&cb->sched_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&cb->mu, NULL);
    pthread_cond_init(&cb->work_cv, NULL);
    return rc == 0 ? PD_OK : PD_EIO;
}

int gw_cb_start(gw *g, gw_cb **out)
{
    struct gw_cb *cb = calloc(1, sizeof *cb);
    *out = NULL;
    if (cb == NULL)
        return PD_ENOMEM;
    cb->g = g;
    cb->n_workers = g->cfg.callback_workers;
    cb->q_cap = (size_t)cb->n_workers * 2;
    cb->workers = calloc((size_t)cb->n_workers, sizeof *cb->workers);
    if (cb->workers == NULL || init_sync(cb) != PD_OK || resume_owed(cb) != PD_OK) {
        free(cb->workers);
        free(cb);
        return PD_EIO;
    }
    int started = 0;
    for (; started < cb->n_workers; started++)
        if (pthread_create(&cb->workers[started], NULL, worker_main, cb) != 0)
            break;
    cb->n_workers = started;
    if (started == 0 || pthread_create(&cb->sched, NULL, sched_main, cb) != 0) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=cb_start err=threads");
        cb->stop = true;
        pthread_cond_broadcast(&cb->work_cv);
        for (int i = 0; i < started; i++)
            pthread_join(cb->workers[i], NULL);
        free(cb->workers);
        free(cb);
        return PD_EIO;
    }
    *out = cb;
    return PD_OK;
}

/* Frees everything queued, held or waiting (mu held). */
static void drop_all(struct gw_cb *cb)
{
    struct job *j;
    while ((j = dequeue(cb)) != NULL) {
        if (j->o != NULL)
            cb->pending--;
        for (int i = 0; i < j->n_then; i++)
            extra_free(j->then[i]);
        owed_free(j->o);
        extra_free(j->x);
        free(j);
        cb->in_flight--;
    }
    for (size_t i = 0; i < cb->heap_n; i++) {
        if (cb->heap[i].o != NULL)
            cb->pending--;
        else
            cb->in_flight--;
        owed_free(cb->heap[i].o);
        extra_free(cb->heap[i].x);
    }
    cb->heap_n = 0;
    for (size_t i = 0; i < cb->held_n; i++)
        owed_free(cb->held[i]);
    cb->pending -= (int64_t)cb->held_n;
    cb->held_n = 0;
}

void gw_cb_stop(gw_cb *cb)
{
    if (cb == NULL)
        return;
    pthread_mutex_lock(&cb->mu);
    cb->stop = true;
    pthread_cond_broadcast(&cb->work_cv);
    pthread_cond_broadcast(&cb->sched_cv);
    pthread_mutex_unlock(&cb->mu);
    pthread_join(cb->sched, NULL);
    for (int i = 0; i < cb->n_workers; i++)
        pthread_join(cb->workers[i], NULL);
    drop_all(cb);
    free(cb->heap);
    free(cb->held);
    free(cb->workers);
    pthread_mutex_destroy(&cb->mu);
    pthread_cond_destroy(&cb->sched_cv);
    pthread_cond_destroy(&cb->work_cv);
    free(cb);
}

/* Hands o's first attempt, due now, straight to a worker when no rule
 * selects it; else false and o is untouched. Through the heap the
 * scheduler thread woke for it first, one more context switch a charge
 * (docs/mock-gateway.md, "Fast path"). A faulted attempt goes through the
 * heap so its work (a delay or a hold is persisted, a SQLite write) stays
 * on the scheduler thread, off the caller's: mock-gateway's event loop. */
static bool send_plain(struct gw_cb *cb, struct owed *o, int64_t now)
{
    struct gw_event ev;
    struct plan p;
    struct gw_rules *rules = plan_next(cb, o, now, &ev, &p);
    bool plain = p.primary == NULL && p.n_extras == 0;
    if (plain) {
        cb->pending++;
        dispatch_planned(cb, o, now, &ev, &p);
    }
    gw_rules_unref(rules);
    return plain;
}

void gw_cb_owe(gw_cb *cb, const struct gw_trade *t, int64_t due_ms)
{
    struct gw_owed p = {t->id, due_ms, 0, 0, 0};
    pthread_mutex_lock(&cb->mu);
    struct owed *o = owed_new(t, &p, cb->gen);
    int64_t now = pd_now_ms();
    /* Due now, with room for it and nothing due before it in the heap
     * (it must not overtake those): maybe straight to a worker. */
    bool sent = o != NULL && due_ms <= now && cb->q_len < cb->q_cap &&
                (cb->heap_n == 0 || cb->heap[0].due > now) && send_plain(cb, o, now);
    if (!sent && o != NULL && heap_push(cb, (struct item){due_ms, o, NULL}) == PD_OK) {
        cb->pending++;
    } else if (!sent) {
        /* Still owed in the ledger; delivered after the next restart. */
        PD_LOG(PD_LOG_ERROR, "gw", "act=cb_owe out_trade_no=%s err=ENOMEM", t->out_trade_no);
        owed_free(o);
    }
    pthread_mutex_unlock(&cb->mu);
}

void gw_cb_reset(gw_cb *cb)
{
    pthread_mutex_lock(&cb->mu);
    cb->gen++;
    drop_all(cb);
    /* Owed callbacks in a worker's hands finish and are then dropped by
     * generation; they are no longer counted. */
    cb->pending = 0;
    pthread_mutex_unlock(&cb->mu);
}

void gw_cb_stats(gw_cb *cb, int64_t *pending, int64_t *in_flight)
{
    pthread_mutex_lock(&cb->mu);
    *pending = cb->pending;
    *in_flight = cb->in_flight;
    pthread_mutex_unlock(&cb->mu);
}
