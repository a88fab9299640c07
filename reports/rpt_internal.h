/* rpt_internal.h -- what the report writer modules share (prefix rpt__).
 * Not a public API; unit tests include it to prove the escapers. */
#ifndef RPT_INTERNAL_H
#define RPT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_arena.h"
#include "pd_buf.h"

#define RPT_REPORT_MAX_BYTES ((size_t)256 << 20)   /* report.json */
#define RPT_JOURNAL_MAX_BYTES ((size_t)768 << 20)  /* journal.ndjson */
#define RPT_JOURNAL_LINE_MAX 65536                 /* one journal event */
#define RPT_DETAIL_MAX_BYTES 400     /* a journal detail kept in report.html */
#define RPT_VIOL_HTML_MAX 200        /* violations rendered with evidence */
#define RPT_VIOL_JUNIT_MAX 25        /* evidence blocks per <failure> text */
#define RPT_MSG_ORDERS_MAX 10        /* orders named in a failure message */
#define RPT_EVIDENCE_MAX_BYTES 16384 /* one violation's evidence as text */

#define RPT_OUT_FLUSH_BYTES 65536  /* a streamed output's buffer */

struct pd_afile;

/* An output buffer with a sticky error: after the first failed append the
 * others do nothing and rc keeps the first error, so writers check once.
 * Opened on a file (rpt__out_open), it holds at most RPT_OUT_FLUSH_BYTES
 * and streams the rest, so a large report.html never sits in memory. */
struct rpt__out {
    struct pd_buf buf;
    int rc;
    struct pd_afile *file;   /* the streamed output's temp file, or NULL */
    bool no_lt;              /* while set, a '<' in an append is PD_EPROTO */
};

void rpt__out_init(struct rpt__out *o);
/* Streams o to dir/name from now on; rpt__save(o, dir, name) commits it.
 * When the temp file cannot be made o stays a plain buffer, and
 * rpt__save reports the problem as it would have. */
void rpt__out_open(struct rpt__out *o, const char *dir, const char *name);
/* Writes what a streamed o still buffers and renames its temp file into
 * place; on an error (o's or the file's) removes it. Returns 0, o->rc or
 * PD_EIO. rpt__save calls it. */
