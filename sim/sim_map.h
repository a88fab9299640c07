/* sim_map.h -- a string-keyed hash map (open addressing) of pointers.
 * Not thread-safe: callers lock. Keys are copied; values are borrowed. */
#ifndef SIM_MAP_H
#define SIM_MAP_H

#include <stddef.h>

struct sim_map {
    char **keys;
    void **vals;
    size_t cap;     /* power of two, or 0 */
    size_t len;
};

void sim_map_init(struct sim_map *m);
void sim_map_release(struct sim_map *m);        /* frees keys, not values */
void *sim_map_get(const struct sim_map *m, const char *key);
/* Inserts or replaces. Returns 0 or PD_ENOMEM. */
int sim_map_put(struct sim_map *m, const char *key, void *val);

#endif
