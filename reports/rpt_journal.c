/* rpt_journal.c -- reads journal.ndjson, the merged event journal, into
 * events tied to the orders of report.json.
 *
 * Each line is {"t", "lane", "key", "order_id", "out_trade_no",
 * "trade_no", "kind", "detail", "fault"} ("trade_no" may be missing: older
 * journals lack it). Strings are interned, details as templates of their
 * order and event (rpt_detail.c), so the ~130,000 events of a
 * 10,000-order run share ~20,000 strings (the out_trade_nos and trade_nos,
 * a few dozen details) in memory and in report.html. An event is tied to
 * an order by its key, then by its order_id; events of no order (process
 * kill and restart) stay global. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_util.h"
#include "rpt_internal.h"

static const char *const LANES[] = {"business", "sut", "gateway"};

_Static_assert(sizeof(struct rpt__event) == 24, "130,000 events at 10,000 orders");
_Static_assert(RPT_NAMES_MAX < (1 << 14), "kind holds a names index + 1 in 14 bits");

/* An optional string field, cut to max_bytes in place: *out is its text,
 * or NULL when absent. PD_EINVAL (and *why) when it is not a string. */
static int field_str(const cJSON *obj, const char *key, size_t max_bytes, char **out,
                     const char **why)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (it == NULL || cJSON_IsNull(it))
        return PD_OK;
    if (!cJSON_IsString(it)) {
        *why = key;
        return PD_EINVAL;
    }
    char *s = it->valuestring;
    size_t len = strlen(s);
    if (len > max_bytes) {
        /* Cut on a UTF-8 boundary and mark the cut. */
        size_t cut = max_bytes > 3 ? max_bytes - 3 : 0;   /* room for the mark */
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(s + cut, "\xE2\x80\xA6", 4);   /* U+2026 and the NUL */
    }
    *out = s;
    return PD_OK;
}

/* *out = index + 1 of s in t, or 0 for NULL. */
static int intern(struct rpt__strtab *t, const char *s, uint32_t *out)
{
    size_t idx;
    *out = 0;
    if (s == NULL)
        return PD_OK;
    if (rpt__strtab_add(t, s, &idx) != PD_OK)
        return PD_ENOMEM;
    *out = (uint32_t)idx + 1;
    return PD_OK;
}

/* Interns an optional kind or fault field into the names table, whose
 * indexes an event holds in 14 bits: *out = index + 1, or 0 when absent. */
static int intern_name(struct rpt__journal *j, const cJSON *line, const char *key,
                       size_t max_bytes, uint32_t *out, const char **why)
{
    char *s;
    int rc = field_str(line, key, max_bytes, &s, why);
    if (rc == PD_OK)
        rc = intern(&j->names, s, out);
    if (rc == PD_OK && *out > RPT_NAMES_MAX) {
        *why = "kind, fault: more than 16383 distinct values in the journal";
        return PD_ETOOBIG;
    }
    return rc;
}

/* Makes room in j->trade_of for out_trade_no otn (strs index + 1). */
static int reserve_trade_of(struct rpt__journal *j, uint32_t otn)
{
    if (otn <= j->n_trade_of)
        return PD_OK;
    size_t n = j->n_trade_of * 2 > otn ? j->n_trade_of * 2 : (size_t)otn + 1024;
    uint32_t *p = realloc(j->trade_of, n * sizeof *p);
    if (p == NULL)
        return PD_ENOMEM;
    memset(p + j->n_trade_of, 0, (n - j->n_trade_of) * sizeof *p);
    j->trade_of = p;
    j->n_trade_of = n;
    return PD_OK;
}

/* Reads the line's trade_no (the gateway's number of its out_trade_no
 * otn, strs index + 1) and records it for otn when it is the first one
 * met. *out is the trade_no to template the detail with: the line's when
 * it is the one recorded for otn, else NULL (no ~g for this event). */
static int line_trade_no(struct rpt__journal *j, const cJSON *line, uint32_t otn,
                         const char **out, const char **why)
{
    char *s;
    *out = NULL;
    int rc = field_str(line, "trade_no", 128, &s, why);
    if (rc != PD_OK || s == NULL || otn == 0)
        return rc;
    rc = reserve_trade_of(j, otn);
    uint32_t *slot = rc == PD_OK ? &j->trade_of[otn - 1] : NULL;
    if (slot != NULL && *slot == 0)
        rc = intern(&j->strs, s, slot);
    if (rc == PD_OK && strcmp(j->strs.strs[*slot - 1], s) == 0)
        *out = j->strs.strs[*slot - 1];
    return rc;
}

/* Interns the detail as a template of the event's order, out_trade_no and
 * trade_no (rpt_detail.c): report.js knows those, and with them replaced
 * nearly all distinct details fold into a few dozen. otn is the interned
 * (cut) out_trade_no. */
