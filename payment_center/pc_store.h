/* pc_store.h -- orders, trades, history, refunds, the outbox and callback
 * nonces in one SQLite file (WAL).
 *
 * Reads use a connection per thread (opened on first use, closed at thread
 * exit). Write transactions all run on one writer connection, one after
 * another: each is queued, and one caller at a time runs the queue,
 * committing up to 64 of them at once (flat combining, pc_store_tx.c);
 * with hundreds of HTTP threads this is faster and fairer than SQLite's
 * busy-wait, and the writer's page cache stays valid. Each caller returns
 * only once its writes are committed. Readers never wait for writers. WAL
 * checkpoints run on a thread of their own (pc_store_ckpt.c). Every status change
 * goes through one function that checks pc_transition_legal, bumps the
 * version by compare-and-set, appends history and, for a final status,
 * writes the outbox row in the same transaction.
 *
 * Time is always passed in (now_ms), so unit tests drive it. */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pc_order.h"
#include "pc_state.h"

#define PC_ORDER_ID_MAX 24      /* "o-" + 16 hex */
#define PC_TRADE_NO_MAX 48      /* order_id + "-" + attempt */
#define PC_EVENT_ID_MAX 64

typedef struct pc_store pc_store;

/* Opens (creating the schema) the database at path. sync_full selects
 * synchronous=FULL (else NORMAL). Returns 0, PD_EIO or PD_ENOMEM. */
int pc_store_open(const char *path, bool sync_full, pc_store **out);
void pc_store_close(pc_store *store);   /* NULL is a no-op; no thread may still use it */
/* WAL checkpoints run on a thread of their own once the WAL has this many
 * frames (default PC_CKPT_FRAMES in pc_store_internal.h); for tests. */
void pc_store_set_checkpoint_frames(pc_store *store, int frames);
/* The shard of an order's outbox rows: sender k of n sends the rows whose
 * shard % n == k. */
int64_t pc_store_shard(const char *order_id);
/* How many checkpoints that thread has run. */
long pc_store_checkpoints(pc_store *store);
/* Write transactions committed so far, and the callers' transactions they
 * held (pc_store_tx.c). */
void pc_store_tx_stats(pc_store *store, long *out_commits, long *out_ops);

struct pc_order {
    char order_id[PC_ORDER_ID_MAX + 1];
    char merchant_id[PC_ID_MAX + 1];
    char user_id[PC_ID_MAX + 1];
    char client_ref[PC_CLIENT_REF_MAX + 1];
    char currency[4];
    char fingerprint[PD_SIG_HEX_LEN + 1];
    int64_t amount;
    int status;
    int64_t version;
    int64_t attempt;
    char cur_trade[PC_TRADE_NO_MAX + 1];    /* "" when none */
    char paid_trade[PC_TRADE_NO_MAX + 1];
    int64_t created_at, expires_at;
    int64_t next_check_at;                   /* 0 when nothing is scheduled */
    int64_t check_count;
    int64_t notify_seq;
};

/* ---- intake ---- */

struct pc_submit {
    const struct pc_order_in *order;   /* items sorted */
    const char *fingerprint;
    const char *order_id;              /* the new id */
    int64_t now_ms, window_ms, expiry_ms;
};

/* Inserts the order and claims its fingerprint in one transaction. An
 * unexpired claim makes it a duplicate: PD_ECONFLICT with the original id
 * in dup_id. Returns 0, PD_ECONFLICT or PD_EIO. */
int pc_store_submit(pc_store *store, const struct pc_submit *sub,
                    char dup_id[PC_ORDER_ID_MAX + 1]);

/* Reads one order. Returns 0, PD_ENOTFOUND or PD_EIO. */
int pc_store_get(pc_store *store, const char *order_id, struct pc_order *out);

/* The greatest order id stored ("" when there is none). Returns 0 or PD_EIO. */
int pc_store_max_order_id(pc_store *store, char out[PC_ORDER_ID_MAX + 1]);

/* The full order as export JSON (caller frees with free()), or NULL. */
char *pc_store_order_json(pc_store *store, const char *order_id, int *out_rc);

/* ---- pay ---- */

enum pc_pay_verdict {
    PC_PAY_STARTED = 0,     /* this caller won UNPAID->PAYING and must call create */
    PC_PAY_IN_PROGRESS,     /* PAYING/UNKNOWN already */
    PC_PAY_NOT_PAYABLE      /* PAID, CLOSED, or UNPAID past expiry */
};

struct pc_pay {
    int verdict;
    struct pc_order order;                   /* after the change */
    char out_trade_no[PC_TRADE_NO_MAX + 1];  /* the trade to create / in progress */
};

