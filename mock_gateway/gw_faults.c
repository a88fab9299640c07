/* gw_faults.c -- strict parser and seeded matcher for fault rules.
 *
 * The parser refuses anything it does not understand and names the field
 * by its JSON path, because a typo in a fault plan that silently matched
 * nothing would make a scenario pass for the wrong reason. */
#include "gw_faults.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_util.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_rand.h"
#include "pd_time.h"

#define PATH_MAX_LEN 128

static const char *const op_names[GW_OP_COUNT] = {"create", "query", "close",
                                                  "refund", "pay",   "callback"};
static const char *const act_names[GW_ACT_COUNT] = {
    "none",  "drop",   "delay", "duplicate",   "reorder",    "stale", "forge",
    "error", "hang",   "commit_drop", "stale_query", "rate_limit", "slow",
    "fake_success"};
static const char *const forge_names[GW_FORGE_COUNT] = {
    "bad_signature", "stale_timestamp",      "replay",
    "wrong_amount",  "unknown_out_trade_no", "other_merchant"};

const char *gw_op_name(enum gw_op op)
{
    return (op >= 0 && op < GW_OP_COUNT) ? op_names[op] : "?";
}

const char *gw_act_name(enum gw_act act)
{
    return (act >= 0 && act < GW_ACT_COUNT) ? act_names[act] : "?";
}

const char *gw_forge_name(enum gw_forge kind)
{
    return (kind >= 0 && kind < GW_FORGE_COUNT) ? forge_names[kind] : "?";
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}


/* dst = path + "." + key, cut (never overflowing) when too long. */
static void sub_path(char *dst, size_t n, const char *path, const char *key)
{
    if (snprintf(dst, n, "%s.%s", path, key) >= (int)n)
        dst[n - 1] = '\0';
}

/* ---- small strict getters whose messages carry the full path ---- */

static int fail(struct pd_json_err *err, const char *path, const char *key, const char *why)
{
    return pd_json_fail(err, "%s%s%s: %s", path, (*path && *key) ? "." : "", key, why);
}

/* Duration: "250ms"/"3s"/... or an integer number of milliseconds >= 0. */
static int get_duration(const cJSON *obj, const char *key, bool required, const char *path,
                        int64_t *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return required ? fail(err, path, key, "required") : PD_OK;
    if (pd_json_is_int(it) && it->valuedouble >= 0) {
        *out = (int64_t)it->valuedouble;
        return PD_OK;
    }
    if (cJSON_IsString(it) && pd_parse_duration(it->valuestring, out) == PD_OK)
        return PD_OK;
    return fail(err, path, key, "must be a duration such as \"250ms\", \"30s\", \"10m\", \"3h\"");
}

static int get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
                   const char *path, int64_t *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    char why[96];
    if (it == NULL)
        return required ? fail(err, path, key, "required") : PD_OK;
    if (!pd_json_is_int(it) || it->valuedouble < (double)min || it->valuedouble > (double)max) {
        if (max == INT64_MAX || max == PD_JSON_INT_MAX)
            snprintf(why, sizeof why, "must be an integer >= %lld", (long long)min);
        else
            snprintf(why, sizeof why, "must be an integer between %lld and %lld",
                     (long long)min, (long long)max);
        return fail(err, path, key, why);
    }
    *out = (int64_t)it->valuedouble;
    return PD_OK;
}

static int get_unit(const cJSON *obj, const char *key, const char *path, double *out,
                    struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return PD_OK;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
        it->valuedouble > 1)
        return fail(err, path, key, "must be a number between 0 and 1");
    *out = it->valuedouble;
    return PD_OK;
}

static int get_bool(const cJSON *obj, const char *key, const char *path, bool *out,
                    struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return PD_OK;
    if (!cJSON_IsBool(it))
        return fail(err, path, key, "must be true or false");
    *out = cJSON_IsTrue(it);
    return PD_OK;
}

/* A string that must be one of names; *out is the index. */
static int get_enum(const cJSON *obj, const char *key, bool required, const char *const *names,
                    int n, const char *path, int *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return required ? fail(err, path, key, "required") : PD_OK;
    int idx = cJSON_IsString(it) ? lookup(names, n, it->valuestring) : -1;
    if (idx < 0) {
        char why[256];
        size_t off = (size_t)snprintf(why, sizeof why, "must be one of");
        for (int i = 0; i < n && off < sizeof why; i++)
            off += (size_t)snprintf(why + off, sizeof why - off, "%s %s", i ? "," : "", names[i]);
        return fail(err, path, key, why);
    }
    *out = idx;
    return PD_OK;
}

