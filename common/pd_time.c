#include "pd_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"

int64_t pd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pd_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec pd_mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms > 0) {
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    return ts;
}

void pd_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec req = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {
    }
}

static int64_t real_now(void *ctx)
{
    (void)ctx;
    return pd_now_ms();
}

const struct pd_clock pd_clock_real = {real_now, NULL};

static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

int pd_parse_duration(const char *text, int64_t *out_ms)
{
    if (text == NULL)
        return PD_EINVAL;
    const char *p = text;
    int64_t value = 0;
    if (*p < '0' || *p > '9')
        return PD_EINVAL;
    while (*p >= '0' && *p <= '9') {
        if (value > (INT64_MAX - 9) / 10)
            return PD_EINVAL;
        value = value * 10 + (*p - '0');
        p++;
    }
    if (*p == '\0') {
        if (value != 0)  /* a bare number is ambiguous unless it is zero */
            return PD_EINVAL;
        *out_ms = 0;
        return PD_OK;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            if (value > INT64_MAX / units[i].ms)
                return PD_EINVAL;
            *out_ms = value * units[i].ms;
            return PD_OK;
        }
    }
    return PD_EINVAL;
}

int pd_parse_schedule(const char *text, int64_t *out_ms, size_t max, size_t *out_n)
{
    char item[32];
    size_t n = 0;
    const char *p = text;
    if (text == NULL || *text == '\0')
        return PD_EINVAL;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == 0 || len >= sizeof item)
            return PD_EINVAL;
        if (n == max)
            return PD_ETOOBIG;
        memcpy(item, p, len);
        item[len] = '\0';
        if (pd_parse_duration(item, &out_ms[n]) != PD_OK)
            return PD_EINVAL;
        n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *out_n = n;
    return PD_OK;
}

void pd_format_duration(int64_t ms, char *out, size_t out_len)
{
    for (int i = (int)(sizeof units / sizeof units[0]) - 1; i >= 0; i--) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, out_len, "%" PRId64 "%s", ms / units[i].ms, units[i].suffix);
            return;
        }
    }
    snprintf(out, out_len, "%" PRId64 "ms", ms);
}

void pd_format_rfc3339(int64_t epoch_ms, char out[32])
{
    time_t s = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(epoch_ms % 1000));
    memcpy(out, tmp, 31);
    out[31] = '\0';
}
