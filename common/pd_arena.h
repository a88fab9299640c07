/* pd_arena.h -- a bump allocator: many small blocks freed all at once.
 *
 * Blocks come from 64 KiB chunks (a larger request gets a chunk of its
 * own) and never move, so pointers into an arena stay valid until
 * pd_arena_free. For data that lives and dies together: interned strings,
 * a model's records. Caller-owned struct; zero-initialise it. */
#ifndef PD_ARENA_H
#define PD_ARENA_H

#include <stddef.h>

struct pd_arena_chunk;
struct pd_arena {
    struct pd_arena_chunk *head;   /* newest chunk */
    size_t used;                   /* bytes used in head */
    size_t total;                  /* bytes allocated in all chunks */
};

/* n bytes aligned to align (a power of two, at most 16), not zeroed.
 * NULL when out of memory. */
void *pd_arena_take(struct pd_arena *a, size_t n, size_t align);

/* A copy of s (with its NUL, no padding), or NULL when out of memory. */
char *pd_arena_strdup(struct pd_arena *a, const char *s);

/* Frees every chunk and zeroes the arena. */
void pd_arena_free(struct pd_arena *a);

#endif
