/* Proves sim__model_link seals the checker's model: every record vector is
 * trimmed to its length (no doubling slack kept for the evaluation), the
 * intern table used while loading is freed, and the links made by pointer
 * identity still hold afterwards (receipts chained to their order, the
 * order found by id). Builds the model through the real adders. Also that
 * strings are packed end to end (no rounding) and named by 4-byte ids: a
 * string is stored once however often it is interned (same id), 0 stands
 * for NULL, ids stay valid and distinct across 64 KiB chunk boundaries (a
 * string never spans two chunks), and id-keyed maps keep the first value
 * with put, replace with set and ignore id 0, and grow only past 3/4
 * full. Record arrays from the arena
 * are zeroed, 8-byte aligned and packed (no rounding to 16). Records keep
 * no padding between members: each struct is the sum of its fields,
 * rounded to 8. Fields the model does not keep are still type-checked:
 * a wrong type in one fails the record with the field named. The clock
 * map (SUT clock minus driver clock) holds every original accepted on its
 * first try, sorted by send time then offset whatever the input order, and
 * answers the median of the samples nearest a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_clock.h"
#include "check_model.h"
#include "pd_err.h"

static void add(struct sim_model *m, const char *json,
                int (*adder)(struct sim_model *, const cJSON *, const char *,
                             struct pd_json_err *))
{
    struct pd_json_err err = {{0}};
    cJSON *el = cJSON_Parse(json);
    assert_non_null(el);
    int rc = adder(m, el, "x", &err);
    if (rc != PD_OK)
        fail_msg("%s: %s", json, err.text);
    cJSON_Delete(el);
}

static void test_link_seals(void **state)
{
    (void)state;
    struct sim_model m;
    sim__model_init(&m);
    add(&m, "{\"order_id\":\"o-1\",\"amount\":5,\"currency\":\"CNY\",\"status\":\"PAID\","
            "\"history\":[{\"at\":1,\"from\":null,\"to\":\"UNPAID\"}]}", sim__add_order);
    char json[256];
    for (int i = 0; i < 100; i++) {
        snprintf(json, sizeof json, "{\"at\":%d,\"order_id\":\"o-%d\",\"signature_ok\":true,"
                                    "\"applied\":true}", i, i % 2);
        add(&m, json, sim__add_receipt);
        snprintf(json, sizeof json, "{\"at\":%d,\"op\":\"query\",\"detail\":\"d-%d\"}", i, i);
        add(&m, json, sim__add_gjline);
    }
    assert_true(m.receipts.cap > m.receipts.n);   /* doubled past 64 */
    assert_true(m.intern.cap > 0);
    assert_int_equal(sim__model_link(&m), PD_OK);
    assert_true(m.sealed);
    assert_int_equal(m.receipts.cap, 100);
    assert_int_equal(m.gj.cap, 100);
    assert_int_equal(m.orders.cap, 1);
    assert_int_equal(m.trades.cap, 0);
    assert_null(m.trades.v);
    assert_null(m.intern.slots);
    int32_t o = sim__map_get(&m.order_by_id, m.receipts.v[1].order_id);
    assert_int_equal(o, 0);
    size_t chained = 0;
    for (int32_t r = m.orders.v[0].first_receipt; r != SIM_NONE;
         r = m.receipts.v[r].next_of_order)
        chained++;
    assert_int_equal(chained, 50);   /* the odd receipts name o-1 */
    sim__model_free(&m);
}

static void test_string_ids(void **state)
{
    (void)state;
    struct sim_model m;
    sim__model_init(&m);
    bool oom = false;
    sim_sid a = sim__intern(&m, "ab", &oom);
    sim_sid b = sim__intern(&m, "cde", &oom);
    assert_false(oom);
    assert_int_not_equal(a, 0);
    assert_int_equal(b, a + 3);                       /* "ab\0" then "cde" */
    assert_ptr_equal(sim__s(&m, b), sim__s(&m, a) + 3);
    assert_int_equal(sim__intern(&m, "ab", &oom), a); /* once */
    assert_int_equal(sim__intern_find(&m, "cde"), b);
    assert_int_equal(sim__intern_find(&m, "zz"), 0);
    assert_int_equal(sim__intern(&m, NULL, &oom), 0);
    assert_null(sim__s(&m, 0));
    assert_string_equal(sim__sp(&m, 0), "(null)");
    assert_true(sim__s_eq(&m, a, "ab"));
    assert_false(sim__s_eq(&m, a, "cde"));
    assert_true(sim__s_eq(&m, 0, NULL));
    assert_false(sim__s_eq(&m, 0, "ab"));
    unsigned char *rec = sim__arena_alloc(&m.arena, 20);
    unsigned char *next = sim__arena_alloc(&m.arena, 24);
    assert_non_null(rec);
    assert_int_equal((uintptr_t)rec % 8, 0);
    assert_ptr_equal(next, rec + 24);                 /* 20 rounded to 8, not 16 */
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(rec[i] | next[i], 0);
    assert_string_equal(sim__s(&m, b), "cde");        /* untouched by the record */
    sim__model_free(&m);
}

