/* Proves one scenario and seed give the same fault plan and the same
 * per-order outcome whatever the parallelism: scenarios/determinism.json
 * (dropped, duplicated and forged callbacks, payers paying twice or walking
 * away, immediate resubmissions, a flaky business app; no double-click burst,
 * whose winning copy is a race and so names the order's gateway key) runs once alone with
 * --concurrency 4 and once with --concurrency 48 beside another scenario
 * (--jobs 2). Compared by workload key: the runner's plan (plan.json), the
 * faults the gateway drew on every callback and create attempt both runs
 * made (gateway journal; a retry only one run needed because an ack was
 * late there is timing, not plan), each order's final status, and the
 * verdict of every invariant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pd_err.h"
#include "pd_test.h"
#include "pd_util.h"

static char tmp[256];

static int run(const char *args)
{
    char bin[512], src[512], cmd[4096];
    pd_test_bin("paydrill", bin, sizeof bin);
    const char *dir = getenv("PD_SOURCE_DIR");
    snprintf(src, sizeof src, "%s/scenarios", dir ? dir : "../scenarios");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' run %s --quiet >>log 2>&1", tmp, bin, args);
    char *p = strstr(cmd, "SRC");
    while (p != NULL) {     /* expand SRC to the scenarios folder */
        char rest[4096];
        snprintf(rest, sizeof rest, "%s", p + 3);
        snprintf(p, sizeof cmd - (size_t)(p - cmd), "%s%s", src, rest);
        p = strstr(p + strlen(src), "SRC");
    }
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static cJSON *load(const char *rel)
{
    char path[512], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    if (pd_read_file(path, 1 << 26, &text, &len) != PD_OK)
        fail_msg("cannot read %s", path);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    return doc;
}

/* Per workload key: the final status, and for each callback or create
 * attempt the set of faults the gateway drew ("key op#attempt: faults",
 * sorted), from report.json and the gateway journal. */
struct outcome {
    cJSON *status;      /* key -> status */
    cJSON *attempts;    /* "key op#attempt" -> "fault fault ..." */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds word to the space-separated list, kept in byte order: one
 * attempt's faults can reach the journal in either order (a duplicate and
 * a forged copy are sent side by side), and the plan is the set. */
static void add_sorted(char *list, size_t cap, const char *word)
{
    char copy[1024], *words[64];
    size_t n = 0;
    snprintf(copy, sizeof copy, "%s", list);
    char *save = NULL;    /* strtok_r: the caller's line loop uses strtok */
    for (char *w = strtok_r(copy, " ", &save); w != NULL && n < 63; w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    words[n++] = (char *)word;
    qsort(words, n, sizeof words[0], cmp_str);
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%s", i ? " " : "", words[i]);
}

static void add_fault(cJSON *attempts, const cJSON *line)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(line, "op");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(line, "key");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(line, "attempt");
    const cJSON *fault = cJSON_GetObjectItemCaseSensitive(line, "fault");
    if (!cJSON_IsString(op) || !cJSON_IsString(key) || !cJSON_IsNumber(att) ||
        (strcmp(op->valuestring, "callback") != 0 && strcmp(op->valuestring, "create") != 0))
        return;
    char name[256], faults[1024] = "";
    snprintf(name, sizeof name, "%s %s#%d", key->valuestring, op->valuestring, (int)att->valuedouble);
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(attempts, name);
    if (cJSON_IsString(old))
        snprintf(faults, sizeof faults, "%s", old->valuestring);
    if (cJSON_IsString(fault) && strstr(faults, fault->valuestring) == NULL)
        add_sorted(faults, sizeof faults, fault->valuestring);
    cJSON_DeleteItemFromObjectCaseSensitive(attempts, name);
    cJSON_AddStringToObject(attempts, name, faults);
}

static struct outcome outcome(const char *dir)
{
    struct outcome o = {cJSON_CreateObject(), cJSON_CreateObject()};
    char rel[256];
    snprintf(rel, sizeof rel, "%s/report.json", dir);
    cJSON *rep = load(rel);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "orders"))
        cJSON_AddStringToObject(o.status, cJSON_GetObjectItemCaseSensitive(it, "key")->valuestring,
                                cJSON_GetObjectItemCaseSensitive(it, "status")->valuestring);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "invariants"))
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "holds")));
    cJSON_Delete(rep);
    char path[512], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/gateway-journal.ndjson", tmp, dir);
    assert_int_equal(pd_read_file(path, 1 << 26, &text, &len), PD_OK);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        cJSON *doc = cJSON_Parse(line);
        add_fault(o.attempts, doc);
        cJSON_Delete(doc);
    }
    free(text);
    return o;
}

/* Same status for every key; same faults on every attempt both runs made
 * (a retry that only one run needed, because an ack was late there, is
 * timing, not plan). Returns the number of attempts compared. */
static int compare(const struct outcome *a, const struct outcome *b)
{
    const cJSON *it;
    assert_int_equal(cJSON_GetArraySize(a->status), cJSON_GetArraySize(b->status));
    cJSON_ArrayForEach(it, a->status) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(b->status, it->string);
        if (!cJSON_IsString(other) || strcmp(other->valuestring, it->valuestring) != 0)
            fail_msg("%s: %s vs %s", it->string, it->valuestring,
                     cJSON_IsString(other) ? other->valuestring : "(absent)");
    }
    int compared = 0;
    cJSON_ArrayForEach(it, a->attempts) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(b->attempts, it->string);
        bool first = strstr(it->string, "#1") != NULL && strstr(it->string, "callback") != NULL;
        if (other == NULL && first)
            fail_msg("%s happened in one run only", it->string);
        if (other == NULL)
            continue;
        if (strcmp(other->valuestring, it->valuestring) != 0)
            fail_msg("%s: faults \"%s\" vs \"%s\"", it->string, it->valuestring, other->valuestring);
        compared++;
    }
    return compared;
}

static void test_same_plan_any_parallelism(void **state)
{
    (void)state;
    pd_test_tmpdir(tmp);
    assert_int_equal(run("SRC/determinism.json --out a --jobs 1 --concurrency 4"), 0);
    assert_int_equal(run("SRC/determinism.json SRC/default/happy-path.json --out b --jobs 2 "
                         "--concurrency 48"), 0);
    char *pa = NULL, *pb = NULL;
    size_t la = 0, lb = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/a/determinism/plan.json", tmp);
    assert_int_equal(pd_read_file(path, 1 << 24, &pa, &la), PD_OK);
    snprintf(path, sizeof path, "%s/b/determinism/plan.json", tmp);
    assert_int_equal(pd_read_file(path, 1 << 24, &pb, &lb), PD_OK);
    assert_string_equal(pa, pb);
    struct outcome oa = outcome("a/determinism"), ob = outcome("b/determinism");
    int compared = compare(&oa, &ob);
    /* The comparison is not vacuous: faults were drawn and met. */
    assert_true(compared > 40);
    char *dump = cJSON_PrintUnformatted(oa.attempts);
    assert_non_null(strstr(dump, "drop"));
    assert_non_null(strstr(dump, "duplicate"));
    assert_non_null(strstr(dump, "forge"));
    free(dump);
    cJSON_Delete(oa.status);
    cJSON_Delete(oa.attempts);
    cJSON_Delete(ob.status);
    cJSON_Delete(ob.attempts);
    free(pa);
    free(pb);
    pd_test_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_plan_any_parallelism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
