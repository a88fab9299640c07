#include "pc_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_util.h"

#define EXPORT_LIMIT_DEFAULT 500
#define EXPORT_LIMIT_MAX 5000
#define CHUNK_MAX (64 * 1024)

static struct pc_app *app_of(struct mg_connection *conn)
{
    return mg_get_request_info(conn)->user_data;
}

static void send_reply(struct mg_connection *conn, struct pc_reply *r)
{
    pd_http_reply(conn, r->status, "application/json", r->text ? r->text : "",
                  r->text ? strlen(r->text) : 0);
    pc_reply_release(r);
}

/* Reads the body under PC_BODY_MAX; answers 413/400 itself on failure. */
static int read_body(struct mg_connection *conn, char **body, size_t *len, bool fail_shape)
{
    int rc = pd_http_read_body(conn, PC_BODY_MAX, body, len);
    if (rc == PD_OK)
        return PD_OK;
    if (fail_shape) {
        static const char big[] = "{\"code\":\"FAIL\",\"message\":\"body over 65536 bytes\"}";
        pd_http_reply(conn, rc == PD_ETOOBIG ? 413 : 400, "application/json", big,
                      sizeof big - 1);
    } else if (rc == PD_ETOOBIG) {
        pd_http_reply_error(conn, 413, "body_too_large", "request body over %d bytes",
                            PC_BODY_MAX);
    } else {
        pd_http_reply_error(conn, 400, "bad_body", "could not read the body: %s",
                            pd_strerror(rc));
    }
    return rc;
}

static void method_not_allowed(struct mg_connection *conn, const char *allowed)
{
    pd_http_reply_error(conn, 405, "method_not_allowed", "use %s", allowed);
}

/* ---- export ---- */

struct chunker {
    struct mg_connection *conn;
    struct pd_buf buf;
};

static int chunk_flush(struct chunker *ch)
{
    if (ch->buf.len == 0)
        return PD_OK;
    int n = mg_send_chunk(ch->conn, ch->buf.data, (unsigned)ch->buf.len);
    ch->buf.len = 0;
    return n < 0 ? PD_EIO : PD_OK;
}

static int chunk_emit(void *ctx, const char *data, size_t len)
{
    struct chunker *ch = ctx;
    if (ch->buf.len + len > CHUNK_MAX && chunk_flush(ch) != PD_OK)
        return PD_EIO;
    return pd_buf_append(&ch->buf, data, len);
}

static void export_orders(struct mg_connection *conn, struct pc_app *app)
{
    char after[64] = "", limit_s[16];
    long limit = EXPORT_LIMIT_DEFAULT;
    if (pd_http_query_param(conn, "after", after, sizeof after) == -2) {
        pd_http_reply_error(conn, 400, "bad_query", "after: too long");
        return;
    }
    int n = pd_http_query_param(conn, "limit", limit_s, sizeof limit_s);
    if (n == -2 || (n >= 0 && pd_parse_int(limit_s, 1, EXPORT_LIMIT_MAX, &limit) != PD_OK)) {
        pd_http_reply_error(conn, 400, "bad_query", "limit: an integer 1..%d",
                            EXPORT_LIMIT_MAX);
        return;
    }
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Cache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n");
    struct chunker ch = {conn, {0}};
    pd_buf_init(&ch.buf, CHUNK_MAX * 2 + 1024 * 1024);
    int rc = pc_store_export(app->store, after, (int)limit, chunk_emit, &ch);
    if (rc == PD_OK)
        rc = chunk_flush(&ch);
    pd_buf_release(&ch.buf);
    if (rc != PD_OK)
        PD_LOG(PD_LOG_ERROR, "pc", "act=export err=%s", pd_strerror(rc));
    /* The terminating chunk; on an error the client sees truncated JSON. */
    mg_send_chunk(conn, "", 0);
}

/* ---- /orders routes ---- */