static int intern_detail(struct rpt__journal *j, const struct rpt__report *r,
                         const cJSON *line, struct rpt__event *ev, const char *otn,
                         const char *trade_no, const char **why)
{
    char *s;
    int rc = field_str(line, "detail", RPT_DETAIL_MAX_BYTES, &s, why);
    if (rc != PD_OK || s == NULL)
        return rc;   /* not a string: PD_EINVAL; absent: ev->detail stays 0 */
    const char *vals[RPT_TMPL_N];
    char amount[RPT_AMOUNT_CHARS];
    rpt__detail_vals(ev->order >= 0 ? &r->orders[ev->order] : NULL, otn, trade_no, amount,
                     vals);
    char tmpl[RPT_TMPL_MAX_BYTES];
    rc = rpt__detail_template(s, vals, tmpl, sizeof tmpl);
    PD_ASSERT(rc == PD_OK);   /* a cut detail's template always fits */
    return intern(&j->strs, tmpl, &ev->detail);
}

static int push_event(struct rpt__journal *j, const struct rpt__event *ev)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 1024;
        struct rpt__event *p = realloc(j->ev, cap * sizeof *p);
        if (p == NULL)
            return PD_ENOMEM;
        j->ev = p;
        j->cap = cap;
    }
    j->ev[j->n++] = *ev;
    return PD_OK;
}

/* Gives back the events' and trade_of's slack: they are read-only from
 * here, and report.html is written on top of them. A failed shrink keeps
 * the block. */
static void trim(struct rpt__journal *j)
{
    if (j->n > 0 && j->n < j->cap) {
        struct rpt__event *p = realloc(j->ev, j->n * sizeof *p);
        if (p != NULL) {
            j->ev = p;
            j->cap = j->n;
        }
    }
    if (j->strs.n > 0 && j->strs.n < j->n_trade_of) {
        uint32_t *p = realloc(j->trade_of, j->strs.n * sizeof *p);
        if (p != NULL) {
            j->trade_of = p;
            j->n_trade_of = j->strs.n;
        }
    }
}

/* The event's order: by its key, then by its order_id (each a string, or
 * null or missing); -1 for none. Another type is PD_EINVAL with *why. */
static int order_of(const struct rpt__report *r, const cJSON *line, int32_t *out,
                    const char **why)
{
    static const char *const fields[] = {"key", "order_id"};
    *out = -1;
    for (size_t i = 0; i < 2; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(line, fields[i]);
        if (it != NULL && !cJSON_IsNull(it) && !cJSON_IsString(it)) {
            *why = fields[i];
            return PD_EINVAL;
        }
        long o = cJSON_IsString(it) ? rpt__order_find(r, it->valuestring) : -1;
        if (o >= 0 && *out < 0)
            *out = (int32_t)o;
    }
    return PD_OK;
}

/* The event's string fields: kind, fault, out_trade_no, trade_no, detail. */
static int parse_strings(struct rpt__journal *j, const struct rpt__report *r,
                         const cJSON *line, struct rpt__event *ev, const char **why)
{
    char *otn;
    const char *trade_no = NULL;
    uint32_t kind_id = 0, fault_id = 0;
    int rc = intern_name(j, line, "kind", 64, &kind_id, why);
    if (rc == PD_OK)
        rc = intern_name(j, line, "fault", 128, &fault_id, why);
    ev->kind = kind_id & 0x3FFF;   /* both at most RPT_NAMES_MAX, checked */
    ev->fault = fault_id & 0xFFFF;
    if (rc == PD_OK)
        rc = field_str(line, "out_trade_no", 128, &otn, why);
    if (rc == PD_OK)
        rc = intern(&j->strs, otn, &ev->otn);
    if (rc == PD_OK)
        rc = line_trade_no(j, line, ev->otn, &trade_no, why);
    if (rc == PD_OK)
        rc = intern_detail(j, r, line, ev, otn, trade_no, why);
    return rc;
}

/* Parses one line into an event. *why names the bad field on PD_EINVAL. */
static int parse_event(struct rpt__journal *j, const struct rpt__report *r, cJSON *line,
                       struct rpt__event *ev, const char **why)
{
    memset(ev, 0, sizeof *ev);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "t");
    if (!pd_json_is_int(t)) {
        *why = "t: must be an integer (simulated ms)";
        return PD_EINVAL;
    }
    ev->t = (int64_t)t->valuedouble;
    const cJSON *lane = cJSON_GetObjectItemCaseSensitive(line, "lane");
    ev->lane = 3;
    for (uint32_t i = 0; i < 3 && cJSON_IsString(lane); i++)
        if (strcmp(lane->valuestring, LANES[i]) == 0)
            ev->lane = i;
    if (ev->lane == 3) {
        *why = "lane: must be \"business\", \"sut\" or \"gateway\"";
        return PD_EINVAL;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(line, "kind");
    if (!cJSON_IsString(kind) || kind->valuestring[0] == '\0') {
        *why = "kind: must be a non-empty string";
        return PD_EINVAL;
    }
    int rc = order_of(r, line, &ev->order, why);
    return rc != PD_OK ? rc : parse_strings(j, r, line, ev, why);
}

