/* check_clock.c -- see check_clock.h. */
#include "check_clock.h"

#include <stdlib.h>
#include <string.h>

#include "pd_err.h"

#define NEAREST 3   /* samples taken on each side of t */

/* By send time, then offset: a total order on the values, so the sorted
 * array is the same whatever the input order. */
static bool before(const struct sim_clock_sample *a, const struct sim_clock_sample *b)
{
    return a->at < b->at || (a->at == b->at && a->off < b->off);
}

/* Heapsort, in place: glibc's qsort sorts a malloc'd copy (a merge sort),
 * which at 10,000 orders was 160 KB at the checker's peak. */
static void sift_down(struct sim_clock_sample *s, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && before(&s[child], &s[child + 1]))
            child++;
        if (!before(&s[root], &s[child]))
            return;
        struct sim_clock_sample t = s[root];
        s[root] = s[child];
        s[child] = t;
        root = child;
    }
}

static void sort_by_at(struct sim_clock_sample *s, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s, i, n);
    for (size_t end = n; end-- > 1;) {
        struct sim_clock_sample t = s[0];
        s[0] = s[end];
        s[end] = t;
        sift_down(s, 0, end);
    }
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* One array, sorted in place: the samples were once copied into two more
 * arrays (320 KB at 10,000 orders, at the checker's peak). */
int sim__clock_map_build(const struct sim_model *m, struct sim_clock_map *out)
{
    memset(out, 0, sizeof *out);
    struct sim_clock_sample *s = malloc((m->subs.n + 1) * sizeof *s);
    if (s == NULL)
        return PD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission *d = &m->subs.v[i];
        int32_t o = sim__map_get(&m->order_by_id, d->order_id);
        if (d->retried || d->status != 201 || o == SIM_NONE ||
            !sim__s_eq(m, d->kind, "original") || m->orders.v[o].created_at == SIM_NO_TIME)
            continue;
        s[n++] = (struct sim_clock_sample){.at = d->at,
                                           .off = m->orders.v[o].created_at - d->at};
    }
    sort_by_at(s, n);
    out->s = s;
    out->n = n;
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
        if (cm->s[mid].at < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t from = lo > NEAREST ? lo - NEAREST : 0;
    size_t to = lo + NEAREST < cm->n ? lo + NEAREST : cm->n;
    int64_t near[2 * NEAREST];
    size_t k = 0;
    for (size_t i = from; i < to; i++)
        near[k++] = cm->s[i].off;
    qsort(near, k, sizeof near[0], cmp_i64);
    *offset = near[k / 2];
    *spread = near[k - 1] - near[0];
    return true;
}

bool sim__clock_map_min(const struct sim_clock_map *cm, int64_t *offset)
{
    *offset = 0;
    for (size_t i = 0; i < cm->n; i++)
        if (i == 0 || cm->s[i].off < *offset)
            *offset = cm->s[i].off;
    return cm->n > 0;
}

void sim__clock_map_free(struct sim_clock_map *cm)
{
    if (cm == NULL)
        return;
    free(cm->s);
    memset(cm, 0, sizeof *cm);
}
