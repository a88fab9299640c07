#define _GNU_SOURCE   /* memmem */
#include "sim_collect.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_util.h"

static size_t on_file_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return fwrite(ptr, size, nmemb, (FILE *)userdata) * size;
}

int sim_fetch_to_file(const char *url, const char *path, long timeout_ms)
{
    pd_http_global_init();
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return PD_EIO;
    CURL *e = curl_easy_init();
    if (e == NULL) {
        fclose(f);
        return PD_ENOMEM;
    }
    pd_http_easy_url(e, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_file_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    CURLcode res = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    int rc = fclose(f) == 0 ? PD_OK : PD_EIO;
    if (res == CURLE_COULDNT_CONNECT)
        return PD_ECONNECT;
    if (res != CURLE_OK)
        return PD_EIO;
    return status == 200 ? rc : PD_EPROTO;
}

static int64_t get_i64(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return pd_json_is_int(it) ? (int64_t)it->valuedouble : 0;
}

/* GET url: the gateway's status, the SUT's export pages (30 s each). */
static int get_page(pd_http_client *c, const char *url, struct pd_http_resp *out)
{
    return pd_http_request(c, "GET", url, NULL, NULL, 0, 30000, 0, out);
}

static cJSON *get_json(pd_http_client *c, const char *url, int *out_status)
{
    struct pd_http_resp resp;
    int rc = get_page(c, url, &resp);
    *out_status = rc == PD_OK ? (int)resp.status : 0;
    cJSON *doc = (rc == PD_OK && resp.status == 200 && resp.body)
                     ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
    pd_http_resp_release(&resp);
    return doc;
}

int sim_gateway_status(const char *gateway_url, struct sim_gw_status *out)
{
    memset(out, 0, sizeof *out);
    pd_http_client *c = pd_http_client_new();
    if (c == NULL)
        return PD_ENOMEM;
    char url[256];
    snprintf(url, sizeof url, "%s/sim/status", gateway_url);
    int status = 0;
    cJSON *doc = get_json(c, url, &status);
    pd_http_client_free(c);
    if (doc == NULL)
        return status == 0 ? PD_ECONNECT : PD_EPROTO;
    out->now = get_i64(doc, "now");
    out->trades = get_i64(doc, "trades");
    out->charges = get_i64(doc, "charges");
    out->refunds = get_i64(doc, "refunds");
    out->callbacks_pending = get_i64(doc, "callbacks_pending");
    out->callbacks_in_flight = get_i64(doc, "callbacks_in_flight");
    cJSON_Delete(doc);
    return PD_OK;
}

static bool last_notification_delivered(const cJSON *order)
{
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(order, "notifications");
    const cJSON *last = NULL;
    cJSON_ArrayForEach(last, ns)
        if (last->next == NULL)
            break;
    if (last == NULL)
        return false;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(last, "delivered_at");
    return at != NULL && !cJSON_IsNull(at);
}

static void count_order(const cJSON *o, struct sim_export_stats *st)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const char *s = cJSON_IsString(status) ? status->valuestring : "";
    st->orders++;
    bool paid = strcmp(s, "PAID") == 0, closed = strcmp(s, "CLOSED") == 0;
    st->paid += paid;
    st->closed += closed;
    st->final += paid || closed;
    if ((paid || closed) && !last_notification_delivered(o))
        st->pending_notifications++;
    st->refunds += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "refunds"));
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(o, "client_ref");
    if (!cJSON_IsString(ref))
        st->attach_passed = false;
}

/* Counts one page and appends its orders to f. Sets next (or "" at the end). */
static int scan_page(const cJSON *doc, FILE *f, struct sim_export_stats *st, char next[128])
{
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(doc, "orders");
    if (!cJSON_IsArray(orders))
        return PD_EPROTO;
    const cJSON *o;
    cJSON_ArrayForEach(o, orders) {
        count_order(o, st);
        if (f == NULL)
            continue;
        char *text = pd_json_print(o);
        if (text == NULL)
            return PD_ENOMEM;
        fprintf(f, "%s\n%s", st->orders > 1 ? "," : "", text);
        cJSON_free(text);
    }
    const cJSON *na = cJSON_GetObjectItemCaseSensitive(doc, "next_after");
    next[0] = '\0';
    if (cJSON_IsString(na) && cJSON_GetArraySize(orders) > 0)
        pd_strlcpy(next, na->valuestring, 128);
    return PD_OK;
}

/* One GET of an export page, run on a thread of its own while the page
 * before it is parsed (sim_export_scan). */
