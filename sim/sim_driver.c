#define _DEFAULT_SOURCE    /* MAP_ANONYMOUS, MAP_STACK, MAP_NORESERVE */

#include "sim_driver.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"
#include "sim_json.h"
#include "sim_map.h"

#define HTTP_TIMEOUT_MS 15000       /* real: a SUT that does not answer in 15 s counts as no answer */
#define RESP_MAX (256 * 1024)
#define WORKER_STACK (256 * 1024)
#define ID_LEN 48
#define OTN_LEN 72
#define CODE_LEN 32
#define RETRY_REAL_MS 20            /* pause between retries while a process is down */
#define RETRY_LIMIT 1500            /* ... for at most 30 s real */
#define PAY_ATTEMPTS 6
#define LATE_QUERIES 3
#define POLL_REAL_MS 1             /* first pause while polling; doubles ... */
#define POLL_MAX_REAL_MS 50         /* ... up to this */

enum rec_kind { REC_ORIGINAL = 0, REC_IMMEDIATE, REC_CONCURRENT, REC_AFTER_WINDOW };
enum payer_kind { PAYER_PAY = 0, PAYER_PAY_TWICE, PAYER_PAY_LATE, PAYER_ABANDON };

struct sub_rec {
    int64_t at;
    int64_t key;
    int16_t seq;
    int8_t kind;
    int8_t retried;
    int16_t status;
    char order_id[ID_LEN];
    char error[CODE_LEN];
};

struct pay_rec {
    int64_t at;
    int64_t key;
    int16_t status;
    char order_id[ID_LEN];
    char out_trade_no[OTN_LEN];
    char body_status[16];
};

struct payer_rec {
    int64_t at;
    int64_t key;
    int8_t action;
    int16_t status;
    char out_trade_no[OTN_LEN];
    char code[CODE_LEN];
};

struct query_rec {
    int64_t at;
    int64_t key;
    int16_t status;
    char order_id[ID_LEN];
    char body_status[16];
};

/* The records of one type, appended as fixed-size binary records to an
 * unnamed temporary file (tmpfile) as they happen: a run of many orders
 * keeps none of them in memory until business.json is written. */
struct recfile {
    FILE *f;
    size_t len, size;
    bool failed;        /* a write failed: business.json would be incomplete */
};

/* Room for any one record, aligned for each type. */
union any_rec {
    struct sub_rec sub;
    struct pay_rec pay;
    struct payer_rec payer;
    struct query_rec query;
};

struct sim_driver {
    struct sim_driver_cfg cfg;
    int64_t orders;
    pthread_t *threads;
    size_t n_threads;
    char *stacks;               /* the workers' stacks, one mapping (map_stacks) */
    size_t stacks_len;
    atomic_llong next;
    atomic_llong submitted;
    pthread_mutex_t lock;
    struct recfile subs, pays, payers, queries;
    const char **accepted;      /* order ids answered 201 (accepted_set's keys), for the quiet check */
    struct sim_map accepted_set;
    size_t n_accepted, cap_accepted;
    atomic_llong duplicates;
};

static void record(sim_driver *d, struct recfile *v, const void *rec)
{
    pthread_mutex_lock(&d->lock);
    if (v->f == NULL || fwrite(rec, v->size, 1, v->f) != 1)
        v->failed = true;
    else
        v->len++;
    pthread_mutex_unlock(&d->lock);
}

static int recfile_open(struct recfile *v, size_t size)
{
    v->size = size;
    v->f = tmpfile();
    return v->f != NULL ? PD_OK : PD_EIO;
}

static void recfile_close(struct recfile *v)
{
    if (v->f != NULL)
        fclose(v->f);
    v->f = NULL;
}