/* UNPAID -> PAYING by compare-and-set; records the trade (INIT) durably
 * before any gateway call. Returns 0 (see out->verdict), PD_ENOTFOUND, PD_EIO. */
int pc_store_pay_begin(pc_store *store, const char *order_id, const char *notify_url,
                       int64_t now_ms, int64_t first_check_ms, struct pc_pay *out);

/* The notify_url a trade was created with (a re-issued create must repeat
 * it exactly, even after a restart on another port). */
int pc_store_trade_notify_url(pc_store *store, const char *out_trade_no, char *out,
                              size_t out_len);

enum pc_create_outcome {
    PC_CREATE_OK = 0,       /* 200: the trade exists */
    PC_CREATE_REJECTED,     /* definitive 4xx: no trade */
    PC_CREATE_AMBIGUOUS     /* timeout, 5xx, connection error */
};

/* Records a create's outcome for out_trade_no. Moves the order only if it
 * is still on that trade: OK (UNKNOWN->PAYING create_ok), REJECTED
 * (PAYING->UNPAID), AMBIGUOUS (PAYING->UNKNOWN). *out_status is the order's
 * status afterwards. Returns 0, PD_ENOTFOUND, PD_EIO. */
int pc_store_create_result(pc_store *store, const char *out_trade_no, int outcome,
                           const char *trade_no, int64_t now_ms, int *out_status);

/* ---- gateway facts (callbacks, queries, close answers) ---- */

enum pc_fact_source { PC_SRC_CALLBACK = 0, PC_SRC_QUERY, PC_SRC_CLOSE };

struct pc_fact {
    int source;
    const char *out_trade_no;
    const char *trade_state;     /* NOTPAY, USERPAYING, SUCCESS, CLOSED, PAYERROR, REFUND */
    const char *trade_no;        /* may be NULL */
    bool has_money;              /* amount/currency/merchant present and to be checked */
    int64_t amount;
    const char *currency;
    const char *merchant_id;
    const char *nonce;           /* callbacks: stored with the change; NULL otherwise */
};

enum pc_apply_result {
    PC_APPLY_CHANGED = 0,   /* committed a change */
    PC_APPLY_IGNORED,       /* valid but nothing to change (copy, stale state) */
    PC_APPLY_UNKNOWN_TRADE,
    PC_APPLY_MISMATCH,      /* amount, currency or merchant differ: nothing changed */
    PC_APPLY_REPLAY         /* nonce seen before: nothing changed */
};

/* The one idempotent apply_gateway_fact: callbacks and the reconciler both
 * use it. SUCCESS on PAYING/UNKNOWN -> PAID; SUCCESS on CLOSED, or on a
 * second trade of a PAID order -> a PENDING refund row; CLOSED/PAYERROR of
 * the current trade (queries) -> CLOSED; NOTPAY on UNKNOWN (queries) ->
 * PAYING. Returns 0 with *out_result, or PD_EIO. */
int pc_store_apply_fact(pc_store *store, const struct pc_fact *fact, int64_t now_ms,
                        int *out_result);
/* How many refund rows committed apply_fact calls have added since the
 * store opened. It moves only after the commit, so a reader that sees it
 * move and then wakes the refund sender wakes it for a readable row. */
long pc_store_refunds_added(pc_store *store);

/* ---- reconciler ---- */

struct pc_due {
    char order_id[PC_ORDER_ID_MAX + 1];
};

/* Up to max orders with next_check_at <= now in partition part of parts
 * (rowid % parts == part). */
int pc_store_due_orders(pc_store *store, int64_t now_ms, int part, int parts,
                        struct pc_due *out, size_t max, size_t *out_n);

/* The earliest pending due time of partition part/parts: next_check_at of
 * orders (what == 0) or next_try_at of pending refunds (1, parts ignored).
 * *out_ms = INT64_MAX when nothing is pending. (The senders learn theirs
 * from pc_store_due_events.) */
int pc_store_next_due(pc_store *store, int what, int part, int parts, int64_t *out_ms);

/* Sets next_check_at and check_count if the order is still at version.
 * Returns 0, PD_ECONFLICT (changed meanwhile) or PD_EIO. */
int pc_store_reschedule(pc_store *store, const char *order_id, int64_t version,
                        int64_t next_check_at, int64_t check_count);

/* UNPAID past expiry -> CLOSED (expired_unpaid). */
int pc_store_close_unpaid(pc_store *store, const char *order_id, int64_t now_ms);

/* The gateway confirmed closing out_trade_no: PAYING/UNKNOWN -> CLOSED
 * (close_confirmed) when the order is still on that trade. */