/* 3,000 strings of ~60 bytes fill three chunks: each reads back, each id
 * differs, and none runs over its chunk's end. */
static void test_string_chunks(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct sim_model m;
    sim__model_init(&m);
    static sim_sid ids[N];
    char buf[80];
    bool oom = false;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "%05d-0123456789abcdef0123456789abcdef0123456789abcdef", i);
        ids[i] = sim__intern(&m, buf, &oom);
        assert_false(oom);
        assert_true((ids[i] & 0xffffu) + strlen(buf) < SIM_STR_CHUNK);
    }
    assert_true(m.strs.n >= 3);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "%05d-0123456789abcdef0123456789abcdef0123456789abcdef", i);
        assert_string_equal(sim__s(&m, ids[i]), buf);
        assert_int_equal(sim__intern(&m, buf, &oom), ids[i]);
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
    }
    sim__model_free(&m);
}

/* The widest records, field by field: a new member or a reorder that
 * brings padding back fails here. */
#define ROUND8(n) (((n) + 7) / 8 * 8)

static void test_record_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct sim_gtrade), ROUND8(5 * 8 + 2 * 8 + 5 * 4 + 7 * 4 + 3));
    assert_int_equal(sizeof(struct sim_porder), ROUND8(2 * 8 + 4 * 8 + 4 * 4 + 4 * 4 + 3 * 4 + 1));
    assert_int_equal(sizeof(struct sim_submission), ROUND8(3 * 8 + 7 * 4 + 1));
    assert_int_equal(sizeof(struct sim_gjline), ROUND8(3 * 8 + 5 * 4));
    assert_int_equal(sizeof(struct sim_receipt), ROUND8(4 * 8 + 5 * 4 + 4 + 2));
    assert_int_equal(sizeof(struct sim_hist), ROUND8(8 + 3 * 4 + 2));
    assert_int_equal(sizeof(struct sim_map_slot), 8);
}

/* The adder's answer to one element: its rc and error text. */
static int add_err(struct sim_model *m, const char *json, char *text, size_t len,
                   int (*adder)(struct sim_model *, const cJSON *, const char *,
                                struct pd_json_err *))
{
    struct pd_json_err err = {{0}};
    cJSON *el = cJSON_Parse(json);
    assert_non_null(el);
    int rc = adder(m, el, "x", &err);
    snprintf(text, len, "%s", err.text);
    cJSON_Delete(el);
    return rc;
}

static void test_unkept_fields_checked(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
        int (*adder)(struct sim_model *, const cJSON *, const char *, struct pd_json_err *);
    } cases[] = {
        {"{\"order_id\":\"o\",\"merchant_id\":5,\"amount\":1,\"currency\":\"CNY\","
         "\"status\":\"PAID\",\"history\":[]}", "x.merchant_id: must be a string",
         sim__add_order},
        {"{\"order_id\":\"o\",\"user_id\":[],\"amount\":1,\"currency\":\"CNY\","
         "\"status\":\"PAID\",\"history\":[]}", "x.user_id: must be a string", sim__add_order},
        {"{\"order_id\":\"o\",\"expires_at\":\"soon\",\"amount\":1,\"currency\":\"CNY\","
         "\"status\":\"PAID\",\"history\":[]}", "x.expires_at: must be an integer",
         sim__add_order},
        {"{\"out_trade_no\":\"t\",\"merchant_id\":1,\"amount\":1,\"currency\":\"CNY\","
         "\"state\":\"NOTPAY\",\"charges\":[]}", "x.merchant_id: must be a string",
         sim__add_trade},
        {"{\"out_trade_no\":\"t\",\"amount\":1,\"currency\":\"CNY\",\"state\":\"NOTPAY\","
         "\"charges\":[],\"pay_refused\":3}", "x.pay_refused: must be an array", sim__add_trade},
        {"{\"out_trade_no\":\"t\",\"amount\":1,\"currency\":\"CNY\",\"state\":\"NOTPAY\","
         "\"charges\":[],\"callbacks\":{\"acked_at\":true}}",
         "x.callbacks.acked_at: must be an integer", sim__add_trade},
        {"{\"key\":\"k\",\"seq\":\"1\",\"kind\":\"original\",\"at\":1}",
         "x.seq: must be an integer", sim__add_submission},
        {"{\"key\":\"k\",\"kind\":\"original\",\"at\":1,\"user_id\":2}",
         "x.user_id: must be a string", sim__add_submission},
        {"{\"seq\":1.5,\"at\":1,\"op\":\"pay\"}", "x.seq: must be an integer",
         sim__add_gjline},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        sim__model_init(&m);
        char text[256];
        assert_int_equal(add_err(&m, cases[i].json, text, sizeof text, cases[i].adder),
                         PD_EINVAL);
        assert_string_equal(text, cases[i].want);
        assert_int_equal(m.orders.n + m.trades.n + m.subs.n + m.gj.n, 0);
        sim__model_free(&m);
    }
}