static void add_accepted(sim_driver *d, const char *order_id)
{
    pthread_mutex_lock(&d->lock);
    /* Once per order: a retried submission may name an order already counted. */
    const char *id;
    if (sim_map_get(&d->accepted_set, order_id) != NULL ||
        sim_map_put(&d->accepted_set, order_id, (void *)1, &id) != PD_OK) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    if (d->n_accepted == d->cap_accepted) {
        size_t cap = d->cap_accepted ? d->cap_accepted * 2 : 256;
        const char **a = realloc(d->accepted, cap * sizeof *a);
        if (a != NULL) {
            d->accepted = a;
            d->cap_accepted = cap;
        }
    }
    if (d->n_accepted < d->cap_accepted)
        d->accepted[d->n_accepted++] = id;
    pthread_mutex_unlock(&d->lock);
}

static int64_t now(const sim_driver *d)
{
    return sim_time_now(d->cfg.tl);
}

/* ---- one worker's HTTP ---- */

struct worker {
    sim_driver *d;
    pd_http_client *http;
};

/* A request with a JSON body; *out_doc gets the parsed answer (or NULL).
 * Returns the HTTP status, or 0 when no answer came (timeout, refused). */
static int call(struct worker *w, const char *method, const char *url, const char *body,
                cJSON **out_doc)
{
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct pd_http_resp resp;
    int rc = pd_http_request(w->http, method, url, headers, body, body ? strlen(body) : 0,
                             HTTP_TIMEOUT_MS, RESP_MAX, &resp);
    int status = rc == PD_OK ? (int)resp.status : 0;
    if (out_doc != NULL)
        *out_doc = (rc == PD_OK && resp.body != NULL) ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
    pd_http_resp_release(&resp);
    return status;
}

/* Retries while the peer is unreachable or restarting (no answer, 502/503).
 * *at (when not NULL) becomes the simulated start of the last try, the one
 * whose answer counts. */
static int call_retrying(struct worker *w, const char *method, const char *url,
                         const char *body, cJSON **out_doc, int *retried, int64_t *at)
{
    for (int i = 0;; i++) {
        if (at != NULL)
            *at = now(w->d);
        int status = call(w, method, url, body, out_doc);
        if ((status != 0 && status != 502 && status != 503) || i >= RETRY_LIMIT)
            return status;
        if (out_doc != NULL) {
            cJSON_Delete(*out_doc);
            *out_doc = NULL;
        }
        if (retried != NULL)
            *retried = 1;
        pd_sleep_ms(RETRY_REAL_MS);
    }
}

static void copy_field(const cJSON *doc, const char *key, char *out, size_t out_len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (cJSON_IsString(it))
        pd_strlcpy(out, it->valuestring, out_len);
}

/* ---- submissions ---- */

static char *order_body(const sim_driver *d, const struct sim_order_plan *p, int seq)
{
    const struct sim_scenario *s = d->cfg.s;
    char ref[SIM_KEY_MAX + 16];
    if (seq == 0)
        pd_strlcpy(ref, p->key, sizeof ref);
    else
        snprintf(ref, sizeof ref, "%s~dup%d", p->key, seq);
    size_t len = 512 + strlen(ref);
    char *body = malloc(len);
    if (body == NULL)
        return NULL;
    snprintf(body, len,
             "{\"merchant_id\":\"%s\",\"user_id\":\"u-%lld\",\"items\":[{\"sku\":\"sku-%lld\","
             "\"qty\":1,\"unit_amount\":%lld}],\"amount\":%lld,\"currency\":\"%s\","
             "\"client_ref\":\"%s\"}",
             s->workload.merchant_id, (long long)p->index, (long long)(p->index % 97),
             (long long)p->amount, (long long)p->amount, s->workload.currency, ref);
    return body;
}

/* Submits once (seq 0 is the original); records it; returns the status and
 * copies the order id the SUT answered (201: the new order, 409: the original). */
