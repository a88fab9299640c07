/* pd_afile.h -- a file written in pieces that appears whole or not at all.
 *
 * Temp file, fsync, rename (pd_write_file is this with one buffer), for
 * outputs too big to hold as one buffer: the bytes go to "PATH.tmp.PID"
 * through a stdio stream, pd_afile_commit makes them PATH, pd_afile_abort
 * removes them.
 * Readers of PATH never see a half-written file. */
#ifndef PD_AFILE_H
#define PD_AFILE_H

#include <stdio.h>

struct pd_afile {
    FILE *f;            /* write here between open and commit; NULL when closed */
    char path[4096];
    char tmp[4096 + 32];
};

/* Opens the temp file next to path. Returns 0, PD_ETOOBIG (path too long)
 * or PD_EIO; af->f is NULL on failure. */
int pd_afile_open(struct pd_afile *af, const char *path);

/* Flushes, fsyncs, closes and renames the temp file over path. Returns 0 or
 * PD_EIO (a write error since open included; the temp file is then
 * removed). The stream is closed either way. */
int pd_afile_commit(struct pd_afile *af);

/* Closes and removes the temp file. A closed af is a no-op. */
void pd_afile_abort(struct pd_afile *af);

#endif
