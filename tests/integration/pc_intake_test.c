/* Proves duplicate-submission protection and hostile-input handling of the
 * real payment-center binary over loopback with a real SQLite file:
 * - 20 identical submissions at the same instant make exactly one order,
 *   the 19 others get 409 naming it -- with the SQLite guard alone, with
 *   Redis as pre-filter, and with Redis configured but down;
 * - after the window the same facts are a new order; client_ref is not
 *   part of the fingerprint;
 * - every malformed, oversized, mistyped or out-of-range body gets a 4xx
 *   {"error","detail"} and nothing is written (the export stays empty);
 * - 300 random mutations of a good body are each accepted or refused with
 *   such a 4xx, never a 5xx, and only the accepted ones are orders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_stub.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_test.h"
#include "pd_time.h"

#define TWINS 20

struct twin {
    const char *url;
    pthread_barrier_t *barrier;
    long status;
    char order_id[32];
    char error[64];
};

static const char twin_body[] =
    "{\"merchant_id\":\"m-1\",\"user_id\":\"u-twin\",\"items\":[{\"sku\":\"a\",\"qty\":2,"
    "\"unit_amount\":500}],\"amount\":1000,\"currency\":\"EUR\",\"client_ref\":\"twin\"}";

static void *twin_main(void *arg)
{
    struct twin *t = arg;
    char url[256];
    snprintf(url, sizeof url, "%s/orders", t->url);
    pthread_barrier_wait(t->barrier);
    cJSON *j = NULL;
    t->status = pd_test_http_json("POST", url, twin_body, NULL, &j);
    const cJSON *id = j ? cJSON_GetObjectItem(j, "order_id") : NULL;
    const cJSON *err = j ? cJSON_GetObjectItem(j, "error") : NULL;
    snprintf(t->order_id, sizeof t->order_id, "%s", cJSON_IsString(id) ? id->valuestring : "");
    snprintf(t->error, sizeof t->error, "%s", cJSON_IsString(err) ? err->valuestring : "");
    cJSON_Delete(j);
    return NULL;
}

/* Counts orders in the export (one page is enough here). */
static int export_count(const char *pc_url)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders?limit=5000", pc_url);
    cJSON *j = NULL;
    long st = pd_test_http_json("GET", url, NULL, NULL, &j);
    assert_int_equal(st, 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "orders"));
    cJSON_Delete(j);
    return n;
}