static int submit(struct worker *w, const struct sim_order_plan *p, int seq, int kind,
                  char order_id[ID_LEN])
{
    sim_driver *d = w->d;
    char url[256];
    snprintf(url, sizeof url, "%s/orders", d->cfg.sut_url);
    char *body = order_body(d, p, seq);
    struct sub_rec r = {.at = now(d), .key = p->index, .seq = (int16_t)seq, .kind = (int8_t)kind};
    cJSON *doc = NULL;
    int retried = 0;
    int status = body ? call_retrying(w, "POST", url, body, &doc, &retried, &r.at) : 0;
    free(body);
    r.status = (int16_t)status;
    r.retried = (int8_t)retried;
    copy_field(doc, "order_id", r.order_id, sizeof r.order_id);
    copy_field(doc, "error", r.error, sizeof r.error);
    cJSON_Delete(doc);
    record(d, &d->subs, &r);
    /* A retry of our own submission whose first try was lost (no answer) but
     * committed is refused as a duplicate of itself: that order is ours. */
    bool own = retried && status == 409 && strcmp(r.error, "duplicate_submission") == 0;
    if ((status == 201 || own) && r.order_id[0])
        add_accepted(d, r.order_id);
    pd_strlcpy(order_id, r.order_id, ID_LEN);
    if (own)
        return 201;
    if (seq > 0)
        atomic_fetch_add(&d->duplicates, 1);
    return status;
}

struct burst_arg {
    struct worker w;
    const struct sim_order_plan *p;
    int seq;
    pthread_barrier_t *start;
    int status;
    char order_id[ID_LEN];
};

static void *burst_main(void *arg)
{
    struct burst_arg *a = arg;
    a->w.http = pd_http_client_new();
    pthread_barrier_wait(a->start);
    if (a->w.http != NULL)
        a->status = submit(&a->w, a->p, a->seq, a->seq == 0 ? REC_ORIGINAL : REC_CONCURRENT,
                           a->order_id);
    pd_http_client_free(a->w.http);
    return NULL;
}

/* A double-click: the original and burst-1 copies released at one instant.
 * The order id is the one answered 201 (whichever copy won the claim). */
static int submit_burst(struct worker *w, const struct sim_order_plan *p, char order_id[ID_LEN])
{
    int n = (int)w->d->cfg.s->workload.burst_copies;
    struct burst_arg args[SIM_MAX_BURST];
    pthread_t tids[SIM_MAX_BURST];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    int started = 0;
    for (int i = 0; i < n; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i] = (struct burst_arg){.w = {.d = w->d}, .p = p, .seq = i, .start = &start};
        if (pthread_create(&tids[i], NULL, burst_main, &args[i]) != 0)
            break;
        started++;
    }
    if (started < n)   /* cannot happen short of thread exhaustion; release the barrier */
        for (int i = started; i < n; i++)
            pthread_barrier_wait(&start);
    int status = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        if (args[i].status == 201 || (status != 201 && args[i].order_id[0])) {
            status = args[i].status;
            pd_strlcpy(order_id, args[i].order_id, ID_LEN);
        }
    }
    pthread_barrier_destroy(&start);
    return status;
}

/* ---- pay, payer, late notification ---- */

