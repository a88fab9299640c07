/* rpt_index.c -- rpt_write_suite: index.html and the merged junit.xml.
 *
 * One row per run folder, linked by a relative path, so the --out folder
 * can be moved, zipped or served as CI artefacts and its links still work.
 * A run whose report.json cannot be read is not skipped: it gets a row
 * saying why and an <error> test case, so a broken run never looks green. */
/* realpath() is X/Open in glibc's headers */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_util.h"
#include "rpt.h"
#include "rpt_internal.h"

struct run {
    const char *dir;
    struct rpt__report r;
    int rc;                 /* load result */
    char error[1024];       /* rpt_last_error() of a failed load */
    char link[PATH_MAX];    /* relative href to its report.html */
};

/* The path of to relative to the folder from (both absolute, no "." or
 * ".." parts, as realpath gives them). */
static int relative(const char *from, const char *to, char *out, size_t out_len)
{
    size_t i = 0, common = 0;
    while (from[i] && from[i] == to[i])
        if (from[i++] == '/')
            common = i;
    if (from[i] == '\0' && (to[i] == '/' || to[i] == '\0'))
        common = i;   /* from is a whole-component prefix of to */
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = from + common; *p;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        if (len + 4 > out_len)
            return PD_ETOOBIG;
        memcpy(out + len, "../", 4);
        len += 3;
        while (*p && *p != '/')
            p++;
    }
    const char *rest = to + common;
    while (*rest == '/')
        rest++;
    int n = snprintf(out + len, out_len - len, "%s%sreport.html", rest, *rest ? "/" : "");
    return (n < 0 || (size_t)n >= out_len - len) ? PD_ETOOBIG : PD_OK;
}

static void load_run(struct run *run, const char *out_abs)
{
    char abs[PATH_MAX];
    run->rc = rpt__report_load(run->dir, &run->r);
    if (run->rc != PD_OK)
        snprintf(run->error, sizeof run->error, "%s", rpt_last_error());
    if (realpath(run->dir, abs) == NULL ||
        relative(out_abs, abs, run->link, sizeof run->link) != PD_OK)
        snprintf(run->link, sizeof run->link, "%s/report.html", run->dir);
}

static void junit_error(struct rpt__out *o, const struct run *run, int id)
{
    rpt__printf(o, "  <testsuite name=\"");
    rpt__xml(o, run->dir, true);
    rpt__printf(o, "\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\" "
                   "hostname=\"paydrill\" id=\"%d\" package=\"paydrill\">\n", id);
    rpt__puts(o, "    <testcase name=\"report\" classname=\"paydrill.report\" time=\"0\">\n"
                 "      <error type=\"report unreadable\" message=\"");
    rpt__xml(o, run->error, true);
    rpt__puts(o, "\">");
    rpt__xml(o, run->error, false);
    rpt__puts(o, "</error>\n    </testcase>\n  </testsuite>\n");
}

static int write_junit(const char *out_dir, const struct run *runs, size_t n)
{
    struct rpt__out body, o;
    size_t tests = 0, failures = 0, errors = 0;
    int64_t ms = 0;
    rpt__out_init(&body);
    rpt__out_init(&o);
    rpt__out_open(&o, out_dir, "junit.xml");
    for (size_t i = 0; i < n; i++) {
        if (runs[i].rc == PD_OK) {
            rpt__junit_suite(&body, &runs[i].r, (int)i, &tests, &failures);
            ms += runs[i].r.duration_ms;
        } else {
            junit_error(&body, &runs[i], (int)i);
            tests++;
            errors++;
        }
    }
    rpt__printf(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"paydrill\" "
                    "tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%lld.%03lld\">\n",
                tests, failures, errors, (long long)(ms / 1000), (long long)(ms % 1000));
    if (body.rc != PD_OK && o.rc == PD_OK)
        o.rc = body.rc;
    rpt__putn(&o, body.buf.data ? body.buf.data : "", body.buf.len);
    rpt__puts(&o, "</testsuites>\n");
    int rc = rpt__save(&o, out_dir, "junit.xml");
    rpt__out_release(&body);
    rpt__out_release(&o);
    return rc;
}

/* "no_double_charge ×2, no_lost_payment ×1" from the invariants list, then
 * "expectation not met ×1" when the scenario's story did not happen. */
static void violations_by_invariant(struct rpt__out *o, const struct rpt__report *r)
{
    size_t shown = 0, unmet = rpt__unmet_expectations(r);
    for (size_t i = 0; i < r->n_invs; i++) {
        const struct rpt__inv *inv = &r->invs[i];
        if (inv->holds && inv->violations == 0)
            continue;
        rpt__puts(o, shown++ ? "<br>" : "");
        rpt__puts(o, "<span class=\"inv\">");
        rpt__html(o, inv->name);
        rpt__printf(o, "</span> &times;%lld", (long long)inv->violations);
    }
    if (unmet > 0) {
        rpt__puts(o, shown++ ? "<br>" : "");
        rpt__printf(o, "<span class=\"inv\">expectation not met</span> &times;%zu", unmet);
    }
    if (shown == 0)
        rpt__puts(o, r->n_viols ? "see report" : "<span class=\"muted\">none</span>");
}

