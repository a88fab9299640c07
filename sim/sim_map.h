/* sim_map.h -- a string-keyed hash map (open addressing) of pointers.
 * Not thread-safe: callers lock. Keys are copied into an arena (one map
 * holds an entry per order: a malloc per key cost a third more); values
 * are borrowed. */
#ifndef SIM_MAP_H
#define SIM_MAP_H

#include <stddef.h>

#include "pd_arena.h"

struct sim_map {
    char **keys;
    void **vals;
    size_t cap;     /* power of two, or 0 */
    size_t len;
    struct pd_arena key_bytes;   /* the keys' copies; they never move */
};

void sim_map_init(struct sim_map *m);
void sim_map_release(struct sim_map *m);        /* frees keys, not values */
void *sim_map_get(const struct sim_map *m, const char *key);
/* Inserts or replaces. Returns 0 or PD_ENOMEM. When stored is not NULL,
 * *stored is the map's own copy of key, valid until sim_map_release. */
int sim_map_put(struct sim_map *m, const char *key, void *val, const char **stored);

#endif