static void test_map_by_id(void **state)
{
    (void)state;
    struct sim_map map = {0};
    for (sim_sid k = 1; k <= 1000; k++) {
        assert_int_equal(sim__map_put(&map, k * 7919u, (int32_t)k), PD_OK);
        if (k == 768)
            assert_int_equal(map.cap, 1024);   /* 3/4 full, not grown yet */
        if (k == 769)
            assert_int_equal(map.cap, 2048);
    }
    assert_int_equal(sim__map_put(&map, 7919u, 99), PD_OK);      /* keeps the first */
    assert_int_equal(sim__map_get(&map, 7919u), 1);
    assert_int_equal(sim__map_set(&map, 7919u, 99), PD_OK);      /* replaces */
    assert_int_equal(sim__map_get(&map, 7919u), 99);
    for (sim_sid k = 2; k <= 1000; k++)
        assert_int_equal(sim__map_get(&map, k * 7919u), (int32_t)k);
    assert_int_equal(sim__map_get(&map, 5), SIM_NONE);
    assert_int_equal(sim__map_put(&map, 0, 5), PD_OK);           /* id 0: not stored */
    assert_int_equal(sim__map_get(&map, 0), SIM_NONE);
    assert_int_equal(map.n, 1000);
    sim__map_free(&map);
}

/* 600 originals sent in a shuffled order, each with its own offset; every
 * seventh retried or refused (no sample). Two share a send time. */
static void test_clock_map(void **state)
{
    (void)state;
    enum { N = 600 };
    struct sim_model m;
    sim__model_init(&m);
    static int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    uint32_t x = 12345;
    for (int i = N - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        int j = (int)((x >> 8) % (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    char json[400];
    size_t expected = 0;
    for (int k = 0; k < N; k++) {
        int i = order[k];
        long long at = i == 301 ? 3000 : 10LL * i;        /* 300 and 301 tie */
        long long off = 500 + (i * 37) % 101;
        bool sampled = i % 7 != 3;
        expected += sampled;
        snprintf(json, sizeof json,
                 "{\"order_id\":\"o-%d\",\"amount\":5,\"currency\":\"CNY\","
                 "\"status\":\"UNPAID\",\"created_at\":%lld,\"history\":[]}", i, at + off);
        add(&m, json, sim__add_order);
        snprintf(json, sizeof json,
                 "{\"key\":\"k-%d\",\"kind\":\"original\",\"at\":%lld,\"status\":%d,"
                 "\"order_id\":\"o-%d\",\"retried\":%s}", i, at, i % 14 == 3 ? 409 : 201,
                 i, i % 14 == 10 ? "true" : "false");
        add(&m, json, sim__add_submission);
    }
    assert_int_equal(sim__model_link(&m), PD_OK);
    struct sim_clock_map cm;
    assert_int_equal(sim__clock_map_build(&m, &cm), PD_OK);
    assert_int_equal(cm.n, expected);
    for (size_t i = 1; i < cm.n; i++)
        assert_true(cm.s[i - 1].at < cm.s[i].at ||
                    (cm.s[i - 1].at == cm.s[i].at && cm.s[i - 1].off <= cm.s[i].off));
    assert_int_equal(cm.s[0].at, 0);
    assert_int_equal(cm.s[0].off, 500);
    /* Near 3000: the three samples before the first sent at 3000 and the
     * three from it (both tied at 3000, smaller offset first); the answer
     * is the upper median of their offsets, the spread max - min. */
    size_t first = 0;
    while (cm.s[first].at < 3000)
        first++;
    assert_int_equal(cm.s[first].at, 3000);
    assert_int_equal(cm.s[first + 1].at, 3000);
    assert_true(cm.s[first].off < cm.s[first + 1].off);
    int64_t near[6];
    for (size_t i = 0; i < 6; i++)
        near[i] = cm.s[first - 3 + i].off;
    for (size_t i = 1; i < 6; i++)            /* insertion sort of six */
        for (size_t j = i; j > 0 && near[j - 1] > near[j]; j--) {
            int64_t t = near[j];
            near[j] = near[j - 1];
            near[j - 1] = t;
        }
    int64_t off = 0, spread = 0;
    assert_true(sim__clock_map_at(&cm, 3000, &off, &spread));
    assert_int_equal(off, near[3]);
    assert_int_equal(spread, near[5] - near[0]);
    int64_t lo = 0;
    assert_true(sim__clock_map_min(&cm, &lo));
    assert_int_equal(lo, 500);
    sim__clock_map_free(&cm);
    sim__model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_link_seals),
                                       cmocka_unit_test(test_string_ids),
                                       cmocka_unit_test(test_string_chunks),
                                       cmocka_unit_test(test_record_sizes),
                                       cmocka_unit_test(test_unkept_fields_checked),
                                       cmocka_unit_test(test_map_by_id),
                                       cmocka_unit_test(test_clock_map)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
