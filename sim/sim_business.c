#include "sim_business.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_rand.h"
#include "pd_sign.h"
#include "pd_time.h"
#include "pd_util.h"
#include "sim_map.h"
#include "sim_procs.h"

#define BODY_LIMIT (64 * 1024)
#define FRESHNESS_S 300
#define ID_MAX 96

struct receipt {
    int64_t at;
    char event_id[ID_MAX];
    char order_id[ID_MAX];
    char client_ref[ID_MAX];
    char status[16];
    char currency[4];
    int64_t seq;
    int64_t amount;
    bool signature_ok;
    bool applied;
    int answered;
    char problem[32];       /* why it was refused, or "" */
};

/* Deliveries so far of one event_id. An order has one to a few events, so
 * a short list searched in order is smaller than a map per order. */
struct event_count {
    struct event_count *next;
    uint64_t deliveries;
    char event_id[];
};

/* What the business app knows of one order. It and its events live in the
 * receiver's arena until sim_business_free: one order cost four mallocs
 * before (state, event array, event id, map key), ~45 bytes more. */
struct order_state {
    const char *status;     /* applied final status, static string, or NULL */
    struct event_count *events;
};

/* A driver worker waiting for one order's notification (sim_business_wait):
 * on its own stack, linked while it waits, signalled alone when the order's
 * effect is applied, so a notification wakes one thread, not every waiter. */
struct waiter {
    const char *order_id;
    pthread_cond_t cv;
    bool applied;
    struct waiter *next;
};

struct sim_business {
    const struct sim_scenario *s;
    const struct sim_timeline *tl;
    struct mg_context *ctx;
    pthread_mutex_t lock;
    /* Each receipt, as its business.json line, goes to an unnamed temporary
     * file when it is recorded: memory does not grow with deliveries. */
    FILE *receipts_f;
    size_t n_receipts;
    bool receipts_failed;   /* a write failed: business.json would lack receipts */
    struct sim_map orders;  /* order_id -> struct order_state* (in mem) */
    struct pd_arena mem;    /* the orders' states and events */
    size_t applied;
    struct waiter *waiters; /* at most one per driver worker */
    bool stopped;           /* sim_business_stop: nothing more will be applied */
};

int sim_business_decide(const struct sim_scenario *s, const char *key, int64_t t_ms,
                        uint64_t attempt, int64_t *out_delay_ms)
{
    *out_delay_ms = 0;
    for (size_t i = 0; i < s->n_biz; i++) {
        const struct sim_biz_fault *f = &s->biz[i];
        if (t_ms < f->from_ms || (f->until_ms >= 0 && t_ms >= f->until_ms))
            continue;
        char kind[32];
        snprintf(kind, sizeof kind, "biz.%s.%zu", sim_biz_action_name(f->action), i);
        if (f->probability < 1.0 && pd_draw_unit(s->seed, key, kind, attempt) >= f->probability)
            continue;
        if (f->action == SIM_BIZ_SLOW) {
            *out_delay_ms += f->delay_ms;
            continue;
        }
        return (int)i;
    }
    return -1;
}

static const char *final_status(const char *s)
{
    if (s == NULL)
        return NULL;
    if (strcmp(s, "PAID") == 0)
        return "PAID";
    if (strcmp(s, "CLOSED") == 0)
        return "CLOSED";
    return NULL;
}

static void fill_from_body(struct receipt *r, const cJSON *doc)
{
    const cJSON *it;
    if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(doc, "event_id")))
        pd_strlcpy(r->event_id, it->valuestring, sizeof r->event_id);
    if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(doc, "order_id")))
        pd_strlcpy(r->order_id, it->valuestring, sizeof r->order_id);
    if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(doc, "client_ref")))
        pd_strlcpy(r->client_ref, it->valuestring, sizeof r->client_ref);
    if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(doc, "status")))
        pd_strlcpy(r->status, it->valuestring, sizeof r->status);
    if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(doc, "currency")))
        pd_strlcpy(r->currency, it->valuestring, sizeof r->currency);
    if (pd_json_is_int(it = cJSON_GetObjectItemCaseSensitive(doc, "seq")))
        r->seq = (int64_t)it->valuedouble;
    if (pd_json_is_int(it = cJSON_GetObjectItemCaseSensitive(doc, "amount")))
        r->amount = (int64_t)it->valuedouble;
}

