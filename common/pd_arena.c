/* pd_arena.c -- see pd_arena.h. */
#include "pd_arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "pd_assert.h"

#define CHUNK_BYTES 65536

struct pd_arena_chunk {
    struct pd_arena_chunk *next;
    size_t cap;
    alignas(16) char data[];
};

void *pd_arena_take(struct pd_arena *a, size_t n, size_t align)
{
    PD_ASSERT(align > 0 && align <= 16 && (align & (align - 1)) == 0);
    size_t at = (a->used + align - 1) & ~(align - 1);
    if (a->head == NULL || at + n > a->head->cap) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        struct pd_arena_chunk *c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->cap = cap;
        a->head = c;
        a->total += cap;
        at = 0;
    }
    a->used = at + n;
    return a->head->data + at;
}

char *pd_arena_strdup(struct pd_arena *a, const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = pd_arena_take(a, len, 1);
    if (copy != NULL)
        memcpy(copy, s, len);
    return copy;
}

void pd_arena_free(struct pd_arena *a)
{
    struct pd_arena_chunk *c = a->head;
    while (c != NULL) {
        struct pd_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(a, 0, sizeof *a);
}
