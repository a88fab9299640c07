/* gw_journal.h -- the append-only NDJSON journal: one line per request
 * received and per callback delivery, with the fault applied.
 *
 * It lives in data-dir/journal.ndjson and survives restarts: seq goes on
 * from the last line found at open. Each line is written with one write()
 * under a mutex, so a reader of the file sees whole lines in seq order. */
#ifndef GW_JOURNAL_H
#define GW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_journal gw_journal;

struct gw_jentry {
    int64_t at;                /* simulated ms */
    const char *op;            /* create, query, close, refund, pay, callback, admin */
    const char *out_trade_no;  /* may be NULL */
    const char *key;           /* attach or out_trade_no; may be NULL */
    uint64_t attempt;          /* occurrence or callback attempt (from 1); 0 when none */
    const char *fault;         /* NULL = none */
    int status;                /* HTTP status returned or received; 0 when none */
    const char *detail;        /* may be NULL */
};

/* Opens (creating) dir/journal.ndjson; a torn last line from a crash is cut.
 * Returns 0 or PD_EIO / PD_ENOMEM. */
int gw_journal_open(const char *dir, gw_journal **out);
void gw_journal_close(gw_journal *j);   /* NULL is a no-op */

/* Appends one line. Returns 0 or PD_EIO. Thread-safe. */
int gw_journal_append(gw_journal *j, const struct gw_jentry *e);

/* Appends n lines (consecutive seqs) with one write(): the group commit's
 * lines. Returns 0 or PD_EIO. Thread-safe. */
int gw_journal_append_many(gw_journal *j, const struct gw_jentry *e, size_t n);

/* Empties the journal (POST /sim/reset); seq starts again at 1. */
int gw_journal_reset(gw_journal *j);

/* The file's path (borrowed) and its current size in bytes (whole lines). */
const char *gw_journal_path(const gw_journal *j);
int64_t gw_journal_size(gw_journal *j);

/* Lines written since start (for /metrics). */
uint64_t gw_journal_seq(gw_journal *j);

#endif
