#include "pd_rand.h"

#include <math.h>
#include <string.h>

#include "pd_assert.h"

uint64_t pd_hash_bytes(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *b = p; n > 0; b++, n--) {
        h ^= *b;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t pd_hash_str(const char *s)
{
    return s == NULL ? pd_hash_bytes("", 0) : pd_hash_bytes(s, strlen(s));
}

uint64_t pd_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t pd_draw_u64(uint64_t seed, const char *key, const char *kind, uint64_t attempt)
{
    /* Chain the mixer over each component so no two tuples share a stream
     * by accident (e.g. key "ab"+kind "c" versus key "a"+kind "bc"). */
    uint64_t h = pd_mix64(seed);
    h = pd_mix64(h ^ pd_hash_str(key));
    h = pd_mix64(h ^ pd_hash_str(kind));
    h = pd_mix64(h ^ attempt);
    return h;
}

double pd_draw_unit(uint64_t seed, const char *key, const char *kind, uint64_t attempt)
{
    return (double)(pd_draw_u64(seed, key, kind, attempt) >> 11) * 0x1.0p-53;
}

int64_t pd_draw_range(uint64_t seed, const char *key, const char *kind,
                      uint64_t attempt, int64_t lo, int64_t hi)
{
    PD_ASSERT(lo <= hi);
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    uint64_t r = pd_draw_u64(seed, key, kind, attempt);
    if (span == 0)  /* the whole int64 range */
        return (int64_t)r;
    return lo + (int64_t)(r % span);
}

double pd_draw_lognormal(uint64_t seed, const char *key, const char *kind,
                         uint64_t attempt, double median, double sigma)
{
    /* Box-Muller from two independent keyed draws. */
    double u1 = pd_draw_unit(seed, key, kind, attempt * 2 + 1);
    double u2 = pd_draw_unit(seed, key, kind, attempt * 2 + 2);
    if (u1 < 1e-300)
        u1 = 1e-300;
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
    return median * exp(sigma * z);
}
