/* Proves the bump allocator: blocks honour the asked alignment, strings
 * are packed end to end with their NUL, a block larger than a chunk gets
 * its own chunk and earlier blocks keep their contents (chunks never
 * move), and free zeroes the arena so it can be used again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pd_arena.h"

static void test_alignment_and_packing(void **state)
{
    (void)state;
    struct pd_arena a = {0};
    char *s1 = pd_arena_strdup(&a, "abc");
    char *s2 = pd_arena_strdup(&a, "de");
    assert_ptr_equal(s2, s1 + 4);
    for (size_t align = 1; align <= 16; align *= 2) {
        pd_arena_strdup(&a, "x");               /* knock the offset off */
        void *p = pd_arena_take(&a, 3, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
    }
    assert_string_equal(s1, "abc");
    assert_string_equal(s2, "de");
    pd_arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.total, 0);
}

static void test_chunks_never_move(void **state)
{
    (void)state;
    struct pd_arena a = {0};
    char *first = pd_arena_strdup(&a, "first");
    char *strs[5000];
    char want[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(want, sizeof want, "string number %d", i);
        strs[i] = pd_arena_strdup(&a, want);
    }
    unsigned char *big = pd_arena_take(&a, 200000, 16);
    assert_non_null(big);
    memset(big, 0xAB, 200000);
    char *after = pd_arena_strdup(&a, "after");
    assert_true(a.total >= 200000 + 65536);
    assert_string_equal(first, "first");
    for (int i = 0; i < 5000; i++) {
        snprintf(want, sizeof want, "string number %d", i);
        assert_string_equal(strs[i], want);
    }
    assert_int_equal(big[0], 0xAB);
    assert_int_equal(big[199999], 0xAB);
    assert_string_equal(after, "after");
    pd_arena_free(&a);
    assert_non_null(pd_arena_strdup(&a, "again"));
    pd_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_packing),
        cmocka_unit_test(test_chunks_never_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
