/* check_model.h -- the checker's compact, indexed copy of G, P and B
 * (internal to the checker).
 *
 * The inputs may hold 100,000 orders, so the checker never keeps them as
 * cJSON trees: each record is parsed from one small cJSON element, checked,
 * and copied into fixed structs whose strings are interned (an
 * out_trade_no or a workload key met twenty times is stored once). A record
 * names a string by a 4-byte id (sim_sid) into the model's string chunks,
 * not by an 8-byte pointer; equal strings have equal ids (except the
 * gateway's trade_no, only ever printed, which skips the intern table),
 * and maps are keyed by id. All memory of a model is freed at once. */
#ifndef SIM_CHECK_MODEL_H
#define SIM_CHECK_MODEL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "pd_arena.h"
#include "pd_json.h"
#include "sim_expect.h"

#define SIM_NONE (-1)          /* "no index" */
#define SIM_NO_TIME INT64_MIN  /* a null time */

enum sim_status {
    SIM_ST_NULL = 0, SIM_ST_UNPAID, SIM_ST_PAYING, SIM_ST_UNKNOWN,
    SIM_ST_PAID, SIM_ST_CLOSED, SIM_ST_OTHER
};

/* A string of the model: 0 is "none" (JSON null or absent), else
 * chunk << 16 | offset into struct sim_strs. Interned: equal ids, equal
 * strings. sim__s turns it into a pointer that stays valid until the model
 * is freed (chunks never move), so equal ids also give equal pointers. */
typedef uint32_t sim_sid;

#define SIM_STR_CHUNK 65536u   /* bytes a chunk; a string (4 KiB at most) never spans two */

/* The model's strings, packed end to end (no alignment) in fixed chunks. */
struct sim_strs {
    char **chunks;
    uint32_t n, cap;    /* chunks in use, slots in chunks */
    uint32_t used;      /* bytes used in chunks[n - 1] */
};

/* Open addressing over ids (0 = empty slot): 4 bytes a slot. */
struct sim_intern {
    sim_sid *slots;
    size_t cap, n;
};

/* String id -> int32 index, 8 bytes a slot. */
struct sim_map_slot { sim_sid key; int32_t val; };
struct sim_map {
    struct sim_map_slot *slots;
    size_t cap, n;
};

struct sim_charge { int64_t at, amount; };
struct sim_grefund { int64_t amount, at; sim_sid out_refund_no; };

/* Record fields are ordered widest first so the structs carry no padding
 * between members. Fields that no check, report or journal line reads
 * (merchant_id, user_id, expires_at, the journal's and the submissions'
 * seq, a trade's pay_refused and callbacks.acked_at) are type-checked by
 * the adders but not kept. */
struct sim_gtrade {
    int64_t amount, created_at, closed_at, refunded_amount, cb_attempts;
    struct sim_charge *charges;
    struct sim_grefund *refunds;
    sim_sid out_trade_no, trade_no, attach, currency, state;   /* trade_no: not interned */
    uint32_t n_charges, n_refunds;
    int32_t order;          /* owning P order, SIM_NONE when none */
    int32_t next_of_order;  /* next G trade of the same order */
    uint32_t n_callbacks, n_queries;   /* gateway journal lines */
    uint32_t n_close_ok;    /* closes the gateway answered 200 (journal) */
    bool cb_acked, cb_gave_up, cb_pending;
};

struct sim_hist { int64_t at; sim_sid from, to, cause; uint8_t from_st, to_st; };
struct sim_ptrade { int64_t attempt, created_at; sim_sid out_trade_no, state; };
struct sim_prefund {
    int64_t amount, at;
    sim_sid out_refund_no, out_trade_no, status, reason;
};
struct sim_pnotif {
    int64_t seq, attempts, delivered_at, last_http_status;
    sim_sid event_id, status;
};

struct sim_porder {
    int64_t amount, created_at;
    struct sim_hist *hist;
    struct sim_ptrade *trades;
    struct sim_prefund *refunds;
    struct sim_pnotif *notifs;
    sim_sid order_id, client_ref, currency, status;
    uint32_t n_hist, n_trades, n_refunds, n_notifs;
    int32_t first_trade;     /* first G trade owned (chain via next_of_order) */
    int32_t first_receipt;   /* first B receipt (chain via next_of_order) */
    int32_t submission;      /* B submission that created it, SIM_NONE */
    uint8_t status_st;
};