int rpt__out_commit(struct rpt__out *o);
/* Frees the buffer; an uncommitted streamed output's temp file is removed. */
void rpt__out_release(struct rpt__out *o);
void rpt__putn(struct rpt__out *o, const char *s, size_t n);
void rpt__puts(struct rpt__out *o, const char *s);
void rpt__printf(struct rpt__out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* HTML text or attribute value: & < > " ' become entities; invalid UTF-8
 * becomes U+FFFD. NULL writes nothing. */
void rpt__html(struct rpt__out *o, const char *s);
/* XML 1.0 text: & < > " ' escaped, characters XML 1.0 forbids (control
 * characters, U+FFFE/FFFF) dropped, invalid UTF-8 becomes U+FFFD. In an
 * attribute (attr true) tab, CR and LF are written as character references
 * so attribute normalisation keeps them. */
void rpt__xml(struct rpt__out *o, const char *s, bool attr);
/* A JSON string literal, quotes included, safe inside an HTML <script>:
 * < > & and U+2028/2029 are \u escapes, control characters \u escapes,
 * invalid UTF-8 becomes \ufffd. NULL writes null. */
void rpt__json_str(struct rpt__out *o, const char *s);
/* A path for an href: each byte outside [A-Za-z0-9-._~/] is %XX. */
void rpt__url_path(struct rpt__out *o, const char *s);

/* Decodes one UTF-8 code point at s (n bytes left). Returns its length
 * (1..4) and *cp, or 1 with *cp = 0xFFFD for an invalid sequence. */
size_t rpt__utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* Interned strings: each distinct string gets a stable index from 0. The
 * bytes sit end to end in chunks (a journal has ~10 distinct strings per
 * order; one malloc each cost a third more), never moved: strs[i] stays
 * valid until release. */
struct rpt__strtab {
    char **strs;
    size_t n, cap;
    uint32_t *slots;   /* open addressing: index + 1, 0 = empty */
    size_t nslots;
    struct pd_arena bytes;   /* the strings */
};

void rpt__strtab_init(struct rpt__strtab *t);
void rpt__strtab_release(struct rpt__strtab *t);
/* Finds s or adds a copy. Returns 0 with *idx, or PD_ENOMEM. */
int rpt__strtab_add(struct rpt__strtab *t, const char *s, size_t *idx);
/* Index of s, or -1. */
long rpt__strtab_find(const struct rpt__strtab *t, const char *s);

/* Journal details as templates (rpt_detail.c): the values an event's
 * detail most often repeats, replaced by two-byte codes ~k, ~o, ~t, ~a, ~g
 * in this order. */
enum { RPT_TMPL_KEY, RPT_TMPL_ORDER, RPT_TMPL_OTN, RPT_TMPL_AMOUNT, RPT_TMPL_TRADE, RPT_TMPL_N };
/* Room for the template of a detail cut at RPT_DETAIL_MAX_BYTES. */
#define RPT_TMPL_MAX_BYTES (2 * RPT_DETAIL_MAX_BYTES + 1)
/* Room for an amount in decimal: an int64, its sign and the NUL. */
#define RPT_AMOUNT_CHARS 24

/* Writes s into out[out_len] with each occurrence of vals[RPT_TMPL_KEY],
 * vals[RPT_TMPL_ORDER], vals[RPT_TMPL_OTN], vals[RPT_TMPL_AMOUNT] and
 * vals[RPT_TMPL_TRADE] (the order's key, order_id and amount, the event's
 * out_trade_no and its trade_no; NULL, "" or not valid UTF-8 = not
 * replaced) as ~k, ~o, ~t, ~a and ~g, the longest first where they
 * overlap, and every other ~ as ~~. The amount and the trade_no are
 * replaced only as whole tokens: not where the byte before or after is an
 * ASCII letter or digit. Returns 0, or PD_ETOOBIG when out is too small. */
int rpt__detail_template(const char *s, const char *const vals[RPT_TMPL_N], char *out,
                         size_t out_len);
/* The inverse: ~k, ~o, ~t, ~a, ~g become vals (NULL as ""), ~~ a ~, any
 * other ~ stays as written. Returns 0, or PD_ETOOBIG when out is too small. */
int rpt__detail_expand(const char *tmpl, const char *const vals[RPT_TMPL_N], char *out,
                       size_t out_len);

/* Records the message rpt_last_error() returns and returns rc. */
int rpt__fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* rpt__fail without the log line, for an error already logged where it
 * happened (a run's report.json that the suite index could not read). */
int rpt__fail_quiet(int rc, const char *msg);
void rpt__clear_error(void);

/* ---- report.json, validated ---- */

struct rpt__inv {
    const char *name;
    bool holds;
    int64_t checked, violations;
};

struct rpt__viol {
    const char *invariant, *order, *key, *summary;
    const cJSON *evidence;   /* object or NULL */
    const cJSON *faults;     /* array of strings or NULL */
    long order_idx;          /* into orders, -1 when not listed */
};

/* An element of report.json's optional expectations: a condition on the
 * run that shows the scenario's story happened (sim/sim_expect.h). */
struct rpt__expect {
    const char *what;        /* "gateway op=close status=409 detail~ORDERPAID" */
    const char *why;         /* expect.why, or NULL when not given */
    const cJSON *expect;     /* the scenario's entry (an object) */
    int64_t seen, at_least;
    bool met;
};

/* A row of report.json's orders, owned by the report (not by root): the
 * names sit in order_ix and names, a non-empty faults list in kept. */
struct rpt__order {
    const char *key, *order_id, *status, *currency;
    int64_t amount, charges, callbacks, queries, notifications;
    const cJSON *faults;     /* non-empty array of strings, or NULL */
};

/* The template values of an event's detail (rpt__detail_template):
 *   ord       its order: key, order_id and amount (none when NULL)
 *   otn       its out_trade_no, or NULL
 *   trade_no  the gateway's trade_no of otn, or NULL
 *   amount    where the amount is written in decimal; it is left out when
 *             |amount| >= 2^53 (report.js reads it as a double)
 * vals points into ord, otn, trade_no and amount. */
void rpt__detail_vals(const struct rpt__order *ord, const char *otn, const char *trade_no,
                      char amount[RPT_AMOUNT_CHARS], const char *vals[RPT_TMPL_N]);

struct rpt__count {
    const char *name;
    int64_t value;
};

#define RPT_COUNTS_MAX 32

struct rpt__report {
    cJSON *root;                     /* owns the const char *s below, orders' aside */
    const char *scenario, *description, *scenario_file, *verdict, *replay;
    const char *started_at, *sut_kind, *sut_target, *journal_name;
    char seed[32];
    int64_t time_scale, duration_ms, sim_started_at, sim_finished_at;
    struct rpt__count counts[RPT_COUNTS_MAX];
    size_t n_counts;
    struct rpt__inv *invs;
    size_t n_invs;
    struct rpt__viol *viols;
    size_t n_viols;
    struct rpt__expect *expects;     /* none when report.json has no expectations */
    size_t n_expects;
    struct rpt__order *orders;
    size_t n_orders;
    const cJSON *fault_plan;         /* object or NULL */
    bool fault_plan_reproducible, has_reproducible;
    struct rpt__strtab order_ix;     /* order ids and keys */
    long *order_ix_map;              /* order_ix index -> orders index */
    struct rpt__strtab names;        /* orders' statuses and currencies */
    cJSON *kept;                     /* orders' faults lists, detached from root */
};

/* A byte range of a text. */
struct rpt__span {
    size_t at, len;
};

/* Finds, in report.json's text, the value of the root object's first
 * "orders" member when it is written plainly and is an array: *out spans
 * it from '[' to ']'. false when there is none or the text around it does
 * not scan cleanly; the caller then parses the whole text. */
bool rpt__orders_span(const char *text, size_t len, struct rpt__span *out);
/* Walks the elements of the array that arr spans; *pos starts at
 * arr.at + 1. Returns 1 with the next element in *elem (blanks trimmed),
 * 0 at the end, -1 where the text holds no element (an empty one, a stray
 * bracket), with *pos there. cJSON still validates each element. */
int rpt__array_next(const char *text, struct rpt__span arr, size_t *pos, struct rpt__span *elem);

/* Reads and validates run_dir/report.json. On failure nothing is kept and
 * rpt_last_error() names the file and the field. */
int rpt__report_load(const char *run_dir, struct rpt__report *out);
void rpt__report_release(struct rpt__report *r);
/* The orders index whose order_id or key is s, or -1. */
long rpt__order_find(const struct rpt__report *r, const char *s);
/* How many of r's expectations are not met. */
size_t rpt__unmet_expectations(const struct rpt__report *r);
/* Count by name, or -1 when report.json has none. */
int64_t rpt__count(const struct rpt__report *r, const char *name);

/* ---- journal.ndjson ---- */

enum { RPT_LANE_BUSINESS = 0, RPT_LANE_SUT = 1, RPT_LANE_GATEWAY = 2 };

/* Kinds and faults share the journal's names table; an event holds their
 * index + 1 in 14 and 16 bits. A journal with more distinct names is
 * refused (PD_ETOOBIG): paydrill's own have ~10 kinds and ~30 faults. */
#define RPT_NAMES_MAX 16383

struct rpt__event {        /* 24 bytes: a journal has ~13 per order */
    int64_t t;
    int32_t order;           /* index into report orders, -1 = no order */
    uint32_t detail, otn;    /* strs index + 1, 0 = none; detail a template */
    unsigned kind : 14;      /* names index + 1 */
    unsigned lane : 2;
    unsigned fault : 16;     /* names index + 1, 0 = none */
};

struct rpt__journal {
    struct rpt__event *ev;
    size_t n, cap;
    struct rpt__strtab names;   /* kinds and faults, at most RPT_NAMES_MAX */
    struct rpt__strtab strs;    /* details (templates), out_trade_nos, trade_nos */
    /* strs index of an out_trade_no -> strs index + 1 of its trade_no (0 =
     * none), as the first event naming both gave it; n_trade_of entries.
     * Beside the events rather than in them: ~13 events share one. */
    uint32_t *trade_of;
    size_t n_trade_of;
};

/* Reads the journal and ties each event to an order of r by key, then by
 * order_id. Errors name the file and the line. */
int rpt__journal_load(const char *path, const struct rpt__report *r,
                      struct rpt__journal *out);
void rpt__journal_release(struct rpt__journal *j);
/* The trade_no recorded for out_trade_no otn (strs index + 1; 0 = none),
 * or NULL. Borrowed from j. */
const char *rpt__journal_trade_no(const struct rpt__journal *j, uint32_t otn);
/* The template values of ev's detail, as rpt__detail_vals; ev has an
 * order or not. */
void rpt__event_vals(const struct rpt__report *r, const struct rpt__journal *j,
                     const struct rpt__event *ev, char amount[RPT_AMOUNT_CHARS],
                     const char *vals[RPT_TMPL_N]);

/* ---- writers ---- */

/* "callback.drop attempt 3" -> 3 with *prefix_len the length of
 * "callback.drop"; -1 (and the whole length) without such a suffix. */
long rpt__attempt_suffix(const char *s, size_t *prefix_len);
/* Attempt numbers as ranges: "1\u201316", "1, 3\u20135". */
void rpt__ranges(struct rpt__out *o, const long *v, size_t n);
/* Groups an array of fault strings by prefix (see rpt_group.c). */
void rpt__fault_groups(struct rpt__out *o, const cJSON *arr,
                       void (*emit)(struct rpt__out *o, const char *s, size_t len,
                                    const long *attempts, size_t n));

/* A violation's evidence pretty-printed, cut at RPT_EVIDENCE_MAX_BYTES
 * with a note. Caller frees; NULL when out of memory. */
char *rpt__evidence_text(const cJSON *evidence);
/* The fault plan entries for a violation's key (an array), or NULL. */
const cJSON *rpt__plan_for(const struct rpt__report *r, const struct rpt__viol *v);

/* One <testsuite> element for a run; id >= 0 indents it for a
 * <testsuites> and sets its id. Adds its test and failure counts to
 * *tests and *failures (either may be NULL). */
void rpt__junit_suite(struct rpt__out *o, const struct rpt__report *r, int id,
                      size_t *tests, size_t *failures);
/* The whole report.html. */
void rpt__html_report(struct rpt__out *o, const struct rpt__report *r,
                      const struct rpt__journal *j);
/* The JSON data block of report.html (docs/reports.md "Embedded data"). */
void rpt__html_embed(struct rpt__out *o, const struct rpt__report *r,
                     const struct rpt__journal *j);
/* The inline SVG histograms and the fault coverage table. */
void rpt__html_histograms(struct rpt__out *o, const struct rpt__report *r,
                          const struct rpt__journal *j);
void rpt__html_coverage(struct rpt__out *o, const struct rpt__report *r);
/* The shared page head (inline CSS) up to and including <body>. */
void rpt__html_head(struct rpt__out *o, const char *title);

/* Joins dir and name into out[out_len]; PD_ETOOBIG when it does not fit. */
int rpt__path(char *out, size_t out_len, const char *dir, const char *name);
/* Writes o's bytes to dir/name atomically (a streamed o: commits its temp
 * file), or reports o's error. */
int rpt__save(struct rpt__out *o, const char *dir, const char *name);

#endif
