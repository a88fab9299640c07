#include "pc_ports.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_sign.h"
#include "pd_time.h"
#include "pd_util.h"

#define GW_RESP_MAX (256 * 1024)

/* One libcurl handle per thread, kept alive between calls. */
static pthread_key_t client_key;
static pthread_once_t client_once = PTHREAD_ONCE_INIT;

static void client_free(void *p)
{
    pd_http_client_free(p);
}

static void client_key_init(void)
{
    pthread_key_create(&client_key, client_free);
}

static pd_http_client *thread_client(void)
{
    pthread_once(&client_once, client_key_init);
    pd_http_client *c = pthread_getspecific(client_key);
    if (c == NULL) {
        c = pd_http_client_new();
        pthread_setspecific(client_key, c);
    }
    return c;
}

void pc_ports_init(struct pc_http_ports *p, const struct pc_config *cfg, struct pc_app *app)
{
    memset(p, 0, sizeof *p);
    pd_strlcpy(p->gateway_url, cfg->gateway_url, sizeof p->gateway_url);
    size_t n = strlen(p->gateway_url);
    while (n > 0 && p->gateway_url[n - 1] == '/')
        p->gateway_url[--n] = '\0';
    pd_strlcpy(p->business_url, cfg->business_url, sizeof p->business_url);
    pd_strlcpy(p->business_secret, cfg->business_secret, sizeof p->business_secret);
    p->gateway_timeout_ms = (long)cfg->gateway_timeout_ms;
    p->business_timeout_ms = (long)cfg->business_timeout_ms;
    app->gw.call = pc_ports_gateway_call;
    app->gw.ctx = p;
    app->biz.notify = pc_ports_business_notify;
    app->biz.ctx = p;
}

int pc_ports_gateway_call(void *ctx, const char *method, const char *path, const char *body,
                          long *status, cJSON **json)
{
    struct pc_http_ports *p = ctx;
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    char url[PC_URL_MAX + 256];
    *status = 0;
    *json = NULL;
    snprintf(url, sizeof url, "%s%s", p->gateway_url, path);
    pd_http_client *c = thread_client();
    if (c == NULL)
        return PD_ENOMEM;
    struct pd_http_resp resp;
    int rc = pd_http_request(c, method, url, headers, body, body ? strlen(body) : 0,
                             p->gateway_timeout_ms, GW_RESP_MAX, &resp);
    if (rc == PD_OK) {
        *status = resp.status;
        *json = resp.body ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
    }
    pd_http_resp_release(&resp);
    return rc;
}

int pc_ports_business_notify(void *ctx, const char *body, size_t len, long *status)
{
    struct pc_http_ports *p = ctx;
    char nonce[PD_NONCE_LEN + 1], sig[PD_SIG_HEX_LEN + 1];
    char h_ts[64], h_nonce[96], h_sig[128];
    int64_t ts = pd_now_ms() / 1000;
    *status = 0;
    if (pd_nonce(nonce) != PD_OK || pd_sign(p->business_secret, ts, nonce, body, len, sig) != PD_OK)
        return PD_EIO;
    snprintf(h_ts, sizeof h_ts, "X-Paydrill-Timestamp: %" PRId64, ts);
    snprintf(h_nonce, sizeof h_nonce, "X-Paydrill-Nonce: %s", nonce);
    snprintf(h_sig, sizeof h_sig, "X-Paydrill-Signature: %s", sig);
    const char *headers[] = {"Content-Type: application/json", h_ts, h_nonce, h_sig, NULL};
    pd_http_client *c = thread_client();
    if (c == NULL)
        return PD_ENOMEM;
    struct pd_http_resp resp;
    int rc = pd_http_request(c, "POST", p->business_url, headers, body, len,
                             p->business_timeout_ms, 64 * 1024, &resp);
    if (rc == PD_OK)
        *status = resp.status;
    pd_http_resp_release(&resp);
    return rc;
}

/* ---- Redis ---- */

#define REDIS_TIMEOUT_MS 250
#define REDIS_RETRY_MS 1000   /* after a failure, leave Redis alone this long */

