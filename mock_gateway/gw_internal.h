/* gw_internal.h -- the gateway's shared state, for its own modules only. */
#ifndef GW_INTERNAL_H
#define GW_INTERNAL_H

#include <pthread.h>

#include "gw.h"
#include "gw_http.h"
#include "gw_journal.h"
#include "gw_store.h"

typedef struct gw_cb gw_cb;
typedef struct gw_occ gw_occ;

enum gw_metric {
    GW_M_CB_ACKED = 0,
    GW_M_CB_FAILED,
    GW_M_CB_DROPPED,
    GW_M_CB_EXTRA,
    GW_M_CB_GAVE_UP,
    GW_M_BAD_REQUEST,
    GW_M_COUNT
};

struct gw_paid {
    struct gw_trade t;
    int64_t due_ms;
};

struct gw {
    struct gw_config cfg;
    char secret[256];
    char data_dir[1024];
    int64_t epoch_ms;
    gw_store *store;
    gw_journal *journal;
    gw_cb *cb;
    gw_occ *occ;
    gw_http *http;
    /* The group commit of the HTTP loop thread (only it touches these):
     * the journal lines of the iteration's inline requests, written with
     * one write() after the ledger commit (gw_api_flush). */
    struct gw_jentry *batch;        /* GW_BATCH_MAX entries ... */
    struct gw_bline *batch_text;    /* ... and the strings they point to */
    size_t batch_n;
    /* The trades the iteration's inline pays charged: their callbacks are
     * owed (gw_cb_owe) only once the batch has committed. */
    struct gw_paid *paid;           /* GW_BATCH_MAX entries */
    size_t paid_n;
    pthread_mutex_t rules_mu;       /* guards the rules pointer only */
    struct gw_rules *rules;
    uint64_t requests[GW_OP_COUNT][6];   /* by op and status class 0,1xx..5xx (atomic) */
    uint64_t faults[GW_ACT_COUNT];       /* applied, by action (atomic) */
    uint64_t metrics[GW_M_COUNT];        /* atomic */
};

/* The current rules with a reference the caller must drop (gw_rules_unref). */
struct gw_rules *gw__rules(gw *g);

static inline void gw__inc(uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* ---- callback delivery (gw_cb.c) ---- */

/* Starts the scheduler and the worker pool and loads the owed callbacks. */
int gw_cb_start(gw *g, gw_cb **out);
void gw_cb_stop(gw_cb *cb);
/* A trade was just charged: its callback is owed from due_ms. */
void gw_cb_owe(gw_cb *cb, const struct gw_trade *t, int64_t due_ms);
/* Forgets everything owed (POST /sim/reset, after the ledger was emptied). */
void gw_cb_reset(gw_cb *cb);
void gw_cb_stats(gw_cb *cb, int64_t *pending, int64_t *in_flight);

/* The notification body of trade t in state (SUCCESS, or an older state for
 * stale deliveries), with amount / out_trade_no / merchant_id as given (the
 * trade's own, or tampered ones for forgeries). Caller frees; NULL on ENOMEM. */
char *gw__callback_body(const struct gw_trade *t, const char *state, int64_t amount,
                        const char *out_trade_no, const char *merchant_id);

/* When attempt attempts+1 is due after attempt `attempts` failed at now_ms:
 * now_ms + schedule_ms[attempts-1], or -1 when the schedule is used up
 * (attempts > n: give up). */
int64_t gw__next_due(const int64_t *schedule_ms, size_t n, int attempts, int64_t now_ms);

/* ---- occurrence counters per (order key, op) (gw_occ.c) ---- */

gw_occ *gw_occ_new(void);
void gw_occ_free(gw_occ *occ);
/* Returns the 1-based number of this occurrence of op for key. */
uint64_t gw_occ_next(gw_occ *occ, const char *key, enum gw_op op);
void gw_occ_reset(gw_occ *occ);

/* ---- the HTTP API (gw_api.c): the hooks of gw_http ---- */

#define GW_BATCH_MAX 1024        /* inline requests in one group commit */

struct gw_bline {
    char otn[GW_ID_MAX + 1];
    char key[GW_TEXT_MAX + 1];
    char detail[200];
};

/* Loop thread: answers create, query and the payer's pay inline when
 * nothing can sleep (no latency knob, no fault rule selects the order);
 * else false. */
bool gw_api_fast(void *ctx, gw_conn *conn);
/* Loop thread: commits the batch, then writes its journal lines and owes
 * the callbacks of its charges. */
int gw_api_flush(void *ctx);
/* A worker: any request, with the blocking semantics of every fault. */
void gw_api_slow(void *ctx, gw_conn *conn);

/* ---- helpers shared by gw_api.c and gw_admin.c ---- */

#define GW_BODY_MAX 65536            /* bytes of a protocol request body */

/* Sends {"code": code, "message": <printf>} with status. */
void gw__reply_error(gw_conn *conn, int status, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sends a JSON text as is. */
void gw__reply_text(gw_conn *conn, int status, const char *json, size_t len);
/* Counts a request for /metrics. */
void gw__count(gw *g, enum gw_op op, int status);

/* Admin endpoints (gw_admin.c); each answers the request. */
void gw_admin_status(gw *g, gw_conn *conn);
void gw_admin_ledger(gw *g, gw_conn *conn);
void gw_admin_journal(gw *g, gw_conn *conn);
void gw_admin_faults_get(gw *g, gw_conn *conn);
void gw_admin_faults_put(gw *g, gw_conn *conn);
void gw_admin_reset(gw *g, gw_conn *conn);
void gw_admin_metrics(gw *g, gw_conn *conn);

#endif
