#include "sim_time.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "pd_err.h"
#include "pd_time.h"

void sim_timeline_init(struct sim_timeline *tl, int64_t sim_epoch_ms, int64_t real_start_ms,
                       double scale)
{
    tl->sim_epoch_ms = sim_epoch_ms;
    tl->real_start_ms = real_start_ms;
    tl->scale = scale < 1.0 ? 1.0 : scale;
}

int64_t sim_time_at(const struct sim_timeline *tl, int64_t real_mono_ms)
{
    double elapsed = (double)(real_mono_ms - tl->real_start_ms);
    return tl->sim_epoch_ms + (int64_t)llround(elapsed * tl->scale);
}

int64_t sim_time_now(const struct sim_timeline *tl)
{
    return sim_time_at(tl, pd_mono_ms());
}

int64_t sim_time_real_ms(const struct sim_timeline *tl, int64_t sim_ms)
{
    if (sim_ms <= 0)
        return 0;
    return (int64_t)ceil((double)sim_ms / tl->scale);
}

void sim_time_sleep_until(const struct sim_timeline *tl, int64_t sim_offset_ms)
{
    int64_t target_real = tl->real_start_ms + sim_time_real_ms(tl, sim_offset_ms);
    int64_t left = target_real - pd_mono_ms();
    if (left > 0)
        pd_sleep_ms(left);
}

void sim_time_sleep(const struct sim_timeline *tl, int64_t sim_ms)
{
    pd_sleep_ms(sim_time_real_ms(tl, sim_ms));
}

int sim_faketime_value(int64_t sim_ms, double scale, char *out, size_t out_len)
{
    time_t secs = (time_t)(sim_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    int n = snprintf(out, out_len, "@%s x%g", when, scale);
    return (n < 0 || (size_t)n >= out_len) ? PD_ETOOBIG : PD_OK;
}
