#include "sim_scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_json.h"
#include "pd_time.h"
#include "pd_util.h"

#define DAY_MS 86400000LL
#define MAX_DURATION_MS (366 * DAY_MS)

/* Parsing state: the file name for messages and the reason of the first error. */
struct ctx {
    const char *file;
    struct pd_json_err err;
};

static int fail(struct ctx *c, const char *path, const char *key, const char *reason)
{
    return pd_json_fail(&c->err, "%s%s%s: %s", path, *path ? "." : "", key, reason);
}

/* A duration field ("30s", "10m"...) in [min_ms, MAX_DURATION_MS]. */
static int get_dur(struct ctx *c, const cJSON *obj, const char *key, const char *path,
                   int64_t min_ms, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return PD_OK;
    int64_t v = 0;
    if (!cJSON_IsString(it) || pd_parse_duration(it->valuestring, &v) != PD_OK)
        return fail(c, path, key, "must be a duration such as \"250ms\", \"30s\", \"10m\", \"3h\", \"1d\"");
    if (v < min_ms || v > MAX_DURATION_MS)
        return fail(c, path, key, v < min_ms ? "too short" : "longer than 366d");
    *out = v;
    return PD_OK;
}

static int get_prob(struct ctx *c, const cJSON *obj, const char *key, const char *path,
                    double *out)
{
    return pd_json_num(obj, key, false, 0.0, 1.0, path, out, &c->err);
}

static int parse_amount(struct ctx *c, const cJSON *w, struct sim_workload *wl)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(w, "amount");
    if (a == NULL)
        return PD_OK;
    static const char *const keys[] = {"min", "max", NULL};
    int rc = pd_json_only_keys(a, keys, "workload.amount", &c->err);
    if (rc == PD_OK)
        rc = pd_json_i64(a, "min", false, 1, 1000000000000LL, "workload.amount", &wl->amount_min, &c->err);
    if (rc == PD_OK)
        rc = pd_json_i64(a, "max", false, 1, 1000000000000LL, "workload.amount", &wl->amount_max, &c->err);
    if (rc == PD_OK && wl->amount_max < wl->amount_min)
        rc = fail(c, "workload.amount", "max", "must be >= min");
    return rc;
}

static int parse_dups(struct ctx *c, const cJSON *w, struct sim_workload *wl)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(w, "duplicates");
    if (d == NULL)
        return PD_OK;
    static const char *const keys[] = {"immediate", "concurrent", "burst", "after_window", NULL};
    const char *p = "workload.duplicates";
    int rc = pd_json_only_keys(d, keys, p, &c->err);
    if (rc == PD_OK)
        rc = get_prob(c, d, "immediate", p, &wl->dup_immediate);
    if (rc == PD_OK)
        rc = get_prob(c, d, "concurrent", p, &wl->dup_concurrent);
    if (rc == PD_OK)
        rc = get_prob(c, d, "after_window", p, &wl->dup_after_window);
    if (rc == PD_OK)
        rc = pd_json_i64(d, "burst", false, 2, SIM_MAX_BURST, p, &wl->burst_copies, &c->err);
    if (rc == PD_OK && wl->dup_immediate + wl->dup_concurrent + wl->dup_after_window > 1.0 + 1e-9)
        rc = pd_json_fail(&c->err, "%s: immediate + concurrent + after_window must be <= 1", p);
    return rc;
}

static int copy_str(struct ctx *c, const cJSON *obj, const char *key, const char *path,
                    size_t max_len, char *dst)
{
    const char *v = NULL;
    int rc = pd_json_str(obj, key, false, max_len, path, &v, &c->err);
    if (rc == PD_OK && v != NULL)
        pd_strlcpy(dst, v, max_len + 1);
    return rc;
}

