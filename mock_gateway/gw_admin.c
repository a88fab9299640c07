/* gw_admin.c -- the admin API under /sim/ plus /metrics
 * (docs/dev/interfaces.md): status, the ledger, the journal (streamed from
 * its file), the fault rules (replaced atomically at run time), reset. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_internal.h"
#include "gw_util.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"

#define LEDGER_MAX ((size_t)1 << 31)   /* bytes of one ledger document */

void gw_admin_status(gw *g, gw_conn *conn)
{
    struct gw_counts c;
    int64_t pending = 0, in_flight = 0;
    gw_store_counts(g->store, &c);
    gw_cb_stats(g->cb, &pending, &in_flight);
    char out[400];
    int n = snprintf(out, sizeof out,
                     "{\"now\":%" PRId64 ",\"trades\":%" PRId64 ",\"charges\":%" PRId64
                     ",\"refunds\":%" PRId64 ",\"callbacks_pending\":%" PRId64
                     ",\"callbacks_in_flight\":%" PRId64 "}",
                     pd_now_ms(), c.trades, c.charges, c.refunds, pending, in_flight);
    gw__reply_text(conn, 200, out, (size_t)n);
}

void gw_admin_ledger(gw *g, gw_conn *conn)
{
    struct pd_buf b;
    pd_buf_init(&b, LEDGER_MAX);
    if (gw_store_ledger(g->store, pd_now_ms(), &b) != PD_OK)
        gw__reply_error(conn, 500, "SYSTEMERROR", "could not read the ledger");
    else
        gw__reply_text(conn, 200, b.data, b.len);
    pd_buf_release(&b);
}

/* Streams the journal file as it is now (whole lines only). */
void gw_admin_journal(gw *g, gw_conn *conn)
{
    int64_t size = gw_journal_size(g->journal);
    int fd = open(gw_journal_path(g->journal), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        gw__reply_error(conn, 500, "SYSTEMERROR", "could not open the journal");
        return;
    }
    gw_conn_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                    "Cache-Control: no-store\r\nContent-Length: %" PRId64 "\r\n\r\n", size);
    /* The chunk lives on the heap: worker threads keep small stacks. */
    const size_t chunk_len = 65536;
    char *chunk = malloc(chunk_len);
    int64_t off = 0;
    while (off < size) {
        size_t want = (size_t)(size - off < (int64_t)chunk_len ? size - off : (int64_t)chunk_len);
        ssize_t r = chunk ? pread(fd, chunk, want, off) : -1;
        if (r <= 0 || gw_conn_write(conn, chunk, (size_t)r) != PD_OK)
            break;   /* the client went away, or the journal was reset meanwhile */
        off += r;
    }
    free(chunk);
    close(fd);
}

void gw_admin_faults_get(gw *g, gw_conn *conn)
{
    struct gw_rules *r = gw__rules(g);
    gw__reply_text(conn, 200, r->text, strlen(r->text));
    gw_rules_unref(r);
}

void gw_admin_faults_put(gw *g, gw_conn *conn)
{
    char *body = NULL;
    size_t len = 0;
    int rc = gw_conn_body(conn, GW_RULES_DOC_MAX, &body, &len);
    if (rc == PD_ETOOBIG) {
        gw__reply_error(conn, 413, "PAYLOAD_TOO_LARGE", "(document): longer than %u bytes",
                        GW_RULES_DOC_MAX);
        return;
    }
    struct pd_json_err err;
    struct gw_rules *rules = NULL;
    rc = rc ? rc : gw_rules_parse(body, len, &rules, &err);
    free(body);
    if (rc != PD_OK) {
        gw__reply_error(conn, 400, "PARAM_ERROR", "%s", rc == PD_EINVAL ? err.text : "could not read");
        return;
    }
    pthread_mutex_lock(&g->rules_mu);
    struct gw_rules *old = g->rules;
    g->rules = rules;
    pthread_mutex_unlock(&g->rules_mu);
    gw_rules_unref(old);
    PD_LOG(PD_LOG_INFO, "gw", "act=faults_replaced rules=%zu", rules->n);
    struct gw_jentry e = {pd_now_ms(), "admin", NULL, NULL, 0, NULL, 200, "faults replaced"};
    gw_journal_append(g->journal, &e);
    gw__reply_text(conn, 200, rules->text, strlen(rules->text));
}