static int pay(struct worker *w, const struct sim_order_plan *p, const char *order_id,
               char otn[OTN_LEN])
{
    sim_driver *d = w->d;
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s/pay", d->cfg.sut_url, order_id);
    for (int attempt = 0; attempt < PAY_ATTEMPTS; attempt++) {
        struct pay_rec r = {.at = now(d), .key = p->index};
        pd_strlcpy(r.order_id, order_id, sizeof r.order_id);
        cJSON *doc = NULL;
        r.status = (int16_t)call_retrying(w, "POST", url, "{}", &doc, NULL, &r.at);
        copy_field(doc, "out_trade_no", r.out_trade_no, sizeof r.out_trade_no);
        copy_field(doc, "status", r.body_status, sizeof r.body_status);
        cJSON_Delete(doc);
        record(d, &d->pays, &r);
        /* A trade whose create is still ambiguous (UNKNOWN) is not payable yet:
         * the shopper waits and asks again, as a reloaded pay page does. */
        bool unknown = strcmp(r.body_status, "UNKNOWN") == 0;
        /* 409 with the trade: a pay of ours already opened it (our first call
         * got no answer); that trade is the one to pay. */
        bool opened = (r.status >= 200 && r.status < 300) ||
                      (r.status == 409 && strcmp(r.body_status, "PAYING") == 0);
        if (r.out_trade_no[0] && opened && (!unknown || attempt == PAY_ATTEMPTS - 1)) {
            pd_strlcpy(otn, r.out_trade_no, OTN_LEN);
            return 200;
        }
        if (r.status >= 400 && r.status < 500 && r.status != 409 && r.status != 429)
            return r.status;   /* the SUT refused for good */
        /* A gateway failure (5xx) or a pay already in progress: try again later,
         * as a shopper who reloads the page does. */
        sim_time_sleep(d->cfg.tl, 5000 * (attempt + 1));
    }
    return 0;
}

struct pay_arg {
    struct worker w;
    const struct sim_order_plan *p;
    const char *order_id;
    pthread_barrier_t *start;
    int status;
    char otn[OTN_LEN];
};

static void *pay_main(void *arg)
{
    struct pay_arg *a = arg;
    pthread_barrier_wait(a->start);
    sim_time_sleep(a->w.d->cfg.tl, a->p->pay_click_gap_ms);
    a->status = pay(&a->w, a->p, a->order_id, a->otn);
    return NULL;
}

/* A double-click on "pay": a second POST /orders/{id}/pay released the
 * click gap (50-300 ms simulated) after the first, on its own connection. otn gets the first
 * call's trade, otn2 the second's (the same trade when the SUT holds the
 * PAYING lock: it answers 409 payment_in_progress naming it). */
static int pay_double(struct worker *w, const struct sim_order_plan *p, const char *order_id,
                      char otn[OTN_LEN], char otn2[OTN_LEN])
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    struct pay_arg a = {.w = {.d = w->d, .http = pd_http_client_new()}, .p = p,
                        .order_id = order_id, .start = &start};
    pthread_t tid;
    bool second = a.w.http != NULL && pthread_create(&tid, NULL, pay_main, &a) == 0;
    if (second)
        pthread_barrier_wait(&start);
    int status = pay(w, p, order_id, otn);
    if (second) {
        pthread_join(tid, NULL);
        if (a.status == 200)
            pd_strlcpy(otn2, a.otn, OTN_LEN);
    }
    pd_http_client_free(a.w.http);
    pthread_barrier_destroy(&start);
    if (status != 200 && a.status == 200 && otn2[0]) {
        pd_strlcpy(otn, otn2, OTN_LEN);   /* only the second page opened */
        otn2[0] = '\0';
        status = 200;
    }
    return status;
}

static void payer_pay(struct worker *w, const struct sim_order_plan *p, const char *otn, int action)
{
    sim_driver *d = w->d;
    char url[256], body[160];
    snprintf(url, sizeof url, "%s/sim/payer/%s/pay", d->cfg.gateway_url, otn);
    snprintf(body, sizeof body, "{\"key\":\"%s\"}", p->key);
    struct payer_rec r = {.at = now(d), .key = p->index, .action = (int8_t)action};
    pd_strlcpy(r.out_trade_no, otn, sizeof r.out_trade_no);
    cJSON *doc = NULL;
    r.status = (int16_t)call_retrying(w, "POST", url, body, &doc, NULL, &r.at);
    copy_field(doc, "code", r.code, sizeof r.code);
    if (r.status == 200)
        copy_field(doc, "trade_state", r.code, sizeof r.code);
    cJSON_Delete(doc);
    record(d, &d->payers, &r);
}

