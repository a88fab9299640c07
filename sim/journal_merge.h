/* journal_merge.h -- the merged event journal of a run (journal.ndjson).
 *
 * One line per event of every party, sorted by simulated time t:
 * {"t", "lane": "business|sut|gateway", "key", "order_id", "out_trade_no",
 *  "kind", "detail", "fault"} (docs/dev/interfaces.md). Events are kept as
 * 8-byte keys into the checker's model and formatted only while writing,
 * a window of at most SIM_MERGE_WINDOW keys at a time, so memory stays
 * bounded by the model. */
#ifndef SIM_JOURNAL_MERGE_H
#define SIM_JOURNAL_MERGE_H

#include "check_model.h"

/* Writes the journal to path atomically (temp file, fsync, rename).
 * Returns 0, PD_ENOMEM, PD_ETOOBIG (a model of over 2^32 records and
 * sub-records) or PD_EIO. */
int sim_journal_merge_write(const struct sim_model *m, const char *path);

/* Keys sorted at once (128 KiB); more only when one time has more events. */
#define SIM_MERGE_WINDOW 16384u

/* sim_journal_merge_write with windows of at most cap keys (for tests). */
int sim__journal_merge_write_cap(const struct sim_model *m, const char *path, size_t cap);

/* The keys the largest window of this thread's last write held (for tests). */
extern _Thread_local size_t sim__journal_merge_peak;

/* The number of events the journal of m holds (for tests). */
size_t sim_journal_merge_count(const struct sim_model *m);

#endif