static void run_twins(const char *pc_url)
{
    pthread_t tid[TWINS];
    struct twin tw[TWINS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, TWINS);
    for (int i = 0; i < TWINS; i++) {
        tw[i] = (struct twin){.url = pc_url, .barrier = &barrier};
        pthread_create(&tid[i], NULL, twin_main, &tw[i]);
    }
    for (int i = 0; i < TWINS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    int created = 0;
    const char *winner = NULL;
    for (int i = 0; i < TWINS; i++)
        if (tw[i].status == 201) {
            created++;
            winner = tw[i].order_id;
        }
    assert_int_equal(created, 1);
    for (int i = 0; i < TWINS; i++) {
        if (tw[i].status == 201)
            continue;
        assert_int_equal(tw[i].status, 409);
        assert_string_equal(tw[i].error, "duplicate_submission");
        assert_string_equal(tw[i].order_id, winner);
    }
    assert_int_equal(export_count(pc_url), 1);
}

static void twins_with(const char *dedup)
{
    struct stub s;
    struct pd_proc pc;
    char dir[256];
    stub_start(&s);
    pd_test_tmpdir(dir);
    char flag[160];
    snprintf(flag, sizeof flag, "--dedup=%s", dedup);
    const char *args[] = {flag, NULL};
    stub_start_pc(&s, dir, args, &pc);
    run_twins(pc.url);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

static void test_twins_sqlite(void **state)
{
    (void)state;
    twins_with("sqlite");
}

static void test_twins_redis(void **state)
{
    (void)state;
    struct pd_proc redis;
    int port = pd_test_redis_start(&redis);
    assert_true(port > 0);   /* redis-server must be installed: fail, never skip */
    twins_with(redis.url);
    pd_proc_kill9(&redis);
}

/* Redis configured but unreachable: the database guard alone still holds. */
static void test_twins_redis_down(void **state)
{
    (void)state;
    twins_with("redis://127.0.0.1:1");
}

static void test_window_and_client_ref(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], a[32], b[32], c[32];
    stub_start(&s);
    pd_test_tmpdir(dir);
    const char *args[] = {"--dedup-window", "1500ms", NULL};
    stub_start_pc(&s, dir, args, &pc);
    assert_int_equal(pc_submit(pc.url, "ref-1", 700, a), 201);
    /* Same facts, other client_ref: still the same order. pc_submit puts the
     * ref in user_id too, so build the body by hand. */
    char url[256];
    snprintf(url, sizeof url, "%s/orders", pc.url);
    const char *body2 =
        "{\"merchant_id\":\"m-1\",\"user_id\":\"u-ref-1\",\"items\":[{\"sku\":\"sku-1\","
        "\"qty\":1,\"unit_amount\":700}],\"amount\":700,\"currency\":\"CNY\","
        "\"client_ref\":\"other\"}";
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("POST", url, body2, NULL, &j), 409);
    assert_string_equal(cJSON_GetObjectItem(j, "order_id")->valuestring, a);
    cJSON_Delete(j);
    assert_int_equal(pc_submit(pc.url, "ref-1", 700, b), 409);
    assert_string_equal(b, a);
    pd_sleep_ms(1700);
    assert_int_equal(pc_submit(pc.url, "ref-1", 700, c), 201);
    assert_string_not_equal(c, a);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

struct bad {
    const char *name;
    const char *content_type;
    const char *body;
    long status;
};

#define ITEM "[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":100}]"
#define GOOD_REST ",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":100,\"currency\":\"CNY\"}"

static const struct bad bads[] = {
    {"malformed json", "application/json", "{\"merchant_id\":", 400},
    {"not an object", "application/json", "[1,2]", 400},
    {"empty body", "application/json", "", 400},
    {"missing merchant", "application/json", "{\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":100,\"currency\":\"CNY\"}", 400},
    {"merchant number", "application/json", "{\"merchant_id\":5" GOOD_REST, 400},
    {"unknown field", "application/json", "{\"merchant_id\":\"m\",\"x\":1" GOOD_REST, 400},
    {"duplicate key", "application/json", "{\"merchant_id\":\"m\",\"merchant_id\":\"n\"" GOOD_REST, 400},
    {"zero amount", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":0}],\"amount\":0,\"currency\":\"CNY\"}", 400},
    {"negative amount", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":-100,\"currency\":\"CNY\"}", 400},
    {"fractional amount", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":100.5,\"currency\":\"CNY\"}", 400},
    {"overflowing amount", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a\",\"qty\":1000000,\"unit_amount\":1000000000000}],\"amount\":1e30,\"currency\":\"CNY\"}", 400},
    {"line overflow", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a\",\"qty\":1000000,\"unit_amount\":1000000000000}],\"amount\":1000000000000,\"currency\":\"CNY\"}", 400},
    {"amount not sum", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":101,\"currency\":\"CNY\"}", 400},
    {"amount string", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":\"100\",\"currency\":\"CNY\"}", 400},
    {"unknown currency", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":100,\"currency\":\"XXX\"}", 400},
    {"lowercase currency", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":" ITEM ",\"amount\":100,\"currency\":\"cny\"}", 400},
    {"no items", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[],\"amount\":100,\"currency\":\"CNY\"}", 400},
    {"qty zero", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a\",\"qty\":0,\"unit_amount\":100}],\"amount\":100,\"currency\":\"CNY\"}", 400},
    {"item extra field", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":100,\"p\":1}],\"amount\":100,\"currency\":\"CNY\"}", 400},
    {"bad sku chars", "application/json", "{\"merchant_id\":\"m\",\"user_id\":\"u\",\"items\":[{\"sku\":\"a,b\\n\",\"qty\":1,\"unit_amount\":100}],\"amount\":100,\"currency\":\"CNY\"}", 400},
    {"wrong content type", "text/plain", "{\"merchant_id\":\"m\"" GOOD_REST, 415},
    {"no content type", NULL, "{\"merchant_id\":\"m\"" GOOD_REST, 415},
};

static long post_raw(const char *url, const char *ct, const char *body, size_t len, cJSON **out)
{
    char h[128];
    const char *headers[] = {NULL, NULL};
    if (ct != NULL) {
        snprintf(h, sizeof h, "Content-Type: %s", ct);
        headers[0] = h;
    }
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    int rc = pd_http_request(c, "POST", url, headers, body, len, 30000, 0, &resp);
    long st = rc == PD_OK ? resp.status : 0;
    *out = rc == PD_OK && resp.body ? cJSON_Parse(resp.body) : NULL;
    pd_http_resp_release(&resp);
    pd_http_client_free(c);
    return st;
}

static void assert_error_shape(const cJSON *j, const char *name)
{
    if (!cJSON_IsString(cJSON_GetObjectItem(j, "error")) ||
        !cJSON_IsString(cJSON_GetObjectItem(j, "detail")))
        fail_msg("%s: answer lacks error/detail", name);
}

/* A payment-center on a fresh file with the stub gateway, for the
 * hostile-input tests; url is its /orders. */
struct intake {
    struct stub s;
    struct pd_proc pc;
    char dir[256], url[256];
};

static int intake_up(void **state)
{
    struct intake *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    stub_start(&t->s);
    pd_test_tmpdir(t->dir);
    stub_start_pc(&t->s, t->dir, NULL, &t->pc);
    snprintf(t->url, sizeof t->url, "%s/orders", t->pc.url);
    *state = t;
    return 0;
}

static int intake_down(void **state)
{
    struct intake *t = *state;
    pd_proc_kill9(&t->pc);
    stub_stop(&t->s);
    pd_test_rmdir(t->dir);
    free(t);
    return 0;
}

static void test_hostile_inputs(void **state)
{
    struct intake *t = *state;
    const char *url = t->url;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        cJSON *j = NULL;
        long st = post_raw(url, bads[i].content_type, bads[i].body, strlen(bads[i].body), &j);
        if (st != bads[i].status)
            fail_msg("%s: got %ld, want %ld", bads[i].name, st, bads[i].status);
        assert_error_shape(j, bads[i].name);
        cJSON_Delete(j);
    }
    /* Over the 64 KiB body limit. */
    size_t big_len = 70 * 1024;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    cJSON *j = NULL;
    assert_int_equal(post_raw(url, "application/json", big, big_len, &j), 413);
    assert_error_shape(j, "oversized");
    cJSON_Delete(j);
    free(big);
    /* Unknown ids, paths and methods. */
    char u2[300];
    snprintf(u2, sizeof u2, "%s/orders/o-0000000000000000", t->pc.url);
    assert_int_equal(pd_test_http_json("GET", u2, NULL, NULL, NULL), 404);
    snprintf(u2, sizeof u2, "%s/orders/o-0000000000000000/pay", t->pc.url);
    assert_int_equal(pd_test_http_json("POST", u2, NULL, NULL, NULL), 404);
    snprintf(u2, sizeof u2, "%s/orders/..%%2f..%%2fetc/pay", t->pc.url);
    assert_int_equal(pd_test_http_json("POST", u2, NULL, NULL, NULL), 404);
    snprintf(u2, sizeof u2, "%s/orders?limit=0", t->pc.url);
    assert_int_equal(pd_test_http_json("GET", u2, NULL, NULL, NULL), 400);
    assert_int_equal(pd_test_http_json("DELETE", url, NULL, NULL, NULL), 405);
    /* Nothing was written by any of it. */
    assert_int_equal(export_count(t->pc.url), 0);
    assert_true(pd_proc_alive(&t->pc));
}

