/* sim_clock.h -- one anchor for every sped-up clock of a run.
 *
 * libfaketime normally starts a process's sped-up clock when that process's
 * loader runs, so the latency of each spawn, multiplied by the time scale,
 * becomes a clock offset between paydrill, the gateway and the SUT (on a
 * loaded 2-core machine: minutes of simulated time at x500, different for
 * every restart). libfaketime can instead take its start instant from a
 * shared-memory block named in FAKETIME_SHARED (that is how its own
 * `faketime` wrapper keeps a process tree on one clock); with
 * FAKETIME_DONT_RESET set, the "@" start date does not re-anchor it. paydrill
 * creates that block with its own run-start instant, so every child, and
 * every restart, computes exactly
 *     sim_now = sim_epoch + (real_now - run_start) * scale
 * as paydrill does. The block's layout is libfaketime's struct ft_shared_s
 * (Debian 12 ships 0.9.10); paydrill still measures each child's clock after
 * it starts (sim_procs) and reports the offset in run.json, which would show
 * at once if a libfaketime build ignored the block, or a SUT ignored
 * LD_PRELOAD (a static binary does). */
#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_clock_anchor {
    char sem_name[64];
    char shm_name[64];
    bool active;
};

/* Creates the semaphore and shared block holding the real instant that
 * real_start_mono_ms (pd_mono_ms) names. Returns 0 or PD_EIO. */
int sim_clock_anchor_create(struct sim_clock_anchor *a, int64_t real_start_mono_ms);

/* The value of FAKETIME_SHARED for children ("<sem> <shm>") into out. */
void sim_clock_anchor_env(const struct sim_clock_anchor *a, char *out, size_t out_len);

/* Unlinks both. Safe when never created. */
void sim_clock_anchor_destroy(struct sim_clock_anchor *a);

#endif
