/* Proves the gateway protocol's signature: a known-answer vector computed
 * independently (openssl dgst), rejection of a changed body, timestamp,
 * nonce or secret, the freshness window both ways, and malformed headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
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

/* Each thread keeps an HMAC context keyed with its last secret
 * (pd_sign.c): signing with one secret, another, a long one (hashed first,
 * being over the block size), the first again and the same twice in a row
 * must give each secret's own answer, in eight threads at once. The
 * vectors come from openssl dgst -sha256 -hmac KEY. */
static const struct vector {
    const char *key, *hex;
} vectors[] = {
    {"s3cret", "a5e70bfa27c2de9585b922975acf921bc63d3ea31b4bfdbefdd715970624a426"},
    {"paydrill-business-secret", "4ab50dbc8804a0b6a09c9fbd3e4c0216d625612ea1998fd374b0d84cfb133554"},
    {"k", "de04be61881a8c7ebdbce5be5bd7e7b73c95a54694bf4091b5118252e1269d5e"},
    {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxx", "207a2921b123c1aadacb5157c276c8082fd6085528ac092c30fea1420a701ecd"},
};
#define N_VECTORS (sizeof vectors / sizeof vectors[0])

static void *sign_mixed(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        /* runs of the same key and switches between keys, in a random order */
        const struct vector *v = &vectors[(rand_r(&seed) >> 4) % N_VECTORS];
        char hex[PD_SIG_HEX_LEN + 1];
        if (pd_sign(v->key, 1700000000, "n1", body, strlen(body), hex) != 0 ||
            strcmp(hex, v->hex) != 0)
            return (void *)v;
    }
    return NULL;
}

static void test_kept_context(void **state)
{
    (void)state;
    char hex[PD_SIG_HEX_LEN + 1];
    static const int order[] = {0, 1, 0, 3, 3, 2, 0, 0, 1};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const struct vector *v = &vectors[order[i]];
        assert_int_equal(pd_sign(v->key, 1700000000, "n1", body, strlen(body), hex), 0);
        assert_string_equal(hex, v->hex);
    }
    pthread_t t[8];
    for (uintptr_t i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_mixed, (void *)(i + 1)), 0);
    for (int i = 0; i < 8; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
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
    /* 4,096 nonces: lowercase hex, each different (a repeat among 2^128
     * values is not chance). */
    enum { N = 4096 };
    char(*many)[PD_NONCE_LEN + 1] = malloc(N * sizeof *many);
    assert_non_null(many);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pd_nonce(many[i]), 0);
        assert_int_equal(strspn(many[i], "0123456789abcdef"), PD_NONCE_LEN);
    }
    qsort(many, N, sizeof *many, (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(many[i - 1], many[i]);
    free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_kept_context),
        cmocka_unit_test(test_roundtrip_and_tamper),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nonce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
