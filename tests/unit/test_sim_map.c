/* sim_map: every key put is found again with its latest value through
 * growth, the map's copy of a key is stable (the driver's list of
 * accepted orders points at it), keys are copies, not the caller's
 * buffer, and they stay in the map's one arena through growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "sim_map.h"

#define N 5000
/* 39 bytes with the NUL: N keys fill several 64 KiB arena chunks. */
#define KEY_FMT "o-%08x-padding-padding-padding-pad"

static void test_put_get_through_growth(void **state)
{
    (void)state;
    struct sim_map m;
    sim_map_init(&m);
    const char *stored[N];   /* on the stack: LeakSanitizer must not see them at exit */
    char key[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, KEY_FMT, (unsigned)i * 2654435761u);
        assert_int_equal(sim_map_put(&m, key, (void *)(intptr_t)(i + 1), &stored[i]), PD_OK);
        assert_ptr_not_equal(stored[i], key);             /* a copy ... */
        assert_string_equal(stored[i], key);              /* ... of the key */
    }
    key[0] = 'x';                                         /* the caller's buffer is not used */
    assert_int_equal(m.len, N);
    /* Every key's bytes are in the map's arena, not only those put since
     * its last growth (a growth once dropped the arena and leaked it). */
    assert_true(m.key_bytes.total >= (size_t)N * (strlen(key) + 1));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, KEY_FMT, (unsigned)i * 2654435761u);
        assert_int_equal((intptr_t)sim_map_get(&m, key), i + 1);
        assert_string_equal(stored[i], key);              /* unmoved by growth */
    }
    assert_null(sim_map_get(&m, "o-absent"));
    /* Replacing keeps the entry and its stored key. */
    const char *again = NULL;
    snprintf(key, sizeof key, KEY_FMT, 0u);
    assert_int_equal(sim_map_put(&m, key, (void *)(intptr_t)-7, &again), PD_OK);
    assert_ptr_equal(again, stored[0]);
    assert_int_equal((intptr_t)sim_map_get(&m, key), -7);
    assert_int_equal(m.len, N);
    assert_int_equal(sim_map_put(&m, "", (void *)(intptr_t)3, NULL), PD_OK);   /* "" is a key */
    assert_int_equal((intptr_t)sim_map_get(&m, ""), 3);
    sim_map_release(&m);
    assert_null(sim_map_get(&m, key));
    assert_int_equal(m.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_through_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
