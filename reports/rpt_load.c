/* rpt_load.c -- reads report.json (schema paydrill.report/1) into a
 * validated struct rpt__report.
 *
 * The checker writes report.json; we still validate every field we use,
 * because a report writer that crashes or prints garbage on a bad input
 * hides the very failure CI needs to see. Unknown fields are allowed (a
 * later minor revision may add some); a wrong type or a missing required
 * field is an error naming the field path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_json.h"
#include "pd_util.h"
#include "rpt_internal.h"

#define SCHEMA "paydrill.report/1"

/* Optional string: absent or null gives NULL; empty strings are kept. */
static int opt_str(const cJSON *obj, const char *key, const char *path,
                   const char **out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (it == NULL || cJSON_IsNull(it))
        return PD_OK;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return pd_json_fail(err, "%s%s%s: must be a string", path, *path ? "." : "", key);
    *out = it->valuestring;
    return PD_OK;
}

/* Optional integer: absent or null leaves *out untouched. */
static int opt_i64(const cJSON *obj, const char *key, const char *path, int64_t *out,
                   struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL || cJSON_IsNull(it))
        return PD_OK;
    return pd_json_i64(obj, key, false, -PD_JSON_INT_MAX, PD_JSON_INT_MAX, path, out, err);
}

/* Optional array of strings (faults lists). */
static int opt_str_array(const cJSON *obj, const char *key, const char *path,
                         const cJSON **out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (it == NULL || cJSON_IsNull(it))
        return PD_OK;
    if (!cJSON_IsArray(it))
        return pd_json_fail(err, "%s.%s: must be an array of strings", path, key);
    int i = 0;
    for (const cJSON *e = it->child; e != NULL; e = e->next, i++)
        if (!cJSON_IsString(e))
            return pd_json_fail(err, "%s.%s[%d]: must be a string", path, key, i);
    *out = it;
    return PD_OK;
}

static int required_array(const cJSON *root, const char *key, const cJSON **out,
                          struct pd_json_err *err)
{
    *out = cJSON_GetObjectItemCaseSensitive(root, key);
    if (*out == NULL)
        return pd_json_fail(err, "%s: required", key);
    if (!cJSON_IsArray(*out))
        return pd_json_fail(err, "%s: must be an array", key);
    return PD_OK;
}

static int load_seed(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (seed == NULL)
        return pd_json_fail(err, "seed: required");
    if (cJSON_IsString(seed) && seed->valuestring[0] != '\0') {
        if (pd_strlcpy(r->seed, seed->valuestring, sizeof r->seed) != PD_OK)
            return pd_json_fail(err, "seed: longer than %zu bytes", sizeof r->seed - 1);
        return PD_OK;
    }
    if (!pd_json_is_int(seed))
        return pd_json_fail(err, "seed: must be an integer");
    snprintf(r->seed, sizeof r->seed, "%lld", (long long)seed->valuedouble);
    return PD_OK;
}

static int load_scenario(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "scenario");
    if (!cJSON_IsObject(sc))
        return pd_json_fail(err, "scenario: must be an object");
    int rc = opt_str(sc, "name", "scenario", &r->scenario, err);
    if (rc == PD_OK && (r->scenario == NULL || r->scenario[0] == '\0'))
        r->scenario = "unnamed scenario";   /* report-json.md: name may be null */
    if (rc == PD_OK)
        rc = opt_str(sc, "description", "scenario", &r->description, err);
    if (rc == PD_OK)
        rc = opt_str(sc, "file", "scenario", &r->scenario_file, err);
    const cJSON *sut = cJSON_GetObjectItemCaseSensitive(root, "sut");
    if (rc == PD_OK && sut != NULL && !cJSON_IsNull(sut)) {
        if (!cJSON_IsObject(sut))
            return pd_json_fail(err, "sut: must be an object");
        rc = opt_str(sut, "kind", "sut", &r->sut_kind, err);
        if (rc == PD_OK)
            rc = opt_str(sut, "command", "sut", &r->sut_target, err);
        if (rc == PD_OK && r->sut_target == NULL)
            rc = opt_str(sut, "url", "sut", &r->sut_target, err);
    }
    return rc;
}