static int only_keys(const cJSON *obj, const char *const *allowed, const char *path,
                     struct pd_json_err *err)
{
    if (!cJSON_IsObject(obj))
        return pd_json_fail(err, "%s: must be an object", path);
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(it->string, allowed[i]) == 0;
        if (!known)
            return pd_json_fail(err, "%s.%.64s: unknown field", path, it->string);
    }
    return PD_OK;
}

/* ---- distributions ---- */

/* Exactly one of "fixed", "uniform" {lower, upper}, "lognormal" {median, sigma}
 * in obj (required when required is set; else *dist stays fixed 0). */
static int parse_dist(const cJSON *obj, bool required, const char *path, struct gw_dist *dist,
                      struct pd_json_err *err)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(obj, "uniform");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "lognormal");
    bool f = cJSON_GetObjectItemCaseSensitive(obj, "fixed") != NULL;
    char sub[PATH_MAX_LEN];
    if ((int)f + (u != NULL) + (l != NULL) > 1)
        return fail(err, path, "", "give only one of fixed, uniform, lognormal");
    memset(dist, 0, sizeof *dist);
    if (f)
        return get_duration(obj, "fixed", true, path, &dist->fixed_ms, err);
    if (u != NULL) {
        static const char *const keys[] = {"lower", "upper", NULL};
        sub_path(sub, sizeof sub, path, "uniform");
        dist->kind = GW_DIST_UNIFORM;
        if (only_keys(u, keys, sub, err) || get_duration(u, "lower", true, sub, &dist->lo_ms, err) ||
            get_duration(u, "upper", true, sub, &dist->hi_ms, err))
            return PD_EINVAL;
        if (dist->hi_ms < dist->lo_ms)
            return fail(err, sub, "upper", "must be >= lower");
        return PD_OK;
    }
    if (l != NULL) {
        static const char *const keys[] = {"median", "sigma", NULL};
        int64_t median = 0;
        sub_path(sub, sizeof sub, path, "lognormal");
        dist->kind = GW_DIST_LOGNORMAL;
        dist->sigma = 0.5;
        if (only_keys(l, keys, sub, err) || get_duration(l, "median", true, sub, &median, err))
            return PD_EINVAL;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(l, "sigma");
        if (s != NULL && (!cJSON_IsNumber(s) || !isfinite(s->valuedouble) ||
                          s->valuedouble < 0 || s->valuedouble > 10))
            return fail(err, sub, "sigma", "must be a number between 0 and 10");
        if (s != NULL)
            dist->sigma = s->valuedouble;
        dist->median_ms = (double)median;
        return PD_OK;
    }
    return required ? fail(err, path, "", "needs one of fixed, uniform, lognormal") : PD_OK;
}

int64_t gw_dist_draw(const struct gw_dist *dist, const struct gw_rule *rule,
                     const struct gw_event *ev, const char *kind)
{
    char k[96];
    snprintf(k, sizeof k, "%s.%s", kind, rule->id);
    switch (dist->kind) {
    case GW_DIST_UNIFORM:
        return pd_draw_range(ev->seed, ev->key, k, ev->attempt, dist->lo_ms, dist->hi_ms);
    case GW_DIST_LOGNORMAL: {
        double v = pd_draw_lognormal(ev->seed, ev->key, k, ev->attempt, dist->median_ms,
                                     dist->sigma);
        /* Bound the tail: a day is longer than any schedule step. */
        return v > 86400000.0 ? 86400000 : (int64_t)v;
    }
    default:
        return dist->fixed_ms;
    }
}

/* ---- actions ---- */

static const char *const state_names[] = {"NOTPAY", "USERPAYING"};
static const char *const mode_names[] = {"sequential", "concurrent"};
static const char *const sig_names[] = {"invalid", "valid"};

