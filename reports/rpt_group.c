/* rpt_group.c -- folds repeated faults into one line per kind, so an order
 * whose 16 callbacks were all dropped reads "callback.drop attempts 1-16"
 * instead of sixteen chips. Used by report.html; junit.xml keeps the full
 * list (a machine may want each entry). */
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

long rpt__attempt_suffix(const char *s, size_t *prefix_len)
{
    static const char mark[] = " attempt ";
    const char *at = NULL;
    for (const char *p = strstr(s, mark); p; p = strstr(p + 1, mark))
        at = p;
    *prefix_len = strlen(s);
    if (at == NULL)
        return -1;
    const char *d = at + sizeof mark - 1;
    long v = 0;
    if (*d == '\0')
        return -1;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*d - '0');
    }
    *prefix_len = (size_t)(at - s);
    return v;
}

void rpt__ranges(struct rpt__out *o, const long *v, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        rpt__printf(o, "%s%ld", i ? ", " : "", v[i]);
        if (j > i)
            rpt__printf(o, "%s%ld", j == i + 1 ? ", " : "\xE2\x80\x93", v[j]);
        i = j + 1;
    }
}

/* For each distinct prefix of arr's strings, in order of first appearance:
 * emit(prefix, attempts). Strings without an attempt suffix stand alone. */
void rpt__fault_groups(struct rpt__out *o, const cJSON *arr,
                       void (*emit)(struct rpt__out *o, const char *s, size_t len,
                                    const long *attempts, size_t n))
{
    int n = arr ? cJSON_GetArraySize(arr) : 0;
    long *att = malloc(((size_t)n + 1) * sizeof *att);
    bool *done = calloc((size_t)n + 1, sizeof *done);
    if (att == NULL || done == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        const char *s = cJSON_GetArrayItem(arr, i)->valuestring;
        size_t len;
        long a = rpt__attempt_suffix(s, &len);
        size_t k = 0;
        for (int j = i; j < n && a >= 0; j++) {
            const char *t = cJSON_GetArrayItem(arr, j)->valuestring;
            size_t tlen;
            long b = rpt__attempt_suffix(t, &tlen);
            if (!done[j] && b >= 0 && tlen == len && strncmp(s, t, len) == 0) {
                att[k++] = b;
                done[j] = true;
            }
        }
        emit(o, s, len, att, k);
    }
    free(att);
    free(done);
}