static int load_header(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const char *schema = NULL;
    int rc = pd_json_str(root, "schema", true, 256, "", &schema, err);
    if (rc != PD_OK)
        return rc;
    if (strcmp(schema, SCHEMA) != 0)
        return pd_json_fail(err, "schema: expected \"%s\", got \"%.64s\"", SCHEMA, schema);
    rc = load_scenario(root, r, err);
    if (rc == PD_OK)
        rc = load_seed(root, r, err);
    if (rc == PD_OK)
        rc = pd_json_str(root, "verdict", true, 64, "", &r->verdict, err);
    if (rc == PD_OK && strcmp(r->verdict, "pass") != 0 && strcmp(r->verdict, "fail") != 0)
        return pd_json_fail(err, "verdict: must be \"pass\" or \"fail\"");
    if (rc == PD_OK)
        rc = opt_str(root, "replay", "", &r->replay, err);
    if (rc == PD_OK && r->replay == NULL)
        r->replay = "(no replay command recorded)";   /* replay may be null */
    if (rc == PD_OK)
        rc = opt_str(root, "started_at", "", &r->started_at, err);
    const char *keys[] = {"time_scale", "duration_ms", "sim_started_at", "sim_finished_at"};
    int64_t *dst[] = {&r->time_scale, &r->duration_ms, &r->sim_started_at,
                      &r->sim_finished_at};
    for (size_t i = 0; i < 4 && rc == PD_OK; i++)
        rc = opt_i64(root, keys[i], "", dst[i], err);
    return rc;
}

static int load_counts(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
    if (!cJSON_IsObject(counts))
        return pd_json_fail(err, "counts: must be an object");
    for (const cJSON *c = counts->child; c != NULL; c = c->next) {
        if (!pd_json_is_int(c) || c->valuedouble < 0)
            return pd_json_fail(err, "counts.%.64s: must be an integer >= 0", c->string);
        if (r->n_counts == RPT_COUNTS_MAX)
            return pd_json_fail(err, "counts: more than %d entries", RPT_COUNTS_MAX);
        r->counts[r->n_counts].name = c->string;
        r->counts[r->n_counts++].value = (int64_t)c->valuedouble;
    }
    return PD_OK;
}

static int load_invariants(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *arr;
    int rc = required_array(root, "invariants", &arr, err);
    if (rc != PD_OK)
        return rc;
    r->invs = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *r->invs);
    if (r->invs == NULL)
        return PD_ENOMEM;
    for (const cJSON *e = arr->child; e != NULL && rc == PD_OK; e = e->next) {
        char path[48];
        snprintf(path, sizeof path, "invariants[%zu]", r->n_invs);
        struct rpt__inv *inv = &r->invs[r->n_invs++];
        if (!cJSON_IsObject(e))
            return pd_json_fail(err, "%s: must be an object", path);
        rc = pd_json_str(e, "name", true, 4096, path, &inv->name, err);
        if (rc == PD_OK)
            rc = pd_json_bool(e, "holds", true, path, &inv->holds, err);
        if (rc == PD_OK)
            rc = opt_i64(e, "checked", path, &inv->checked, err);
        if (rc == PD_OK)
            rc = opt_i64(e, "violations", path, &inv->violations, err);
    }
    return rc;
}

static int load_expectation(const cJSON *e, const char *path, struct rpt__expect *x,
                            struct pd_json_err *err)
{
    if (!cJSON_IsObject(e))
        return pd_json_fail(err, "%s: must be an object", path);
    int rc = pd_json_str(e, "what", true, 4096, path, &x->what, err);
    if (rc == PD_OK)
        rc = pd_json_i64(e, "seen", true, 0, PD_JSON_INT_MAX, path, &x->seen, err);
    if (rc == PD_OK)
        rc = pd_json_bool(e, "met", true, path, &x->met, err);
    if (rc != PD_OK)
        return rc;
    char sub[64];
    snprintf(sub, sizeof sub, "%s.expect", path);
    x->expect = cJSON_GetObjectItemCaseSensitive(e, "expect");
    if (x->expect == NULL)
        return pd_json_fail(err, "%s: required", sub);
    if (!cJSON_IsObject(x->expect))
        return pd_json_fail(err, "%s: must be an object", sub);
    rc = pd_json_i64(x->expect, "at_least", true, 1, PD_JSON_INT_MAX, sub, &x->at_least, err);
    if (rc == PD_OK)
        rc = opt_str(x->expect, "why", sub, &x->why, err);
    if (rc == PD_OK && x->why != NULL && x->why[0] == '\0')
        x->why = NULL;
    return rc;
}