static int parse_duplicate(const cJSON *a, const char *path, struct gw_action *act,
                           struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "copies", "mode", NULL};
    int64_t copies = 2;
    int mode = 0;
    if (only_keys(a, keys, path, err) || get_int(a, "copies", false, 1, 100, path, &copies, err) ||
        get_enum(a, "mode", false, mode_names, 2, path, &mode, err))
        return PD_EINVAL;
    act->copies = (int)copies;
    act->concurrent = mode == 1;
    return PD_OK;
}

static int parse_reorder(const cJSON *a, const char *path, struct gw_action *act,
                         struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "after", "max_hold", NULL};
    int64_t after = 1;
    act->hold_ms = 60000;
    if (only_keys(a, keys, path, err) || get_int(a, "after", false, 1, 100000, path, &after, err) ||
        get_duration(a, "max_hold", false, path, &act->hold_ms, err))
        return PD_EINVAL;
    act->after = (int)after;
    return PD_OK;
}

static int parse_stale(const cJSON *a, const char *path, struct gw_action *act,
                       struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "state", "after", NULL};
    int st = 0;
    if (only_keys(a, keys, path, err) || get_enum(a, "state", false, state_names, 2, path, &st, err) ||
        get_duration(a, "after", false, path, &act->dist.fixed_ms, err))
        return PD_EINVAL;
    snprintf(act->state, sizeof act->state, "%s", state_names[st]);
    return PD_OK;
}

static int parse_forge(const cJSON *a, const char *path, struct gw_action *act,
                       struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "kind", "replace", "signature", "skew", "after",
                                       NULL};
    int kind = 0, sig = -1;
    act->skew_ms = 3600000;
    if (only_keys(a, keys, path, err) ||
        get_enum(a, "kind", true, forge_names, GW_FORGE_COUNT, path, &kind, err) ||
        get_bool(a, "replace", path, &act->replace, err) ||
        get_enum(a, "signature", false, sig_names, 2, path, &sig, err) ||
        get_duration(a, "skew", false, path, &act->skew_ms, err) ||
        get_duration(a, "after", false, path, &act->dist.fixed_ms, err))
        return PD_EINVAL;
    act->forge = (enum gw_forge)kind;
    if (kind == GW_FORGE_BAD_SIGNATURE && sig == 1)
        return fail(err, path, "signature", "a bad_signature forgery cannot be validly signed");
    /* A stale timestamp is signed with the real secret by default: only the
     * freshness check can catch it. The others are signed with a wrong key
     * (a forger lacks the secret) unless "signature": "valid". */
    act->valid_signature = sig < 0 ? kind == GW_FORGE_STALE_TIMESTAMP : sig == 1;
    return PD_OK;
}

static int parse_error(const cJSON *a, const char *path, struct gw_action *act,
                       struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "status", "body", NULL};
    int64_t status = 500;
    if (only_keys(a, keys, path, err) || get_int(a, "status", false, 400, 599, path, &status, err))
        return PD_EINVAL;
    act->status = (int)status;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(a, "body");
    if (body != NULL && !cJSON_IsObject(body))
        return fail(err, path, "body", "must be a JSON object");
    char *text = body ? pd_json_print(body)
                      : strdup("{\"code\":\"SYSTEMERROR\",\"message\":\"injected fault\"}");
    if (text == NULL)
        return PD_ENOMEM;
    if (strlen(text) > GW_ERROR_BODY_MAX) {
        free(text);
        return fail(err, path, "body", "longer than 4096 bytes");
    }
    act->body = text;
    return PD_OK;
}

static int parse_hang(const cJSON *a, const char *path, struct gw_action *act,
                      struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "duration", "close", NULL};
    act->dist.fixed_ms = 60000;
    if (only_keys(a, keys, path, err) ||
        get_duration(a, "duration", false, path, &act->dist.fixed_ms, err) ||
        get_bool(a, "close", path, &act->close, err))
        return PD_EINVAL;
    return PD_OK;
}