struct page_get {
    pd_http_client *c;
    char url[512];
    int rc;
    struct pd_http_resp resp;
    pthread_t tid;
    bool running;
};

static void *page_get_main(void *arg)
{
    struct page_get *g = arg;
    g->rc = get_page(g->c, g->url, &g->resp);
    return NULL;
}

static void page_url(char *out, size_t out_len, const char *sut_url, const char *after)
{
    snprintf(out, out_len, "%s/orders?limit=%d%s%s", sut_url, SIM_EXPORT_PAGE,
             after[0] ? "&after=" : "", after);
}

/* The cursor a page's raw text most likely ends with ("next_after":"ID"
 * as the reference writes it, last in the page), into guess; false when
 * there is none to be read without parsing (absent, null, escaped, too
 * long, or with a byte a URL would have to encode). Only a guess: the
 * parsed page decides, and a wrong guess costs one wasted GET. */
bool sim_export_guess_next(const char *body, size_t len, char guess[128])
{
    static const char key[] = "\"next_after\":\"";
    const char *at = NULL;
    for (const char *p = body; (p = memmem(p, len - (size_t)(p - body), key, sizeof key - 1));
         p++)
        at = p;
    if (at == NULL)
        return false;
    const char *v = at + sizeof key - 1, *end = body + len;
    size_t n = 0;
    /* Only bytes a URL carries as they are (RFC 3986 unreserved): anything
     * else, and the scan goes without fetching ahead. */
    while (v + n < end && n < 127 &&
           (isalnum((unsigned char)v[n]) || strchr("-._~", v[n]) != NULL) && v[n] != '\0')
        n++;
    if (n == 0 || v + n >= end || v[n] != '"')
        return false;
    memcpy(guess, v, n);
    guess[n] = '\0';
    return true;
}

/* Pages are fetched one ahead: while page n is parsed, a second thread
 * already GETs page n+1 at the cursor read from page n's raw text, so the
 * SUT serves while paydrill parses (the quiet check's final scan is inside
 * the benchmark's timed window). When the parsed cursor differs from the
 * guess, the page fetched ahead is dropped and the right one fetched. */
int sim_export_scan(const char *sut_url, const char *path, struct sim_export_stats *out)
{
    memset(out, 0, sizeof *out);
    out->attach_passed = true;
    pd_http_client *c = pd_http_client_new();
    struct page_get ahead = {.c = pd_http_client_new()};
    FILE *f = path ? fopen(path, "w") : NULL;
    if (c == NULL || ahead.c == NULL || (path != NULL && f == NULL)) {
        pd_http_client_free(c);
        pd_http_client_free(ahead.c);
        if (f)
            fclose(f);
        return PD_EIO;
    }
    if (f)
        fputs("{\"orders\":[", f);
    char next[128] = "", guess[128] = "", url[512];
    struct pd_http_resp cur = {0};
    page_url(url, sizeof url, sut_url, "");
    int rc = get_page(c, url, &cur);
    for (int page = 0; page < 100000; page++) {
        if (rc != PD_OK || cur.status != 200 || cur.body == NULL) {
            rc = rc != PD_OK || cur.status == 0 ? PD_ECONNECT : PD_EPROTO;
            break;
        }
        if (sim_export_guess_next(cur.body, cur.len, guess)) {
            page_url(ahead.url, sizeof ahead.url, sut_url, guess);
            ahead.running = pthread_create(&ahead.tid, NULL, page_get_main, &ahead) == 0;
        }
        cJSON *doc = cJSON_ParseWithLength(cur.body, cur.len);
        pd_http_resp_release(&cur);
        rc = doc != NULL ? scan_page(doc, f, out, next) : PD_EPROTO;
        cJSON_Delete(doc);
        bool hit = false;
        if (ahead.running) {
            pthread_join(ahead.tid, NULL);
            ahead.running = false;
            hit = rc == PD_OK && next[0] != '\0' && strcmp(guess, next) == 0;
            if (!hit)
                pd_http_resp_release(&ahead.resp);
        }
        if (rc != PD_OK || next[0] == '\0')
            break;
        if (hit) {
            cur = ahead.resp;               /* its rc is judged at the top */
            rc = ahead.rc;
        } else {
            page_url(url, sizeof url, sut_url, next);
            rc = get_page(c, url, &cur);
        }
    }
    pd_http_resp_release(&cur);
    pd_http_client_free(c);
    pd_http_client_free(ahead.c);
    if (f) {
        fputs("]}\n", f);
        if (fclose(f) != 0 && rc == PD_OK)
            rc = PD_EIO;
    }
    return rc;
}