/* expectations: optional (older reports have none); absent or null = none,
 * anything else is checked like the required arrays. */
static int load_expectations(const cJSON *root, struct rpt__report *r,
                             struct pd_json_err *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "expectations");
    if (arr == NULL || cJSON_IsNull(arr))
        return PD_OK;
    if (!cJSON_IsArray(arr))
        return pd_json_fail(err, "expectations: must be an array");
    r->expects = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *r->expects);
    if (r->expects == NULL)
        return PD_ENOMEM;
    int rc = PD_OK;
    for (const cJSON *e = arr->child; e != NULL && rc == PD_OK; e = e->next) {
        char path[48];
        snprintf(path, sizeof path, "expectations[%zu]", r->n_expects);
        rc = load_expectation(e, path, &r->expects[r->n_expects++], err);
    }
    return rc;
}

size_t rpt__unmet_expectations(const struct rpt__report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_expects; i++)
        n += !r->expects[i].met;
    return n;
}

static int load_violation(const cJSON *e, const char *path, struct rpt__viol *v,
                          struct pd_json_err *err)
{
    if (!cJSON_IsObject(e))
        return pd_json_fail(err, "%s: must be an object", path);
    int rc = pd_json_str(e, "invariant", true, 4096, path, &v->invariant, err);
    if (rc == PD_OK)
        rc = opt_str(e, "order", path, &v->order, err);
    if (rc == PD_OK)
        rc = opt_str(e, "key", path, &v->key, err);
    if (rc == PD_OK)
        rc = opt_str(e, "summary", path, &v->summary, err);
    if (rc == PD_OK)
        rc = opt_str_array(e, "faults", path, &v->faults, err);
    v->evidence = cJSON_GetObjectItemCaseSensitive(e, "evidence");
    v->order_idx = -1;
    return rc;
}

static int load_violations(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *arr;
    int rc = required_array(root, "violations", &arr, err);
    if (rc != PD_OK)
        return rc;
    r->viols = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *r->viols);
    if (r->viols == NULL)
        return PD_ENOMEM;
    for (const cJSON *e = arr->child; e != NULL && rc == PD_OK; e = e->next) {
        char path[48];
        snprintf(path, sizeof path, "violations[%zu]", r->n_viols);
        rc = load_violation(e, path, &r->viols[r->n_viols++], err);
    }
    return rc;
}

static int load_order(const cJSON *e, const char *path, struct rpt__order *o,
                      struct pd_json_err *err)
{
    if (!cJSON_IsObject(e))
        return pd_json_fail(err, "%s: must be an object", path);
    int rc = opt_str(e, "key", path, &o->key, err);
    if (rc == PD_OK)
        rc = opt_str(e, "order_id", path, &o->order_id, err);
    if (rc == PD_OK && o->key == NULL && o->order_id == NULL)
        return pd_json_fail(err, "%s: needs a key or an order_id", path);
    if (rc == PD_OK)
        rc = opt_str(e, "status", path, &o->status, err);
    if (rc == PD_OK)
        rc = opt_str(e, "currency", path, &o->currency, err);
    const char *keys[] = {"amount", "charges", "callbacks", "queries", "notifications"};
    int64_t *dst[] = {&o->amount, &o->charges, &o->callbacks, &o->queries,
                      &o->notifications};
    for (size_t i = 0; i < 5 && rc == PD_OK; i++)
        rc = opt_i64(e, keys[i], path, dst[i], err);
    if (rc == PD_OK)
        rc = opt_str_array(e, "faults", path, &o->faults, err);
    return rc;
}

