/* gw_faults.h -- fault rules: the JSON document, its strict parser, and the
 * seeded matcher.
 *
 * A rules document is {"rules": [rule, ...]} (docs/fault-rules.md, schema in
 * docs/fault-rules.schema.json). Every decision a rule takes for an order is
 * a pure function of (seed, order key, decision kind, attempt) through
 * pd_draw_*, so one seed gives every order the same faults whatever the
 * thread timing or the concurrency. The order key is the trade's attach when
 * present, else its out_trade_no. */
#ifndef GW_FAULTS_H
#define GW_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_json.h"

#define GW_RULES_MAX 256          /* rules in one document */
#define GW_RULE_NAMES_MAX 4096    /* out_trade_no or keys listed in one selector */
#define GW_RULE_NTH_MAX 32        /* ranges in one nth selector */
#define GW_RULES_DOC_MAX (1u << 20) /* bytes of a rules document */
#define GW_ERROR_BODY_MAX 4096    /* bytes of an error action's body */

enum gw_op {
    GW_OP_CREATE = 0,
    GW_OP_QUERY,
    GW_OP_CLOSE,
    GW_OP_REFUND,
    GW_OP_PAY,
    GW_OP_CALLBACK,
    GW_OP_COUNT
};

/* "create", "query", ... ; never NULL. */
const char *gw_op_name(enum gw_op op);

enum gw_act {
    GW_ACT_NONE = 0,
    /* callback actions */
    GW_ACT_DROP,
    GW_ACT_DELAY,
    GW_ACT_DUPLICATE,
    GW_ACT_REORDER,
    GW_ACT_STALE,
    GW_ACT_FORGE,
    /* create / query / close / refund / pay actions */
    GW_ACT_ERROR,
    GW_ACT_HANG,
    GW_ACT_COMMIT_DROP,
    GW_ACT_STALE_QUERY,
    GW_ACT_RATE_LIMIT,
    GW_ACT_SLOW,
    GW_ACT_FAKE_SUCCESS,       /* close only: answers CLOSED, the trade stays open */
    GW_ACT_COUNT
};

/* "drop", "commit_drop", ... ; never NULL. */
const char *gw_act_name(enum gw_act act);

enum gw_forge {
    GW_FORGE_BAD_SIGNATURE = 0,
    GW_FORGE_STALE_TIMESTAMP,
    GW_FORGE_REPLAY,
    GW_FORGE_WRONG_AMOUNT,
    GW_FORGE_UNKNOWN_TRADE,
    GW_FORGE_OTHER_MERCHANT,
    GW_FORGE_COUNT
};

/* "bad_signature", ... ; never NULL. */
const char *gw_forge_name(enum gw_forge kind);

enum gw_dist_kind { GW_DIST_FIXED = 0, GW_DIST_UNIFORM, GW_DIST_LOGNORMAL };

/* A duration drawn per decision: fixed, uniform [lo, hi], or lognormal. */
struct gw_dist {
    enum gw_dist_kind kind;
    int64_t fixed_ms;
    int64_t lo_ms, hi_ms;
    double median_ms, sigma;
};

struct gw_action {
    enum gw_act type;
    struct gw_dist dist;       /* delay, slow, hang, commit_drop (hang time), stale/forge "after" */
    int copies;                /* duplicate: deliveries in total for the attempt */
    bool concurrent;           /* duplicate: all at once rather than one after another */
    int after;                 /* reorder: release after this many later callbacks */
    int64_t hold_ms;           /* reorder: longest hold */
    char state[16];            /* stale: NOTPAY or USERPAYING; stale_query: the answer */
    enum gw_forge forge;
    bool replace;              /* forge: the forgery replaces the genuine delivery */
    bool valid_signature;      /* forge: signed with the real secret */
    int64_t skew_ms;           /* forge stale_timestamp: how old the timestamp is */
    int status;                /* error: HTTP status */
    char *body;                /* error: response body (compact JSON), owned */
    int64_t retry_after_ms;    /* rate_limit */
    int64_t for_ms;            /* stale_query: how long after the payment */
    bool close;                /* hang / commit_drop: close the connection instead of hanging */
};

enum gw_sel { GW_SEL_ALL = 0, GW_SEL_FRACTION, GW_SEL_TRADES, GW_SEL_KEYS };

struct gw_range {
    int64_t from, to;          /* inclusive; to = INT64_MAX for open */
};

struct gw_rule {
    char id[64];               /* "id" or "r<index>": names the rule's draws */
    enum gw_op op;
    enum gw_sel sel;
    double fraction;
    char **names;              /* GW_SEL_TRADES / GW_SEL_KEYS, owned */
    size_t n_names;
    struct gw_range nth[GW_RULE_NTH_MAX];
    size_t n_nth;              /* 0 = every attempt / occurrence */
    double probability;        /* per attempt; 1 = always */
    bool has_window;
    bool window_abs;           /* from/to are epoch ms rather than offsets */
    int64_t from_ms, to_ms;
    struct gw_action action;
};

/* A parsed document. Immutable once built; shared by reference count so a
 * PUT can swap it while requests still read the old one. */
struct gw_rules {
    int refs;
    size_t n;
    struct gw_rule *rules;
    char *text;                /* the document as given (compact JSON), owned */
};

/* Parses a rules document. On success *out has one reference. On failure
 * returns PD_EINVAL (err->text = "<json path>: <reason>"), or PD_ENOMEM. */
int gw_rules_parse(const char *text, size_t len, struct gw_rules **out,
                   struct pd_json_err *err);

/* An empty rule set ({"rules":[]}) with one reference, or NULL (no memory). */
struct gw_rules *gw_rules_empty(void);

/* Reference counting; both are safe on NULL. Thread-safe. */
struct gw_rules *gw_rules_ref(struct gw_rules *rules);
void gw_rules_unref(struct gw_rules *rules);

/* What is being decided. */
struct gw_event {
    enum gw_op op;
    const char *key;           /* attach, else out_trade_no */
    const char *out_trade_no;
    uint64_t attempt;          /* callback attempt or occurrence of the op, from 1 */
    int64_t now_ms;            /* simulated time */
    int64_t epoch_ms;          /* gateway start (relative windows) */
    uint64_t seed;
};

/* The first rule at index >= *pos that matches ev; *pos is advanced past it so
 * a caller can collect every match. NULL when none. */
const struct gw_rule *gw_rules_next(const struct gw_rules *rules, const struct gw_event *ev,
                                    size_t *pos);

/* True when some rule of ev->op selects ev's order, whatever its nth,
 * window and probability say: when false, gw_rules_next finds nothing for
 * any occurrence of this op on this order at any time. Pure. */
bool gw_rules_may_select(const struct gw_rules *rules, const struct gw_event *ev);

/* Draws a duration from dist for (rule, event); kind names the decision. */
int64_t gw_dist_draw(const struct gw_dist *dist, const struct gw_rule *rule,
                     const struct gw_event *ev, const char *kind);

#endif