static bool order_id_ok(const char *id, size_t len)
{
    if (len < 1 || len > PC_ORDER_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

static void handle_submit(struct mg_connection *conn, struct pc_app *app)
{
    char *body = NULL;
    size_t len = 0;
    struct pc_reply r = {0};
    bool is_json = pd_http_is_json(conn);
    if (!is_json) {
        pd_http_reply_error(conn, 415, "unsupported_media_type",
                            "Content-Type must be application/json");
        return;
    }
    if (read_body(conn, &body, &len, false) != PD_OK)
        return;
    pc_core_submit(app, body, len, is_json, &r);
    free(body);
    send_reply(conn, &r);
}

/* pay takes no body; an empty one or {} is accepted. */
static void handle_pay(struct mg_connection *conn, struct pc_app *app, const char *id)
{
    char *body = NULL;
    size_t len = 0;
    struct pc_reply r = {0};
    if (read_body(conn, &body, &len, false) != PD_OK)
        return;
    cJSON *j = len > 0 ? pd_json_parse_whole(body, len, NULL) : NULL;
    bool ok = len == 0 || (cJSON_IsObject(j) && j->child == NULL);
    cJSON_Delete(j);
    free(body);
    if (!ok) {
        pd_http_reply_error(conn, 400, "invalid_body", "pay takes no body (or {})");
        return;
    }
    pc_core_pay(app, id, &r);
    send_reply(conn, &r);
}

static int orders_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    struct pc_app *app = app_of(conn);
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->local_uri;
    const char *m = ri->request_method;
    if (strcmp(uri, "/orders") == 0 || strcmp(uri, "/orders/") == 0) {
        if (strcmp(m, "POST") == 0)
            handle_submit(conn, app);
        else if (strcmp(m, "GET") == 0)
            export_orders(conn, app);
        else
            method_not_allowed(conn, "GET or POST");
        return 200;
    }
    const char *id = uri + strlen("/orders/");
    const char *slash = strchr(id, '/');
    size_t id_len = slash ? (size_t)(slash - id) : strlen(id);
    char oid[PC_ORDER_ID_MAX + 1];
    if (!order_id_ok(id, id_len) || (slash && strcmp(slash, "/pay") != 0)) {
        pd_http_reply_error(conn, 404, "not_found", "no such resource");
        return 404;
    }
    memcpy(oid, id, id_len);
    oid[id_len] = '\0';
    struct pc_reply r = {0};
    if (slash != NULL && strcmp(m, "POST") == 0)
        handle_pay(conn, app, oid);
    else if (slash != NULL)
        method_not_allowed(conn, "POST");
    else if (strcmp(m, "GET") == 0) {
        pc_core_get(app, oid, &r);
        send_reply(conn, &r);
    } else
        method_not_allowed(conn, "GET");
    return 200;
}

static int fallback_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    pd_http_reply_error(conn, 404, "not_found", "no such resource");
    return 404;
}

static int notify_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    if (strcmp(mg_get_request_info(conn)->local_uri, "/gateway/notify") != 0)
        return fallback_handler(conn, NULL);
    struct pc_app *app = app_of(conn);
    if (strcmp(mg_get_request_info(conn)->request_method, "POST") != 0) {
        method_not_allowed(conn, "POST");
        return 405;
    }
    char *body = NULL;
    size_t len = 0;
    if (read_body(conn, &body, &len, true) != PD_OK)
        return 413;
    struct pc_reply r = {0};
    pc_core_notify(app, mg_get_header(conn, "X-Gateway-Timestamp"),
                   mg_get_header(conn, "X-Gateway-Nonce"),
                   mg_get_header(conn, "X-Gateway-Signature"), body, len, &r);
    free(body);
    send_reply(conn, &r);
    return 200;
}

static int healthz_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    if (strcmp(mg_get_request_info(conn)->local_uri, "/healthz") != 0)
        return fallback_handler(conn, NULL);
    static const char ok[] = "{\"status\":\"ok\"}";
    pd_http_reply(conn, 200, "application/json", ok, sizeof ok - 1);
    return 200;
}

static int metrics_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    if (strcmp(mg_get_request_info(conn)->local_uri, "/metrics") != 0)
        return fallback_handler(conn, NULL);
    char *text = pc_metrics_text(app_of(conn));
    if (text == NULL) {
        pd_http_reply_error(conn, 500, "internal", "metrics unavailable");
        return 500;
    }
    pd_http_reply(conn, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
    return 200;
}

void pc_http_register(struct mg_context *ctx, struct pc_app *app)
{
    (void)app;
    mg_set_request_handler(ctx, "/orders", orders_handler, NULL);
    mg_set_request_handler(ctx, "/gateway/notify", notify_handler, NULL);
    mg_set_request_handler(ctx, "/healthz", healthz_handler, NULL);
    mg_set_request_handler(ctx, "/metrics", metrics_handler, NULL);
    mg_set_request_handler(ctx, "/", fallback_handler, NULL);
}

/* ---- metrics ---- */

#define COUNTER(buf, name, help, value)                                             \
    pd_buf_printf(buf, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, \
                  name, (long long)(value))