static int index_one(struct rpt__report *r, const char *s, long order, const char **own)
{
    size_t idx;
    if (s == NULL)
        return PD_OK;
    size_t before = r->order_ix.n;
    if (rpt__strtab_add(&r->order_ix, s, &idx) != PD_OK)
        return PD_ENOMEM;
    if (r->order_ix.n > before)
        r->order_ix_map[idx] = order;   /* the first order to claim a name keeps it */
    *own = r->order_ix.strs[idx];
    return PD_OK;
}

/* Copies what order o borrows from the tree into memory r owns: names into
 * the strtabs, a non-empty faults list detached from the tree. */
static int own_order(struct rpt__report *r, cJSON *e, struct rpt__order *o, long i)
{
    int rc = index_one(r, o->order_id, i, &o->order_id);
    if (rc == PD_OK)
        rc = index_one(r, o->key, i, &o->key);
    const char **names[] = {&o->status, &o->currency};
    for (size_t k = 0; k < 2 && rc == PD_OK; k++) {
        size_t idx;
        if (*names[k] == NULL)
            continue;
        rc = rpt__strtab_add(&r->names, *names[k], &idx);
        if (rc == PD_OK)
            *names[k] = r->names.strs[idx];
    }
    if (rc != PD_OK || o->faults == NULL || o->faults->child == NULL) {
        o->faults = NULL;
        return rc;
    }
    cJSON *faults = cJSON_DetachItemViaPointer(e, (cJSON *)o->faults);
    if (!cJSON_AddItemToArray(r->kept, faults)) {
        cJSON_Delete(faults);
        return PD_ENOMEM;
    }
    return PD_OK;
}

/* report.json's orders as text, when rpt__orders_span found them: parsed
 * one element at a time instead of as one tree (rpt_split.c). */
struct orders_text {
    char *text;          /* the whole file */
    struct rpt__span arr;
    size_t bad_at;       /* where the JSON is broken, or SIZE_MAX */
};

static int alloc_orders(struct rpt__report *r, size_t n)
{
    r->orders = calloc(n + 1, sizeof *r->orders);
    r->order_ix_map = calloc(2 * n + 1, sizeof *r->order_ix_map);
    r->kept = cJSON_CreateArray();
    return r->orders && r->order_ix_map && r->kept ? PD_OK : PD_ENOMEM;
}

/* Copies order e into r->orders; nothing of e is kept (own_order). */
static int load_one_order(struct rpt__report *r, cJSON *e, struct pd_json_err *err)
{
    char path[48];
    snprintf(path, sizeof path, "orders[%zu]", r->n_orders);
    struct rpt__order *o = &r->orders[r->n_orders];
    int rc = load_order(e, path, o, err);
    if (rc == PD_OK)
        rc = own_order(r, e, o, (long)r->n_orders++);
    return rc;
}

/* Parses one element alone: cJSON sees it NUL-terminated and must use
 * all of it, so nothing between elements slips through unparsed. */
static cJSON *parse_element(struct orders_text *ot, struct rpt__span elem)
{
    char *p = ot->text + elem.at, saved = p[elem.len];
    const char *end = NULL;
    p[elem.len] = '\0';
    cJSON *e = cJSON_ParseWithLengthOpts(p, elem.len + 1, &end, true);
    p[elem.len] = saved;
    if (e == NULL)
        ot->bad_at = elem.at + (end != NULL && end >= p && end <= p + elem.len
                                    ? (size_t)(end - p) : 0);
    return e;
}

/* The orders array is most of report.json (at 10,000 orders a tree of
 * 100,000 nodes, 10.6 MB, the writers' peak): counted, then each element
 * parsed, copied into compact structs and freed before the next. Broken
 * JSON in here is found after the members before "orders" were checked,
 * so a file broken in both places names the member's error. */