struct sim_receipt {
    int64_t at, seq, amount, answered;
    sim_sid event_id, order_id, status, currency, client_ref;
    int32_t next_of_order;
    bool signature_ok, applied;
};

struct sim_submission {
    int64_t at, status, amount;
    sim_sid key, kind, original_key, order_id, error, client_ref, currency;
    bool retried;           /* resent after no answer: at is the first try */
};

struct sim_paycall { int64_t at, status; sim_sid key, order_id, out_trade_no, body_status; };
struct sim_payer { int64_t at, status; sim_sid key, out_trade_no, action, code; };

/* A gateway journal line kept whole: every line with a fault (the checks,
 * the evidence and the fault plan read those), and every line that cannot
 * be read again from a file (the documents path, files past 4 GiB). */
struct sim_gjline {
    int64_t at, attempt, status;
    sim_sid op, out_trade_no, key, fault, detail;
};

/* Every gateway journal line, in the journal's order. A line without a
 * fault is not kept whole: only the merged journal prints its op, status,
 * attempt and detail (the detail is free text, different on nearly every
 * line), so the merge reads them again from byte line_at of m->gj_file,
 * and the counts that come from such lines (a trade's callbacks, queries
 * and closes, m->gj_callbacks) are taken while loading. */
#define SIM_GJ_WHOLE UINT32_MAX   /* line_at of a line kept whole */
struct sim_gjref {
    int64_t at;
    uint32_t line_at;           /* where the line starts in m->gj_file, or SIM_GJ_WHOLE */
    sim_sid out_trade_no, key;
    union {
        int32_t whole;          /* line_at SIM_GJ_WHOLE: its index in m->gjx */
        uint32_t hash;          /* else: its bytes' hash, to find it unchanged */
    };
};

struct sim_pevent { int64_t at; sim_sid target, action, detail; };

/* The business app asking the SUT about a late order. */
struct sim_bquery { int64_t at, status; sim_sid key, order_id, body_status; };

struct sim_run_info {
    const char *name, *description, *file, *started_at, *replay;
    int64_t duration_ms, sim_started_at, sim_finished_at;
    double seed, time_scale;      /* numbers as run.json has them */
    int64_t quiet_at, faults_healed_at, convergence_bound_ms, dedup_window_ms;
    bool quiet;
    bool biz_forever;       /* a business fault never heals (scenario.json) */
    cJSON *sut;             /* a copy of run.json's "sut" (owned), or NULL */
};

#define SIM_VEC(type) struct { type *v; size_t n, cap; }

struct sim_model {
    struct pd_arena arena;      /* record arrays (an order's history...) */
    struct sim_strs strs;
    struct sim_intern intern;
    struct sim_run_info run;
    char *gj_file;              /* the gateway journal that lines are read again from (owned) */
    int64_t gj_callbacks;       /* callback lines not kept whole */
    SIM_VEC(struct sim_gtrade) trades;
    SIM_VEC(struct sim_porder) orders;
    SIM_VEC(struct sim_receipt) receipts;
    SIM_VEC(struct sim_submission) subs;
    SIM_VEC(struct sim_paycall) paycalls;
    SIM_VEC(struct sim_payer) payer;
    SIM_VEC(struct sim_gjref) gj;
    SIM_VEC(struct sim_gjline) gjx;
    SIM_VEC(struct sim_pevent) pevents;
    SIM_VEC(struct sim_bquery) bqueries;
    struct sim_map trade_by_otn;      /* G out_trade_no -> trade */
    struct sim_map order_by_id;       /* P order_id -> order */
    struct sim_map order_by_ref;      /* P client_ref -> order */
    struct sim_map ptrade_owner;      /* out_trade_no listed in P -> order */
    struct sim_map sub_original;      /* workload key -> its original submission */
    struct sim_expect expect[SIM_MAX_EXPECT];   /* scenario.json's expectations */
    size_t n_expect;
    int64_t expect_gateway_seen[SIM_MAX_EXPECT];   /* journal lines each gateway one matched */
    bool have_scenario, have_run, have_ledger, have_journal, have_export, have_business;
    bool sealed;            /* linked: read-only, no intern table (sim__model_link) */
};

