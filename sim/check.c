/* check.c -- sim_check_run and sim_check_eval: load the run folder (or
 * documents) into the model, evaluate, write report.json and the merged
 * journal, fill the summary. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_eval.h"
#include "pd_assert.h"
#include "check_model.h"
#include "check_stream.h"
#include "journal_merge.h"
#include "pd_afile.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_rand.h"
#include "pd_util.h"
#include "report_json.h"

#define SMALL_FILE_LIMIT (4u << 20)   /* scenario.json, run.json */

static const char *const inv_names[SIM_INV_COUNT] = {
    "no_lost_payment", "no_double_charge", "no_phantom_payment", "amount_integrity",
    "consistent_notifications", "duplicate_submission_rejected", "legal_history",
    "convergence"};

const char *sim_check_invariant_name(int inv)
{
    return inv >= 0 && inv < SIM_INV_COUNT ? inv_names[inv] : NULL;
}

/* ---- feeding the model: one dispatcher for files and documents ---- */

enum file_id { F_LEDGER, F_EXPORT, F_BUSINESS, F_JOURNAL };

struct member;

struct feed {
    struct sim_model *m;
    enum file_id file;
    bool seen[4];       /* required member met (per file: see required_of) */
    const struct member *last;   /* the member the previous element fed */
};

typedef int (*adder_fn)(struct sim_model *, const cJSON *, const char *, struct pd_json_err *);

struct member { enum file_id file; const char *key; adder_fn add; int required_slot; };

static const struct member members[] = {
    {F_LEDGER, "trades", sim__add_trade, 0},
    {F_EXPORT, "orders", sim__add_order, 0},
    {F_BUSINESS, "submissions", sim__add_submission, 0},
    {F_BUSINESS, "receipts", sim__add_receipt, 1},
    {F_BUSINESS, "pay_calls", sim__add_paycall, -1},
    {F_BUSINESS, "payer", sim__add_payer, -1},
    {F_BUSINESS, "queries", sim__add_bquery, -1},
};

static int feed_fn(void *ctx, const char *key, int index, const cJSON *item,
                   struct pd_json_err *err)
{
    struct feed *f = ctx;
    char path[160];
    if (f->file == F_JOURNAL) {
        snprintf(path, sizeof path, "line %d", index);
        return sim__add_gjline(f->m, item, path, err);
    }
    for (size_t i = 0; i < PD_ARRAY_LEN(members); i++) {
        const struct member *mb = &members[i];
        if (mb->file != f->file || strcmp(mb->key, key) != 0)
            continue;
        if (mb->required_slot >= 0)
            f->seen[mb->required_slot] = true;
        /* business.json holds four big arrays one after the other: trim
         * the finished one before the next grows beside it. */
        if (f->last != NULL && f->last != mb)
            sim__model_trim(f->m);
        f->last = mb;
        if (index == -1)
            return pd_json_fail(err, "%s: must be an array", key);
        if (index == -2)
            return PD_OK;
        snprintf(path, sizeof path, "%s[%d]", key, index);
        return mb->add(f->m, item, path, err);
    }
    return PD_OK;   /* other members ("now", "next_after"...) are not ours */
}

/* A line of the gateway journal file: its detail may stay in the file. */
static int feed_line(void *ctx, int lineno, int64_t at, const char *text, size_t len,
                     const cJSON *item, struct pd_json_err *err)
{
    struct feed *f = ctx;
    char path[32];
    snprintf(path, sizeof path, "line %d", lineno);
    return sim__add_gjline_at(f->m, item, path, at, (uint32_t)pd_hash_bytes(text, len), err);
}

static int feed_required(const struct feed *f, struct pd_json_err *err)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(members); i++) {
        const struct member *mb = &members[i];
        if (mb->file == f->file && mb->required_slot >= 0 && !f->seen[mb->required_slot])
            return pd_json_fail(err, "%s: required", mb->key);
    }
    return PD_OK;
}

