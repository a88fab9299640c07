/* sim_signal.h -- SIGTERM and SIGINT end paydrill without orphans.
 *
 * paydrill starts mock-gateway and the SUT as children that lead their own
 * process groups (pd_proc), so a signal sent to paydrill alone (a CTest
 * timeout, kill, Ctrl-C) never reaches them. Once installed, a SIGTERM or
 * SIGINT makes paydrill SIGKILL the process group of each of its children,
 * reap them, remove the shared clock blocks of its runs (sim_clock.h) and
 * exit with 128 + the signal number (143 for SIGTERM, 130 for SIGINT).
 * The run folders stay as they were: an interrupted run has no verdict.
 *
 * The handler only writes the signal number to a pipe; a watcher thread
 * does the work, so nothing unsafe runs in signal context. Children are
 * found in /proc (every process whose parent is paydrill), which also
 * covers a child still starting up that no run has recorded yet. */
#ifndef SIM_SIGNAL_H
#define SIM_SIGNAL_H

/* Installs the handlers and starts the watcher thread. Call once, before
 * any child starts. Returns 0, or PD_EIO when the pipe, the handlers or the
 * thread could not be set up (paydrill then runs without the cleanup). */
int sim_signal_install(void);

/* SIGKILLs the process group of every child of this process, then the child
 * itself, and reaps them (waiting at most about two seconds in all).
 * Returns how many children it found. Used by the watcher; exposed for tests. */
int sim_signal_kill_children(void);

/* Remembers a POSIX shared-memory or semaphore name to unlink if paydrill
 * is stopped by a signal; sim_signal_forget drops it after a normal unlink.
 * kind is 'm' (shm_unlink) or 's' (sem_unlink). At most SIM_SIGNAL_NAMES
 * names are held; more are not tracked. */
#define SIM_SIGNAL_NAMES 256
void sim_signal_remember(char kind, const char *name);
void sim_signal_forget(const char *name);

#endif