static int parse_simple(const cJSON *a, const char *path, struct gw_action *act,
                        struct pd_json_err *err)
{
    static const char *const drop_keys[] = {"type", NULL};
    static const char *const rl_keys[] = {"type", "retry_after", NULL};
    static const char *const sq_keys[] = {"type", "for", "state", NULL};
    int st = 0;
    switch (act->type) {
    case GW_ACT_DROP:
    case GW_ACT_FAKE_SUCCESS:
        return only_keys(a, drop_keys, path, err);
    case GW_ACT_RATE_LIMIT:
        act->retry_after_ms = 1000;
        return only_keys(a, rl_keys, path, err) ||
                       get_duration(a, "retry_after", false, path, &act->retry_after_ms, err)
                   ? PD_EINVAL
                   : PD_OK;
    default: /* GW_ACT_STALE_QUERY */
        act->for_ms = 5000;
        if (only_keys(a, sq_keys, path, err) || get_duration(a, "for", false, path, &act->for_ms, err) ||
            get_enum(a, "state", false, state_names, 2, path, &st, err))
            return PD_EINVAL;
        snprintf(act->state, sizeof act->state, "%s", state_names[st]);
        return PD_OK;
    }
}

static int parse_dist_action(const cJSON *a, const char *path, struct gw_action *act,
                             struct pd_json_err *err)
{
    static const char *const keys[] = {"type", "fixed", "uniform", "lognormal", NULL};
    if (only_keys(a, keys, path, err))
        return PD_EINVAL;
    return parse_dist(a, true, path, &act->dist, err);
}

/* Which actions each op accepts. */
static bool act_allowed(enum gw_op op, enum gw_act act)
{
    if (op == GW_OP_CALLBACK)
        return act >= GW_ACT_DROP && act <= GW_ACT_FORGE;
    if (act == GW_ACT_STALE_QUERY)
        return op == GW_OP_QUERY;
    if (act == GW_ACT_FAKE_SUCCESS)
        return op == GW_OP_CLOSE;
    return act >= GW_ACT_ERROR && act <= GW_ACT_SLOW;
}

static int parse_action(const cJSON *a, enum gw_op op, const char *path, struct gw_action *act,
                        struct pd_json_err *err)
{
    int type = 0;
    if (!cJSON_IsObject(a))
        return pd_json_fail(err, "%s: must be an object", path);
    if (get_enum(a, "type", true, act_names + 1, GW_ACT_COUNT - 1, path, &type, err))
        return PD_EINVAL;
    act->type = (enum gw_act)(type + 1);
    if (!act_allowed(op, act->type))
        return pd_json_fail(err, "%s.type: \"%s\" does not apply to op \"%s\"", path,
                            gw_act_name(act->type), gw_op_name(op));
    switch (act->type) {
    case GW_ACT_DELAY:
    case GW_ACT_SLOW: return parse_dist_action(a, path, act, err);
    case GW_ACT_DUPLICATE: return parse_duplicate(a, path, act, err);
    case GW_ACT_REORDER: return parse_reorder(a, path, act, err);
    case GW_ACT_STALE: return parse_stale(a, path, act, err);
    case GW_ACT_FORGE: return parse_forge(a, path, act, err);
    case GW_ACT_ERROR: return parse_error(a, path, act, err);
    case GW_ACT_HANG:
    case GW_ACT_COMMIT_DROP: return parse_hang(a, path, act, err);
    default: return parse_simple(a, path, act, err);
    }
}

/* ---- selectors ---- */

static int parse_names(const cJSON *list, const char *path, struct gw_rule *rule,
                       struct pd_json_err *err)
{
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > GW_RULE_NAMES_MAX)
        return pd_json_fail(err, "%s: must be a list of 1 to %d strings", path,
                            GW_RULE_NAMES_MAX);
    rule->names = calloc((size_t)n, sizeof *rule->names);
    if (rule->names == NULL)
        return PD_ENOMEM;
    int i = 0;
    for (const cJSON *it = list->child; it != NULL; it = it->next, i++) {
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0' || strlen(it->valuestring) > 128)
            return pd_json_fail(err, "%s[%d]: must be a string of 1 to 128 bytes", path, i);
        rule->names[i] = strdup(it->valuestring);
        if (rule->names[i] == NULL)
            return PD_ENOMEM;
        rule->n_names++;
    }
    return PD_OK;
}