int pc_store_close_confirmed(pc_store *store, const char *out_trade_no, int64_t now_ms);

/* Zoo only (PC_BUG_RECONCILER_GIVES_UP / PC_BUG_TIMEOUT_IS_FAILURE /
 * PC_BUG_CLOSE_WITHOUT_GATEWAY): closes without gateway evidence. */
int pc_store_close_blind(pc_store *store, const char *order_id, int64_t now_ms);

/* Forgets nonces older than before_ms (their timestamps are stale anyway). */
int pc_store_prune_nonces(pc_store *store, int64_t before_ms);

/* Deletes up to 5000 expired fingerprint claims. */
int pc_store_prune_dedup(pc_store *store, int64_t now_ms);

/* ---- refunds ---- */

struct pc_refund_due {
    char out_refund_no[PC_TRADE_NO_MAX + 8];
    char out_trade_no[PC_TRADE_NO_MAX + 1];
    int64_t amount;
    int64_t attempts;
};

int pc_store_due_refunds(pc_store *store, int64_t now_ms, struct pc_refund_due *out,
                         size_t max, size_t *out_n);

/* done: SUCCESS now; else attempts+1 and next_try_at. */
int pc_store_refund_result(pc_store *store, const char *out_refund_no, bool done,
                           long http_status, int64_t now_ms, int64_t next_try_at);

/* ---- outbox ---- */

#define PC_PAYLOAD_MAX 2048

struct pc_event_due {
    char event_id[PC_EVENT_ID_MAX + 1];
    char payload[PC_PAYLOAD_MAX];
    int64_t attempts;
    bool more;          /* the order has a later undelivered event, due once this one is delivered */
};

/* Undelivered events due now, partition part of parts by order, at most one
 * per order and only the lowest undelivered seq (per-order order), at most
 * max of them; *next_ms is when the first such event not due yet is due
 * (INT64_MAX: none), so the sender needs no second read to know how long
 * to sleep. */
int pc_store_due_events(pc_store *store, int64_t now_ms, int part, int parts,
                        struct pc_event_due *out, size_t max, size_t *out_n, int64_t *next_ms);

/* An outbox row a committed write transaction added, handed to its
 * sender so that the sender need not read it back (pc_store_set_event_hook;
 * docs/payment-center.md "Time"). */
struct pc_event_new {
    struct pc_event_new *next;  /* free for the hook's own use */
    int64_t seq;                /* 1: the order's first event, waits for none */
    int64_t shard;              /* pc_store_shard of the order */
    long commit_no;             /* its COMMIT's number (pc_store_commits) */
    struct pc_event_due e;      /* attempts 0, more false */
};

/* Called in the thread of the caller whose write transaction added the
 * rows (not the combiner's, unless the same), inside pc__tx once its batch
 * committed and before pc__tx returns, with each outbox row the
 * transaction added, oldest first; never for a transaction undone or a
 * batch lost. The hook owns ev (free() it). ev NULL: some row could not be
 * noted (out of memory): the senders must read the store. Set before any
 * thread writes. */
typedef void (*pc_event_hook)(void *ctx, struct pc_event_new *ev);
void pc_store_set_event_hook(pc_store *store, pc_event_hook fn, void *ctx);

/* How many batches have committed so far. A read that begins after this
 * returned n sees every row of commit numbers <= n. */
long pc_store_commits(pc_store *store);

/* Frees a list of them linked by next (NULL is a no-op). */
void pc_store_events_free(struct pc_event_new *ev);

int pc_store_event_result(pc_store *store, const char *event_id, bool delivered,
                          long http_status, int64_t now_ms, int64_t next_try_at);

/* Zoo only (PC_BUG_OUTBOX_OUTSIDE_TX, PC_BUG_NON_IDEMPOTENT_CALLBACK):
 * writes an outbox row for the order's current status in its own transaction. */
int pc_store_outbox_late(pc_store *store, const char *order_id, int64_t now_ms);

/* ---- export and metrics ---- */

/* Streams one page of the export: calls emit with successive pieces of the
 * JSON document, a chunk of orders at a time. Returns 0, PD_EIO, PD_ENOMEM
 * or the first non-zero emit result. */
int pc_store_export(pc_store *store, const char *after, int limit,
                    int (*emit)(void *ctx, const char *data, size_t len), void *ctx);

struct pc_counts {
    int64_t by_status[PC_ST_COUNT];
    int64_t notifications_pending, notifications_delivered;
    int64_t refunds_pending, refunds_done;
};

int pc_store_counts(pc_store *store, struct pc_counts *out);

#endif