static struct order_state *order_of(sim_business *b, const char *order_id)
{
    struct order_state *o = sim_map_get(&b->orders, order_id);
    if (o != NULL)
        return o;
    o = pd_arena_take(&b->mem, sizeof *o, _Alignof(struct order_state));
    if (o == NULL)
        return NULL;
    *o = (struct order_state){0};
    /* A failed put leaves o unused in the arena until sim_business_free. */
    return sim_map_put(&b->orders, order_id, o, NULL) == PD_OK ? o : NULL;
}

/* Counts this delivery of the event and returns its attempt number (1...). */
static uint64_t next_attempt(sim_business *b, struct order_state *o, const char *event_id)
{
    struct event_count **pp = &o->events;
    for (; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->event_id, event_id) == 0)
            return ++(*pp)->deliveries;
    /* A new event, last in the list: when memory runs out it is counted as
     * a first delivery each time, as the map this replaces did. */
    size_t len = strlen(event_id) + 1;
    struct event_count *ev = pd_arena_take(&b->mem, sizeof *ev + len, _Alignof(struct event_count));
    if (ev == NULL)
        return 1;
    ev->next = NULL;
    ev->deliveries = 1;
    memcpy(ev->event_id, event_id, len);
    *pp = ev;
    return 1;
}

/* Applies the effect once per order; a contradicting later status is
 * recorded but never applied (the checker reports it). */
static void apply_once(sim_business *b, struct order_state *o, struct receipt *r)
{
    const char *st = final_status(r->status);
    if (st == NULL || o->status != NULL)
        return;
    o->status = st;
    r->applied = true;
    b->applied++;
    for (struct waiter *w = b->waiters; w != NULL; w = w->next)
        if (!w->applied && strcmp(w->order_id, r->order_id) == 0) {
            w->applied = true;
            pthread_cond_signal(&w->cv);
        }
}

struct decision {
    int status;             /* what we answer */
    int64_t delay_ms;       /* simulated delay before answering */
    bool apply;             /* apply the effect (no_ack applies then fails the ack) */
};

static struct decision decide(sim_business *b, const struct receipt *r, uint64_t attempt)
{
    struct decision d = {.status = 200, .apply = true};
    const char *key = r->client_ref[0] ? r->client_ref : r->order_id;
    int64_t t = sim_time_now(b->tl) - b->tl->sim_epoch_ms;
    int rule = sim_business_decide(b->s, key, t, attempt, &d.delay_ms);
    if (rule >= 0) {
        const struct sim_biz_fault *f = &b->s->biz[rule];
        d.status = f->status;
        d.apply = f->action == SIM_BIZ_NO_ACK;
    }
    return d;
}

/* The receiver's freshness window: 300 s, widened to 10 s of real time under
 * a speed-up. A restarted SUT's clock starts when its libfaketime starts,
 * a little after paydrill computed it; on a loaded machine that lag times
 * the scale exceeded 1.5 s of real time. Notifications are checked for
 * garbage here, not for the forgery stories (those are SUT-side). */
static int64_t freshness_s(double scale)
{
    int64_t widened = (int64_t)(10.0 * scale);
    return widened > FRESHNESS_S ? widened : FRESHNESS_S;
}

static cJSON *receipt_json(const struct receipt *r)
{
    cJSON *o = cJSON_CreateObject();
    pd_json_add_i64(o, "at", r->at);
    cJSON_AddStringToObject(o, "event_id", r->event_id);
    cJSON_AddStringToObject(o, "order_id", r->order_id);
    pd_json_add_i64(o, "seq", r->seq);
    cJSON_AddStringToObject(o, "status", r->status);
    pd_json_add_i64(o, "amount", r->amount);
    cJSON_AddStringToObject(o, "currency", r->currency);
    if (r->client_ref[0])
        cJSON_AddStringToObject(o, "client_ref", r->client_ref);
    else
        cJSON_AddNullToObject(o, "client_ref");
    cJSON_AddBoolToObject(o, "signature_ok", r->signature_ok);
    pd_json_add_i64(o, "answered", r->answered);
    cJSON_AddBoolToObject(o, "applied", r->applied);
    if (r->problem[0])
        cJSON_AddStringToObject(o, "problem", r->problem);
    return o;
}