static int parse_workload(struct ctx *c, const cJSON *root, struct sim_workload *wl)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "workload");
    if (w == NULL)
        return PD_OK;
    static const char *const keys[] = {"orders", "concurrency", "arrival_rate", "amount",
                                       "currency", "merchant_id", "duplicates",
                                       "pay_double_click", NULL};
    const char *p = "workload";
    int rc = pd_json_only_keys(w, keys, p, &c->err);
    if (rc == PD_OK)
        rc = pd_json_i64(w, "orders", false, 1, SIM_MAX_ORDERS, p, &wl->orders, &c->err);
    if (rc == PD_OK)
        rc = pd_json_i64(w, "concurrency", false, 1, SIM_MAX_CONCURRENCY, p, &wl->concurrency, &c->err);
    if (rc == PD_OK)
        rc = pd_json_num(w, "arrival_rate", false, 0.0, 1e9, p, &wl->arrival_rate, &c->err);
    if (rc == PD_OK)
        rc = copy_str(c, w, "currency", p, 3, wl->currency);
    if (rc == PD_OK && (strlen(wl->currency) != 3 || wl->currency[0] < 'A' || wl->currency[0] > 'Z' ||
                        wl->currency[1] < 'A' || wl->currency[1] > 'Z' ||
                        wl->currency[2] < 'A' || wl->currency[2] > 'Z'))
        rc = fail(c, p, "currency", "must be an ISO 4217 code of three capital letters");
    if (rc == PD_OK)
        rc = copy_str(c, w, "merchant_id", p, SIM_NAME_MAX - 1, wl->merchant_id);
    if (rc == PD_OK)
        rc = parse_amount(c, w, wl);
    if (rc == PD_OK)
        rc = parse_dups(c, w, wl);
    if (rc == PD_OK)
        rc = get_prob(c, w, "pay_double_click", p, &wl->pay_double_click);
    return rc;
}

static int parse_payer(struct ctx *c, const cJSON *root, struct sim_payer *py)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "payer");
    if (o == NULL)
        return PD_OK;
    static const char *const keys[] = {"pay", "pay_twice", "pay_late", "abandon",
                                       "delay_min", "delay_max", NULL};
    const char *p = "payer";
    int rc = pd_json_only_keys(o, keys, p, &c->err);
    if (rc != PD_OK)
        return rc;
    /* Any probability given replaces the default "always pay". */
    py->pay = 0;
    rc = get_prob(c, o, "pay", p, &py->pay);
    if (rc == PD_OK)
        rc = get_prob(c, o, "pay_twice", p, &py->pay_twice);
    if (rc == PD_OK)
        rc = get_prob(c, o, "pay_late", p, &py->pay_late);
    if (rc == PD_OK)
        rc = get_prob(c, o, "abandon", p, &py->abandon);
    if (rc == PD_OK && fabs(py->pay + py->pay_twice + py->pay_late + py->abandon - 1.0) > 1e-6)
        rc = pd_json_fail(&c->err, "payer: pay + pay_twice + pay_late + abandon must be 1");
    if (rc == PD_OK)
        rc = get_dur(c, o, "delay_min", p, 0, &py->delay_min_ms);
    if (rc == PD_OK)
        rc = get_dur(c, o, "delay_max", p, 0, &py->delay_max_ms);
    if (rc == PD_OK && py->delay_max_ms < py->delay_min_ms)
        rc = fail(c, p, "delay_max", "must be >= delay_min");
    return rc;
}

