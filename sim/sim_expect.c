/* sim_expect.c -- see sim_expect.h. */
#include "sim_expect.h"

#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "pd_util.h"

const char *const sim_expect_counts[SIM_COUNTS_N + 1] = {
    "orders", "submissions", "duplicates_sent", "duplicates_rejected", "paid", "closed",
    "charges", "refunds", "callbacks", "notifications", NULL};

const char *const sim_expect_records[] = {"submissions", "pay_calls", "payer", "queries",
                                          "receipts", NULL};

static const char *const targets[] = {"sut", "gateway", NULL};
static const char *const actions[] = {"kill", "restart", "restart_failed", "skipped", NULL};

/* An optional string field copied into dst (dst_len bytes with its NUL). */
static int copy_str(const cJSON *o, const char *key, bool required, size_t dst_len,
                    const char *path, char *dst, struct pd_json_err *err)
{
    const char *v = NULL;
    int rc = pd_json_str(o, key, required, dst_len - 1, path, &v, err);
    if (rc == PD_OK && v != NULL)
        pd_strlcpy(dst, v, dst_len);
    return rc;
}

/* A required string field that must be one of names (NULL-terminated);
 * refused with "must be LEADa, b or c", the list taken from names. */
static int copy_name(const cJSON *o, const char *key, const char *const *names,
                     const char *lead, size_t dst_len, const char *path, char *dst,
                     struct pd_json_err *err)
{
    int rc = copy_str(o, key, true, dst_len, path, dst, err);
    if (rc != PD_OK)
        return rc;
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(dst, names[i]) == 0)
            return PD_OK;
    char list[256] = "";
    size_t k = 0;
    for (size_t i = 0; names[i] != NULL && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
                              i == 0 ? "" : names[i + 1] != NULL ? ", " : " or ", names[i]);
    return pd_json_fail(err, "%s.%s: must be %s%s", path, key, lead, list);
}

/* o as an object with only these keys; example shows its shape. */
static int object_of(const cJSON *o, const char *const *keys, const char *example,
                     const char *path, struct pd_json_err *err)
{
    if (!cJSON_IsObject(o))
        return pd_json_fail(err, "%s: must be an object such as %s", path, example);
    return pd_json_only_keys(o, keys, path, err);
}

static int parse_gateway(const cJSON *g, const char *path, struct sim_expect *e,
                         struct pd_json_err *err)
{
    static const char *const keys[] = {"op", "status", "detail", "fault", NULL};
    int rc = object_of(g, keys, "{\"op\": \"close\", \"status\": 409}", path, err);
    if (rc == PD_OK)
        rc = copy_str(g, "op", true, sizeof e->op, path, e->op, err);
    if (rc == PD_OK)
        rc = pd_json_i64(g, "status", false, 0, 999, path, &e->status, err);
    if (rc == PD_OK)
        rc = copy_str(g, "detail", false, sizeof e->detail, path, e->detail, err);
    if (rc == PD_OK)
        rc = copy_str(g, "fault", false, sizeof e->fault, path, e->fault, err);
    return rc;
}

static int parse_process(const cJSON *p, const char *path, struct sim_expect *e,
                         struct pd_json_err *err)
{
    static const char *const keys[] = {"target", "action", NULL};
    int rc = object_of(p, keys, "{\"target\": \"sut\", \"action\": \"kill\"}", path, err);
    if (rc == PD_OK)
        rc = copy_name(p, "target", targets, "", sizeof e->target, path, e->target, err);
    if (rc == PD_OK)
        rc = copy_name(p, "action", actions, "", sizeof e->action, path, e->action, err);
    return rc;
}

static int parse_business(const cJSON *b, const char *path, struct sim_expect *e,
                          struct pd_json_err *err)
{
    static const char *const keys[] = {"record", "status", NULL};
    int rc = object_of(b, keys, "{\"record\": \"pay_calls\", \"status\": 409}", path, err);
    if (rc == PD_OK)
        rc = copy_name(b, "record", sim_expect_records, "", sizeof e->record, path, e->record,
                       err);
    if (rc == PD_OK)
        rc = pd_json_i64(b, "status", false, 0, 999, path, &e->status, err);
    return rc;
}