/* Appends the receipt's line to the receipts file (under the lock). */
static void save_receipt(sim_business *b, const struct receipt *r)
{
    cJSON *o = receipt_json(r);
    char *text = o ? pd_json_print(o) : NULL;
    if (text == NULL || fprintf(b->receipts_f, "%s\n", text) < 0)
        b->receipts_failed = true;
    else
        b->n_receipts++;
    cJSON_free(text);
    cJSON_Delete(o);
}

/* Verifies, parses and records one delivery under the lock; returns what to answer. */
static struct decision receive(sim_business *b, struct mg_connection *conn, const char *body,
                               size_t len)
{
    struct decision d = {.status = 400};
    int64_t now = sim_time_now(b->tl);
    int verdict = pd_verify(SIM_SECRET_BUSINESS, mg_get_header(conn, "X-Paydrill-Timestamp"),
                            mg_get_header(conn, "X-Paydrill-Nonce"),
                            mg_get_header(conn, "X-Paydrill-Signature"), body, len,
                            now / 1000, freshness_s(b->tl->scale));
    cJSON *doc = pd_json_parse_whole(body, len, NULL);
    struct receipt rec;
    struct receipt *r = &rec;
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&b->lock);
    r->at = now;
    r->signature_ok = verdict == PD_SIG_OK;
    if (doc != NULL)
        fill_from_body(r, doc);
    cJSON_Delete(doc);
    if (!r->signature_ok) {
        pd_strlcpy(r->problem, pd_verdict_name(verdict), sizeof r->problem);
        d.status = 401;
    } else if (r->order_id[0] == '\0' || r->event_id[0] == '\0' || r->status[0] == '\0') {
        pd_strlcpy(r->problem, "malformed", sizeof r->problem);
    } else {
        struct order_state *o = order_of(b, r->order_id);
        d = o ? decide(b, r, next_attempt(b, o, r->event_id)) : (struct decision){.status = 503};
        if (o != NULL && d.apply)
            apply_once(b, o, r);
    }
    r->answered = d.status;
    save_receipt(b, r);
    pthread_mutex_unlock(&b->lock);
    return d;
}

static int handle_notify(struct mg_connection *conn, void *data)
{
    sim_business *b = data;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, "POST") != 0) {
        pd_http_reply_error(conn, 405, "method_not_allowed", "POST only");
        return 405;
    }
    char *body = NULL;
    size_t len = 0;
    int rc = pd_http_read_body(conn, BODY_LIMIT, &body, &len);
    if (rc != PD_OK) {
        pd_http_reply_error(conn, rc == PD_ETOOBIG ? 413 : 400, "bad_body", "%s", pd_strerror(rc));
        return 400;
    }
    struct decision d = receive(b, conn, body, len);
    free(body);
    if (d.delay_ms > 0)
        sim_time_sleep(b->tl, d.delay_ms);
    if (d.status == 200)
        pd_http_reply(conn, 200, "application/json", "{\"ok\":true}", 11);
    else
        pd_http_reply_error(conn, d.status, d.status == 401 ? "bad_signature" : "refused",
                            "business app answers %d", d.status);
    return d.status;
}

int sim_business_start(const struct sim_scenario *s, const struct sim_timeline *tl, int port,
                       sim_business **out, char out_url[128])
{
    sim_business *b = calloc(1, sizeof *b);
    if (b == NULL)
        return PD_ENOMEM;
    b->s = s;
    b->tl = tl;
    pthread_mutex_init(&b->lock, NULL);
    sim_map_init(&b->orders);
    b->receipts_f = tmpfile();
    if (b->receipts_f == NULL) {
        sim_business_free(b);
        return PD_EIO;
    }
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct pd_http_server_opts opts = {.listen = listen, .threads = 48,
                                       .request_timeout_ms = 60000};
    int rc = pd_http_server_start(&opts, b, &b->ctx, &port);
    if (rc != PD_OK) {
        sim_business_free(b);
        return rc;
    }
    mg_set_request_handler(b->ctx, "/notify", handle_notify, b);
    snprintf(out_url, 128, "http://127.0.0.1:%d/notify", port);
    *out = b;
    return PD_OK;
}

