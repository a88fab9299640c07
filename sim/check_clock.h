/* check_clock.h -- relates paydrill's clock to the SUT's (internal).
 *
 * Every process of a run has its own libfaketime clock; they disagree by
 * seconds to minutes of simulated time, drift apart, and a restarted SUT
 * starts a new clock. Judging a duplicate-submission window needs the SUT's
 * view of time, so the checker estimates, near any moment, the offset
 * "SUT clock minus driver clock" (latency included) from the accepted
 * original submissions: their send time in B and their creation time in P. */
#ifndef SIM_CHECK_CLOCK_H
#define SIM_CHECK_CLOCK_H

#include "check_model.h"

struct sim_clock_sample {
    int64_t at;     /* driver send time */
    int64_t off;    /* P created_at minus send time */
};

struct sim_clock_map {
    struct sim_clock_sample *s;   /* by send time, ascending */
    size_t n;
};

/* Samples every original accepted on its first try whose order P holds.
 * Returns 0 or PD_ENOMEM. */
int sim__clock_map_build(const struct sim_model *m, struct sim_clock_map *out);

/* The offset near driver time t (median of the nearest samples) and how
 * much those samples disagree (max - min). Returns false when there are no
 * samples (both outputs 0). */
bool sim__clock_map_at(const struct sim_clock_map *cm, int64_t t, int64_t *offset,
                       int64_t *spread);

/* The smallest offset of the run (false when there are no samples): each
 * sample is the true offset plus that request's latency, so this one is
 * the closest to the true offset from above. */
bool sim__clock_map_min(const struct sim_clock_map *cm, int64_t *offset);

void sim__clock_map_free(struct sim_clock_map *cm);

#endif
