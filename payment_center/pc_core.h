/* pc_core.h -- the payment center's behaviour, independent of HTTP:
 * intake, pay, callbacks, the reconciler, refunds and the outbox sender.
 *
 * Everything outside the process is a port (gateway, business endpoint,
 * Redis pre-filter, clock), so unit tests drive the same code with fakes. */
#ifndef PC_CORE_H
#define PC_CORE_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pc_config.h"
#include "pc_store.h"
#include "pd_time.h"

/* Calls the gateway: method, path below the base URL ("/v1/payments"),
 * body (JSON text or NULL). Returns 0 when an HTTP answer arrived (*status,
 * *json parsed or NULL; caller frees), or a negative PD_E* when none did
 * (timeout, refused connection...). */
struct pc_gateway_port {
    int (*call)(void *ctx, const char *method, const char *path, const char *body,
                long *status, cJSON **json);
    void *ctx;
};

/* POSTs one signed business notification. Returns 0 with *status when an
 * answer arrived, else a negative PD_E*. */
struct pc_business_port {
    int (*notify)(void *ctx, const char *body, size_t len, long *status);
    void *ctx;
};

enum pc_dedup_verdict { PC_DEDUP_CLAIMED = 0, PC_DEDUP_DUPLICATE, PC_DEDUP_UNAVAILABLE };

/* The optional fast pre-filter (Redis SET NX PX). */
struct pc_dedup_port {
    /* Claims fp for order_id for window_ms; on DUPLICATE fills original. */
    int (*claim)(void *ctx, const char *fp, const char *order_id, int64_t window_ms,
                 char *original, size_t original_len);
    /* Points fp at the real original (the database knew better). */
    void (*repoint)(void *ctx, const char *fp, const char *order_id, int64_t window_ms);
    /* Drops a claim whose order was never written. */
    void (*release)(void *ctx, const char *fp, const char *order_id);
    void *ctx;
};

enum pc_reject_reason {
    PC_REJ_BAD_SIGNATURE = 0, PC_REJ_STALE, PC_REJ_MISSING_HEADERS, PC_REJ_REPLAY,
    PC_REJ_MISMATCH, PC_REJ_UNKNOWN_TRADE, PC_REJ_MALFORMED, PC_REJ_COUNT
};

struct pc_metrics {
    atomic_llong submissions, orders_created, duplicates_sqlite, duplicates_redis,
        redis_unavailable, pay_calls, creates, create_ok, create_rejected, create_ambiguous,
        callbacks_received, callbacks_applied, callbacks_ignored, queries, query_errors,
        closes, close_errors, refund_calls, notify_attempts, notify_delivered,
        bad_requests;
    atomic_llong callbacks_rejected[PC_REJ_COUNT];
};

const char *pc_reject_name(int reason);

struct pc_app {
    const struct pc_config *cfg;
    const struct pd_clock *clock;
    pc_store *store;
    struct pc_gateway_port gw;
    struct pc_business_port biz;
    const struct pc_dedup_port *dedup;   /* NULL: the database alone */
    char notify_url[PC_URL_MAX + 32];    /* sent to the gateway on create */
    struct pc_metrics metrics;
    atomic_bool stop;
    /* Called after a committed change of the order that may have written
     * a refund row, so the refund worker wakes at once instead of at its
     * next poll (outbox rows reach their sender through the store's event
     * hook). May be NULL. */
    void (*kick)(void *ctx, const char *order_id);
    void *kick_ctx;
};

/* An HTTP answer: status plus a malloc'd JSON text (caller frees). */
struct pc_reply {
    int status;
    char *text;
};

void pc_reply_release(struct pc_reply *r);

/* New order ids continue above order_id (the greatest stored, read at
 * start), so a restart whose clock went back repeats none. */
void pc_core_ids_after(const char *order_id);

/* POST /orders. is_json: the request said Content-Type: application/json. */
void pc_core_submit(struct pc_app *app, const char *body, size_t len, bool is_json,
                    struct pc_reply *out);

/* POST /orders/{id}/pay. */
void pc_core_pay(struct pc_app *app, const char *order_id, struct pc_reply *out);

/* GET /orders/{id}. */
void pc_core_get(struct pc_app *app, const char *order_id, struct pc_reply *out);

/* POST /gateway/notify: headers as received (any may be NULL), raw body. */
void pc_core_notify(struct pc_app *app, const char *ts, const char *nonce, const char *sig,
                    const char *body, size_t len, struct pc_reply *out);

/* One reconciler pass over due orders of partition part/parts.
 * Returns how many orders it looked at. */
int pc_core_reconcile_tick(struct pc_app *app, int part, int parts);

/* Checks one order now (what the tick does per order). */
int pc_core_reconcile_one(struct pc_app *app, const char *order_id);

/* One pass over due refunds. Returns how many it tried. */
int pc_core_refund_tick(struct pc_app *app);

/* One pass over due outbox events of partition part/parts: one read, then
 * each event delivered and its result written. Returns how many it tried.
 * *next_ms (unless NULL) is when the partition next has work: now or
 * earlier when more is due at once (a full batch, or a delivered event's
 * order has a later event waiting for it), else the earliest of the next
 * undelivered event and the retries just scheduled (INT64_MAX: none). */
int pc_core_outbox_tick(struct pc_app *app, int part, int parts, int64_t *next_ms);

/* What a notification sender keeps between its passes. */
struct pc_sender {
    int part, parts;            /* its partition of the orders (by shard) */
    int64_t next_at;            /* when the partition next has work; 0: read at once */
    /* pc_store_commits before its last read that succeeded: a handed event
     * of a commit up to this one was there for that read to see (sent, or
     * its due time taken into next_at), so it is not sent again. */
    long read_upto;
};

/* One pass of a sender: delivers the new events handed to it (the store's
 * event hook; the list is freed here) without reading them back, and reads
 * the store as pc_core_outbox_tick does when read is true, when its next_at
 * has come, or when a handed event is not its order's first (it may have
 * to wait for an earlier one). Sets s->next_at as pc_core_outbox_tick sets
 * *next_ms; without a read it stays as it was, or earlier for a retry just
 * scheduled, or, when the store failed, no earlier than STORE_RETRY_MS
 * from now. Returns how many events it tried. */
int pc_core_sender_tick(struct pc_app *app, struct pc_sender *s, struct pc_event_new *handed,
                        bool read);

/* When to check an order next after check number check_count (0-based)
 * failed to settle it: now + query_schedule[check_count] (last repeats),
 * but never later than expires_at while that is still ahead. */
int64_t pc_next_check_at(const struct pc_config *cfg, int64_t now_ms, int64_t check_count,
                         int64_t expires_at);

/* When to resend a notification after `attempts` failed deliveries. */
int64_t pc_next_notify_at(const struct pc_config *cfg, int64_t now_ms, int64_t attempts);

#endif
