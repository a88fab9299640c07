/* Proves one seed gives every order the same faults whatever the
 * concurrency and whatever out_trade_no the SUT picks: the same rule set
 * (fractions, probabilities, nth) runs twice against fresh gateways, once
 * with 1 client and once with 32 concurrent clients, creating, paying and
 * querying the same 200 orders under the same attach keys but different
 * out_trade_no. Per key and op, the journals must list the same
 * (attempt, fault) sequence, and the faults must actually have fired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_support.h"
#include "pd_test.h"

#define KEYS 200
#define LINE_MAX_LEN 64
#define SIG_MAX 4096

static const char rules[] =
    "{\"rules\":["
    "{\"op\":\"create\",\"orders\":{\"fraction\":0.2},\"nth\":1,\"action\":{\"type\":\"error\",\"status\":503}},"
    "{\"op\":\"pay\",\"probability\":0.15,\"action\":{\"type\":\"rate_limit\"}},"
    "{\"op\":\"query\",\"probability\":0.3,\"action\":{\"type\":\"slow\",\"fixed\":\"1ms\"}},"
    "{\"op\":\"callback\",\"orders\":{\"fraction\":0.3},\"nth\":{\"first\":2},\"action\":{\"type\":\"drop\"}},"
    "{\"op\":\"callback\",\"probability\":0.2,\"action\":{\"type\":\"duplicate\",\"copies\":2}},"
    "{\"op\":\"callback\",\"orders\":{\"fraction\":0.1},\"action\":{\"type\":\"forge\",\"kind\":\"bad_signature\"}}]}";

struct run {
    const char *url;
    const char *notify;
    const char *prefix;
    int next;                 /* next key to drive */
    pthread_mutex_t mu;
};

static void drive_key(struct run *r, int i)
{
    char otn[64], key[32], path[128];
    snprintf(otn, sizeof otn, "%s-%d-t", r->prefix, i);
    snprintf(key, sizeof key, "key-%d", i);
    for (int t = 0; t < 5 && gw_t_create(r->url, otn, 100 + i, r->notify, key) != 200; t++) {
    }
    for (int t = 0; t < 5; t++) {
        long st = gw_t_pay(r->url, otn);
        if (st == 200 || st == 409)
            break;
    }
    snprintf(path, sizeof path, "/v1/payments/%s", otn);
    gw_t_get(r->url, path, NULL);
    gw_t_get(r->url, path, NULL);
}

static void *client(void *arg)
{
    struct run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int i = r->next++;
        pthread_mutex_unlock(&r->mu);
        if (i >= KEYS)
            return NULL;
        drive_key(r, i);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* For each key: "op:attempt:fault" lines; callbacks sorted (copies and
 * forgeries of one attempt travel concurrently), other ops in order. */
static char *signature_of(cJSON *journal, const char *key)
{
    static const char *const ops[] = {"create", "pay", "query", "callback"};
    char *out = calloc(1, SIG_MAX);
    size_t off = 0;
    for (size_t o = 0; o < 4; o++) {
        char *lines[256];
        size_t n = 0;
        cJSON *l;
        cJSON_ArrayForEach(l, journal)
        {
            const cJSON *k = cJSON_GetObjectItem(l, "key");
            if (!cJSON_IsString(k) || strcmp(k->valuestring, key) != 0 ||
                strcmp(cJSON_GetObjectItem(l, "op")->valuestring, ops[o]) != 0 || n == 256)
                continue;
            const cJSON *f = cJSON_GetObjectItem(l, "fault");
            lines[n] = malloc(LINE_MAX_LEN);
            snprintf(lines[n++], LINE_MAX_LEN, "%s:%d:%s", ops[o],
                     (int)cJSON_GetObjectItem(l, "attempt")->valuedouble,
                     cJSON_IsString(f) ? f->valuestring : "-");
        }
        if (o == 3)
            qsort(lines, n, sizeof lines[0], cmp_str);
        for (size_t i = 0; i < n; i++) {
            off += (size_t)snprintf(out + off, SIG_MAX - off, "%s ", lines[i]);
            free(lines[i]);
        }
    }
    return out;
}

static cJSON *one_run(int clients, const char *prefix, struct gw_rx *rx)
{
    char dir[256], data[300], faults[512];
    pd_test_tmpdir(dir);
    snprintf(data, sizeof data, "%s/data", dir);
    gw_t_write(dir, "faults.json", rules, faults);
    const char *args[] = {"--faults", faults, "--seed", "2026", "--callback-schedule",
                          "50ms,50ms,50ms,50ms,50ms", "--callback-workers", "16", NULL};
    struct pd_proc gw;
    gw_t_start(&gw, data, args, NULL);
    struct run r = {.url = gw.url, .notify = rx->url, .prefix = prefix};
    pthread_mutex_init(&r.mu, NULL);
    pthread_t tids[32];
    for (int i = 0; i < clients; i++)
        pthread_create(&tids[i], NULL, client, &r);
    for (int i = 0; i < clients; i++)
        pthread_join(tids[i], NULL);
    assert_true(gw_t_wait_quiet(gw.url, 60000));
    cJSON *journal = gw_t_journal(gw.url);
    pd_proc_kill9(&gw);
    pd_test_rmdir(dir);
    return journal;
}

static void test_same_faults_any_concurrency(void **state)
{
    (void)state;
    struct gw_rx rx;
    gw_rx_start(&rx);
    cJSON *a = one_run(1, "seq", &rx);
    cJSON *b = one_run(32, "par", &rx);
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        char *sa = signature_of(a, key), *sb = signature_of(b, key);
        if (strcmp(sa, sb) != 0)
            fail_msg("%s differs:\n  1 client:   %s\n  32 clients: %s", key, sa, sb);
        free(sa);
        free(sb);
    }
    /* The rules did fire, so equality is not vacuous. */
    static const char *const faults[] = {"error", "rate_limit", "slow", "drop", "duplicate",
                                         "forge.bad_signature"};
    for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
        int n = gw_t_count_lines(a, NULL, NULL, faults[f]);
        if (n < 5)
            fail_msg("fault %s fired only %d times", faults[f], n);
        assert_int_equal(n, gw_t_count_lines(b, NULL, NULL, faults[f]));
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    gw_rx_stop(&rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_faults_any_concurrency)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