static int parse_orders(const cJSON *o, const char *path, struct gw_rule *rule,
                        struct pd_json_err *err)
{
    static const char *const keys[] = {"fraction", "out_trade_no", "keys", NULL};
    char sub[PATH_MAX_LEN];
    if (o == NULL || (cJSON_IsString(o) && strcmp(o->valuestring, "all") == 0))
        return PD_OK;
    if (!cJSON_IsObject(o))
        return pd_json_fail(err, "%s: must be \"all\" or an object", path);
    if (only_keys(o, keys, path, err))
        return PD_EINVAL;
    if (cJSON_GetArraySize(o) != 1)
        return pd_json_fail(err, "%s: give exactly one of fraction, out_trade_no, keys", path);
    if (cJSON_GetObjectItemCaseSensitive(o, "fraction") != NULL) {
        rule->sel = GW_SEL_FRACTION;
        return get_unit(o, "fraction", path, &rule->fraction, err);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "out_trade_no");
    rule->sel = t ? GW_SEL_TRADES : GW_SEL_KEYS;
    sub_path(sub, sizeof sub, path, t ? "out_trade_no" : "keys");
    return parse_names(t ? t : cJSON_GetObjectItemCaseSensitive(o, "keys"), sub, rule, err);
}

static int parse_nth_obj(const cJSON *o, const char *path, struct gw_rule *rule,
                         struct pd_json_err *err)
{
    static const char *const keys[] = {"first", "from", "to", NULL};
    int64_t first = 0, from = 1, to = INT64_MAX;
    if (only_keys(o, keys, path, err) || get_int(o, "first", false, 1, 1000000, path, &first, err) ||
        get_int(o, "from", false, 1, 1000000, path, &from, err) ||
        get_int(o, "to", false, 1, 1000000, path, &to, err))
        return PD_EINVAL;
    if (first > 0 && (cJSON_GetObjectItemCaseSensitive(o, "from") ||
                      cJSON_GetObjectItemCaseSensitive(o, "to")))
        return pd_json_fail(err, "%s: give first, or from/to, not both", path);
    if (first == 0 && cJSON_GetArraySize(o) == 0)
        return pd_json_fail(err, "%s: needs first, from or to", path);
    if (first > 0)
        to = first;
    if (to < from)
        return pd_json_fail(err, "%s.to: must be >= from", path);
    rule->nth[0] = (struct gw_range){from, to};
    rule->n_nth = 1;
    return PD_OK;
}

/* nth: an integer, a list of integers, or {"first": N} / {"from": a, "to": b}. */
static int parse_nth(const cJSON *o, const char *path, struct gw_rule *rule,
                     struct pd_json_err *err)
{
    if (o == NULL)
        return PD_OK;
    if (cJSON_IsObject(o))
        return parse_nth_obj(o, path, rule, err);
    if (pd_json_is_int(o) && o->valuedouble >= 1) {
        rule->nth[0] = (struct gw_range){(int64_t)o->valuedouble, (int64_t)o->valuedouble};
        rule->n_nth = 1;
        return PD_OK;
    }
    int n = cJSON_GetArraySize(o);
    if (!cJSON_IsArray(o) || n < 1 || n > GW_RULE_NTH_MAX)
        return pd_json_fail(err, "%s: must be an integer >= 1, a list of 1 to %d of them, "
                                 "or {\"first\": N} / {\"from\": a, \"to\": b}",
                            path, GW_RULE_NTH_MAX);
    int i = 0;
    for (const cJSON *it = o->child; it != NULL; it = it->next, i++) {
        if (!pd_json_is_int(it) || it->valuedouble < 1)
            return pd_json_fail(err, "%s[%d]: must be an integer >= 1", path, i);
        rule->nth[i] = (struct gw_range){(int64_t)it->valuedouble, (int64_t)it->valuedouble};
    }
    rule->n_nth = (size_t)n;
    return PD_OK;
}

/* window: {"from": dur, "to": dur} after gateway start, or {"from_at": ms, "to_at": ms}. */
static int parse_window(const cJSON *w, const char *path, struct gw_rule *rule,
                        struct pd_json_err *err)
{
    static const char *const keys[] = {"from", "to", "from_at", "to_at", NULL};
    if (w == NULL)
        return PD_OK;
    if (only_keys(w, keys, path, err))
        return PD_EINVAL;
    bool rel = cJSON_GetObjectItemCaseSensitive(w, "from") || cJSON_GetObjectItemCaseSensitive(w, "to");
    bool abs = cJSON_GetObjectItemCaseSensitive(w, "from_at") ||
               cJSON_GetObjectItemCaseSensitive(w, "to_at");
    if (rel == abs)
        return pd_json_fail(err, "%s: give from/to (after start) or from_at/to_at (epoch ms)",
                            path);
    rule->has_window = true;
    rule->window_abs = abs;
    rule->from_ms = 0;
    rule->to_ms = INT64_MAX;
    if (rel)
        return get_duration(w, "from", false, path, &rule->from_ms, err) ||
                       get_duration(w, "to", false, path, &rule->to_ms, err)
                   ? PD_EINVAL
                   : PD_OK;
    if (get_int(w, "from_at", false, 0, PD_JSON_INT_MAX, path, &rule->from_ms, err) ||
        get_int(w, "to_at", false, 0, PD_JSON_INT_MAX, path, &rule->to_ms, err))
        return PD_EINVAL;
    return PD_OK;
}