struct pc_redis {
    char host[64];
    int port;
    pthread_key_t key;        /* this thread's redisContext */
};

static void ctx_free(void *p)
{
    if (p != NULL)
        redisFree(p);
}

int pc_redis_new(const char *url, struct pc_redis **out)
{
    if (strncmp(url, "redis://", 8) != 0)
        return PD_EINVAL;
    struct pc_redis *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PD_ENOMEM;
    if (pd_http_parse_listen(url + 8, r->host, &r->port) != PD_OK || r->port == 0) {
        free(r);
        return PD_EINVAL;
    }
    pthread_key_create(&r->key, ctx_free);
    *out = r;
    return PD_OK;
}

void pc_redis_free(struct pc_redis *r)
{
    if (r == NULL)
        return;
    pthread_key_delete(r->key);
    free(r);
}

static redisContext *redis_ctx(struct pc_redis *r)
{
    redisContext *c = pthread_getspecific(r->key);
    if (c != NULL)
        return c;
    struct timeval tv = {0, REDIS_TIMEOUT_MS * 1000};
    c = redisConnectWithTimeout(r->host, r->port, tv);
    if (c == NULL || c->err) {
        PD_LOG(PD_LOG_WARN, "pc", "act=redis_connect host=%s port=%d err=\"%s\"", r->host,
               r->port, c ? c->errstr : "oom");
        if (c != NULL)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    pthread_setspecific(r->key, c);
    return c;
}

/* A failed command poisons the connection: drop it, reconnect next time. */
static void redis_drop(struct pc_redis *r)
{
    redisContext *c = pthread_getspecific(r->key);
    pthread_setspecific(r->key, NULL);
    if (c != NULL)
        redisFree(c);
}

static redisReply *redis_cmd(struct pc_redis *r, const char *fmt, ...)
{
    redisContext *c = redis_ctx(r);
    if (c == NULL)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (reply == NULL)
        redis_drop(r);
    return reply;
}

static int redis_claim(void *ctx, const char *fp, const char *order_id, int64_t window_ms,
                       char *original, size_t original_len)
{
    struct pc_redis *r = ctx;
    long long px = window_ms > 0 ? window_ms : 1;
    redisReply *rep = redis_cmd(r, "SET pc:fp:%s %s NX PX %lld", fp, order_id, px);
    if (rep == NULL)
        return PC_DEDUP_UNAVAILABLE;
    int won = rep->type == REDIS_REPLY_STATUS;
    int nil = rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    if (won)
        return PC_DEDUP_CLAIMED;
    if (!nil)
        return PC_DEDUP_UNAVAILABLE;
    rep = redis_cmd(r, "GET pc:fp:%s", fp);
    if (rep == NULL)
        return PC_DEDUP_UNAVAILABLE;
    int found = rep->type == REDIS_REPLY_STRING;
    if (found)
        pd_strlcpy(original, rep->str, original_len);
    freeReplyObject(rep);
    /* Expired between SET and GET: let the database decide. */
    return found ? PC_DEDUP_DUPLICATE : PC_DEDUP_UNAVAILABLE;
}

static void redis_repoint(void *ctx, const char *fp, const char *order_id, int64_t window_ms)
{
    struct pc_redis *r = ctx;
    redisReply *rep = redis_cmd(r, "SET pc:fp:%s %s XX PX %lld", fp, order_id,
                                (long long)(window_ms > 0 ? window_ms : 1));
    if (rep != NULL)
        freeReplyObject(rep);
}

static void redis_release(void *ctx, const char *fp, const char *order_id)
{
    struct pc_redis *r = ctx;
    (void)order_id;
    redisReply *rep = redis_cmd(r, "DEL pc:fp:%s", fp);
    if (rep != NULL)
        freeReplyObject(rep);
}

struct pc_dedup_port pc_redis_port(struct pc_redis *r)
{
    struct pc_dedup_port p = {redis_claim, redis_repoint, redis_release, r};
    return p;
}
