/* journal_merge.h -- the merged event journal of a run (journal.ndjson).
 *
 * One line per event of every party, sorted by simulated time t:
 * {"t", "lane": "business|sut|gateway", "key", "order_id", "out_trade_no",
 *  "kind", "detail", "fault"} (docs/dev/interfaces.md). Events are kept as
 * 8-byte keys into the checker's model and formatted only while writing,
 * so memory stays bounded by the model. */
#ifndef SIM_JOURNAL_MERGE_H
#define SIM_JOURNAL_MERGE_H

#include "check_model.h"

/* Writes the journal to path atomically (temp file, fsync, rename).
 * Returns 0, PD_ENOMEM, PD_ETOOBIG (a model of over 2^32 records and
 * sub-records) or PD_EIO. */
int sim_journal_merge_write(const struct sim_model *m, const char *path);

/* The number of events the journal of m holds (for tests). */
size_t sim_journal_merge_count(const struct sim_model *m);

#endif
