#include "pc_stub.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_sign.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

static void die(const char *what)
{
    fprintf(stderr, "stub: %s\n", what);
    abort();
}

static struct stub_trade *find(struct stub *s, const char *otn)
{
    for (int i = 0; i < s->n_trades; i++)
        if (strcmp(s->trades[i].out_trade_no, otn) == 0)
            return &s->trades[i];
    return NULL;
}

static void reply_trade(struct mg_connection *c, const struct stub_trade *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "out_trade_no", t->out_trade_no);
    cJSON_AddStringToObject(o, "trade_no", "4200000001");
    cJSON_AddStringToObject(o, "trade_state", t->state);
    pd_json_add_i64(o, "amount", t->amount);
    cJSON_AddStringToObject(o, "currency", t->currency);
    cJSON_AddStringToObject(o, "merchant_id", t->merchant_id);
    pd_http_reply_json(c, 200, o);
    cJSON_Delete(o);
}

static void code_reply(struct mg_connection *c, int status, const char *code)
{
    char body[128];
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"stub\"}", code);
    pd_http_reply(c, status, "application/json", body, strlen(body));
}

static void on_create(struct stub *s, struct mg_connection *c, cJSON *j)
{
    const cJSON *otn = cJSON_GetObjectItem(j, "out_trade_no");
    const cJSON *url = cJSON_GetObjectItem(j, "notify_url");
    const cJSON *amt = cJSON_GetObjectItem(j, "amount");
    const cJSON *cur = cJSON_GetObjectItem(j, "currency");
    const cJSON *mer = cJSON_GetObjectItem(j, "merchant_id");
    if (!cJSON_IsString(otn) || !cJSON_IsString(url) || !cJSON_IsNumber(amt) ||
        !cJSON_IsString(cur) || !cJSON_IsString(mer)) {
        code_reply(c, 400, "PARAM_ERROR");
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->creates++;
    int hang = s->create_hang_ms, status = s->create_status;
    bool record = !s->create_drop_record, autopay = s->auto_pay;
    struct stub_trade *t = find(s, otn->valuestring);
    if (t == NULL && record && s->n_trades < STUB_TRADES_MAX) {
        t = &s->trades[s->n_trades++];
        memset(t, 0, sizeof *t);
        pd_strlcpy(t->out_trade_no, otn->valuestring, sizeof t->out_trade_no);
        pd_strlcpy(t->notify_url, url->valuestring, sizeof t->notify_url);
        pd_strlcpy(t->merchant_id, mer->valuestring, sizeof t->merchant_id);
        pd_strlcpy(t->currency, cur->valuestring, sizeof t->currency);
        t->amount = (int64_t)amt->valuedouble;
        pd_strlcpy(t->state, autopay ? "SUCCESS" : "NOTPAY", sizeof t->state);
    }
    if (t != NULL)
        t->creates++;
    struct stub_trade copy;
    if (t != NULL)
        copy = *t;
    pthread_mutex_unlock(&s->mu);
    if (hang > 0)
        pd_sleep_ms(hang);
    if (status != 0) {
        code_reply(c, status, status == 409 ? "OUT_TRADE_NO_USED" : "SYSTEMERROR");
        return;
    }
    if (t == NULL) {
        code_reply(c, 500, "SYSTEMERROR");
        return;
    }
    reply_trade(c, &copy);
}

static void on_query_close(struct stub *s, struct mg_connection *c, const char *otn, bool close)
{
    pthread_mutex_lock(&s->mu);
    if (close)
        s->closes++;
    else
        s->queries++;
    struct stub_trade *t = find(s, otn);
    struct stub_trade copy;
    int qs = s->query_status;
    bool orderpaid = false;
    if (t != NULL && close) {
        if (s->close_orderpaid)
            pd_strlcpy(t->state, "SUCCESS", sizeof t->state);
        if (strcmp(t->state, "SUCCESS") == 0)
            orderpaid = true;
        else
            pd_strlcpy(t->state, "CLOSED", sizeof t->state);
    }
    if (t != NULL)
        copy = *t;
    pthread_mutex_unlock(&s->mu);
    if (!close && qs != 0)
        code_reply(c, qs, "SYSTEMERROR");
    else if (t == NULL)
        code_reply(c, 404, "ORDER_NOT_EXIST");
    else if (orderpaid)
        code_reply(c, 409, "ORDERPAID");
    else
        reply_trade(c, &copy);
}

static void on_refund(struct stub *s, struct mg_connection *c, cJSON *j)
{
    const cJSON *otn = cJSON_GetObjectItem(j, "out_trade_no");
    const cJSON *rno = cJSON_GetObjectItem(j, "out_refund_no");
    pthread_mutex_lock(&s->mu);
    s->refund_calls++;
    struct stub_trade *t = cJSON_IsString(otn) ? find(s, otn->valuestring) : NULL;
    if (t != NULL && t->refunds == 0)
        t->refunds = 1;
    pthread_mutex_unlock(&s->mu);
    if (t == NULL || !cJSON_IsString(rno)) {
        code_reply(c, 404, "ORDER_NOT_EXIST");
        return;
    }
    char body[256];
    snprintf(body, sizeof body, "{\"out_refund_no\":\"%s\",\"status\":\"SUCCESS\"}",
             rno->valuestring);
    pd_http_reply(c, 200, "application/json", body, strlen(body));
}

static void on_biz(struct stub *s, struct mg_connection *c, const char *body, size_t len)
{
    int ok = pd_verify(STUB_BIZ_SECRET, mg_get_header(c, "X-Paydrill-Timestamp"),
                       mg_get_header(c, "X-Paydrill-Nonce"), mg_get_header(c, "X-Paydrill-Signature"),
                       body, len, pd_now_ms() / 1000, 300) == PD_SIG_OK;
    cJSON *j = cJSON_ParseWithLength(body, len);
    pthread_mutex_lock(&s->mu);
    s->biz_calls++;
    int status = s->biz_status ? s->biz_status : 200;
    if (status == 200 && j != NULL && s->n_events < STUB_EVENTS_MAX) {
        struct stub_event *e = &s->events[s->n_events++];
        memset(e, 0, sizeof *e);
        const cJSON *v = cJSON_GetObjectItem(j, "event_id");
        pd_strlcpy(e->event_id, cJSON_IsString(v) ? v->valuestring : "", sizeof e->event_id);
        v = cJSON_GetObjectItem(j, "order_id");
        pd_strlcpy(e->order_id, cJSON_IsString(v) ? v->valuestring : "", sizeof e->order_id);
        v = cJSON_GetObjectItem(j, "status");
        pd_strlcpy(e->status, cJSON_IsString(v) ? v->valuestring : "", sizeof e->status);
        v = cJSON_GetObjectItem(j, "seq");
        e->seq = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
        e->signature_ok = ok;
    }
    pthread_mutex_unlock(&s->mu);
    cJSON_Delete(j);
    pd_http_reply(c, status, "application/json", "{}", 2);
}

static int handler(struct mg_connection *c, void *cbdata)
{
    struct stub *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    char *body = NULL;
    size_t len = 0;
    pd_http_read_body(c, 1 << 20, &body, &len);
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const char *uri = ri->local_uri;
    const char *m = ri->request_method;
    if (strcmp(uri, "/biz") == 0) {
        on_biz(s, c, body ? body : "", len);
    } else if (strcmp(uri, "/v1/payments") == 0 && strcmp(m, "POST") == 0) {
        on_create(s, c, j);
    } else if (strcmp(uri, "/v1/refunds") == 0) {
        on_refund(s, c, j);
    } else if (strncmp(uri, "/v1/payments/", 13) == 0) {
        char otn[128];
        pd_strlcpy(otn, uri + 13, sizeof otn);
        char *slash = strchr(otn, '/');
        bool close = slash != NULL && strcmp(slash, "/close") == 0;
        if (slash)
            *slash = '\0';
        on_query_close(s, c, otn, close);
    } else {
        code_reply(c, 404, "NOT_FOUND");
    }
    cJSON_Delete(j);
    free(body);
    return 200;
}

void stub_start(struct stub *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    struct pd_http_server_opts opts = {"127.0.0.1:0", 64, 0};
    if (pd_http_server_start(&opts, s, &s->ctx, &s->port) != PD_OK)
        die("cannot start");
    mg_set_request_handler(s->ctx, "/", handler, s);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    snprintf(s->biz_url, sizeof s->biz_url, "http://127.0.0.1:%d/biz", s->port);
}

void stub_stop(struct stub *s)
{
    if (s->ctx != NULL)
        mg_stop(s->ctx);
    s->ctx = NULL;
}

bool stub_pay(struct stub *s, const char *otn)
{
    pthread_mutex_lock(&s->mu);
    struct stub_trade *t = find(s, otn);
    if (t != NULL && strcmp(t->state, "NOTPAY") == 0)
        pd_strlcpy(t->state, "SUCCESS", sizeof t->state);
    pthread_mutex_unlock(&s->mu);
    return t != NULL;
}

/* Posts body, signed (sig corrupted when bad_sig) with ts and nonce, to url. */
static long post_signed(const char *url, const char *body, size_t len, int64_t ts,
                        const char *nonce, bool bad_sig, char *ack_body, size_t ack_len)
{
    char sig[PD_SIG_HEX_LEN + 1];
    pd_sign(STUB_SECRET, ts, nonce, body, len, sig);
    if (bad_sig)
        sig[0] = sig[0] == 'a' ? 'b' : 'a';
    char h_ts[64], h_n[96], h_s[128];
    snprintf(h_ts, sizeof h_ts, "X-Gateway-Timestamp: %" PRId64, ts);
    snprintf(h_n, sizeof h_n, "X-Gateway-Nonce: %s", nonce);
    snprintf(h_s, sizeof h_s, "X-Gateway-Signature: %s", sig);
    const char *headers[] = {"Content-Type: application/json", h_ts, h_n, h_s, NULL};
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    int rc = pd_http_request(c, "POST", url, headers, body, len, 30000, 0, &resp);
    long status = rc == PD_OK ? resp.status : 0;
    if (ack_body != NULL)
        pd_strlcpy(ack_body, rc == PD_OK && resp.body ? resp.body : "", ack_len);
    pd_http_resp_release(&resp);
    pd_http_client_free(c);
    return status;
}

int stub_callback_body(struct stub *s, const char *otn, int64_t amount_delta, char *body,
                       size_t body_len, char *notify_url, size_t url_len)
{
    pthread_mutex_lock(&s->mu);
    struct stub_trade *t = find(s, otn);
    struct stub_trade copy;
    if (t != NULL)
        copy = *t;
    pthread_mutex_unlock(&s->mu);
    if (t == NULL)
        return -1;
    snprintf(body, body_len,
             "{\"event_id\":\"ev-%s-SUCCESS\",\"out_trade_no\":\"%s\",\"trade_no\":\"4200000001\","
             "\"trade_state\":\"SUCCESS\",\"amount\":%" PRId64 ",\"currency\":\"%s\","
             "\"merchant_id\":\"%s\",\"attach\":null,\"success_time\":%" PRId64 "}",
             otn, otn, copy.amount + amount_delta, copy.currency, copy.merchant_id, pd_now_ms());
    if (notify_url != NULL)
        pd_strlcpy(notify_url, copy.notify_url, url_len);
    return 0;
}

long stub_callback(struct stub *s, const char *otn, int64_t ts_offset_s, int64_t amount_delta,
                   bool bad_sig, const char *nonce_or_null, char *ack_body, size_t ack_len)
{
    char body[1024], url[256], nonce[PD_NONCE_LEN + 1];
    if (stub_callback_body(s, otn, amount_delta, body, sizeof body, url, sizeof url) != 0)
        return -1;
    if (nonce_or_null != NULL)
        pd_strlcpy(nonce, nonce_or_null, sizeof nonce);
    else
        pd_nonce(nonce);
    return post_signed(url, body, strlen(body), pd_now_ms() / 1000 + ts_offset_s, nonce, bad_sig,
                       ack_body, ack_len);
}

long stub_callback_raw(const char *notify_url, const char *body, size_t len, char *ack_body,
                       size_t ack_len)
{
    char nonce[PD_NONCE_LEN + 1];
    pd_nonce(nonce);
    return post_signed(notify_url, body, len, pd_now_ms() / 1000, nonce, false, ack_body,
                       ack_len);
}

int stub_trade_count(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n_trades;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stub_creates_for(struct stub *s, const char *otn)
{
    pthread_mutex_lock(&s->mu);
    struct stub_trade *t = find(s, otn);
    int n = t ? t->creates : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stub_event_count(struct stub *s, const char *order_id)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->n_events; i++)
        if (order_id == NULL || strcmp(s->events[i].order_id, order_id) == 0)
            n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const char *stub_trade_state(struct stub *s, const char *otn, char out[16])
{
    pthread_mutex_lock(&s->mu);
    struct stub_trade *t = find(s, otn);
    pd_strlcpy(out, t ? t->state : "", 16);
    pthread_mutex_unlock(&s->mu);
    return out;
}

void stub_start_bin(struct stub *s, const char *bin, const char *data_dir,
                    const char *const *extra_args, struct pd_proc *out)
{
    stub_start_bin_env(s, bin, data_dir, extra_args, NULL, out);
}

void stub_start_bin_env(struct stub *s, const char *bin, const char *data_dir,
                        const char *const *extra_args, const char *const *extra_env,
                        struct pd_proc *out)
{
    char path[512], log[512];
    static char env[4][600];
    pd_test_bin(bin, path, sizeof path);
    snprintf(log, sizeof log, "%s/pc.log", data_dir);
    snprintf(env[0], sizeof env[0], "PAYDRILL_GATEWAY_URL=%s", s->url);
    snprintf(env[1], sizeof env[1], "PAYDRILL_BUSINESS_URL=%s", s->biz_url);
    snprintf(env[2], sizeof env[2], "PAYDRILL_DATA_DIR=%s", data_dir);
    snprintf(env[3], sizeof env[3], "PAYDRILL_GATEWAY_SECRET=%s", STUB_SECRET);
    const char *envp[24] = {env[0], env[1], env[2], env[3],
                            "PAYDRILL_BUSINESS_SECRET=" STUB_BIZ_SECRET,
                            "PAYDRILL_LISTEN=127.0.0.1:0", "PAYDRILL_THREADS=64",
                            "PAYDRILL_SYNC=normal", NULL};
    for (int i = 0, e = 8; extra_env != NULL && extra_env[i] != NULL && e < 23; i++)
        envp[e++] = extra_env[i];
    const char *argv[32] = {path};
    int n = 1;
    for (int i = 0; extra_args != NULL && extra_args[i] != NULL && n < 31; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    if (pd_proc_start(argv, envp, log, 20000, out) != PD_OK)
        die("payment-center did not start (see its pc.log)");
}

void stub_start_pc(struct stub *s, const char *data_dir, const char *const *extra_args,
                   struct pd_proc *out)
{
    stub_start_bin(s, "payment-center", data_dir, extra_args, out);
}

long pc_submit(const char *pc_url, const char *client_ref, int64_t amount, char order_id[32])
{
    char url[256], body[512];
    snprintf(url, sizeof url, "%s/orders", pc_url);
    snprintf(body, sizeof body,
             "{\"merchant_id\":\"m-1\",\"user_id\":\"u-%s\",\"items\":[{\"sku\":\"sku-1\","
             "\"qty\":1,\"unit_amount\":%" PRId64 "}],\"amount\":%" PRId64
             ",\"currency\":\"CNY\",\"client_ref\":\"%s\"}",
             client_ref, amount, amount, client_ref);
    cJSON *j = NULL;
    long st = pd_test_http_json("POST", url, body, NULL, &j);
    const cJSON *id = j ? cJSON_GetObjectItem(j, "order_id") : NULL;
    pd_strlcpy(order_id, cJSON_IsString(id) ? id->valuestring : "", 32);
    cJSON_Delete(j);
    return st;
}

void pc_status(const char *pc_url, const char *order_id, char out[16])
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s", pc_url, order_id);
    cJSON *j = NULL;
    pd_test_http_json("GET", url, NULL, NULL, &j);
    const cJSON *st = j ? cJSON_GetObjectItem(j, "status") : NULL;
    pd_strlcpy(out, cJSON_IsString(st) ? st->valuestring : "", 16);
    cJSON_Delete(j);
}

bool pc_wait_status(const char *pc_url, const char *order_id, const char *status,
                    int64_t timeout_ms)
{
    int64_t end = pd_mono_ms() + timeout_ms;
    char now[16];
    do {
        pc_status(pc_url, order_id, now);
        if (strcmp(now, status) == 0)
            return true;
        pd_sleep_ms(50);
    } while (pd_mono_ms() < end);
    return false;
}