static void metrics_store(struct pd_buf *b, struct pc_app *app)
{
    struct pc_counts c;
    if (pc_store_counts(app->store, &c) != PD_OK)
        return;
    pd_buf_puts(b, "# HELP pc_orders Orders by status.\n# TYPE pc_orders gauge\n");
    for (int s = PC_ST_UNPAID; s < PC_ST_COUNT; s++)
        pd_buf_printf(b, "pc_orders{status=\"%s\"} %lld\n", pc_status_name(s),
                      (long long)c.by_status[s]);
    pd_buf_printf(b, "# HELP pc_notifications_pending Business notifications not yet acknowledged.\n"
                     "# TYPE pc_notifications_pending gauge\npc_notifications_pending %lld\n",
                  (long long)c.notifications_pending);
    pd_buf_printf(b, "# HELP pc_notifications_delivered Business notifications acknowledged.\n"
                     "# TYPE pc_notifications_delivered gauge\npc_notifications_delivered %lld\n",
                  (long long)c.notifications_delivered);
    pd_buf_printf(b, "# HELP pc_refunds Refunds by status.\n# TYPE pc_refunds gauge\n"
                     "pc_refunds{status=\"PENDING\"} %lld\npc_refunds{status=\"SUCCESS\"} %lld\n",
                  (long long)c.refunds_pending, (long long)c.refunds_done);
}

char *pc_metrics_text(struct pc_app *app)
{
    struct pd_buf b;
    struct pc_metrics *m = &app->metrics;
    pd_buf_init(&b, 1024 * 1024);
    metrics_store(&b, app);
    COUNTER(&b, "pc_submissions_total", "POST /orders requests.", m->submissions);
    COUNTER(&b, "pc_orders_created_total", "Orders accepted.", m->orders_created);
    pd_buf_printf(&b, "# HELP pc_duplicates_total Duplicate submissions refused, by guard.\n"
                      "# TYPE pc_duplicates_total counter\n"
                      "pc_duplicates_total{by=\"database\"} %lld\n"
                      "pc_duplicates_total{by=\"redis\"} %lld\n",
                  (long long)m->duplicates_sqlite, (long long)m->duplicates_redis);
    COUNTER(&b, "pc_redis_unavailable_total", "Submissions that fell back to the database guard.",
            m->redis_unavailable);
    COUNTER(&b, "pc_bad_requests_total", "Submissions refused as malformed.", m->bad_requests);
    COUNTER(&b, "pc_pay_calls_total", "POST /orders/{id}/pay requests.", m->pay_calls);
    COUNTER(&b, "pc_gateway_creates_total", "Gateway create calls.", m->creates);
    COUNTER(&b, "pc_gateway_create_ambiguous_total", "Creates with no clear answer.",
            m->create_ambiguous);
    COUNTER(&b, "pc_gateway_create_rejected_total", "Creates refused by the gateway.",
            m->create_rejected);
    COUNTER(&b, "pc_callbacks_received_total", "Gateway callbacks received.", m->callbacks_received);
    COUNTER(&b, "pc_callbacks_applied_total", "Callbacks that changed state.", m->callbacks_applied);
    COUNTER(&b, "pc_callbacks_ignored_total", "Valid callbacks with nothing to change.",
            m->callbacks_ignored);
    pd_buf_puts(&b, "# HELP pc_callbacks_rejected_total Callbacks refused, by reason.\n"
                    "# TYPE pc_callbacks_rejected_total counter\n");
    for (int i = 0; i < PC_REJ_COUNT; i++)
        pd_buf_printf(&b, "pc_callbacks_rejected_total{reason=\"%s\"} %lld\n", pc_reject_name(i),
                      (long long)m->callbacks_rejected[i]);
    COUNTER(&b, "pc_gateway_queries_total", "Reconciler queries made.", m->queries);
    COUNTER(&b, "pc_gateway_query_errors_total", "Queries without a usable answer.",
            m->query_errors);
    COUNTER(&b, "pc_gateway_closes_total", "Gateway close calls.", m->closes);
    COUNTER(&b, "pc_gateway_refund_calls_total", "Gateway refund calls.", m->refund_calls);
    COUNTER(&b, "pc_notify_attempts_total", "Business notification attempts.", m->notify_attempts);
    long commits = 0, txs = 0;
    pc_store_tx_stats(app->store, &commits, &txs);
    COUNTER(&b, "pc_db_transactions_total",
            "Write transactions kept in a batch (refused or failed ones not counted).", txs);
    COUNTER(&b, "pc_db_commits_total", "SQLite commits that succeeded (one covers many).",
            commits);
    COUNTER(&b, "pc_db_checkpoints_total", "WAL checkpoints run by the checkpointer thread.",
            pc_store_checkpoints(app->store));
    return pd_buf_take(&b);
}