static int parse_biz_action(struct ctx *c, const cJSON *o, const char *p, struct sim_biz_fault *f)
{
    const char *action = NULL;
    int rc = pd_json_str(o, "action", true, 16, p, &action, &c->err);
    if (rc != PD_OK)
        return rc;
    if (strcmp(action, "error") == 0)
        f->action = SIM_BIZ_ERROR;
    else if (strcmp(action, "slow") == 0)
        f->action = SIM_BIZ_SLOW;
    else if (strcmp(action, "no_ack") == 0)
        f->action = SIM_BIZ_NO_ACK;
    else
        return fail(c, p, "action", "must be one of error, slow, no_ack");
    int64_t status = f->action == SIM_BIZ_NO_ACK ? 504 : 503;
    rc = pd_json_i64(o, "status", false, 300, 599, p, &status, &c->err);
    f->status = (int)status;
    if (rc == PD_OK)
        rc = get_dur(c, o, "delay", p, 0, &f->delay_ms);
    if (rc == PD_OK && f->action == SIM_BIZ_SLOW && f->delay_ms == 0)
        rc = fail(c, p, "delay", "required for slow, and > 0");
    return rc;
}

static int parse_biz_one(struct ctx *c, const cJSON *o, const char *p, struct sim_biz_fault *f)
{
    static const char *const keys[] = {"action", "status", "delay", "probability",
                                       "from", "until", NULL};
    memset(f, 0, sizeof *f);
    f->probability = 1.0;
    f->until_ms = -1;
    int rc = pd_json_only_keys(o, keys, p, &c->err);
    if (rc == PD_OK)
        rc = parse_biz_action(c, o, p, f);
    if (rc == PD_OK)
        rc = get_prob(c, o, "probability", p, &f->probability);
    if (rc == PD_OK)
        rc = get_dur(c, o, "from", p, 0, &f->from_ms);
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(o, "until");
    if (rc == PD_OK && cJSON_IsString(until) && strcmp(until->valuestring, "forever") == 0)
        return PD_OK;
    if (rc == PD_OK)
        rc = get_dur(c, o, "until", p, 0, &f->until_ms);
    if (rc == PD_OK && f->until_ms >= 0 && f->until_ms <= f->from_ms)
        rc = fail(c, p, "until", "must be after from (or \"forever\")");
    return rc;
}

static int parse_biz(struct ctx *c, const cJSON *root, struct sim_scenario *s)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "business_faults");
    if (a == NULL)
        return PD_OK;
    if (!cJSON_IsArray(a))
        return pd_json_fail(&c->err, "business_faults: must be an array");
    if (cJSON_GetArraySize(a) > SIM_MAX_BIZ_FAULTS)
        return pd_json_fail(&c->err, "business_faults: at most %d rules", SIM_MAX_BIZ_FAULTS);
    int i = 0;
    for (const cJSON *o = a->child; o != NULL; o = o->next, i++) {
        char p[48];
        snprintf(p, sizeof p, "business_faults[%d]", i);
        int rc = parse_biz_one(c, o, p, &s->biz[s->n_biz]);
        if (rc != PD_OK)
            return rc;
        s->n_biz++;
    }
    return PD_OK;
}

static int parse_proc_when(struct ctx *c, const cJSON *o, const char *p, struct sim_proc_fault *f)
{
    int rc = get_dur(c, o, "at", p, 0, &f->at_ms);
    if (rc == PD_OK)
        rc = pd_json_i64(o, "after_orders", false, 0, SIM_MAX_ORDERS, p, &f->after_orders, &c->err);
    if (rc == PD_OK && (f->at_ms < 0) == (f->after_orders < 0))
        rc = pd_json_fail(&c->err, "%s: exactly one of at, after_orders is required", p);
    if (rc == PD_OK)
        rc = get_dur(c, o, "restart_after", p, 0, &f->restart_after_ms);
    if (rc == PD_OK)
        rc = pd_json_i64(o, "repeat", false, 1, 100, p, &f->repeat, &c->err);
    if (rc == PD_OK)
        rc = get_dur(c, o, "every", p, 1, &f->every_ms);
    if (rc == PD_OK && f->repeat > 1 && f->every_ms <= f->restart_after_ms)
        rc = fail(c, p, "every", "must be longer than restart_after when repeat > 1");
    return rc;
}