static int load_orders_text(struct orders_text *ot, struct rpt__report *r,
                            struct pd_json_err *err)
{
    struct rpt__span elem;
    size_t pos = ot->arr.at + 1, n = 0;
    int step;
    while ((step = rpt__array_next(ot->text, ot->arr, &pos, &elem)) == 1)
        n++;
    if (step < 0) {
        ot->bad_at = pos;
        return PD_EINVAL;
    }
    int rc = alloc_orders(r, n);
    pos = ot->arr.at + 1;
    while (rc == PD_OK && rpt__array_next(ot->text, ot->arr, &pos, &elem) == 1) {
        cJSON *e = parse_element(ot, elem);
        if (e == NULL)
            return PD_EINVAL;
        rc = load_one_order(r, e, err);
        cJSON_Delete(e);
    }
    return rc;
}

/* The orders from ot's text when it is set (root holds null in their
 * place), else from the tree, whose array is dropped after copying. */
static int load_orders(cJSON *root, struct orders_text *ot, struct rpt__report *r,
                       struct pd_json_err *err)
{
    if (ot != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "orders");
        return load_orders_text(ot, r, err);
    }
    const cJSON *arr;
    int rc = required_array(root, "orders", &arr, err);
    if (rc == PD_OK)
        rc = alloc_orders(r, (size_t)cJSON_GetArraySize(arr));
    for (cJSON *e = arr ? arr->child : NULL; e != NULL && rc == PD_OK; e = e->next)
        rc = load_one_order(r, e, err);
    if (rc == PD_OK)
        cJSON_DeleteItemFromObjectCaseSensitive(root, "orders");
    return rc;
}

/* Ties each violation to its row in orders. */
static void index_violations(struct rpt__report *r)
{
    for (size_t v = 0; v < r->n_viols; v++) {
        struct rpt__viol *viol = &r->viols[v];
        viol->order_idx = viol->order ? rpt__order_find(r, viol->order) : -1;
        if (viol->order_idx < 0 && viol->key)
            viol->order_idx = rpt__order_find(r, viol->key);
    }
}

long rpt__order_find(const struct rpt__report *r, const char *s)
{
    long idx = s ? rpt__strtab_find(&r->order_ix, s) : -1;
    return idx < 0 ? -1 : r->order_ix_map[idx];
}

static int load_files(const cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    r->journal_name = "journal.ndjson";
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const char *name = NULL;
    if (cJSON_IsObject(files) && opt_str(files, "journal", "files", &name, err) != PD_OK)
        return PD_EINVAL;
    if (name == NULL)
        return PD_OK;
    /* The journal must sit inside the run folder: no absolute path, no "..". */
    if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
        return pd_json_fail(err, "files.journal: must be a file name inside the run folder");
    r->journal_name = name;
    return PD_OK;
}

static int load_rest(cJSON *root, struct orders_text *ot, struct rpt__report *r,
                     struct pd_json_err *err)
{
    int rc = load_header(root, r, err);
    if (rc == PD_OK)
        rc = load_counts(root, r, err);
    if (rc == PD_OK)
        rc = load_invariants(root, r, err);
    if (rc == PD_OK)
        rc = load_expectations(root, r, err);
    if (rc == PD_OK)
        rc = load_violations(root, r, err);
    if (rc == PD_OK)
        rc = load_orders(root, ot, r, err);
    if (rc == PD_OK)
        rc = load_files(root, r, err);
    if (rc == PD_OK) {
        r->fault_plan = cJSON_GetObjectItemCaseSensitive(root, "fault_plan");
        if (r->fault_plan != NULL && !cJSON_IsObject(r->fault_plan))
            r->fault_plan = NULL;
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(root, "fault_plan_reproducible");
        r->has_reproducible = cJSON_IsBool(rep);
        r->fault_plan_reproducible = cJSON_IsTrue(rep);
        index_violations(r);
    }
    return rc;
}

/* True when root's only "orders" member is the null put in place of the
 * array: a second one, or one spelled with escapes that the scan passed
 * over, would make the text and the tree disagree on which counts. */
static bool orders_cut_cleanly(const cJSON *root)
{
    size_t n = 0;
    for (const cJSON *m = root->child; m != NULL; m = m->next)
        n += m->string != NULL && strcmp(m->string, "orders") == 0;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "orders");
    return n == 1 && cJSON_IsNull(it);
}

/* Parses the text with its orders array (ot->arr) replaced by null; NULL
 * and ot->bad_at set when that is not valid JSON, NULL alone when the cut
 * is not clean or memory ran out (the caller parses the whole text). */
