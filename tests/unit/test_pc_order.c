/* Proves the order intake rules: the fingerprint's canonical text is
 * exactly the documented one, it ignores item order and client_ref and
 * changes with every fact it covers; and the validator refuses each bad
 * body with a message naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pc_order.h"
#include "pd_err.h"

static int parse(const char *text, struct pc_order_in *o, struct pd_json_err *err)
{
    cJSON *j = cJSON_Parse(text);
    int rc = j ? pc_order_parse(j, o, err) : PD_EINVAL;
    cJSON_Delete(j);
    return rc;
}

#define BASE "\"merchant_id\":\"m-1\",\"user_id\":\"u-9\",\"currency\":\"CNY\""

static void fp_of(const char *text, char out[65])
{
    struct pc_order_in o;
    struct pd_json_err err;
    assert_int_equal(parse(text, &o, &err), PD_OK);
    pc_order_fingerprint(&o, out);
}

static void test_canonical_text(void **state)
{
    (void)state;
    struct pc_order_in o;
    struct pd_json_err err;
    char text[1024];
    assert_int_equal(parse("{" BASE ",\"amount\":1999,\"client_ref\":\"k\",\"items\":["
                           "{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500},"
                           "{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999}]}", &o, &err), PD_OK);
    pc_order_sort_items(&o);
    int n = pc_order_canonical(&o, text, sizeof text);
    assert_true(n > 0);
    assert_string_equal(text, "paydrill-order-v1\nmerchant_id=m-1\nuser_id=u-9\ncurrency=CNY\n"
                              "amount=1999\nitem=a,1,999\nitem=b,2,500\n");
    char fp[65], expect[65];
    pc_order_fingerprint(&o, fp);
    pd_sha256_hex(text, (size_t)n, expect);
    assert_string_equal(fp, expect);
}

static void test_fingerprint_covers_facts(void **state)
{
    (void)state;
    char a[65], b[65], c[65], d[65], e[65], f[65];
    fp_of("{" BASE ",\"amount\":1999,\"client_ref\":\"k1\",\"items\":[{\"sku\":\"b\",\"qty\":2,"
          "\"unit_amount\":500},{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999}]}", a);
    /* Item order and client_ref do not matter. */
    fp_of("{" BASE ",\"amount\":1999,\"client_ref\":\"k2\",\"items\":[{\"sku\":\"a\",\"qty\":1,"
          "\"unit_amount\":999},{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", b);
    assert_string_equal(a, b);
    fp_of("{" BASE ",\"amount\":1999,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999},"
          "{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", c);
    assert_string_equal(a, c);
    /* Each covered fact changes it. */
    fp_of("{\"merchant_id\":\"m-2\",\"user_id\":\"u-9\",\"currency\":\"CNY\",\"amount\":1999,"
          "\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999},{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", d);
    assert_string_not_equal(a, d);
    fp_of("{\"merchant_id\":\"m-1\",\"user_id\":\"u-8\",\"currency\":\"CNY\",\"amount\":1999,"
          "\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999},{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", e);
    assert_string_not_equal(a, e);
    fp_of("{\"merchant_id\":\"m-1\",\"user_id\":\"u-9\",\"currency\":\"USD\",\"amount\":1999,"
          "\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999},{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", f);
    assert_string_not_equal(a, f);
    fp_of("{" BASE ",\"amount\":1998,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":998},"
          "{\"sku\":\"b\",\"qty\":2,\"unit_amount\":500}]}", f);
    assert_string_not_equal(a, f);
    fp_of("{" BASE ",\"amount\":1999,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":999},"
          "{\"sku\":\"c\",\"qty\":2,\"unit_amount\":500}]}", f);
    assert_string_not_equal(a, f);
}

static const struct {
    const char *body;
    const char *err;
} bad[] = {
    {"{" BASE ",\"amount\":0,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":1}]}",
     "amount: must be between 1 and 1000000000000"},
    {"{" BASE ",\"amount\":5,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":4}]}",
     "amount: 5 does not equal the items' sum 4"},
    {"{" BASE ",\"amount\":1,\"items\":[]}", "items: must hold 1 to 100 items"},
    {"{" BASE ",\"amount\":1,\"items\":[{\"sku\":\"a\",\"qty\":0,\"unit_amount\":1}]}",
     "items[0].qty: must be between 1 and 1000000"},
    {"{" BASE ",\"amount\":1,\"items\":[{\"sku\":\"a b\",\"qty\":1,\"unit_amount\":1}]}",
     "items[0].sku: only letters, digits and _.:@- allowed"},
    {"{" BASE ",\"amount\":1000000000000,\"items\":[{\"sku\":\"a\",\"qty\":2,"
     "\"unit_amount\":1000000000000}]}", "items[0]: qty * unit_amount exceeds 1000000000000"},
    {"{\"merchant_id\":\"m\",\"user_id\":\"u\",\"currency\":\"ABC\",\"amount\":1,"
     "\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":1}]}", "currency: not an active ISO 4217 code"},
    {"{" BASE ",\"amount\":1,\"extra\":1,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":1}]}",
     "extra: unknown field"},
    {"{" BASE ",\"amount\":1,\"amount\":2,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":1}]}",
     "amount: duplicate key"},
    {"{" BASE ",\"amount\":1,\"client_ref\":\"a\\u0001\",\"items\":[{\"sku\":\"a\",\"qty\":1,"
     "\"unit_amount\":1}]}", "client_ref: control characters not allowed"},
    {"{" BASE ",\"amount\":1.5,\"items\":[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":1}]}",
     "amount: must be an integer"},
};

static void test_validation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pc_order_in o;
        struct pd_json_err err = {{0}};
        assert_int_equal(parse(bad[i].body, &o, &err), PD_EINVAL);
        assert_string_equal(err.text, bad[i].err);
    }
    assert_true(pc_currency_known("EUR"));
    assert_false(pc_currency_known("eur"));
    assert_false(pc_currency_known("EURO"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_fingerprint_covers_facts),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
