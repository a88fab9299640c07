#include "gw_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_sign.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

static void copy_header(struct mg_connection *conn, const char *name, char *out, size_t len)
{
    const char *v = mg_get_header(conn, name);
    pd_strlcpy(out, v ? v : "", len);
}

static int rx_handle(struct mg_connection *conn, void *cbdata)
{
    struct gw_rx *rx = cbdata;
    struct gw_rx_arrival a;
    memset(&a, 0, sizeof a);
    a.in_ms = pd_mono_ms();
    size_t len = 0;
    if (pd_http_read_body(conn, 1 << 20, &a.body, &len) != PD_OK)
        a.body = strdup("");
    copy_header(conn, "X-Gateway-Timestamp", a.ts, sizeof a.ts);
    copy_header(conn, "X-Gateway-Nonce", a.nonce, sizeof a.nonce);
    copy_header(conn, "X-Gateway-Signature", a.sig, sizeof a.sig);
    a.verdict = pd_verify(GW_T_SECRET, a.ts, a.nonce, a.sig, a.body, len, pd_now_ms() / 1000, 300);
    pthread_mutex_lock(&rx->mu);
    int index = rx->seen++;
    enum gw_rx_answer answer = index < rx->fail_first ? GW_RX_FAIL_500 : rx->answer;
    int delay = rx->delay_ms;
    pthread_mutex_unlock(&rx->mu);
    if (delay > 0)
        pd_sleep_ms(delay);
    static const char *const bodies[] = {"{\"code\":\"SUCCESS\"}", "{\"code\":\"FAIL\",\"message\":\"x\"}",
                                         "SUCCESS", "{\"code\":\"FAIL\",\"message\":\"x\"}"};
    a.answered = answer == GW_RX_FAIL_500 ? 500 : 200;
    /* Recorded before the answer leaves: once the gateway has its answer
     * (and may report quiet), the arrival is already counted. */
    a.out_ms = pd_mono_ms();
    pthread_mutex_lock(&rx->mu);
    if (rx->n < GW_RX_MAX)
        rx->a[rx->n++] = a;
    else
        free(a.body);
    pthread_mutex_unlock(&rx->mu);
    pd_http_reply(conn, a.answered, "application/json", bodies[answer], strlen(bodies[answer]));
    return a.answered;
}

void gw_rx_start(struct gw_rx *rx)
{
    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->mu, NULL);
    struct pd_http_server_opts opts = {"127.0.0.1:0", 64, 0};
    if (pd_http_server_start(&opts, rx, &rx->ctx, &rx->port) != PD_OK)
        abort();
    mg_set_request_handler(rx->ctx, "/notify", rx_handle, rx);
    snprintf(rx->url, sizeof rx->url, "http://127.0.0.1:%d/notify", rx->port);
}

void gw_rx_stop(struct gw_rx *rx)
{
    if (rx->ctx != NULL)
        mg_stop(rx->ctx);
    rx->ctx = NULL;
    for (int i = 0; i < rx->n; i++)
        free(rx->a[i].body);
    rx->n = 0;
    rx->seen = 0;
    pthread_mutex_destroy(&rx->mu);
}

