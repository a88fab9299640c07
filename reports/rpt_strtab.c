/* rpt_strtab.c -- string interning, so report.html carries each repeated
 * journal string (kinds, details, fault names) once. FNV-1a hashing with
 * open addressing; the table keeps its load under three quarters (linear
 * probing stays short, and the slots take half the memory of a table kept
 * under one half). */
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

void rpt__strtab_init(struct rpt__strtab *t)
{
    memset(t, 0, sizeof *t);
}

void rpt__strtab_release(struct rpt__strtab *t)
{
    pd_arena_free(&t->bytes);
    free(t->strs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t slot_of(const struct rpt__strtab *t, const char *s)
{
    size_t mask = t->nslots - 1;
    size_t i = fnv1a(s) & mask;
    while (t->slots[i] != 0 && strcmp(t->strs[t->slots[i] - 1], s) != 0)
        i = (i + 1) & mask;
    return i;
}

static int rehash(struct rpt__strtab *t)
{
    size_t nslots = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return PD_ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    for (size_t k = 0; k < t->n; k++)
        t->slots[slot_of(t, t->strs[k])] = (uint32_t)(k + 1);
    return PD_OK;
}

long rpt__strtab_find(const struct rpt__strtab *t, const char *s)
{
    if (t->nslots == 0)
        return -1;
    size_t i = slot_of(t, s);
    return t->slots[i] ? (long)t->slots[i] - 1 : -1;
}

int rpt__strtab_add(struct rpt__strtab *t, const char *s, size_t *idx)
{
    long found = rpt__strtab_find(t, s);
    if (found >= 0) {
        *idx = (size_t)found;
        return PD_OK;
    }
    if ((t->n + 1) * 4 > t->nslots * 3 && rehash(t) != PD_OK)
        return PD_ENOMEM;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **strs = realloc(t->strs, cap * sizeof *strs);
        if (strs == NULL)
            return PD_ENOMEM;
        t->strs = strs;
        t->cap = cap;
    }
    char *copy = pd_arena_strdup(&t->bytes, s);
    if (copy == NULL)
        return PD_ENOMEM;
    t->strs[t->n] = copy;
    t->slots[slot_of(t, s)] = (uint32_t)(t->n + 1);
    *idx = t->n++;
    return PD_OK;
}
