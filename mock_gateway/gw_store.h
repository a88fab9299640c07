/* gw_store.h -- the ground-truth ledger in SQLite (WAL): trades, charges,
 * refunds, refused payments, and the callbacks still owed.
 *
 * Every call is one transaction committed before it returns, so whatever a
 * caller acknowledges over HTTP is already in the database file and survives
 * a SIGKILL of the process. One writer at a time (a mutex around the write
 * connection); the ledger dump reads through a second connection so a large
 * dump never stalls payments. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

typedef struct gw_store gw_store;

#define GW_ID_MAX 64        /* out_trade_no, out_refund_no, merchant_id */
#define GW_TEXT_MAX 128     /* attach, description */
#define GW_URL_MAX 512      /* notify_url */

struct gw_trade {
    int64_t id;
    char out_trade_no[GW_ID_MAX + 1];
    char trade_no[24];
    char merchant_id[GW_ID_MAX + 1];
    int64_t amount;
    char currency[4];
    char notify_url[GW_URL_MAX + 1];
    char description[GW_TEXT_MAX + 1];
    char attach[GW_TEXT_MAX + 1];       /* "" when absent */
    char state[16];                     /* NOTPAY, SUCCESS, CLOSED, PAYERROR, REFUND */
    int64_t created_at;
    int64_t closed_at;                  /* 0 = null */
    int64_t success_time;               /* 0 = null */
    int64_t refunded_amount;
};

/* Outcomes that are data, not errors. */
enum gw_outcome {
    GW_OK = 0,            /* done (or an idempotent repeat of the same facts) */
    GW_CONFLICT,          /* same out_trade_no / out_refund_no with other facts */
    GW_NOT_FOUND,         /* no such trade */
    GW_ORDERPAID,         /* close of a paid trade */
    GW_ALREADY_PAID,      /* second pay */
    GW_TRADE_CLOSED,      /* pay of a closed trade */
    GW_NOT_PAID,          /* refund of an unpaid trade */
    GW_EXCEEDS            /* refunds would exceed the charge */
};

struct gw_refund {
    char out_refund_no[GW_ID_MAX + 1];
    char out_trade_no[GW_ID_MAX + 1];
    int64_t amount;
    int64_t at;
};

/* A callback still owed (state pending) or finished. */
struct gw_owed {
    int64_t trade_id;
    int64_t due_at;
    int attempts;              /* genuine attempts made so far */
    int delayed_attempt;       /* attempt whose delay fault was already applied */
    int held_attempt;          /* attempt whose reorder hold was already applied */
};

enum gw_cb_state { GW_CB_PENDING = 0, GW_CB_ACKED = 1, GW_CB_GAVE_UP = 2 };

struct gw_counts {
    int64_t trades, charges, refunds;
};

/* Opens (creating) dir/ledger.db. sync_full: fsync every commit (survives
 * power loss); otherwise commits survive a process crash. Returns 0,
 * PD_EIO (with a log line) or PD_ENOMEM. */
int gw_store_open(const char *dir, bool sync_full, gw_store **out);
void gw_store_close(gw_store *store);   /* NULL is a no-op */

/* Create: *outcome GW_OK (new or same facts: *out is the stored trade) or
 * GW_CONFLICT. in->created_at is the time to record. */
int gw_store_create(gw_store *store, const struct gw_trade *in, struct gw_trade *out,
                    enum gw_outcome *outcome);

/* Group commit, for one thread (the HTTP loop): the first batch call opens
 * one write transaction (holding the writer, so other writers wait), every
 * create or pay runs in its own SAVEPOINT, lookups read through the writer so
 * they see the batch's own writes, and gw_store_batch_commit commits the lot
 * (0, or PD_EIO: nothing of the batch is stored). Nothing of a batch may be
 * acknowledged before its commit returned 0. Commit without a batch is 0. */
int gw_store_batch_create(gw_store *store, const struct gw_trade *in, struct gw_trade *out,
                          enum gw_outcome *outcome);
/* gw_store_pay inside the batch: its callback is owed only once the batch
 * committed (the caller owes it after gw_store_batch_commit returned 0). */
int gw_store_batch_pay(gw_store *store, const char *out_trade_no, int64_t now_ms,
                       int64_t cb_due_ms, struct gw_trade *out, enum gw_outcome *outcome);
int gw_store_batch_get(gw_store *store, const char *out_trade_no, struct gw_trade *out);
int gw_store_batch_commit(gw_store *store);

/* Returns 0 (found), PD_ENOTFOUND, or PD_EIO. */
int gw_store_get(gw_store *store, const char *out_trade_no, struct gw_trade *out);

/* Close: GW_OK (closed now or already), GW_ORDERPAID, GW_NOT_FOUND. */
int gw_store_close_trade(gw_store *store, const char *out_trade_no, int64_t now_ms,
                         struct gw_trade *out, enum gw_outcome *outcome);

/* The payer pays: GW_OK (charged now; the callback is owed from cb_due_ms),
 * GW_ALREADY_PAID or GW_TRADE_CLOSED (both recorded as refused), GW_NOT_FOUND. */
int gw_store_pay(gw_store *store, const char *out_trade_no, int64_t now_ms,
                 int64_t cb_due_ms, struct gw_trade *out, enum gw_outcome *outcome);

/* Refund: GW_OK (*out filled; new or same facts), GW_CONFLICT, GW_NOT_FOUND,
 * GW_NOT_PAID, GW_EXCEEDS. */
int gw_store_refund(gw_store *store, const struct gw_refund *in, struct gw_refund *out,
                    enum gw_outcome *outcome);

/* Records the progress of an owed callback. */
int gw_store_cb_update(gw_store *store, const struct gw_owed *owed, enum gw_cb_state state,
                       int64_t acked_at);

/* Calls fn for every pending callback (at start-up). */
int gw_store_cb_load(gw_store *store, void (*fn)(void *ctx, const struct gw_owed *owed),
                     void *ctx);

/* Reads the trade with this row id. Returns 0, PD_ENOTFOUND or PD_EIO. */
int gw_store_get_by_id(gw_store *store, int64_t id, struct gw_trade *out);

void gw_store_counts(gw_store *store, struct gw_counts *out);

/* Appends the ledger document {"now":..,"trades":[...]} (docs/dev/interfaces.md). */
int gw_store_ledger(gw_store *store, int64_t now_ms, struct pd_buf *out);

/* Deletes every row. */
int gw_store_reset(gw_store *store);

#endif
