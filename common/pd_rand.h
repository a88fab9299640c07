/* pd_rand.h -- keyed, stateless random draws.
 *
 * Every random decision in paydrill is a pure function of
 * (seed, key, kind, attempt): the same scenario and seed give each order the
 * same faults whatever the thread timing or the order in which decisions are
 * asked for. key is the order's stable workload key; kind names the decision
 * ("cb.drop", "payer.pay_twice"...); attempt numbers repeated decisions. */
#ifndef PD_RAND_H
#define PD_RAND_H

#include <stddef.h>
#include <stdint.h>

/* 64 uniformly distributed bits. key and kind may be NULL (treated as ""). */
uint64_t pd_draw_u64(uint64_t seed, const char *key, const char *kind, uint64_t attempt);

/* A double uniform in [0, 1). */
double pd_draw_unit(uint64_t seed, const char *key, const char *kind, uint64_t attempt);

/* An integer uniform in [lo, hi] (inclusive); lo <= hi required. */
int64_t pd_draw_range(uint64_t seed, const char *key, const char *kind,
                      uint64_t attempt, int64_t lo, int64_t hi);

/* A lognormal draw with the given median and sigma (of the underlying normal). */
double pd_draw_lognormal(uint64_t seed, const char *key, const char *kind,
                         uint64_t attempt, double median, double sigma);

/* FNV-1a 64 of a string; stable across runs and machines. */
uint64_t pd_hash_str(const char *s);
/* FNV-1a 64 of n bytes (pd_hash_str of a string is that of its bytes). */
uint64_t pd_hash_bytes(const void *p, size_t n);

/* SplitMix64 finalizer. */
uint64_t pd_mix64(uint64_t x);

#endif