void sim_business_stop(sim_business *b)
{
    if (b == NULL)
        return;
    if (b->ctx != NULL) {
        mg_stop(b->ctx);
        b->ctx = NULL;
    }
    /* No delivery can arrive now: a caller still waiting would wait out
     * its whole timeout for nothing. */
    pthread_mutex_lock(&b->lock);
    b->stopped = true;
    for (struct waiter *w = b->waiters; w != NULL; w = w->next)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&b->lock);
}

void sim_business_free(sim_business *b)
{
    if (b == NULL)
        return;
    sim_business_stop(b);
    sim_map_release(&b->orders);
    pd_arena_free(&b->mem);
    if (b->receipts_f != NULL)
        fclose(b->receipts_f);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

const char *sim_business_wait(sim_business *b, const char *order_id, int64_t real_ms)
{
    struct timespec until = pd_mono_deadline(real_ms);
    struct waiter w = {.order_id = order_id};
    pthread_condattr_t attr;
    bool have_attr = pthread_condattr_init(&attr) == 0;
    /* Without a condition variable on the monotonic clock (until is a
     * monotonic deadline) there is no waiting: the answer is what is known
     * now, and the caller asks the SUT as after a timeout. */
    bool can_wait = real_ms > 0 && have_attr &&
                    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                    pthread_cond_init(&w.cv, &attr) == 0;
    if (have_attr)
        pthread_condattr_destroy(&attr);
    pthread_mutex_lock(&b->lock);
    struct order_state *o = sim_map_get(&b->orders, order_id);
    const char *st = o ? o->status : NULL;
    if (st == NULL && can_wait) {
        w.next = b->waiters;
        b->waiters = &w;
        while (!w.applied && !b->stopped &&
               pthread_cond_timedwait(&w.cv, &b->lock, &until) == 0) {
        }
        struct waiter **pp = &b->waiters;
        while (*pp != &w)
            pp = &(*pp)->next;
        *pp = w.next;
        o = sim_map_get(&b->orders, order_id);
        st = o ? o->status : NULL;
    }
    pthread_mutex_unlock(&b->lock);
    if (can_wait)
        pthread_cond_destroy(&w.cv);
    return st;
}

size_t sim_business_waiting(sim_business *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = 0;
    for (const struct waiter *w = b->waiters; w != NULL; w = w->next)
        n++;
    pthread_mutex_unlock(&b->lock);
    return n;
}

size_t sim_business_applied_count(sim_business *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->applied;
    pthread_mutex_unlock(&b->lock);
    return n;
}

size_t sim_business_deliveries(sim_business *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->n_receipts;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int sim_business_write_receipts(sim_business *b, FILE *f)
{
    pthread_mutex_lock(&b->lock);
    int rc = b->receipts_failed || fflush(b->receipts_f) != 0 ||
             fseek(b->receipts_f, 0, SEEK_SET) != 0 ? PD_EIO : PD_OK;
    char *line = NULL;
    size_t cap = 0;
    fputc('[', f);
    for (size_t i = 0; i < b->n_receipts && rc == PD_OK; i++) {
        ssize_t n = getline(&line, &cap, b->receipts_f);
        if (n <= 0 || line[n - 1] != '\n') {
            rc = PD_EIO;
            break;
        }
        line[n - 1] = '\0';
        if (fprintf(f, "%s\n%s", i ? "," : "", line) < 0)
            rc = PD_EIO;
    }
    fputc(']', f);
    if (fseek(b->receipts_f, 0, SEEK_END) != 0)    /* later receipts append again */
        rc = PD_EIO;
    pthread_mutex_unlock(&b->lock);
    free(line);
    return rc;
}