static int parse_proc_one(struct ctx *c, const cJSON *o, const char *p, struct sim_proc_fault *f)
{
    static const char *const keys[] = {"target", "at", "after_orders", "restart_after",
                                       "repeat", "every", NULL};
    memset(f, 0, sizeof *f);
    f->at_ms = -1;
    f->after_orders = -1;
    f->restart_after_ms = 10000;
    f->repeat = 1;
    f->every_ms = 600000;
    int rc = pd_json_only_keys(o, keys, p, &c->err);
    const char *target = NULL;
    if (rc == PD_OK)
        rc = pd_json_str(o, "target", true, 16, p, &target, &c->err);
    if (rc == PD_OK && strcmp(target, "sut") == 0)
        f->target = SIM_TARGET_SUT;
    else if (rc == PD_OK && strcmp(target, "gateway") == 0)
        f->target = SIM_TARGET_GATEWAY;
    else if (rc == PD_OK)
        rc = fail(c, p, "target", "must be sut or gateway");
    if (rc == PD_OK)
        rc = parse_proc_when(c, o, p, f);
    return rc;
}

static int parse_procs(struct ctx *c, const cJSON *root, struct sim_scenario *s)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "process_faults");
    if (a == NULL)
        return PD_OK;
    if (!cJSON_IsArray(a))
        return pd_json_fail(&c->err, "process_faults: must be an array");
    if (cJSON_GetArraySize(a) > SIM_MAX_PROC_FAULTS)
        return pd_json_fail(&c->err, "process_faults: at most %d rules", SIM_MAX_PROC_FAULTS);
    int i = 0;
    for (const cJSON *o = a->child; o != NULL; o = o->next, i++) {
        char p[48];
        snprintf(p, sizeof p, "process_faults[%d]", i);
        int rc = parse_proc_one(c, o, p, &s->procs[s->n_procs]);
        if (rc != PD_OK)
            return rc;
        s->n_procs++;
    }
    return PD_OK;
}

