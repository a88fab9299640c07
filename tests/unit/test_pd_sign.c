/* Proves the gateway protocol's signature: a known-answer vector computed
 * independently (openssl dgst), rejection of a changed body, timestamp,
 * nonce or secret, the freshness window both ways, and malformed headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_sign.h"

static const char *secret = "s3cret";
static const char *body = "{\"out_trade_no\":\"o-1-1\",\"amount\":100}";

static void test_known_answer(void **state)
{
    (void)state;
    char hex[PD_SIG_HEX_LEN + 1];
    assert_int_equal(pd_sign(secret, 1700000000, "n1", body, strlen(body), hex), 0);
    /* printf '1700000000\nn1\n%s' "$body" | openssl dgst -sha256 -hmac s3cret */
    assert_string_equal(hex, "a5e70bfa27c2de9585b922975acf921bc63d3ea31b4bfdbefdd715970624a426");
}

static void test_roundtrip_and_tamper(void **state)
{
    (void)state;
    char hex[PD_SIG_HEX_LEN + 1];
    pd_sign(secret, 1000, "abc", body, strlen(body), hex);
    assert_int_equal(pd_verify(secret, "1000", "abc", hex, body, strlen(body), 1000, 300), PD_SIG_OK);
    char upper[PD_SIG_HEX_LEN + 1];
    for (int i = 0; i <= PD_SIG_HEX_LEN; i++)
        upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
    assert_int_equal(pd_verify(secret, "1000", "abc", upper, body, strlen(body), 1000, 300), PD_SIG_OK);
    char other[128];
    strcpy(other, body);
    other[30] = '9';
    assert_int_equal(pd_verify(secret, "1000", "abc", hex, other, strlen(other), 1000, 300), PD_SIG_BAD);
    assert_int_equal(pd_verify(secret, "1001", "abc", hex, body, strlen(body), 1000, 300), PD_SIG_BAD);
    assert_int_equal(pd_verify(secret, "1000", "abd", hex, body, strlen(body), 1000, 300), PD_SIG_BAD);
    assert_int_equal(pd_verify("other", "1000", "abc", hex, body, strlen(body), 1000, 300), PD_SIG_BAD);
}

static void test_freshness(void **state)
{
    (void)state;
    char hex[PD_SIG_HEX_LEN + 1];
    pd_sign(secret, 1000, "abc", body, strlen(body), hex);
    assert_int_equal(pd_verify(secret, "1000", "abc", hex, body, strlen(body), 1300, 300), PD_SIG_OK);
    assert_int_equal(pd_verify(secret, "1000", "abc", hex, body, strlen(body), 1301, 300), PD_SIG_STALE);
    assert_int_equal(pd_verify(secret, "1000", "abc", hex, body, strlen(body), 699, 300), PD_SIG_STALE);
}

static void test_malformed(void **state)
{
    (void)state;
    char hex[PD_SIG_HEX_LEN + 1];
    pd_sign(secret, 1000, "abc", body, strlen(body), hex);
    size_t n = strlen(body);
    assert_int_equal(pd_verify(secret, NULL, "abc", hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "1000", NULL, hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "1000", "abc", NULL, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "10x0", "abc", hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "", "abc", hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "1000", "", hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "99999999999999999999999", "abc", hex, body, n, 1000, 300), PD_SIG_MISSING);
    assert_int_equal(pd_verify(secret, "1000", "abc", "abcd", body, n, 1000, 300), PD_SIG_BAD);
}

static void test_nonce(void **state)
{
    (void)state;
    char a[PD_NONCE_LEN + 1], b[PD_NONCE_LEN + 1];
    assert_int_equal(pd_nonce(a), 0);
    assert_int_equal(pd_nonce(b), 0);
    assert_int_equal(strlen(a), PD_NONCE_LEN);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_roundtrip_and_tamper),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nonce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
