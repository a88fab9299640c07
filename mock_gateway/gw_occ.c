/* gw_occ.c -- how many times each op was asked for each order key, so a
 * rule can pick "the 2nd query of this order" whatever the interleaving of
 * other orders. A chained hash table with striped locks; it lives in memory
 * and starts again from zero after a restart or a reset. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw_internal.h"
#include "pd_rand.h"

#define OCC_BUCKETS (1u << 16)
#define OCC_STRIPES 64u
#define OCC_MAX_ENTRIES 4000000u   /* past this, counts stay 1 for new keys */

struct node {
    struct node *next;
    uint64_t count[GW_OP_COUNT];
    char key[];
};

struct gw_occ {
    pthread_mutex_t mu[OCC_STRIPES];
    struct node *bucket[OCC_BUCKETS];
    uint64_t entries;               /* atomic */
};

gw_occ *gw_occ_new(void)
{
    gw_occ *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    for (unsigned i = 0; i < OCC_STRIPES; i++)
        pthread_mutex_init(&o->mu[i], NULL);
    return o;
}

static void clear(gw_occ *o)
{
    for (unsigned i = 0; i < OCC_BUCKETS; i++) {
        struct node *n = o->bucket[i];
        while (n != NULL) {
            struct node *next = n->next;
            free(n);
            n = next;
        }
        o->bucket[i] = NULL;
    }
    o->entries = 0;
}

void gw_occ_free(gw_occ *o)
{
    if (o == NULL)
        return;
    clear(o);
    for (unsigned i = 0; i < OCC_STRIPES; i++)
        pthread_mutex_destroy(&o->mu[i]);
    free(o);
}

uint64_t gw_occ_next(gw_occ *o, const char *key, enum gw_op op)
{
    uint64_t h = pd_hash_str(key);
    unsigned b = (unsigned)(h % OCC_BUCKETS);
    pthread_mutex_t *mu = &o->mu[b % OCC_STRIPES];
    uint64_t n = 1;
    pthread_mutex_lock(mu);
    struct node *it = o->bucket[b];
    while (it != NULL && strcmp(it->key, key) != 0)
        it = it->next;
    if (it == NULL && __atomic_load_n(&o->entries, __ATOMIC_RELAXED) < OCC_MAX_ENTRIES) {
        size_t len = strlen(key);
        it = calloc(1, sizeof *it + len + 1);
        if (it != NULL) {
            memcpy(it->key, key, len + 1);
            it->next = o->bucket[b];
            o->bucket[b] = it;
            __atomic_add_fetch(&o->entries, 1, __ATOMIC_RELAXED);
        }
    }
    if (it != NULL)
        n = ++it->count[op];
    pthread_mutex_unlock(mu);
    return n;
}

void gw_occ_reset(gw_occ *o)
{
    for (unsigned i = 0; i < OCC_STRIPES; i++)
        pthread_mutex_lock(&o->mu[i]);
    clear(o);
    for (unsigned i = OCC_STRIPES; i-- > 0;)
        pthread_mutex_unlock(&o->mu[i]);
}