/* ---- memory ---- */
void *sim__arena_alloc(struct pd_arena *a, size_t n);   /* 8-aligned, zeroed; NULL on OOM */
/* Interns s (NULL -> 0). Returns 0 and sets *oom on OOM (or past 4 GiB
 * of strings) when s != NULL: callers check with the *oom flag pattern. */
sim_sid sim__intern(struct sim_model *m, const char *s, bool *oom);
/* The id of s, or 0 when s was never interned (or the model is sealed). */
sim_sid sim__intern_find(const struct sim_model *m, const char *s);

/* The string of id (borrowed, valid until sim__model_free), NULL for 0. */
static inline const char *sim__s(const struct sim_model *m, sim_sid id)
{
    return id == 0 ? NULL : m->strs.chunks[id >> 16] + (id & 0xffffu);
}

/* The string of id for a printf %s: "(null)" for 0, the text glibc
 * prints for a NULL pointer, which is what such a field used to print. */
static inline const char *sim__sp(const struct sim_model *m, sim_sid id)
{
    return id == 0 ? "(null)" : sim__s(m, id);
}

/* True when the string of id equals s (both may be NULL). */
bool sim__s_eq(const struct sim_model *m, sim_sid id, const char *s);

int sim__map_put(struct sim_map *map, sim_sid key, int32_t val);   /* keeps the first */
/* Sets key to val, replacing any earlier value. Key 0 is never stored. */
int sim__map_set(struct sim_map *map, sim_sid key, int32_t val);
int32_t sim__map_get(const struct sim_map *map, sim_sid key);      /* SIM_NONE */
void sim__map_free(struct sim_map *map);
int sim__vec_grow(void **v, size_t *cap, size_t n, size_t elem);

uint8_t sim__status_of(const char *s);

/* ---- building ---- */
void sim__model_init(struct sim_model *m);
void sim__model_free(struct sim_model *m);

/* Each adder parses one element (path names it in errors, e.g.
 * "trades[3]"), copies it into the model and returns 0, PD_EINVAL (err set)
 * or PD_ENOMEM. None keeps a pointer into the element. */
int sim__add_scenario(struct sim_model *m, const cJSON *doc, struct pd_json_err *err);
int sim__add_run(struct sim_model *m, const cJSON *doc, struct pd_json_err *err);
int sim__add_trade(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_order(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_receipt(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_submission(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_paycall(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_payer(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_bquery(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
int sim__add_gjline(struct sim_model *m, const cJSON *el, const char *path, struct pd_json_err *err);
/* sim__add_gjline for the line starting at byte line_at of the journal file
 * (m->gj_file), whose bytes hash to line_hash (the low 32 bits of
 * pd_hash_bytes): it may be left there (struct sim_gjref). line_at -1:
 * keep it whole. */
int sim__add_gjline_at(struct sim_model *m, const cJSON *el, const char *path, int64_t line_at,
                       uint32_t line_hash, struct pd_json_err *err);

/* A gateway journal line's fields as read and checked by the adders (the
 * strings point into the element). */
struct sim_gjtext {
    int64_t at, attempt, status;
    const char *op, *out_trade_no, *key, *fault, *detail;
};

/* Reads and checks a gateway journal line: sim__add_gjline_at's reader, and
 * the merge's when it reads a line left in the file again. Returns 0 or
 * PD_EINVAL (err names path and field). */
int sim__read_gjline(const cJSON *el, const char *path, struct sim_gjtext *out,
                     struct pd_json_err *err);

/* Tests set it to keep every gateway line whole, to compare the outputs. */
extern bool sim__gj_keep_whole;

/* Trims every record vector to its length (a file's records are all in:
 * its vectors need not keep their doubling slack while the next loads). */
void sim__model_trim(struct sim_model *m);

/* Links everything once all records are in. First seals the model
 * (vectors trimmed to their length, the intern table freed; no adder may
 * run after it, asserted), then builds the maps only the link and the
 * checks read (order_by_ref, ptrade_owner, sub_original), then links G
 * trades to P orders, B receipts and submissions to orders, journal lines
 * to trades. Returns 0 or PD_ENOMEM. */
int sim__model_link(struct sim_model *m);

#endif
