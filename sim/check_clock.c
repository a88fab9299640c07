/* check_clock.c -- see check_clock.h. */
#include "check_clock.h"

#include <stdlib.h>
#include <string.h>

#include "pd_err.h"

#define NEAREST 3   /* samples taken on each side of t */

struct sample { int64_t at, off; };

static int cmp_sample(const void *pa, const void *pb)
{
    const struct sample *a = pa, *b = pb;
    return a->at < b->at ? -1 : a->at > b->at;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

int sim__clock_map_build(const struct sim_model *m, struct sim_clock_map *out)
{
    memset(out, 0, sizeof *out);
    struct sample *s = malloc((m->subs.n + 1) * sizeof *s);
    if (s == NULL)
        return PD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission *d = &m->subs.v[i];
        int32_t o = sim__map_get(&m->order_by_id, d->order_id);
        if (d->retried || d->status != 201 || o == SIM_NONE ||
            !sim__s_eq(m, d->kind, "original") || m->orders.v[o].created_at == SIM_NO_TIME)
            continue;
        s[n++] = (struct sample){.at = d->at, .off = m->orders.v[o].created_at - d->at};
    }
    qsort(s, n, sizeof *s, cmp_sample);
    out->at = malloc((n + 1) * sizeof *out->at);
    out->off = malloc((n + 1) * sizeof *out->off);
    if (out->at == NULL || out->off == NULL) {
        free(s);
        sim__clock_map_free(out);
        return PD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out->at[i] = s[i].at;
        out->off[i] = s[i].off;
    }
    out->n = n;
    free(s);
    return PD_OK;
}

bool sim__clock_map_at(const struct sim_clock_map *cm, int64_t t, int64_t *offset,
                       int64_t *spread)
{
    *offset = 0;
    *spread = 0;
    if (cm->n == 0)
        return false;
    size_t lo = 0, hi = cm->n;     /* first sample at or after t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cm->at[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t from = lo > NEAREST ? lo - NEAREST : 0;
    size_t to = lo + NEAREST < cm->n ? lo + NEAREST : cm->n;
    int64_t near[2 * NEAREST];
    size_t k = 0;
    for (size_t i = from; i < to; i++)
        near[k++] = cm->off[i];
    qsort(near, k, sizeof near[0], cmp_i64);
    *offset = near[k / 2];
    *spread = near[k - 1] - near[0];
    return true;
}

bool sim__clock_map_min(const struct sim_clock_map *cm, int64_t *offset)
{
    *offset = 0;
    for (size_t i = 0; i < cm->n; i++)
        if (i == 0 || cm->off[i] < *offset)
            *offset = cm->off[i];
    return cm->n > 0;
}

void sim__clock_map_free(struct sim_clock_map *cm)
{
    if (cm == NULL)
        return;
    free(cm->at);
    free(cm->off);
    memset(cm, 0, sizeof *cm);
}