static void query_order(struct worker *w, const struct sim_order_plan *p, const char *order_id,
                        char status_out[16])
{
    sim_driver *d = w->d;
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s", d->cfg.sut_url, order_id);
    struct query_rec r = {.at = now(d), .key = p->index};
    pd_strlcpy(r.order_id, order_id, sizeof r.order_id);
    cJSON *doc = NULL;
    r.status = (int16_t)call(w, "GET", url, NULL, &doc);
    copy_field(doc, "status", r.body_status, sizeof r.body_status);
    cJSON_Delete(doc);
    if (status_out != NULL) {
        pd_strlcpy(status_out, r.body_status, 16);
        return;     /* polling for pay_late is not a business query */
    }
    record(d, &d->queries, &r);
}

/* Pay late: waits (bounded) until the SUT has closed the expired order. */
static void wait_closed(struct worker *w, const struct sim_order_plan *p, const char *order_id)
{
    const struct sim_scenario *s = w->d->cfg.s;
    int64_t deadline = now(w->d) + s->payment_expiry_ms + 2 * 3600000LL;
    sim_time_sleep(w->d->cfg.tl, s->payment_expiry_ms);
    int64_t pause = POLL_REAL_MS;
    while (now(w->d) < deadline) {
        char st[16] = "";
        query_order(w, p, order_id, st);
        if (strcmp(st, "CLOSED") == 0 || strcmp(st, "PAID") == 0)
            return;
        pd_sleep_ms(pause);
        pause = pause * 2 > POLL_MAX_REAL_MS ? POLL_MAX_REAL_MS : pause * 2;
    }
}

/* Waits for the business notification; queries the SUT each time it is late.
 * The receiver wakes this worker when the order's effect is applied. */
static void await_notification(struct worker *w, const struct sim_order_plan *p, const char *order_id)
{
    sim_driver *d = w->d;
    int64_t real_ms = sim_time_real_ms(d->cfg.tl, d->cfg.s->notify_timeout_ms);
    for (int q = 0; q < LATE_QUERIES; q++) {
        if (sim_business_wait(d->cfg.business, order_id, real_ms) != NULL)
            return;
        query_order(w, p, order_id, NULL);
    }
}

/* otn2: a second pay page's trade after a double-click (else ""); a payer
 * who pays pays every distinct trade a page showed, as one who thinks the
 * first tab failed does (catalogue #1, #10). */
static void play_payer(struct worker *w, const struct sim_order_plan *p, const char *order_id,
                       const char *otn, const char *otn2)
{
    sim_time_sleep(w->d->cfg.tl, p->pay_delay_ms);
    bool second = otn2[0] != '\0' && strcmp(otn2, otn) != 0;
    switch (p->act) {
    case SIM_ACT_PAY:
        payer_pay(w, p, otn, PAYER_PAY);
        if (second)
            payer_pay(w, p, otn2, PAYER_PAY);
        break;
    case SIM_ACT_PAY_TWICE:
        payer_pay(w, p, otn, PAYER_PAY_TWICE);
        payer_pay(w, p, otn, PAYER_PAY_TWICE);
        break;
    case SIM_ACT_PAY_LATE:
        wait_closed(w, p, order_id);
        payer_pay(w, p, otn, PAYER_PAY_LATE);
        return;
    default:
        return;     /* abandon: the order expires and is closed */
    }
    await_notification(w, p, order_id);
}

static void after_window(struct worker *w, const struct sim_order_plan *p, int64_t first_at)
{
    sim_driver *d = w->d;
    int64_t wait = first_at + d->cfg.s->dedup_window_ms + d->cfg.s->dedup_window_ms / 10 + 1000 - now(d);
    if (wait > 0)
        sim_time_sleep(d->cfg.tl, wait);
    char id[ID_LEN] = "";
    submit(w, p, 1, REC_AFTER_WINDOW, id);
}

