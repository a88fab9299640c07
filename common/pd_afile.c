/* pd_afile.c -- see pd_afile.h. */
#include "pd_afile.h"

#include <stdbool.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_util.h"

int pd_afile_open(struct pd_afile *af, const char *path)
{
    af->f = NULL;
    if (pd_strlcpy(af->path, path, sizeof af->path) != PD_OK)
        return PD_ETOOBIG;
    int n = snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof af->tmp)
        return PD_ETOOBIG;
    af->f = fopen(af->tmp, "w");
    return af->f != NULL ? PD_OK : PD_EIO;
}

int pd_afile_commit(struct pd_afile *af)
{
    if (af->f == NULL)
        return PD_EIO;
    bool ok = !ferror(af->f) && fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    ok = fclose(af->f) == 0 && ok;
    af->f = NULL;
    if (!ok || rename(af->tmp, af->path) != 0) {
        unlink(af->tmp);
        return PD_EIO;
    }
    return PD_OK;
}

void pd_afile_abort(struct pd_afile *af)
{
    if (af->f == NULL)
        return;
    fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}