static int parse_one(const cJSON *o, const char *path, struct sim_expect *e,
                     struct pd_json_err *err)
{
    static const char *const keys[] = {"gateway", "count", "process", "business",
                                       "at_least", "why", NULL};
    memset(e, 0, sizeof *e);
    e->status = -1;
    e->at_least = 1;
    if (!cJSON_IsObject(o))
        return pd_json_fail(err, "%s: must be an object", path);
    int rc = pd_json_only_keys(o, keys, path, err);
    if (rc != PD_OK)
        return rc;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gateway");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "count");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "process");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "business");
    if ((g != NULL) + (c != NULL) + (p != NULL) + (b != NULL) != 1)
        return pd_json_fail(err, "%s: needs exactly one of gateway, count, process and business",
                            path);
    char sub[64];
    if (g != NULL) {
        e->kind = SIM_EXPECT_GATEWAY;
        snprintf(sub, sizeof sub, "%s.gateway", path);
        rc = parse_gateway(g, sub, e, err);
    } else if (b != NULL) {
        e->kind = SIM_EXPECT_BUSINESS;
        snprintf(sub, sizeof sub, "%s.business", path);
        rc = parse_business(b, sub, e, err);
    } else if (p != NULL) {
        e->kind = SIM_EXPECT_PROCESS;
        snprintf(sub, sizeof sub, "%s.process", path);
        rc = parse_process(p, sub, e, err);
    } else {
        e->kind = SIM_EXPECT_COUNT;
        rc = copy_name(o, "count", sim_expect_counts, "one of ", sizeof e->count, path,
                       e->count, err);
    }
    if (rc == PD_OK)
        rc = pd_json_i64(o, "at_least", false, 1, PD_JSON_INT_MAX, path, &e->at_least, err);
    if (rc == PD_OK)
        rc = copy_str(o, "why", false, sizeof e->why, path, e->why, err);
    return rc;
}

int sim_expect_parse(const cJSON *root, struct sim_expect *out, size_t *n,
                     struct pd_json_err *err)
{
    *n = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "expect");
    if (a == NULL || cJSON_IsNull(a))
        return PD_OK;
    if (!cJSON_IsArray(a))
        return pd_json_fail(err, "expect: must be an array of expectations");
    if (cJSON_GetArraySize(a) > SIM_MAX_EXPECT)
        return pd_json_fail(err, "expect: at most %d expectations", SIM_MAX_EXPECT);
    int i = 0;
    for (const cJSON *o = a->child; o != NULL; o = o->next, i++) {
        char path[32];
        snprintf(path, sizeof path, "expect[%d]", i);
        int rc = parse_one(o, path, &out[i], err);
        if (rc != PD_OK) {
            *n = 0;
            return rc;
        }
    }
    *n = (size_t)i;
    return PD_OK;
}

cJSON *sim_expect_to_json(const struct sim_expect *e)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (e->kind == SIM_EXPECT_GATEWAY) {
        cJSON *g = cJSON_AddObjectToObject(o, "gateway");
        if (g != NULL) {
            cJSON_AddStringToObject(g, "op", e->op);
            if (e->status >= 0)
                pd_json_add_i64(g, "status", e->status);
            if (e->detail[0] != '\0')
                cJSON_AddStringToObject(g, "detail", e->detail);
            if (e->fault[0] != '\0')
                cJSON_AddStringToObject(g, "fault", e->fault);
        }
    } else if (e->kind == SIM_EXPECT_BUSINESS) {
        cJSON *b = cJSON_AddObjectToObject(o, "business");
        if (b != NULL) {
            cJSON_AddStringToObject(b, "record", e->record);
            if (e->status >= 0)
                pd_json_add_i64(b, "status", e->status);
        }
    } else if (e->kind == SIM_EXPECT_PROCESS) {
        cJSON *p = cJSON_AddObjectToObject(o, "process");
        if (p != NULL) {
            cJSON_AddStringToObject(p, "target", e->target);
            cJSON_AddStringToObject(p, "action", e->action);
        }
    } else {
        cJSON_AddStringToObject(o, "count", e->count);
    }
    pd_json_add_i64(o, "at_least", e->at_least);
    if (e->why[0] != '\0')
        cJSON_AddStringToObject(o, "why", e->why);
    return o;
}

void sim_expect_describe(const struct sim_expect *e, char *buf, size_t len)
{
    if (e->kind == SIM_EXPECT_COUNT) {
        snprintf(buf, len, "count %s", e->count);
        return;
    }
    if (e->kind == SIM_EXPECT_PROCESS) {
        snprintf(buf, len, "process %s %s", e->action, e->target);
        return;
    }
    char status[32] = "";
    if (e->status >= 0)
        snprintf(status, sizeof status, " status=%lld", (long long)e->status);
    if (e->kind == SIM_EXPECT_BUSINESS) {
        snprintf(buf, len, "business %s%s", e->record, status);
        return;
    }
    snprintf(buf, len, "gateway op=%s%s%s%s%s%s", e->op, status,
             e->detail[0] ? " detail~" : "", e->detail, e->fault[0] ? " fault=" : "", e->fault);
}

bool sim_expect_gateway_match(const struct sim_expect *e, const char *op, int64_t status,
                              const char *detail, const char *fault)
{
    if (e->kind != SIM_EXPECT_GATEWAY || op == NULL || strcmp(op, e->op) != 0)
        return false;
    if (e->status >= 0 && status != e->status)
        return false;
    if (e->detail[0] != '\0' && (detail == NULL || strstr(detail, e->detail) == NULL))
        return false;
    return e->fault[0] == '\0' || (fault != NULL && strcmp(fault, e->fault) == 0);
}