/* ---- mutated bodies ---- */

#define MUTATIONS 300

/* Mutated order bodies (a value swapped for a hostile one, a key dropped,
 * a byte deleted or inserted, the NUL byte included): each is accepted
 * (201, or 409 naming an earlier twin) or refused with a 4xx
 * {"error","detail"}; never a 5xx or no answer, and the export ends with
 * exactly the orders answered 201. PD_SEED draws other mutations. */
static void test_mutated_bodies(void **state)
{
    struct intake *t = *state;
    uint64_t rng = pd_test_fuzz_seed(88172645463325252u);
    int created = 0;
    char ids[MUTATIONS][32];
    for (int i = 0; i < MUTATIONS; i++) {
        char what[128];
        size_t len = 0;
        char *m = pd_test_mutate_json(twin_body, &rng, &len, what, sizeof what);
        assert_non_null(m);
        cJSON *j = NULL;
        long st = post_raw(t->url, "application/json", m, len, &j);
        const cJSON *id = cJSON_GetObjectItem(j, "order_id");
        /* Accepted only as one whole JSON document: no NUL byte (it cut
         * "m-1\0evil" to "m-1"), nothing after it. */
        cJSON *strict = pd_json_parse_whole(m, len, NULL);
        if ((st == 201 || st == 409) && strict == NULL)
            fail_msg("mutation %d (%s): HTTP %ld for a body that is not one JSON document: "
                     "%.*s", i, what, st, (int)len, m);
        cJSON_Delete(strict);
        if (st == 201) {
            assert_true(cJSON_IsString(id));
            snprintf(ids[created++], sizeof ids[0], "%s", id->valuestring);
        } else if (st == 409) {
            /* a twin of an order this test made, named */
            bool known = false;
            for (int k = 0; k < created && !known && cJSON_IsString(id); k++)
                known = strcmp(ids[k], id->valuestring) == 0;
            if (!known)
                fail_msg("mutation %d (%s): 409 naming no earlier order", i, what);
        } else if (st >= 400 && st <= 499) {
            assert_error_shape(j, what);
        } else {
            fail_msg("mutation %d (%s): HTTP %ld for %.*s", i, what, st, (int)len, m);
        }
        cJSON_Delete(j);
        free(m);
    }
    assert_true(created > 0);       /* a service refusing everything fails here */
    assert_true(pd_proc_alive(&t->pc));
    assert_int_equal(export_count(t->pc.url), created);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twins_sqlite),
        cmocka_unit_test(test_twins_redis),
        cmocka_unit_test(test_twins_redis_down),
        cmocka_unit_test(test_window_and_client_ref),
        cmocka_unit_test_setup_teardown(test_hostile_inputs, intake_up, intake_down),
        cmocka_unit_test_setup_teardown(test_mutated_bodies, intake_up, intake_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