/* Feeds a whole document (the sim_check_eval path) through feed_fn. */
static int feed_doc(struct feed *f, const cJSON *doc, struct pd_json_err *err)
{
    if (f->file == F_JOURNAL) {
        if (!cJSON_IsArray(doc))
            return pd_json_fail(err, "must be an array of journal lines");
        int i = 1, rc = PD_OK;
        for (const cJSON *e = doc->child; e && rc == PD_OK; e = e->next)
            rc = feed_fn(f, NULL, i++, e, err);
        return rc;
    }
    if (!cJSON_IsObject(doc))
        return pd_json_fail(err, "must be a JSON object");
    int rc = PD_OK;
    for (const cJSON *mem = doc->child; mem && rc == PD_OK; mem = mem->next) {
        if (!cJSON_IsArray(mem)) {
            rc = feed_fn(f, mem->string, -1, mem, err);
            continue;
        }
        if (mem->child == NULL)
            rc = feed_fn(f, mem->string, -2, NULL, err);
        int i = 0;
        for (const cJSON *e = mem->child; e && rc == PD_OK; e = e->next)
            rc = feed_fn(f, mem->string, i++, e, err);
    }
    return rc == PD_OK ? feed_required(f, err) : rc;
}

/* ---- summary ---- */

static void set_error(struct sim_check_summary *out, const char *file, const char *what)
{
    snprintf(out->error, sizeof out->error, "%s: %s", file, what);
    PD_LOG(PD_LOG_ERROR, "sim", "act=check file=%s err=\"%s\"", file, what);
}

static int fill_summary(const struct sim_model *m, const struct sim_results *res,
                        struct sim_check_summary *out)
{
    snprintf(out->scenario, sizeof out->scenario, "%s", m->run.name ? m->run.name : "?");
    out->pass = true;
    for (int i = 0; i < SIM_INV_COUNT; i++) {
        out->checked[i] = res->checked[i];
        out->violations[i] = res->count[i];
        out->pass = out->pass && res->count[i] == 0;
    }
    out->pass = out->pass && res->expect_unmet == 0;
    out->expect_unmet = res->expect_unmet;
    out->counts = res->counts;
    out->fault_plan_reproducible = res->reproducible;
    out->lines = calloc(res->v.n + res->expect_unmet + 1, sizeof *out->lines);
    if (out->lines == NULL)
        return PD_ENOMEM;
    /* First what the scenario expected and the run did not show: without
     * its story, the run's invariants were not put to the test it names. */
    char what[256];
    for (size_t i = 0; i < m->n_expect; i++) {
        const struct sim_expect *e = &m->expect[i];
        if (res->expect_seen[i] >= e->at_least)
            continue;
        sim_expect_describe(e, what, sizeof what);
        struct pd_buf b;
        pd_buf_init(&b, 512);
        pd_buf_printf(&b, "%s expectation - %s: seen %lld, expected at least %lld: the "
                          "scenario's story did not happen%s%s%s", out->scenario, what,
                      (long long)res->expect_seen[i], (long long)e->at_least,
                      e->why[0] ? " (" : "", e->why, e->why[0] ? ")" : "");
        out->lines[out->n_lines] = pd_buf_take(&b);
        if (out->lines[out->n_lines] == NULL)
            return PD_ENOMEM;
        out->n_lines++;
    }
    for (size_t i = 0; i < res->v.n; i++) {
        const struct sim_violation *v = &res->v.v[i];
        struct pd_buf b;
        pd_buf_init(&b, 4096);
        pd_buf_printf(&b, "%s %s %s %s", out->scenario, inv_names[v->inv], v->order,
                      v->summary);
        out->lines[out->n_lines] = pd_buf_take(&b);
        if (out->lines[out->n_lines] == NULL)
            return PD_ENOMEM;
        out->n_lines++;
    }
    return PD_OK;
}

void sim_check_summary_release(struct sim_check_summary *summary)
{
    if (summary == NULL)
        return;
    for (size_t i = 0; i < summary->n_lines; i++)
        free(summary->lines[i]);
    free(summary->lines);
    memset(summary, 0, sizeof *summary);
}

