/* pc_store_internal.h -- what the pc_store_*.c files share: the per-thread
 * connection, its statement cache, and the transaction helpers. */
#ifndef PC_STORE_INTERNAL_H
#define PC_STORE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
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
    pthread_mutex_t write_mu;   /* held by the combiner while it uses the writer */
    struct pc_conn *writer;     /* every write transaction runs here */
    /* write transactions (pc_store_tx.c): requests pushed here, a LIFO
     * stack (atomic); tx_combining is true while a thread runs them */
    struct pc_tx_req *tx_head;
    bool tx_combining;
    long tx_commits;            /* written under write_mu, read atomically */
    long tx_ops_total;          /* under write_mu */
    pc_event_hook event_hook;   /* set before any write (pc_store_set_event_hook) */
    void *event_ctx;
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
    long refunds_added;         /* atomic: pc_store_refunds_added */
};

struct pc_conn *pc__conn_open(pc_store *s);
void pc__conn_free(struct pc_conn *c);
/* Starts the checkpointer once the writer is open; stop is safe after a
 * failed or no start. */
int pc__ckpt_start(pc_store *s);
void pc__ckpt_stop(pc_store *s);

/* The connection for this thread: the writer while the thread runs a
 * write transaction's closure (so reads inside it see the batch's writes),
 * else the thread's own read connection. */
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
void pc__col_text(sqlite3_stmt *st, int col, char *out, size_t out_len);

/* A write transaction (pc_store_tx.c): fn(c, arg, &undo) runs on the
 * writer connection c, on whichever thread is combining, inside a
 * SAVEPOINT of a batch transaction shared with other callers; its writes
 * are rolled back to the savepoint when it returns other than PD_OK or
 * sets *undo. pc__tx returns once the batch is ended: fn's rc when the
 * batch was committed, else PD_EIO (nothing of the batch is there). fn
 * must not call pc__tx (asserted: it would wait for itself) nor keep
 * pointers to c. */
typedef int (*pc_tx_fn)(struct pc_conn *c, void *arg, bool *undo);
int pc__tx(pc_store *s, pc_tx_fn fn, void *arg);

/* A caller's request, on its stack while it waits (here for the tests,
 * which count the queue: the requests pushed from s->tx_head on). */
enum { PC_TX_WAIT, PC_TX_DONE, PC_TX_COMBINE };
struct pc_tx_req {
    struct pc_tx_req *next;     /* on the stack: pushed before; in a queue: runs after */
    pc_tx_fn fn;
    void *arg;
    int rc;                     /* fn's, then the caller's answer */
    int state;                  /* PC_TX_*: set (atomic) before each post of sem */
    sem_t sem;
    struct pc_event_new *events;    /* outbox rows fn added (pc__tx_event) */
    bool events_lost;               /* one could not be noted (out of memory) */
};
/* Notes an outbox row the running closure added: handed to the store's
 * event hook once its transaction committed, dropped if it is undone.
 * Nothing outside a closure or without a hook. Out of memory, the hook is
 * told so (NULL) instead: the row is committed all the same. */
void pc__tx_event(int64_t seq, int64_t shard, const char *event_id, const char *payload);
/* True while this thread runs a closure of s's write transactions. */
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
