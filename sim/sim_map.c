#include "sim_map.h"

#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_rand.h"

void sim_map_init(struct sim_map *m)
{
    memset(m, 0, sizeof *m);
}

void sim_map_release(struct sim_map *m)
{
    pd_arena_free(&m->key_bytes);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const struct sim_map *m, const char *key)
{
    size_t i = (size_t)pd_hash_str(key) & (m->cap - 1);
    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *sim_map_get(const struct sim_map *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = slot_of(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static int grow(struct sim_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct sim_map n = {.cap = cap, .len = m->len, .key_bytes = m->key_bytes};
    n.keys = calloc(cap, sizeof *n.keys);
    n.vals = calloc(cap, sizeof *n.vals);
    if (n.keys == NULL || n.vals == NULL) {
        free(n.keys);
        free(n.vals);
        return PD_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        size_t j = slot_of(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = n;
    return PD_OK;
}

int sim_map_put(struct sim_map *m, const char *key, void *val, const char **stored)
{
    if ((m->len + 1) * 2 > m->cap && grow(m) != PD_OK)
        return PD_ENOMEM;
    size_t i = slot_of(m, key);
    if (m->keys[i] == NULL) {
        m->keys[i] = pd_arena_strdup(&m->key_bytes, key);
        if (m->keys[i] == NULL)
            return PD_ENOMEM;
        m->len++;
    }
    m->vals[i] = val;
    if (stored != NULL)
        *stored = m->keys[i];
    return PD_OK;
}