void sim_check_print_violations(const struct sim_check_summary *summary, FILE *f)
{
    int64_t total = 0;
    for (int i = 0; i < SIM_INV_COUNT; i++)
        total += summary->violations[i];
    for (size_t i = 0; i < summary->n_lines; i++)
        fprintf(f, "%s\n", summary->lines[i]);
    int64_t listed = (int64_t)summary->n_lines - (int64_t)summary->expect_unmet;
    if (total > listed)
        fprintf(f, "%s ... and %lld more violations (see report.json)\n", summary->scenario,
                (long long)(total - listed));
}

/* ---- documents ---- */

static int load_docs(struct sim_model *m, const struct sim_check_docs *d,
                     struct sim_check_summary *out)
{
    struct pd_json_err err = {{0}};
    static const char *const names[] = {"scenario.json", "run.json", "ledger.json",
                                        "gateway-journal.ndjson", "export.json",
                                        "business.json"};
    const cJSON *docs[] = {d->scenario, d->run, d->ledger, d->gateway_journal,
                           d->export_doc, d->business};
    static const enum file_id ids[] = {0, 0, F_LEDGER, F_JOURNAL, F_EXPORT, F_BUSINESS};
    for (size_t i = 0; i < 6; i++) {
        int rc;
        if (docs[i] == NULL)
            rc = pd_json_fail(&err, "missing");
        else if (i == 0)
            rc = sim__add_scenario(m, docs[i], &err);
        else if (i == 1)
            rc = sim__add_run(m, docs[i], &err);
        else
            rc = feed_doc(&(struct feed){.m = m, .file = ids[i]}, docs[i], &err);
        if (rc != PD_OK) {
            set_error(out, names[i], rc == PD_ENOMEM ? "out of memory" : err.text);
            return rc;
        }
    }
    return sim__model_link(m);
}

/* report.json as a tree, printed into memory and parsed back (the
 * documents path, for tests: small reports). */
static int report_tree(const struct sim_model *m, const struct sim_results *res,
                       cJSON **out_report)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return PD_ENOMEM;
    int rc = sim_report_json_write(m, res, NULL, f);
    if (fclose(f) != 0 && rc == PD_OK)
        rc = PD_ENOMEM;
    if (rc == PD_OK && (*out_report = cJSON_ParseWithLength(text, len)) == NULL)
        rc = PD_ENOMEM;
    free(text);
    return rc;
}

int sim_check_eval(const struct sim_check_docs *docs, cJSON **out_report,
                   struct sim_check_summary *out)
{
    memset(out, 0, sizeof *out);
    if (out_report != NULL)
        *out_report = NULL;
    struct sim_model m;
    struct sim_results res;
    sim__model_init(&m);
    memset(&res, 0, sizeof res);
    int rc = load_docs(&m, docs, out);
    if (rc == PD_OK)
        rc = sim__evaluate(&m, &res);
    if (rc == PD_OK)
        rc = fill_summary(&m, &res, out);
    if (rc == PD_OK && out_report != NULL)
        rc = report_tree(&m, &res, out_report);
    sim__results_free(&res);
    sim__model_free(&m);
    return rc;
}

/* ---- the run folder ---- */

static void join(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int load_small(struct sim_model *m, const char *dir, const char *name,
                      struct sim_check_summary *out)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    char *text = NULL;
    size_t len = 0;
    int rc = pd_read_file(path, SMALL_FILE_LIMIT, &text, &len);
    if (rc != PD_OK) {
        set_error(out, name, rc == PD_ENOTFOUND ? "missing" : rc == PD_ETOOBIG
                  ? "larger than 4 MiB" : "cannot be read");
        return rc == PD_ENOTFOUND || rc == PD_ETOOBIG ? PD_EINVAL : PD_EIO;
    }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (doc == NULL) {
        set_error(out, name, "not valid JSON");
        return PD_EINVAL;
    }
    struct pd_json_err err = {{0}};
    rc = strcmp(name, "run.json") == 0 ? sim__add_run(m, doc, &err)
                                       : sim__add_scenario(m, doc, &err);
    cJSON_Delete(doc);
    if (rc != PD_OK)
        set_error(out, name, rc == PD_ENOMEM ? "out of memory" : err.text);
    return rc;
}