static bool env_name_ok(const char *name)
{
    if (name == NULL || *name == '\0' || strlen(name) > 64 || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* The SUT contract's variables, those paydrill derives from fields, and
 * mock-gateway's options paydrill sets itself. */
static bool reserved_env(const char *name)
{
    static const char *const names[] = {
        "PAYDRILL_LISTEN", "PAYDRILL_DATA_DIR", "PAYDRILL_GATEWAY_URL", "PAYDRILL_GATEWAY_SECRET",
        "PAYDRILL_BUSINESS_URL", "PAYDRILL_BUSINESS_SECRET", "PAYDRILL_DEDUP_WINDOW",
        "PAYDRILL_PAYMENT_EXPIRY", "PAYDRILL_TIME_SCALE", "LD_PRELOAD", "FAKETIME",
        "FAKETIME_SHARED", "FAKETIME_DONT_RESET", "TZ", "GW_LISTEN", "GW_SECRET",
        "GW_SEED", "GW_FAULTS", "GW_DATA_DIR", "GW_EPOCH_MS", NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static int parse_env(struct ctx *c, const cJSON *root, const char *field, char **vars,
                     size_t *n_vars)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, field);
    if (o == NULL)
        return PD_OK;
    if (!cJSON_IsObject(o))
        return pd_json_fail(&c->err, "%s: must be an object of strings", field);
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        if (!env_name_ok(it->string))
            return pd_json_fail(&c->err, "%s.%.64s: name must be [A-Z_][A-Z0-9_]*", field, it->string);
        if (reserved_env(it->string))
            return pd_json_fail(&c->err, "%s.%s: set by paydrill (see docs/scenarios.md)", field, it->string);
        if (!cJSON_IsString(it) || strlen(it->valuestring) > 512)
            return pd_json_fail(&c->err, "%s.%s: must be a string of at most 512 bytes", field, it->string);
        if (*n_vars >= SIM_MAX_SUT_ENV)
            return pd_json_fail(&c->err, "%s: at most %d variables", field, SIM_MAX_SUT_ENV);
        size_t len = strlen(it->string) + strlen(it->valuestring) + 2;
        char *kv = malloc(len);
        if (kv == NULL)
            return pd_json_fail(&c->err, "%s: out of memory", field);
        snprintf(kv, len, "%s=%s", it->string, it->valuestring);
        vars[(*n_vars)++] = kv;
    }
    return PD_OK;
}

static int parse_name(struct ctx *c, const cJSON *root, struct sim_scenario *s)
{
    const char *name = NULL, *desc = NULL;
    int rc = pd_json_str(root, "name", true, SIM_NAME_MAX - 1, "", &name, &c->err);
    if (rc != PD_OK)
        return rc;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return fail(c, "", "name", "only letters, digits, '-', '_' and '.' (it names folders and keys)");
    pd_strlcpy(s->name, name, sizeof s->name);
    rc = pd_json_str(root, "description", false, 4096, "", &desc, &c->err);
    if (rc == PD_OK) {
        s->description = strdup(desc ? desc : "");
        if (s->description == NULL)
            rc = pd_json_fail(&c->err, "description: out of memory");
    }
    return rc;
}

static int parse_top(struct ctx *c, const cJSON *root, struct sim_scenario *s)
{
    static const char *const keys[] = {
        "name", "description", "seed", "time_scale", "workload", "payer", "gateway_faults",
        "business_faults", "process_faults", "sut_env", "gateway_env", "dedup_window", "payment_expiry",
        "notify_timeout", "convergence_bound", "settle", "wait_callbacks", "expect", "$schema",
        NULL};
    int rc = pd_json_only_keys(root, keys, "", &c->err);
    if (rc == PD_OK)
        rc = parse_name(c, root, s);
    int64_t seed = (int64_t)s->seed;
    if (rc == PD_OK)
        rc = pd_json_i64(root, "seed", false, 0, PD_JSON_INT_MAX, "", &seed, &c->err);
    s->seed = (uint64_t)seed;
    if (rc == PD_OK)
        rc = pd_json_num(root, "time_scale", false, 1.0, 100000.0, "", &s->time_scale, &c->err);
    if (rc == PD_OK)
        rc = get_dur(c, root, "dedup_window", "", 0, &s->dedup_window_ms);
    if (rc == PD_OK)
        rc = get_dur(c, root, "payment_expiry", "", 1000, &s->payment_expiry_ms);
    if (rc == PD_OK)
        rc = get_dur(c, root, "notify_timeout", "", 1, &s->notify_timeout_ms);
    if (rc == PD_OK)
        rc = get_dur(c, root, "convergence_bound", "", 1000, &s->convergence_bound_ms);
    if (rc == PD_OK)
        rc = get_dur(c, root, "settle", "", 0, &s->settle_ms);
    if (rc == PD_OK)
        rc = pd_json_bool(root, "wait_callbacks", false, "", &s->wait_callbacks, &c->err);
    if (rc == PD_OK)
        rc = sim_expect_parse(root, s->expect, &s->n_expect, &c->err);
    return rc;
}

static void set_defaults(struct sim_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->time_scale = 100;
    s->workload.orders = 100;
    s->workload.concurrency = 32;
    s->workload.amount_min = 100;
    s->workload.amount_max = 99999;
    memcpy(s->workload.currency, "CNY", 4);
    memcpy(s->workload.merchant_id, "m-1", 4);
    s->workload.burst_copies = 2;
    s->payer.pay = 1.0;
    s->payer.delay_min_ms = 0;
    s->payer.delay_max_ms = 5000;
    s->dedup_window_ms = 600000;          /* the reference's default: 10 min */
    s->payment_expiry_ms = 1800000;       /* 30 min */
    s->notify_timeout_ms = 120000;
    s->convergence_bound_ms = 26 * 3600000LL;
    s->wait_callbacks = true;
}

/* Runs `gateway --check-faults FILE` on the rules and maps its message onto
 * the scenario's field path. */
static int check_gateway_faults(struct ctx *c, const cJSON *rules, const char *gateway);

static int parse_doc(struct ctx *c, const cJSON *root, const char *gateway, struct sim_scenario *s)
{
    int rc = parse_top(c, root, s);
    if (rc == PD_OK)
        rc = parse_workload(c, root, &s->workload);
    if (rc == PD_OK)
        rc = parse_payer(c, root, &s->payer);
    if (rc == PD_OK)
        rc = parse_biz(c, root, s);
    if (rc == PD_OK)
        rc = parse_procs(c, root, s);
    if (rc == PD_OK)
        rc = parse_env(c, root, "sut_env", s->sut_env, &s->n_sut_env);
    if (rc == PD_OK)
        rc = parse_env(c, root, "gateway_env", s->gateway_env, &s->n_gateway_env);
    const cJSON *gf = cJSON_GetObjectItemCaseSensitive(root, "gateway_faults");
    if (rc == PD_OK && gf != NULL && !cJSON_IsNull(gf)) {
        if (!cJSON_IsObject(gf))
            return pd_json_fail(&c->err, "gateway_faults: must be an object (mock-gateway's rules document)");
        if (gateway != NULL)
            rc = check_gateway_faults(c, gf, gateway);
        if (rc == PD_OK && (s->gateway_faults = cJSON_Duplicate(gf, 1)) == NULL)
            rc = pd_json_fail(&c->err, "gateway_faults: out of memory");
    }
    return rc;
}

int sim_scenario_parse(const char *file, const char *text, size_t len,
                       const char *gateway_check, struct sim_scenario *out,
                       char err[SIM_ERR_MAX])
{
    struct ctx c = {.file = file};
    set_defaults(out);
    pd_strlcpy(out->file, file, sizeof out->file);
    err[0] = '\0';
    long off = 0;
    cJSON *root = pd_json_parse_whole(text, len, &off);
    if (root == NULL) {
        snprintf(err, SIM_ERR_MAX, "%s: (document): not valid JSON (line %zu, byte %ld)", file,
                 pd_text_line(text, (size_t)off), off);
        sim_scenario_release(out);
        return PD_EINVAL;
    }
    int rc = cJSON_IsObject(root) ? parse_doc(&c, root, gateway_check, out)
                                  : pd_json_fail(&c.err, "(document): must be a JSON object");
    cJSON_Delete(root);
    if (rc != PD_OK) {
        snprintf(err, SIM_ERR_MAX, "%s: %s", file, c.err.text);
        sim_scenario_release(out);
        return PD_EINVAL;
    }
    return PD_OK;
}

int sim_scenario_load(const char *file, const char *gateway_check,
                      struct sim_scenario *out, char err[SIM_ERR_MAX])
{
    char *text = NULL;
    size_t len = 0;
    int rc = pd_read_file(file, SIM_SCENARIO_FILE_MAX, &text, &len);
    if (rc != PD_OK) {
        memset(out, 0, sizeof *out);
        snprintf(err, SIM_ERR_MAX, "%s: (file): %s", file,
                 rc == PD_ENOTFOUND ? "no such file" :
                 rc == PD_ETOOBIG ? "larger than 1 MiB" : "cannot be read");
        return rc == PD_ENOTFOUND ? PD_ENOTFOUND : PD_EINVAL;
    }
    rc = sim_scenario_parse(file, text, len, gateway_check, out, err);
    free(text);
    return rc;
}

/* ---- gateway_faults validation through mock-gateway ---- */

static int run_capture(const char *const *argv, char *out, size_t out_len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], out + len, out_len - 1 - len)) > 0 && len + (size_t)r < out_len - 1)
        len += (size_t)r;
    if (r > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int check_gateway_faults(struct ctx *c, const cJSON *rules, const char *gateway)
{
    char tmp[] = "/tmp/paydrill-faults-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return pd_json_fail(&c->err, "gateway_faults: cannot write a temp file to check it");
    char *text = cJSON_Print(rules);
    size_t len = text ? strlen(text) : 0;
    bool ok = text != NULL && write(fd, text, len) == (ssize_t)len;
    close(fd);
    free(text);
    char out[1024] = "";
    const char *argv[] = {gateway, "--check-faults", tmp, NULL};
    int status = ok ? run_capture(argv, out, sizeof out) : -1;
    unlink(tmp);
    if (status == 0)
        return PD_OK;
    /* "TMP: <json path>: <reason>" -> "gateway_faults.<json path>: <reason>" */
    char *nl = strchr(out, '\n');
    if (nl != NULL)
        *nl = '\0';
    const char *msg = out;
    size_t tl = strlen(tmp);
    if (strncmp(msg, tmp, tl) == 0 && msg[tl] == ':')
        msg += tl + 1 + (msg[tl + 1] == ' ');
    if (status < 0 || status == 127 || *msg == '\0')
        return pd_json_fail(&c->err, "gateway_faults: could not be checked with %s (status %d)",
                            gateway, status);
    const char *sep = (*msg == '[' || *msg == '$' || *msg == ':') ? "" : ".";
    if (*msg == '$')
        msg++;
    if (*msg == '.')
        msg++, sep = ".";
    return pd_json_fail(&c->err, "gateway_faults%s%s", sep, msg);
}

/* ---- printing back ---- */

static void add_dur(cJSON *o, const char *key, int64_t ms)
{
    char text[32];
    pd_format_duration(ms, text, sizeof text);
    cJSON_AddStringToObject(o, key, text);
}

static cJSON *workload_json(const struct sim_workload *w)
{
    cJSON *o = cJSON_CreateObject();
    pd_json_add_i64(o, "orders", w->orders);
    pd_json_add_i64(o, "concurrency", w->concurrency);
    cJSON_AddNumberToObject(o, "arrival_rate", w->arrival_rate);
    cJSON *a = cJSON_AddObjectToObject(o, "amount");
    pd_json_add_i64(a, "min", w->amount_min);
    pd_json_add_i64(a, "max", w->amount_max);
    cJSON_AddStringToObject(o, "currency", w->currency);
    cJSON_AddStringToObject(o, "merchant_id", w->merchant_id);
    cJSON *d = cJSON_AddObjectToObject(o, "duplicates");
    cJSON_AddNumberToObject(d, "immediate", w->dup_immediate);
    cJSON_AddNumberToObject(d, "concurrent", w->dup_concurrent);
    pd_json_add_i64(d, "burst", w->burst_copies);
    cJSON_AddNumberToObject(d, "after_window", w->dup_after_window);
    cJSON_AddNumberToObject(o, "pay_double_click", w->pay_double_click);
    return o;
}

static cJSON *payer_json(const struct sim_payer *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pay", p->pay);
    cJSON_AddNumberToObject(o, "pay_twice", p->pay_twice);
    cJSON_AddNumberToObject(o, "pay_late", p->pay_late);
    cJSON_AddNumberToObject(o, "abandon", p->abandon);
    add_dur(o, "delay_min", p->delay_min_ms);
    add_dur(o, "delay_max", p->delay_max_ms);
    return o;
}

static cJSON *biz_json(const struct sim_scenario *s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_biz; i++) {
        const struct sim_biz_fault *f = &s->biz[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "action", sim_biz_action_name(f->action));
        pd_json_add_i64(o, "status", f->status);
        if (f->action == SIM_BIZ_SLOW)
            add_dur(o, "delay", f->delay_ms);
        cJSON_AddNumberToObject(o, "probability", f->probability);
        add_dur(o, "from", f->from_ms);
        if (f->until_ms < 0)
            cJSON_AddStringToObject(o, "until", "forever");
        else
            add_dur(o, "until", f->until_ms);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *procs_json(const struct sim_scenario *s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_procs; i++) {
        const struct sim_proc_fault *f = &s->procs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "target", sim_target_name(f->target));
        if (f->at_ms >= 0)
            add_dur(o, "at", f->at_ms);
        else
            pd_json_add_i64(o, "after_orders", f->after_orders);
        add_dur(o, "restart_after", f->restart_after_ms);
        pd_json_add_i64(o, "repeat", f->repeat);
        add_dur(o, "every", f->every_ms);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *env_json(char *const *vars, size_t n_vars)
{
    cJSON *env = cJSON_CreateObject();
    for (size_t i = 0; i < n_vars; i++) {
        char name[80];
        const char *eq = strchr(vars[i], '=');
        size_t n = (size_t)(eq - vars[i]);
        memcpy(name, vars[i], n);
        name[n] = '\0';
        cJSON_AddStringToObject(env, name, eq + 1);
    }
    return env;
}

cJSON *sim_scenario_to_json(const struct sim_scenario *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", s->name);
    if (s->description != NULL && s->description[0] != '\0')
        cJSON_AddStringToObject(o, "description", s->description);
    pd_json_add_i64(o, "seed", (int64_t)s->seed);
    cJSON_AddNumberToObject(o, "time_scale", s->time_scale);
    cJSON_AddItemToObject(o, "workload", workload_json(&s->workload));
    cJSON_AddItemToObject(o, "payer", payer_json(&s->payer));
    if (s->gateway_faults != NULL)
        cJSON_AddItemToObject(o, "gateway_faults", cJSON_Duplicate(s->gateway_faults, 1));
    cJSON_AddItemToObject(o, "business_faults", biz_json(s));
    cJSON_AddItemToObject(o, "process_faults", procs_json(s));
    cJSON_AddItemToObject(o, "sut_env", env_json(s->sut_env, s->n_sut_env));
    cJSON_AddItemToObject(o, "gateway_env", env_json(s->gateway_env, s->n_gateway_env));
    add_dur(o, "dedup_window", s->dedup_window_ms);
    add_dur(o, "payment_expiry", s->payment_expiry_ms);
    add_dur(o, "notify_timeout", s->notify_timeout_ms);
    add_dur(o, "convergence_bound", s->convergence_bound_ms);
    add_dur(o, "settle", s->settle_ms);
    cJSON_AddBoolToObject(o, "wait_callbacks", s->wait_callbacks);
    if (s->n_expect > 0) {
        cJSON *a = cJSON_AddArrayToObject(o, "expect");
        for (size_t i = 0; a != NULL && i < s->n_expect; i++)
            cJSON_AddItemToArray(a, sim_expect_to_json(&s->expect[i]));
    }
    return o;
}

void sim_scenario_release(struct sim_scenario *s)
{
    free(s->description);
    s->description = NULL;
    cJSON_Delete(s->gateway_faults);
    s->gateway_faults = NULL;
    for (size_t i = 0; i < s->n_sut_env; i++)
        free(s->sut_env[i]);
    s->n_sut_env = 0;
    s->sut_env[0] = NULL;
    for (size_t i = 0; i < s->n_gateway_env; i++)
        free(s->gateway_env[i]);
    s->n_gateway_env = 0;
    s->gateway_env[0] = NULL;
}

bool sim_scenario_biz_forever(const struct sim_scenario *s)
{
    for (size_t i = 0; i < s->n_biz; i++)
        if (s->biz[i].until_ms < 0)
            return true;
    return false;
}

const char *sim_biz_action_name(int action)
{
    switch (action) {
    case SIM_BIZ_ERROR: return "error";
    case SIM_BIZ_SLOW: return "slow";
    case SIM_BIZ_NO_ACK: return "no_ack";
    default: return "?";
    }
}

const char *sim_target_name(int target)
{
    return target == SIM_TARGET_GATEWAY ? "gateway" : "sut";
}