static cJSON *parse_without_orders(struct orders_text *ot, size_t len)
{
    size_t at = ot->arr.at, tail = len - (at + ot->arr.len);
    char *rest = malloc(at + 4 + tail);
    if (rest == NULL)
        return NULL;
    memcpy(rest, ot->text, at);
    memcpy(rest + at, "null", 4);
    memcpy(rest + at + 4, ot->text + at + ot->arr.len, tail);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(rest, at + 4 + tail, &end, false);
    if (root == NULL) {
        size_t off = end != NULL && end >= rest && end <= rest + at + 4 + tail
                         ? (size_t)(end - rest) : 0;
        ot->bad_at = off >= at + 4 ? off - 4 + ot->arr.len : off;
    } else if (!orders_cut_cleanly(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    free(rest);
    return root;
}

/* Parses report.json's text into out->root; *split says whether the
 * orders stay in text for load_orders_text. */
static void parse_report(struct orders_text *ot, size_t len, struct rpt__report *out,
                         bool *split)
{
    *split = rpt__orders_span(ot->text, len, &ot->arr);
    if (*split)
        out->root = parse_without_orders(ot, len);
    if (out->root != NULL || ot->bad_at != SIZE_MAX)
        return;
    *split = false;
    const char *end = NULL;
    out->root = cJSON_ParseWithLengthOpts(ot->text, len, &end, false);
    if (out->root == NULL)
        ot->bad_at = end != NULL && end >= ot->text && end <= ot->text + len
                         ? (size_t)(end - ot->text) : 0;
}

static int fail_syntax(const char *path, const char *text, size_t at)
{
    return rpt__fail(PD_EINVAL, "%s: not valid JSON (line %zu, byte %zu)", path,
                     pd_text_line(text, at), at);
}

int rpt__report_load(const char *run_dir, struct rpt__report *out)
{
    char path[4096];
    memset(out, 0, sizeof *out);
    if (rpt__path(path, sizeof path, run_dir, "report.json") != PD_OK)
        return rpt__fail(PD_ETOOBIG, "%s/report.json: path too long", run_dir);
    struct orders_text ot = {.bad_at = SIZE_MAX};
    size_t len = 0;
    int rc = pd_read_file(path, RPT_REPORT_MAX_BYTES, &ot.text, &len);
    if (rc == PD_ENOTFOUND)
        return rpt__fail(rc, "%s: missing (the checker writes it; was the run checked?)", path);
    if (rc != PD_OK)
        return rpt__fail(rc, "%s: cannot read (%s)", path, pd_strerror(rc));
    bool split;
    parse_report(&ot, len, out, &split);
    struct pd_json_err err = {{0}};
    if (out->root == NULL)
        rc = PD_EINVAL;
    else if (!cJSON_IsObject(out->root))
        rc = pd_json_fail(&err, "top level: must be an object");
    else
        rc = load_rest(out->root, split ? &ot : NULL, out, &err);
    if (rc != PD_OK && ot.bad_at != SIZE_MAX)
        rc = fail_syntax(path, ot.text, ot.bad_at);
    else if (rc == PD_ENOMEM)
        rc = rpt__fail(rc, "%s: out of memory", path);
    else if (rc != PD_OK)
        rc = rpt__fail(rc, "%s: %s", path, err.text);
    free(ot.text);
    if (rc != PD_OK)
        rpt__report_release(out);
    return rc;
}

void rpt__report_release(struct rpt__report *r)
{
    cJSON_Delete(r->root);
    cJSON_Delete(r->kept);
    free(r->invs);
    free(r->viols);
    free(r->expects);
    free(r->orders);
    free(r->order_ix_map);
    rpt__strtab_release(&r->order_ix);
    rpt__strtab_release(&r->names);
    memset(r, 0, sizeof *r);
}

int64_t rpt__count(const struct rpt__report *r, const char *name)
{
    for (size_t i = 0; i < r->n_counts; i++)
        if (strcmp(r->counts[i].name, name) == 0)
            return r->counts[i].value;
    return -1;
}