int gw_rx_count(struct gw_rx *rx)
{
    pthread_mutex_lock(&rx->mu);
    int n = rx->n;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

int gw_rx_count_body(struct gw_rx *rx, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&rx->mu);
    for (int i = 0; i < rx->n; i++)
        n += strstr(rx->a[i].body, needle) != NULL;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

void gw_t_start(struct pd_proc *p, const char *data_dir, const char *const *extra_args,
                const char *const *env)
{
    char bin[512], log[512];
    pd_test_bin("mock-gateway", bin, sizeof bin);
    snprintf(log, sizeof log, "%s.log", data_dir);
    const char *argv[64] = {bin, "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                            "--secret", GW_T_SECRET, "--log-level", "warn"};
    size_t n = 9;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 62; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    if (pd_proc_start(argv, env, log, 20000, p) != PD_OK) {
        fprintf(stderr, "mock-gateway did not start; see %s\n", log);
        abort();
    }
}

void gw_t_fixture_start(struct gw_t_fixture *f, const char *const *extra_args)
{
    pd_test_tmpdir(f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    gw_t_start(&f->gw, f->data, extra_args, NULL);
}

void gw_t_fixture_stop(struct gw_t_fixture *f)
{
    pd_proc_kill9(&f->gw);
    pd_test_rmdir(f->dir);
}

void gw_t_write(const char *dir, const char *name, const char *text, char out[512])
{
    snprintf(out, 512, "%s/%s", dir, name);
    if (pd_write_file(out, text, strlen(text)) != PD_OK)
        abort();
}

long gw_t_create(const char *url, const char *otn, int64_t amount, const char *notify_url,
                 const char *attach)
{
    char u[256], body[1024], att[200] = "";
    snprintf(u, sizeof u, "%s/v1/payments", url);
    if (attach != NULL)
        snprintf(att, sizeof att, ",\"attach\":\"%s\"", attach);
    snprintf(body, sizeof body,
             "{\"out_trade_no\":\"%s\",\"amount\":%lld,\"currency\":\"CNY\",\"notify_url\":\"%s\","
             "\"merchant_id\":\"m-1\"%s}", otn, (long long)amount, notify_url, att);
    return pd_test_http_json("POST", u, body, NULL, NULL);
}

long gw_t_pay(const char *url, const char *otn)
{
    char u[256];
    snprintf(u, sizeof u, "%s/sim/payer/%s/pay", url, otn);
    return pd_test_http_json("POST", u, NULL, NULL, NULL);
}

long gw_t_get(const char *url, const char *path, cJSON **out)
{
    char u[512];
    snprintf(u, sizeof u, "%s%s", url, path);
    return pd_test_http_json("GET", u, NULL, NULL, out);
}

bool gw_t_wait_quiet(const char *url, int64_t timeout_ms)
{
    int64_t deadline = pd_mono_ms() + timeout_ms;
    while (pd_mono_ms() < deadline) {
        cJSON *st = NULL;
        gw_t_get(url, "/sim/status", &st);
        const cJSON *p = cJSON_GetObjectItem(st, "callbacks_pending");
        const cJSON *f = cJSON_GetObjectItem(st, "callbacks_in_flight");
        bool quiet = p && f && p->valuedouble == 0 && f->valuedouble == 0;
        cJSON_Delete(st);
        if (quiet)
            return true;
        pd_sleep_ms(20);
    }
    return false;
}

cJSON *gw_t_journal(const char *url)
{
    char u[256];
    snprintf(u, sizeof u, "%s/sim/journal", url);
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    cJSON *arr = cJSON_CreateArray();
    if (pd_http_request(c, "GET", u, NULL, NULL, 0, 30000, 0, &resp) == PD_OK && resp.body) {
        char *save = NULL;
        for (char *line = strtok_r(resp.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            cJSON *j = cJSON_Parse(line);
            if (j == NULL) {
                fprintf(stderr, "bad journal line: %s\n", line);
                abort();
            }
            cJSON_AddItemToArray(arr, j);
        }
    }
    pd_http_resp_release(&resp);
    pd_http_client_free(c);
    return arr;
}

cJSON *gw_t_ledger_trade(const char *url, const char *otn)
{
    cJSON *ledger = NULL, *found = NULL;
    gw_t_get(url, "/sim/ledger", &ledger);
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(ledger, "trades"))
    {
        if (strcmp(cJSON_GetObjectItem(t, "out_trade_no")->valuestring, otn) == 0)
            found = cJSON_Duplicate(t, 1);
    }
    cJSON_Delete(ledger);
    return found;
}

static bool str_is(const cJSON *item, const char *want)
{
    if (want == NULL)
        return true;
    return cJSON_IsString(item) && strcmp(item->valuestring, want) == 0;
}

int gw_t_count_lines(cJSON *journal, const char *op, const char *otn, const char *fault)
{
    int n = 0;
    cJSON *l;
    cJSON_ArrayForEach(l, journal)
    {
        n += str_is(cJSON_GetObjectItem(l, "op"), op) &&
             str_is(cJSON_GetObjectItem(l, "out_trade_no"), otn) &&
             str_is(cJSON_GetObjectItem(l, "fault"), fault);
    }
    return n;
}