static void row(struct rpt__out *o, const struct run *run)
{
    if (run->rc != PD_OK) {
        rpt__puts(o, "<tr class=\"bad\"><td>");
        rpt__html(o, run->dir);
        rpt__puts(o, "</td><td><span class=\"badge fail\">ERROR</span></td><td colspan=\"5\">");
        rpt__html(o, run->error);
        rpt__puts(o, "</td></tr>\n");
        return;
    }
    const struct rpt__report *r = &run->r;
    bool pass = strcmp(r->verdict, "pass") == 0;
    rpt__printf(o, "<tr class=\"%s\"><td><a href=\"", pass ? "ok" : "bad");
    rpt__url_path(o, run->link);
    rpt__puts(o, "\">");
    rpt__html(o, r->scenario);
    rpt__printf(o, "</a></td><td><span class=\"badge %s\">%s</span></td><td>", pass ? "pass" : "fail",
                pass ? "PASS" : "FAIL");
    rpt__html(o, r->seed);
    rpt__printf(o, "</td><td class=\"num\">%zu</td><td>", r->n_orders);
    violations_by_invariant(o, r);
    rpt__printf(o, "</td><td class=\"num\">%.1f s</td><td><code>", (double)r->duration_ms / 1000.0);
    rpt__html(o, r->replay);
    rpt__puts(o, "</code></td></tr>\n");
}

static int write_index(const char *out_dir, const struct run *runs, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += runs[i].rc != PD_OK || strcmp(runs[i].r.verdict, "pass") != 0;
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__html_head(&o, failed ? "FAIL paydrill suite" : "PASS paydrill suite");
    rpt__printf(&o, "<header class=\"banner %s\" id=\"banner\"><div class=\"verdict\" "
                    "id=\"verdict\">%s</div><div class=\"head\"><h1>paydrill suite</h1>"
                    "<div class=\"facts\"><div class=\"fact\"><span class=\"k\">scenarios</span>"
                    "<span class=\"v\">%zu</span></div><div class=\"fact\"><span class=\"k\">"
                    "failed</span><span class=\"v\">%zu</span></div></div></div></header>\n",
                failed ? "fail" : "pass", failed ? "FAIL" : "PASS", n, failed);
    rpt__puts(&o, "<main><table class=\"grid\" id=\"runs\"><thead><tr><th>scenario</th>"
                  "<th>verdict</th><th>seed</th><th>orders</th><th>what failed</th>"
                  "<th>duration</th><th>replay</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++)
        row(&o, &runs[i]);
    rpt__puts(&o, "</tbody></table></main>\n<footer>paydrill suite index &middot; merged "
                  "junit.xml beside this file</footer>\n</body>\n</html>\n");
    int rc = rpt__save(&o, out_dir, "index.html");
    rpt__out_release(&o);
    return rc;
}

int rpt_write_suite(const char *out_dir, const char *const *run_dirs, size_t n)
{
    rpt__clear_error();
    char out_abs[PATH_MAX];
    if (out_dir == NULL || (n > 0 && run_dirs == NULL))
        return rpt__fail(PD_EINVAL, "rpt_write_suite: no output folder or no run list");
    if (pd_mkdirs(out_dir) != PD_OK || realpath(out_dir, out_abs) == NULL)
        return rpt__fail(PD_EIO, "%s: cannot create the output folder", out_dir);
    struct run *runs = calloc(n + 1, sizeof *runs);
    if (runs == NULL)
        return rpt__fail(PD_ENOMEM, "%s: out of memory", out_dir);
    int first_error = PD_OK;
    char first_msg[1024] = "";
    for (size_t i = 0; i < n; i++) {
        runs[i].dir = run_dirs[i];
        load_run(&runs[i], out_abs);
        if (runs[i].rc != PD_OK && first_error == PD_OK) {
            first_error = runs[i].rc;
            snprintf(first_msg, sizeof first_msg, "%s", runs[i].error);
        }
    }
    int rc = write_index(out_dir, runs, n);
    if (rc == PD_OK)
        rc = write_junit(out_dir, runs, n);
    for (size_t i = 0; i < n; i++)
        rpt__report_release(&runs[i].r);
    free(runs);
    if (rc == PD_OK && first_error != PD_OK)
        return rpt__fail_quiet(first_error, first_msg);   /* logged by the load */
    return rc;
}