static int parse_rule(const cJSON *r, size_t idx, struct gw_rule *rule, struct pd_json_err *err)
{
    static const char *const keys[] = {"id", "description", "op", "orders", "nth",
                                       "probability", "window", "action", NULL};
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    int op = 0;
    snprintf(path, sizeof path, "rules[%zu]", idx);
    if (only_keys(r, keys, path, err) ||
        get_enum(r, "op", true, op_names, GW_OP_COUNT, path, &op, err))
        return PD_EINVAL;
    rule->op = (enum gw_op)op;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(r, "description");
    if (id != NULL && (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
                       strlen(id->valuestring) >= sizeof rule->id))
        return fail(err, path, "id", "must be a string of 1 to 63 bytes");
    if (desc != NULL && !cJSON_IsString(desc))
        return fail(err, path, "description", "must be a string");
    snprintf(rule->id, sizeof rule->id, "%s", id ? id->valuestring : "");
    if (id == NULL)
        snprintf(rule->id, sizeof rule->id, "r%zu", idx);
    rule->probability = 1.0;
    if (get_unit(r, "probability", path, &rule->probability, err))
        return PD_EINVAL;
    sub_path(sub, sizeof sub, path, "orders");
    if (parse_orders(cJSON_GetObjectItemCaseSensitive(r, "orders"), sub, rule, err))
        return PD_EINVAL;
    sub_path(sub, sizeof sub, path, "nth");
    if (parse_nth(cJSON_GetObjectItemCaseSensitive(r, "nth"), sub, rule, err))
        return PD_EINVAL;
    sub_path(sub, sizeof sub, path, "window");
    if (parse_window(cJSON_GetObjectItemCaseSensitive(r, "window"), sub, rule, err))
        return PD_EINVAL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "action");
    if (a == NULL)
        return fail(err, path, "action", "required");
    sub_path(sub, sizeof sub, path, "action");
    return parse_action(a, rule->op, sub, &rule->action, err);
}

static void free_rules(struct gw_rules *rules)
{
    for (size_t i = 0; rules->rules != NULL && i < rules->n; i++) {
        struct gw_rule *r = &rules->rules[i];
        for (size_t j = 0; j < r->n_names; j++)
            free(r->names[j]);
        free(r->names);
        free(r->action.body);
    }
    free(rules->rules);
    free(rules->text);
    free(rules);
}

static int parse_doc(const cJSON *doc, struct gw_rules *rules, struct pd_json_err *err)
{
    static const char *const keys[] = {"rules", "description", NULL};
    if (!cJSON_IsObject(doc))
        return pd_json_fail(err, "(document): must be a JSON object {\"rules\": [...]}");
    if (only_keys(doc, keys, "(document)", err))
        return PD_EINVAL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "rules");
    if (list == NULL)
        return pd_json_fail(err, "rules: required");
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n > GW_RULES_MAX)
        return pd_json_fail(err, "rules: must be a list of at most %d rules", GW_RULES_MAX);
    rules->rules = calloc(n > 0 ? (size_t)n : 1, sizeof *rules->rules);
    if (rules->rules == NULL)
        return PD_ENOMEM;
    rules->n = (size_t)n;
    size_t i = 0;
    for (const cJSON *r = list->child; r != NULL; r = r->next, i++) {
        int rc = parse_rule(r, i, &rules->rules[i], err);
        if (rc != PD_OK)
            return rc;
    }
    return PD_OK;
}