static int parse_line(struct rpt__journal *j, const struct rpt__report *r, const char *path,
                      size_t lineno, const char *text, size_t len)
{
    if (len > RPT_JOURNAL_LINE_MAX)
        return rpt__fail(PD_ETOOBIG, "%s:%zu: line longer than %d bytes", path, lineno,
                         RPT_JOURNAL_LINE_MAX);
    cJSON *line = cJSON_ParseWithLength(text, len);
    if (line == NULL || !cJSON_IsObject(line)) {
        cJSON_Delete(line);
        return rpt__fail(PD_EINVAL, "%s:%zu: not a JSON object", path, lineno);
    }
    struct rpt__event ev;
    const char *why = "?";
    int rc = parse_event(j, r, line, &ev, &why);
    cJSON_Delete(line);
    if (rc == PD_OK)
        rc = push_event(j, &ev);
    if (rc == PD_ENOMEM)
        return rpt__fail(rc, "%s:%zu: out of memory", path, lineno);
    if (rc != PD_OK)
        return rpt__fail(rc, "%s:%zu: %s", path, lineno, why);
    return PD_OK;
}

/* Strips blanks around text[0..len) and parses what is left, if anything. */
static int load_line(struct rpt__journal *j, const struct rpt__report *r, const char *path,
                     size_t lineno, const char *text, size_t len)
{
    size_t a = 0, b = len;
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
        a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r' ||
                     text[b - 1] == '\n'))
        b--;
    return b > a ? parse_line(j, r, path, lineno, text + a, b - a) : PD_OK;
}

/* Counts the file's lines and allocates one event per line (blank lines
 * are the only ones that yield none), then rewinds. Growing by doubling
 * instead left the events up to twice their size at the end of loading:
 * at 50,000 orders 33.5 MB for 20.8, the report writers' peak. */
static int reserve_lines(struct rpt__journal *j, FILE *f)
{
    char buf[65536];
    size_t n, lines = 0;
    char last = '\n';
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
            lines++;
        last = buf[n - 1];
    }
    lines += last != '\n';
    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0)
        return PD_EIO;
    if (lines == 0)
        return PD_OK;
    j->ev = malloc(lines * sizeof *j->ev);
    if (j->ev == NULL)
        return PD_ENOMEM;
    j->cap = lines;
    return PD_OK;
}

/* Streams the file a line at a time: the journal of a 10,000-order run is
 * ~27 MB, and holding it whole beside the events was most of a report
 * writer's peak memory. A file over RPT_JOURNAL_MAX_BYTES is refused
 * before reading, so no line can grow past that either. */
int rpt__journal_load(const char *path, const struct rpt__report *r, struct rpt__journal *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL && errno == ENOENT)
        return rpt__fail(PD_ENOTFOUND, "%s: missing (the checker writes the merged journal)",
                         path);
    struct stat st;
    int rc = f == NULL || fstat(fileno(f), &st) != 0 ? PD_EIO
             : (uint64_t)st.st_size > RPT_JOURNAL_MAX_BYTES ? PD_ETOOBIG : PD_OK;
    if (rc != PD_OK) {
        if (f != NULL)
            fclose(f);
        return rpt__fail(rc, "%s: cannot read (%s)", path, pd_strerror(rc));
    }
    rc = reserve_lines(out, f);
    if (rc != PD_OK) {
        fclose(f);
        return rpt__fail(rc, "%s: %s", path, rc == PD_ENOMEM ? "out of memory"
                                                             : "cannot read (I/O error)");
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while (rc == PD_OK && (n = getline(&line, &cap, f)) >= 0)
        rc = load_line(out, r, path, ++lineno, line, (size_t)n);
    if (rc == PD_OK && ferror(f))
        rc = rpt__fail(PD_EIO, "%s: cannot read (%s)", path, pd_strerror(PD_EIO));
    free(line);
    fclose(f);
    if (rc != PD_OK)
        rpt__journal_release(out);
    else
        trim(out);
    return rc;
}

const char *rpt__journal_trade_no(const struct rpt__journal *j, uint32_t otn)
{
    uint32_t tn = otn > 0 && otn <= j->n_trade_of ? j->trade_of[otn - 1] : 0;
    return tn > 0 ? j->strs.strs[tn - 1] : NULL;
}

void rpt__event_vals(const struct rpt__report *r, const struct rpt__journal *j,
                     const struct rpt__event *ev, char amount[RPT_AMOUNT_CHARS],
                     const char *vals[RPT_TMPL_N])
{
    rpt__detail_vals(ev->order >= 0 ? &r->orders[ev->order] : NULL,
                     ev->otn ? j->strs.strs[ev->otn - 1] : NULL,
                     rpt__journal_trade_no(j, ev->otn), amount, vals);
}

void rpt__journal_release(struct rpt__journal *j)
{
    free(j->ev);
    free(j->trade_of);
    rpt__strtab_release(&j->names);
    rpt__strtab_release(&j->strs);
    memset(j, 0, sizeof *j);
}
