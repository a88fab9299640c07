/* rpt_load.c -- reads report.json (schema paydrill.report/1) into a
 * validated struct rpt__report.
 *
 * The checker writes report.json; we still validate every field we use,
 * because a report writer that crashes or prints garbage on a bad input
 * hides the very failure CI needs to see. Unknown fields are allowed (a
 * later minor revision may add some); a wrong type or a missing required
 * field is an error naming the field path. */
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

/* The orders array is most of report.json: each row is copied into compact
 * structs and the array is dropped from the tree, so only the small rest
 * of the tree outlives loading. */
static int load_orders(cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    const cJSON *arr;
    int rc = required_array(root, "orders", &arr, err);
    if (rc != PD_OK)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    r->orders = calloc(n + 1, sizeof *r->orders);
    r->order_ix_map = calloc(2 * n + 1, sizeof *r->order_ix_map);
    r->kept = cJSON_CreateArray();
    if (r->orders == NULL || r->order_ix_map == NULL || r->kept == NULL)
        return PD_ENOMEM;
    for (cJSON *e = arr->child; e != NULL && rc == PD_OK; e = e->next) {
        char path[48];
        snprintf(path, sizeof path, "orders[%zu]", r->n_orders);
        struct rpt__order *o = &r->orders[r->n_orders];
        rc = load_order(e, path, o, err);
        if (rc == PD_OK)
            rc = own_order(r, e, o, (long)r->n_orders++);
    }
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

static int load_rest(cJSON *root, struct rpt__report *r, struct pd_json_err *err)
{
    int rc = load_header(root, r, err);
    if (rc == PD_OK)
        rc = load_counts(root, r, err);
    if (rc == PD_OK)
        rc = load_invariants(root, r, err);
    if (rc == PD_OK)
        rc = load_violations(root, r, err);
    if (rc == PD_OK)
        rc = load_orders(root, r, err);
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

int rpt__report_load(const char *run_dir, struct rpt__report *out)
{
    char path[4096];
    memset(out, 0, sizeof *out);
    if (rpt__path(path, sizeof path, run_dir, "report.json") != PD_OK)
        return rpt__fail(PD_ETOOBIG, "%s/report.json: path too long", run_dir);
    char *text = NULL;
    size_t len = 0;
    int rc = pd_read_file(path, RPT_REPORT_MAX_BYTES, &text, &len);
    if (rc == PD_ENOTFOUND)
        return rpt__fail(rc, "%s: missing (the checker writes it; was the run checked?)", path);
    if (rc != PD_OK)
        return rpt__fail(rc, "%s: cannot read (%s)", path, pd_strerror(rc));
    const char *end = NULL;
    out->root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (out->root == NULL) {
        size_t at = (end != NULL && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n';
        free(text);
        return rpt__fail(PD_EINVAL, "%s: not valid JSON (line %zu, byte %zu)", path, line, at);
    }
    free(text);
    struct pd_json_err err = {{0}};
    if (!cJSON_IsObject(out->root))
        rc = pd_json_fail(&err, "top level: must be an object");
    else
        rc = load_rest(out->root, out, &err);
    if (rc != PD_OK) {
        rpt__report_release(out);
        if (rc == PD_ENOMEM)
            return rpt__fail(rc, "%s: out of memory", path);
        return rpt__fail(rc, "%s: %s", path, err.text);
    }
    return PD_OK;
}

void rpt__report_release(struct rpt__report *r)
{
    cJSON_Delete(r->root);
    cJSON_Delete(r->kept);
    free(r->invs);
    free(r->viols);
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