int gw_rules_parse(const char *text, size_t len, struct gw_rules **out, struct pd_json_err *err)
{
    *out = NULL;
    if (len > GW_RULES_DOC_MAX)
        return pd_json_fail(err, "(document): longer than %u bytes", GW_RULES_DOC_MAX);
    long off = 0;
    cJSON *doc = pd_json_parse_whole(text, len, &off);
    if (doc == NULL)
        return pd_json_fail(err, "(document): not valid JSON (line %zu, byte %ld)",
                            pd_text_line(text, (size_t)off), off);
    struct gw_rules *rules = calloc(1, sizeof *rules);
    int rc = rules ? parse_doc(doc, rules, err) : PD_ENOMEM;
    if (rc == PD_OK) {
        rules->text = pd_json_print(doc);
        rc = rules->text ? PD_OK : PD_ENOMEM;
    }
    cJSON_Delete(doc);
    if (rc != PD_OK) {
        if (rules != NULL)
            free_rules(rules);
        if (rc == PD_ENOMEM)
            pd_json_fail(err, "(document): out of memory");
        return rc;
    }
    rules->refs = 1;
    *out = rules;
    return PD_OK;
}

struct gw_rules *gw_rules_empty(void)
{
    static const char doc[] = "{\"rules\":[]}";
    struct gw_rules *r = NULL;
    struct pd_json_err err;
    gw_rules_parse(doc, sizeof doc - 1, &r, &err);
    return r;
}

struct gw_rules *gw_rules_ref(struct gw_rules *rules)
{
    if (rules != NULL)
        __atomic_add_fetch(&rules->refs, 1, __ATOMIC_ACQ_REL);
    return rules;
}

void gw_rules_unref(struct gw_rules *rules)
{
    if (rules != NULL && __atomic_sub_fetch(&rules->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free_rules(rules);
}

/* ---- matcher ---- */

static bool names_match(const struct gw_rule *rule, const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < rule->n_names; i++)
        if (strcmp(rule->names[i], s) == 0)
            return true;
    return false;
}

static bool selected(const struct gw_rule *rule, const struct gw_event *ev)
{
    char kind[96];
    switch (rule->sel) {
    case GW_SEL_FRACTION:
        /* Drawn once per order (attempt 0): the same orders are chosen for
         * every attempt and every run with this seed. */
        snprintf(kind, sizeof kind, "select.%s", rule->id);
        return pd_draw_unit(ev->seed, ev->key, kind, 0) < rule->fraction;
    case GW_SEL_TRADES: return names_match(rule, ev->out_trade_no);
    case GW_SEL_KEYS: return names_match(rule, ev->key);
    default: return true;
    }
}

static bool nth_match(const struct gw_rule *rule, uint64_t attempt)
{
    if (rule->n_nth == 0)
        return true;
    for (size_t i = 0; i < rule->n_nth; i++)
        if ((int64_t)attempt >= rule->nth[i].from && (int64_t)attempt <= rule->nth[i].to)
            return true;
    return false;
}

static bool window_match(const struct gw_rule *rule, const struct gw_event *ev)
{
    if (!rule->has_window)
        return true;
    int64_t t = rule->window_abs ? ev->now_ms : ev->now_ms - ev->epoch_ms;
    return t >= rule->from_ms && t < rule->to_ms;
}

static bool rule_matches(const struct gw_rule *rule, const struct gw_event *ev)
{
    char kind[96];
    if (rule->op != ev->op || !nth_match(rule, ev->attempt) || !window_match(rule, ev) ||
        !selected(rule, ev))
        return false;
    if (rule->probability >= 1.0)
        return true;
    snprintf(kind, sizeof kind, "prob.%s", rule->id);
    return pd_draw_unit(ev->seed, ev->key, kind, ev->attempt) < rule->probability;
}

bool gw_rules_may_select(const struct gw_rules *rules, const struct gw_event *ev)
{
    for (size_t i = 0; rules != NULL && i < rules->n; i++)
        if (rules->rules[i].op == ev->op && selected(&rules->rules[i], ev))
            return true;
    return false;
}

const struct gw_rule *gw_rules_next(const struct gw_rules *rules, const struct gw_event *ev,
                                    size_t *pos)
{
    if (rules == NULL)
        return NULL;
    for (size_t i = *pos; i < rules->n; i++) {
        if (rule_matches(&rules->rules[i], ev)) {
            *pos = i + 1;
            return &rules->rules[i];
        }
    }
    *pos = rules->n;
    return NULL;
}
