/* pc_store_internal.h -- what the pc_store_*.c files share: the per-thread
 * connection, its statement cache, and the transaction helpers. */
#ifndef PC_STORE_INTERNAL_H
#define PC_STORE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "pc_store.h"

#define PC_STMT_CACHE 64
/* WAL frames (4 KiB pages) after which the checkpointer runs: ~40 MiB,
 * roughly 370 orders of the reference flow. */
#define PC_CKPT_FRAMES 10000

struct pc_conn {
    sqlite3 *db;
    size_t n_stmts;
    struct {
        const char *sql;    /* identity: the static string's address */
        sqlite3_stmt *st;
    } stmts[PC_STMT_CACHE];
};

struct pc_store {
    char path[4096];
    bool sync_full;
    pthread_mutex_t write_mu;   /* one writer at a time, process-wide */
    struct pc_conn *writer;     /* every write transaction runs here, under write_mu */
    /* group commit (pc_store_tx.c); all under write_mu but tx_queued */
    int tx_queued;              /* callers waiting for write_mu in pc__begin (atomic) */
    bool tx_open;               /* the batch transaction is open on the writer */
    int tx_ops;                 /* callers released into the open batch */
    struct pc_tx_waiter *tx_waiters;    /* those of them waiting for its end */
    pthread_mutex_t tx_done_mu; /* guards the waiters' done flags */
    pthread_cond_t tx_done_cv;
    long tx_commits, tx_ops_total;
    pthread_key_t key;          /* this thread's read connection */
    /* the checkpointer (pc_store_ckpt.c) */
    int ckpt_frames;
    struct pc_conn *ckpt_conn;
    pthread_t ckpt_thread;
    bool ckpt_running, ckpt_wanted, ckpt_stop;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    pthread_mutex_t ckpt_run_mu;    /* held while either side checkpoints */
    long ckpt_runs;
    int ckpt_copied;            /* frames the last checkpoint had copied */
};

struct pc_conn *pc__conn_open(pc_store *s);
void pc__conn_free(struct pc_conn *c);
/* Starts the checkpointer once the writer is open; stop is safe after a
 * failed or no start. */
int pc__ckpt_start(pc_store *s);
void pc__ckpt_stop(pc_store *s);

/* The connection for this thread: the writer while the thread holds the
 * write transaction (so reads inside it see its own writes), else the
 * thread's own read connection. */
struct pc_conn *pc__conn(pc_store *s);
sqlite3_stmt *pc__stmt(struct pc_conn *c, const char *sql);
/* Prepared (cached) and bound; step it, then sqlite3_reset. NULL on error. */
sqlite3_stmt *pc__query(struct pc_conn *c, const char *sql, const char *types, ...);
/* The due-work query of a reconciler or sender partition: sql takes
 * (now_ms, parts, part, max) in that order. NULL on error. */
sqlite3_stmt *pc__due_query(pc_store *s, const char *sql, int64_t now_ms, int part, int parts,
                            size_t max);
/* Resets st after a row loop that stopped at step; PD_OK or PD_EIO. */
int pc__rows_end(sqlite3_stmt *st, int step);
/* Runs a statement without rows. PD_ECONFLICT on a constraint violation. */
int pc__exec(struct pc_conn *c, int *out_changes, const char *sql, const char *types, ...);
int pc__vexec(struct pc_conn *c, int *out_changes, const char *sql, const char *types,
              va_list ap);
void pc__col_text(sqlite3_stmt *st, int col, char *out, size_t out_len);

/* Write transactions (pc_store_tx.c), committed in groups: pc__begin
 * takes the writer; pc__commit returns once the caller's writes are
 * committed (PD_OK) or lost with their batch (PD_EIO). pc__rollback undoes
 * the caller's writes only and returns rc, once the earlier writes it
 * could read are committed, or PD_EIO when they were lost: use it as
 * `return pc__rollback(s, c, rc);`. */
int pc__begin(pc_store *s, struct pc_conn **out);
int pc__commit(pc_store *s, struct pc_conn *c);
int pc__rollback(pc_store *s, struct pc_conn *c, int rc);
/* Ends the caller's transaction by rc: pc__commit when PD_OK, else
 * pc__rollback(s, c, rc). */
int pc__end(pc_store *s, struct pc_conn *c, int rc);
/* True while this thread holds s's write transaction. */
bool pc__in_tx(const pc_store *s);

int pc__load_order(struct pc_conn *c, const char *order_id, struct pc_order *out);
int pc__transition(struct pc_conn *c, struct pc_order *o, int to, int cause, int64_t now_ms);
int pc__outbox_insert(struct pc_conn *c, struct pc_order *o, int64_t now_ms);

/* The order and state of a trade. PD_ENOTFOUND for an unknown number. */
int pc__trade_order(struct pc_conn *c, const char *out_trade_no, char *order_id,
                    char *state, size_t state_len);
/* Sets a trade's state when its current state is in only_if ("|A|B|", NULL
 * = always); trade_no NULL keeps the old one. */
int pc__set_trade_state(struct pc_conn *c, const char *out_trade_no, const char *state,
                        const char *only_if, const char *trade_no, int64_t now_ms);

#endif
