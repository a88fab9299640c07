/* Proves sim__model_link seals the checker's model: every record vector is
 * trimmed to its length (no doubling slack kept for the evaluation), the
 * intern table used while loading is freed, and the links made by pointer
 * identity still hold afterwards (receipts chained to their order, the
 * order found by id). Builds the model through the real adders. Also that
 * the arena packs interned strings end to end (no 16-byte rounding) while
 * record arrays stay 16-byte aligned and zeroed, and a string is stored
 * once however often it is interned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_model.h"
#include "pd_err.h"

static void add(struct sim_model *m, const char *json,
                int (*adder)(struct sim_model *, const cJSON *, const char *,
                             struct pd_json_err *))
{
    struct pd_json_err err = {{0}};
    cJSON *el = cJSON_Parse(json);
    assert_non_null(el);
    assert_int_equal(adder(m, el, "x", &err), PD_OK);
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

static void test_arena_packing(void **state)
{
    (void)state;
    struct sim_model m;
    sim__model_init(&m);
    bool oom = false;
    const char *a = sim__intern(&m, "ab", &oom);
    const char *b = sim__intern(&m, "cde", &oom);
    assert_false(oom);
    assert_ptr_equal(b, a + 3);                       /* "ab\0" then "cde" */
    assert_ptr_equal(sim__intern(&m, "ab", &oom), a); /* once */
    assert_string_equal(a, "ab");
    assert_string_equal(b, "cde");
    unsigned char *rec = sim__arena_alloc(&m.arena, 24);
    assert_non_null(rec);
    assert_int_equal((uintptr_t)rec % 16, 0);
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(rec[i], 0);
    assert_string_equal(b, "cde");                    /* untouched by the record */
    sim__model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_link_seals),
                                       cmocka_unit_test(test_arena_packing)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