/* One workload key's whole story. */
static void play_order(struct worker *w, int64_t index)
{
    sim_driver *d = w->d;
    struct sim_order_plan p;
    sim_plan_order(d->cfg.s, index, &p);
    sim_time_sleep_until(d->cfg.tl, p.arrival_ms);
    int64_t first_at = now(d);
    char order_id[ID_LEN] = "", dup_id[ID_LEN] = "";
    int status = p.dup == SIM_DUP_CONCURRENT ? submit_burst(w, &p, order_id)
                                             : submit(w, &p, 0, REC_ORIGINAL, order_id);
    atomic_fetch_add(&d->submitted, 1);
    if (p.dup == SIM_DUP_IMMEDIATE)
        submit(w, &p, 1, REC_IMMEDIATE, dup_id);
    if (status == 201 && order_id[0]) {
        char otn[OTN_LEN] = "", otn2[OTN_LEN] = "";
        int paid = p.pay_double_click ? pay_double(w, &p, order_id, otn, otn2)
                                      : pay(w, &p, order_id, otn);
        if (paid == 200 && otn[0])
            play_payer(w, &p, order_id, otn, otn2);
    }
    if (p.dup == SIM_DUP_AFTER_WINDOW)
        after_window(w, &p, first_at);
}

static void *worker_main(void *arg)
{
    struct worker w = {.d = arg};
    w.http = pd_http_client_new();
    if (w.http == NULL)
        return NULL;
    for (;;) {
        int64_t i = atomic_fetch_add(&w.d->next, 1);
        if (i >= w.d->orders)
            break;
        play_order(&w, i);
    }
    pd_http_client_free(w.http);
    return NULL;
}

/* Maps n worker stacks of WORKER_STACK bytes, each above a guard page, as
 * one region that sim_driver_join unmaps. The stacks glibc allocates are
 * cached after join with ~20 KB each still resident, and that stayed
 * through the checker and the report writers, paydrill's memory peak:
 * 1.3 MB at concurrency 64, 5 MB at 256. Returns the distance from one
 * stack slot to the next, or 0 when the mapping failed (the workers then
 * run on glibc's stacks). */
static size_t map_stacks(struct sim_driver *d, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t slot = WORKER_STACK + page;
    void *p = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (mprotect((char *)p + i * slot, page, PROT_NONE) != 0) {
            munmap(p, n * slot);
            return 0;
        }
    d->stacks = p;
    d->stacks_len = n * slot;
    return slot;
}

int sim_driver_start(const struct sim_driver_cfg *cfg, sim_driver **out)
{
    sim_driver *d = calloc(1, sizeof *d);
    if (d == NULL)
        return PD_ENOMEM;
    d->cfg = *cfg;
    d->orders = cfg->s->workload.orders;
    pthread_mutex_init(&d->lock, NULL);
    sim_map_init(&d->accepted_set);
    if (recfile_open(&d->subs, sizeof(struct sub_rec)) != PD_OK ||
        recfile_open(&d->pays, sizeof(struct pay_rec)) != PD_OK ||
        recfile_open(&d->payers, sizeof(struct payer_rec)) != PD_OK ||
        recfile_open(&d->queries, sizeof(struct query_rec)) != PD_OK) {
        sim_driver_free(d);
        return PD_EIO;
    }
    int64_t n = cfg->concurrency > 0 ? cfg->concurrency : cfg->s->workload.concurrency;
    if (n > d->orders)
        n = d->orders;
    d->threads = calloc((size_t)n, sizeof *d->threads);
    if (d->threads == NULL) {
        sim_driver_free(d);
        return PD_ENOMEM;
    }
    /* Without the mapping (a tight RLIMIT_AS) glibc's stacks do as well,
     * only with more memory kept after the run. */
    size_t slot = map_stacks(d, (size_t)n);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    for (int64_t i = 0; i < n; i++) {
        if (slot > 0 && pthread_attr_setstack(&attr, d->stacks + (size_t)i * slot +
                                                         (slot - WORKER_STACK),
                                              WORKER_STACK) != 0)
            break;
        if (pthread_create(&d->threads[i], &attr, worker_main, d) != 0)
            break;
        d->n_threads++;
    }
    pthread_attr_destroy(&attr);
    if (d->n_threads == 0) {
        sim_driver_free(d);
        return PD_EIO;
    }
    *out = d;
    return PD_OK;
}

