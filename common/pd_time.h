/* pd_time.h -- wall clock, sleeps, and the duration syntax used everywhere.
 *
 * Programs read time only through these functions (or through a pd_clock
 * port in tests), so libfaketime's speed-up applies to all of it. Durations
 * are int64 milliseconds; the text form is a number with a unit:
 * "250ms", "30s", "10m", "3h", "1d". */
#ifndef PD_TIME_H
#define PD_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock (CLOCK_REALTIME) milliseconds since the epoch. */
int64_t pd_now_ms(void);

/* Monotonic milliseconds, for measuring intervals. */
int64_t pd_mono_ms(void);

/* The CLOCK_MONOTONIC instant ms milliseconds from now (0 if ms < 0), as
 * pthread_cond_timedwait wants it for a condition variable set to that
 * clock. */
struct timespec pd_mono_deadline(int64_t ms);

/* Sleeps ms milliseconds (restarting after signals). */
void pd_sleep_ms(int64_t ms);

/* An injectable clock for modules whose logic depends on time. */
struct pd_clock {
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

/* The real clock: now_ms = pd_now_ms. */
extern const struct pd_clock pd_clock_real;

static inline int64_t pd_clock_now(const struct pd_clock *clock)
{
    return clock->now_ms(clock->ctx);
}

/* Parses "250ms", "30s", "10m", "3h", "1d" (also "0"). Returns 0 or
 * PD_EINVAL for anything else, including overflow and negatives. */
int pd_parse_duration(const char *text, int64_t *out_ms);

/* Parses a comma-separated list of durations into out_ms[max]. Sets *out_n.
 * Returns 0, PD_EINVAL (bad element or empty list) or PD_ETOOBIG (> max). */
int pd_parse_schedule(const char *text, int64_t *out_ms, size_t max, size_t *out_n);

/* Formats ms as the shortest exact duration text ("90s", "3h", "250ms"). */
void pd_format_duration(int64_t ms, char *out, size_t out_len);

/* Formats epoch ms as RFC 3339 UTC with milliseconds into out[32]. */
void pd_format_rfc3339(int64_t epoch_ms, char out[32]);

#endif