static int load_big(struct sim_model *m, const char *dir, const char *name, enum file_id id,
                    struct sim_check_summary *out)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    struct feed f = {.m = m, .file = id};
    struct pd_json_err err = {{0}};
    if (id == F_JOURNAL && (m->gj_file = strdup(path)) == NULL) {
        set_error(out, name, "out of memory");
        return PD_ENOMEM;
    }
    int rc = id == F_JOURNAL ? sim__stream_ndjson_file(path, feed_line, &f, &err)
                             : sim__stream_json_file(path, feed_fn, &f, &err);
    if (rc == PD_OK && id != F_JOURNAL)
        rc = feed_required(&f, &err);
    if (rc == PD_OK)
        sim__model_trim(m);     /* before the next file's records pile on */
    if (rc != PD_OK)
        set_error(out, name, rc == PD_ENOMEM ? "out of memory"
                             : rc == PD_EIO ? "read error" : err.text);
    return rc;
}

static int load_dir(struct sim_model *m, const char *dir, struct sim_check_summary *out)
{
    int rc = load_small(m, dir, "scenario.json", out);
    if (rc == PD_OK)
        rc = load_small(m, dir, "run.json", out);
    if (rc == PD_OK)
        rc = load_big(m, dir, "ledger.json", F_LEDGER, out);
    if (rc == PD_OK)
        rc = load_big(m, dir, "gateway-journal.ndjson", F_JOURNAL, out);
    if (rc == PD_OK)
        rc = load_big(m, dir, "export.json", F_EXPORT, out);
    if (rc == PD_OK)
        rc = load_big(m, dir, "business.json", F_BUSINESS, out);
    return rc == PD_OK ? sim__model_link(m) : rc;
}

static int write_outputs(const struct sim_model *m, const struct sim_results *res,
                         const char *dir, struct sim_check_summary *out)
{
    static const char *const candidates[] = {"gateway.log", "sut.log"};
    const char *logs[3] = {NULL, NULL, NULL};
    char path[4096];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        join(path, sizeof path, dir, candidates[i]);
        if (access(path, F_OK) == 0)
            logs[n++] = candidates[i];
    }
    join(path, sizeof path, dir, "report.json");
    struct pd_afile af;
    int rc = pd_afile_open(&af, path) != PD_OK ? PD_EIO
             : sim_report_json_write(m, res, logs, af.f);
    if (rc == PD_OK)
        rc = pd_afile_commit(&af);
    else
        pd_afile_abort(&af);
    if (rc != PD_OK) {
        set_error(out, "report.json", rc == PD_ENOMEM ? "out of memory" : "cannot be written");
        return rc;
    }
    join(path, sizeof path, dir, "journal.ndjson");
    rc = sim_journal_merge_write(m, path);
    if (rc != PD_OK)
        set_error(out, "journal.ndjson", rc == PD_ENOMEM ? "out of memory"
                                                         : "cannot be written");
    return rc;
}

int sim_check_run(const char *run_dir, struct sim_check_summary *out)
{
    memset(out, 0, sizeof *out);
    struct sim_model m;
    struct sim_results res;
    sim__model_init(&m);
    memset(&res, 0, sizeof res);
    int rc = load_dir(&m, run_dir, out);
    if (rc == PD_OK && (rc = sim__evaluate(&m, &res)) != PD_OK)
        set_error(out, run_dir, "out of memory while checking");
    if (rc == PD_OK)
        rc = write_outputs(&m, &res, run_dir, out);
    if (rc == PD_OK)
        rc = fill_summary(&m, &res, out);
    sim__results_free(&res);
    sim__model_free(&m);
    if (rc == PD_OK)
        PD_LOG(PD_LOG_INFO, "sim", "act=check dir=%s verdict=%s", run_dir,
               out->pass ? "pass" : "fail");
    return rc;
}