void gw_admin_reset(gw *g, gw_conn *conn)
{
    char *body = NULL;
    size_t len = 0;
    if (gw_conn_body(conn, 4096, &body, &len) != PD_OK) {
        gw__reply_error(conn, 413, "PAYLOAD_TOO_LARGE", "reset takes no body");
        return;
    }
    free(body);
    int rc = gw_store_reset(g->store);
    gw_cb_reset(g->cb);
    gw_occ_reset(g->occ);
    rc = rc ? rc : gw_journal_reset(g->journal);
    if (rc != PD_OK) {
        gw__reply_error(conn, 500, "SYSTEMERROR", "reset failed: %s", pd_strerror(rc));
        return;
    }
    PD_LOG(PD_LOG_INFO, "gw", "act=reset");
    static const char ok[] =
        "{\"code\":\"SUCCESS\",\"message\":\"ledger, journal and owed callbacks emptied\"}";
    gw__reply_text(conn, 200, ok, sizeof ok - 1);
}

static int metrics_requests(gw *g, struct pd_buf *b)
{
    static const char *const cls[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    int rc = pd_buf_puts(b, "# HELP gw_requests_total Requests answered, by op and status class.\n"
                            "# TYPE gw_requests_total counter\n");
    for (int op = 0; rc == PD_OK && op < GW_OP_CALLBACK; op++)
        for (int c = 0; rc == PD_OK && c < 6; c++) {
            uint64_t v = __atomic_load_n(&g->requests[op][c], __ATOMIC_RELAXED);
            if (v > 0)
                rc = pd_buf_printf(b, "gw_requests_total{op=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                                   gw_op_name((enum gw_op)op), cls[c], v);
        }
    rc = rc ? rc : pd_buf_puts(b, "# HELP gw_faults_total Fault actions applied, by action.\n"
                                  "# TYPE gw_faults_total counter\n");
    for (int a = 1; rc == PD_OK && a < GW_ACT_COUNT; a++)
        rc = pd_buf_printf(b, "gw_faults_total{action=\"%s\"} %" PRIu64 "\n",
                           gw_act_name((enum gw_act)a),
                           __atomic_load_n(&g->faults[a], __ATOMIC_RELAXED));
    return rc;
}

static int metrics_callbacks(gw *g, struct pd_buf *b)
{
    static const char *const names[GW_M_COUNT] = {"acked", "failed", "dropped", "extra",
                                                  "gave_up", "bad_request"};
    int rc = pd_buf_puts(b, "# HELP gw_callback_attempts_total Genuine callback attempts by "
                            "outcome; extra = duplicate, stale and forged deliveries.\n"
                            "# TYPE gw_callback_attempts_total counter\n");
    for (int i = 0; rc == PD_OK && i < GW_M_BAD_REQUEST; i++)
        rc = pd_buf_printf(b, "gw_callback_attempts_total{result=\"%s\"} %" PRIu64 "\n", names[i],
                           __atomic_load_n(&g->metrics[i], __ATOMIC_RELAXED));
    rc = rc ? rc : pd_buf_printf(b, "# TYPE gw_bad_requests_total counter\n"
                                    "gw_bad_requests_total %" PRIu64 "\n",
                                 __atomic_load_n(&g->metrics[GW_M_BAD_REQUEST], __ATOMIC_RELAXED));
    return rc;
}

void gw_admin_metrics(gw *g, gw_conn *conn)
{
    struct gw_counts c;
    int64_t pending = 0, in_flight = 0;
    gw_store_counts(g->store, &c);
    gw_cb_stats(g->cb, &pending, &in_flight);
    struct pd_buf b;
    pd_buf_init(&b, 1 << 20);
    int rc = metrics_requests(g, &b);
    rc = rc ? rc : metrics_callbacks(g, &b);
    rc = rc ? rc : pd_buf_printf(&b,
                                 "# TYPE gw_trades gauge\ngw_trades %" PRId64 "\n"
                                 "# TYPE gw_charges gauge\ngw_charges %" PRId64 "\n"
                                 "# TYPE gw_refunds gauge\ngw_refunds %" PRId64 "\n"
                                 "# TYPE gw_callbacks_pending gauge\ngw_callbacks_pending %" PRId64 "\n"
                                 "# TYPE gw_callbacks_in_flight gauge\ngw_callbacks_in_flight %" PRId64 "\n"
                                 "# TYPE gw_journal_lines gauge\ngw_journal_lines %" PRIu64 "\n",
                                 c.trades, c.charges, c.refunds, pending, in_flight,
                                 gw_journal_seq(g->journal));
    if (rc == PD_OK)
        gw_conn_reply(conn, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        gw__reply_error(conn, 500, "SYSTEMERROR", "metrics too large");
    pd_buf_release(&b);
}
