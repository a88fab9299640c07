/* rpt_run.c -- rpt_write_run: junit.xml and report.html for one run
 * folder, and the error message every rpt_ function leaves behind. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pd_afile.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_util.h"
#include "rpt.h"
#include "rpt_internal.h"

static _Thread_local char last_error[1024];

const char *rpt_last_error(void)
{
    return last_error;
}

void rpt__clear_error(void)
{
    last_error[0] = '\0';
}

int rpt__fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    PD_LOG(PD_LOG_ERROR, "rpt", "err=%s msg=\"%s\"", pd_strerror(rc), last_error);
    return rc;
}

int rpt__fail_quiet(int rc, const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg);
    return rc;
}

int rpt__path(char *out, size_t out_len, const char *dir, const char *name)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= out_len) ? PD_ETOOBIG : PD_OK;
}

int rpt__save(struct rpt__out *o, const char *dir, const char *name)
{
    char path[4096];
    if (rpt__path(path, sizeof path, dir, name) != PD_OK)
        return rpt__fail(PD_ETOOBIG, "%s/%s: path too long", dir, name);
    if (o->rc != PD_OK)
        return rpt__fail(o->rc, "%s: not written (%s while composing it)", path,
                         pd_strerror(o->rc));
    size_t bytes = o->buf.len;
    int rc;
    if (o->file != NULL) {
        bytes += (size_t)ftell(o->file->f);
        rc = rpt__out_commit(o);
    } else {
        rc = pd_write_file(path, o->buf.data ? o->buf.data : "", o->buf.len);
    }
    if (rc != PD_OK)
        return rpt__fail(rc, "%s: cannot write (%s)", path, pd_strerror(rc));
    PD_LOG(PD_LOG_DEBUG, "rpt", "act=write file=%s bytes=%zu", path, bytes);
    return PD_OK;
}

static int write_junit(const char *run_dir, const struct rpt__report *r)
{
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__out_open(&o, run_dir, "junit.xml");
    rpt__puts(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    rpt__junit_suite(&o, r, -1, NULL, NULL);
    int rc = rpt__save(&o, run_dir, "junit.xml");
    rpt__out_release(&o);
    return rc;
}

static int write_html(const char *run_dir, const struct rpt__report *r)
{
    char path[4096];
    if (rpt__path(path, sizeof path, run_dir, r->journal_name) != PD_OK)
        return rpt__fail(PD_ETOOBIG, "%s/%s: path too long", run_dir, r->journal_name);
    struct rpt__journal j;
    int rc = rpt__journal_load(path, r, &j);
    if (rc != PD_OK)
        return rc;
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__out_open(&o, run_dir, "report.html");
    rpt__html_report(&o, r, &j);
    rc = rpt__save(&o, run_dir, "report.html");
    rpt__out_release(&o);
    rpt__journal_release(&j);
    return rc;
}

int rpt_write_run(const char *run_dir)
{
    rpt__clear_error();
    if (run_dir == NULL || run_dir[0] == '\0')
        return rpt__fail(PD_EINVAL, "rpt_write_run: no run folder given");
    struct rpt__report r;
    int rc = rpt__report_load(run_dir, &r);
    if (rc != PD_OK)
        return rc;
    rc = write_junit(run_dir, &r);
    if (rc == PD_OK)
        rc = write_html(run_dir, &r);
    rpt__report_release(&r);
    return rc;
}
