/* sim_time.h -- the one simulated timeline of a run.
 *
 * paydrill itself runs on the real clock; the gateway and the SUT run under
 * libfaketime, sped up by the scenario's time_scale. Simulated time is
 *     sim_now = sim_epoch_ms + (real_now - real_start) * scale
 * and every child gets FAKETIME="@<sim_now at its spawn> x<scale>", so all
 * processes, restarts included, share one timeline with paydrill's view. */
#ifndef SIM_TIME_H
#define SIM_TIME_H

#include <stddef.h>
#include <stdint.h>

/* 2026-01-01T00:00:00Z: every run starts its simulated clock here, so two
 * runs of one scenario and seed print the same simulated times. */
#define SIM_EPOCH_MS 1767225600000LL

struct sim_timeline {
    int64_t sim_epoch_ms;   /* simulated time at real_start_ms */
    int64_t real_start_ms;  /* monotonic real ms when the run began */
    double scale;           /* simulated ms per real ms (>= 1) */
};

void sim_timeline_init(struct sim_timeline *tl, int64_t sim_epoch_ms, int64_t real_start_ms,
                       double scale);

/* Pure mapping of a monotonic real instant to simulated ms. */
int64_t sim_time_at(const struct sim_timeline *tl, int64_t real_mono_ms);

/* Simulated now (reads the monotonic clock). */
int64_t sim_time_now(const struct sim_timeline *tl);

/* Real ms that sim_ms of simulated time take (rounded up, >= 0). */
int64_t sim_time_real_ms(const struct sim_timeline *tl, int64_t sim_ms);

/* Sleeps until simulated time since the run began reaches sim_offset_ms. */
void sim_time_sleep_until(const struct sim_timeline *tl, int64_t sim_offset_ms);

/* Sleeps sim_ms of simulated time. */
void sim_time_sleep(const struct sim_timeline *tl, int64_t sim_ms);

/* The FAKETIME value for a child spawned at simulated time sim_ms:
 * "@YYYY-MM-DD HH:MM:SS xSCALE" (UTC). Returns 0 or PD_ETOOBIG. */
int sim_faketime_value(int64_t sim_ms, double scale, char *out, size_t out_len);

#endif