void sim_driver_join(sim_driver *d)
{
    for (size_t i = 0; i < d->n_threads; i++)
        pthread_join(d->threads[i], NULL);
    d->n_threads = 0;
    if (d->stacks != NULL)
        munmap(d->stacks, d->stacks_len);
    d->stacks = NULL;
}

int64_t sim_driver_submitted(sim_driver *d)
{
    return atomic_load(&d->submitted);
}

size_t sim_driver_accepted(sim_driver *d, const char *const **out)
{
    pthread_mutex_lock(&d->lock);
    *out = d->accepted;
    size_t n = d->n_accepted;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void sim_driver_counts(sim_driver *d, int64_t *submissions, int64_t *duplicates)
{
    pthread_mutex_lock(&d->lock);
    *submissions = (int64_t)d->subs.len;
    *duplicates = atomic_load(&d->duplicates);
    pthread_mutex_unlock(&d->lock);
}

void sim_driver_free(sim_driver *d)
{
    if (d == NULL)
        return;
    sim_driver_join(d);
    free(d->threads);
    recfile_close(&d->subs);
    recfile_close(&d->pays);
    recfile_close(&d->payers);
    recfile_close(&d->queries);
    free(d->accepted);
    sim_map_release(&d->accepted_set);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* ---- business.json, written record by record ---- */

static const char *const kind_names[] = {"original", "immediate", "concurrent", "after_window"};
static const char *const payer_names[] = {"pay", "pay_twice", "pay_late", "abandon"};

static void write_sub(const sim_driver *d, FILE *f, const struct sub_rec *r)
{
    struct sim_order_plan p;
    sim_plan_order(d->cfg.s, r->key, &p);
    char ref[SIM_KEY_MAX + 16];
    if (r->seq == 0)
        pd_strlcpy(ref, p.key, sizeof ref);
    else
        snprintf(ref, sizeof ref, "%s~dup%d", p.key, r->seq);
    fprintf(f, "{\"key\":");
    sim_json_str(f, p.key);
    fprintf(f, ",\"seq\":%d,\"kind\":\"%s\",\"original_key\":", r->seq, kind_names[r->kind]);
    sim_json_str(f, p.key);
    fprintf(f, ",\"at\":%lld,\"status\":%d,\"order_id\":", (long long)r->at, r->status);
    sim_json_str_or_null(f, r->order_id);
    fprintf(f, ",\"error\":");
    sim_json_str_or_null(f, r->error);
    fprintf(f, ",\"client_ref\":");
    sim_json_str(f, ref);
    fprintf(f, ",\"amount\":%lld,\"currency\":\"%s\",\"merchant_id\":", (long long)p.amount,
            d->cfg.s->workload.currency);
    sim_json_str(f, d->cfg.s->workload.merchant_id);
    fprintf(f, ",\"user_id\":\"u-%lld\",\"retried\":%s}", (long long)p.index,
            r->retried ? "true" : "false");
}

static void write_key(const sim_driver *d, FILE *f, int64_t index)
{
    char key[SIM_KEY_MAX];
    sim_plan_key(d->cfg.s->name, index, key);
    fprintf(f, "{\"key\":");
    sim_json_str(f, key);
}

static void write_pay(const sim_driver *d, FILE *f, const struct pay_rec *r)
{
    write_key(d, f, r->key);
    fprintf(f, ",\"order_id\":");
    sim_json_str(f, r->order_id);
    fprintf(f, ",\"at\":%lld,\"status\":%d,\"out_trade_no\":", (long long)r->at, r->status);
    sim_json_str_or_null(f, r->out_trade_no);
    fprintf(f, ",\"body_status\":");
    sim_json_str_or_null(f, r->body_status);
    fputc('}', f);
}

static void write_payer(const sim_driver *d, FILE *f, const struct payer_rec *r)
{
    write_key(d, f, r->key);
    fprintf(f, ",\"out_trade_no\":");
    sim_json_str(f, r->out_trade_no);
    fprintf(f, ",\"at\":%lld,\"action\":\"%s\",\"status\":%d,\"code\":", (long long)r->at,
            payer_names[r->action], r->status);
    sim_json_str_or_null(f, r->code);
    fputc('}', f);
}

static void write_query(const sim_driver *d, FILE *f, const struct query_rec *r)
{
    write_key(d, f, r->key);
    fprintf(f, ",\"order_id\":");
    sim_json_str(f, r->order_id);
    fprintf(f, ",\"at\":%lld,\"status\":%d,\"body_status\":", (long long)r->at, r->status);
    sim_json_str_or_null(f, r->body_status);
    fputc('}', f);
}

typedef void (*write_fn)(const sim_driver *, FILE *, const void *);

/* Writes one array of business.json from the records' file; returns 0 or PD_EIO. */
static int write_vec(const sim_driver *d, FILE *f, const char *name, struct recfile *v,
                     write_fn fn)
{
    union any_rec rec;
    int rc = v->failed || fflush(v->f) != 0 || fseek(v->f, 0, SEEK_SET) != 0 ? PD_EIO : PD_OK;
    fprintf(f, "\"%s\":[", name);
    for (size_t i = 0; i < v->len && rc == PD_OK; i++) {
        if (fread(&rec, v->size, 1, v->f) != 1) {
            rc = PD_EIO;
            break;
        }
        fputs(i ? ",\n" : "\n", f);
        fn(d, f, &rec);
    }
    fputs("],\n", f);
    if (fseek(v->f, 0, SEEK_END) != 0)     /* later records append again */
        rc = PD_EIO;
    return rc;
}

int sim_driver_write_business(sim_driver *d, const char *path, sim_business *b)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return PD_EIO;
    pthread_mutex_lock(&d->lock);
    fputs("{", f);
    int rc = write_vec(d, f, "submissions", &d->subs, (write_fn)write_sub);
    if (rc == PD_OK)
        rc = write_vec(d, f, "pay_calls", &d->pays, (write_fn)write_pay);
    if (rc == PD_OK)
        rc = write_vec(d, f, "payer", &d->payers, (write_fn)write_payer);
    if (rc == PD_OK)
        rc = write_vec(d, f, "queries", &d->queries, (write_fn)write_query);
    pthread_mutex_unlock(&d->lock);
    fputs("\"receipts\":", f);
    if (rc == PD_OK)
        rc = sim_business_write_receipts(b, f);
    fputs("}\n", f);
    if (fclose(f) != 0)
        rc = PD_EIO;
    return rc;
}

int sim_driver_write_plan(sim_driver *d, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return PD_EIO;
    const struct sim_scenario *s = d->cfg.s;
    fprintf(f, "{\"schema\":\"paydrill.plan/1\",\"scenario\":");
    sim_json_str(f, s->name);
    fprintf(f, ",\"seed\":%llu,\"orders\":[", (unsigned long long)s->seed);
    for (int64_t i = 0; i < s->workload.orders; i++) {
        struct sim_order_plan p;
        sim_plan_order(s, i, &p);
        fputs(i ? ",\n" : "\n", f);
        write_key(d, f, i);
        fprintf(f, ",\"amount\":%lld,\"arrival_ms\":%lld,\"duplicate\":\"%s\",\"payer\":\"%s\","
                   "\"pay_delay_ms\":%lld}",
                (long long)p.amount, (long long)p.arrival_ms, sim_dup_name(p.dup),
                sim_act_name(p.act), (long long)p.pay_delay_ms);
    }
    fputs("]}\n", f);
    return fclose(f) == 0 ? PD_OK : PD_EIO;
}
