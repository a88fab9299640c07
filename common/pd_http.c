#include "pd_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_time.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    mg_init_library(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void pd_http_global_init(void)
{
    pthread_once(&init_once, global_init);
}

int pd_http_parse_listen(const char *listen, char host[64], int *out_port)
{
    if (listen == NULL)
        return PD_EINVAL;
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= 64)
        return PD_EINVAL;
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return PD_EINVAL;
    long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return PD_EINVAL;
        port = port * 10 + (*p - '0');
    }
    if (port > 65535)
        return PD_EINVAL;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *out_port = (int)port;
    return PD_OK;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    PD_LOG(PD_LOG_WARN, "http", "act=civetweb msg=\"%s\"", message);
    return 1;
}

/* civetweb's request and keep-alive timeouts guard the transport in real
 * time (a stalled client, an idle connection). Under libfaketime sped up
 * S-fold they would last S times less real time -- 60 ms at x1000, closing
 * idle keep-alive connections under a client's feet. paydrill passes the
 * speed-up in PAYDRILL_TIME_SCALE; these two timeouts are multiplied by it
 * (1..100000) so they keep their real-time length. Payment timeouts are
 * not touched: they belong to the simulated timeline. */
double pd_http_time_factor(void)
{
    const char *v = getenv("PAYDRILL_TIME_SCALE");
    if (v == NULL || *v == '\0')
        return 1.0;
    char *end = NULL;
    double f = strtod(v, &end);
    if (end == v || *end != '\0' || !(f >= 1.0) || f > 100000.0)
        return 1.0;
    return f;
}

/* Servers started with opts.until_ready whose handlers are not all
 * registered yet, keyed by their user_data. civetweb accepts connections as
 * soon as mg_start binds the port; without this a request arriving before
 * mg_set_request_handler would get civetweb's bare 404 (a restarted
 * payment-center answered a submission 404 that way). */
#define GATES_MAX 16
static pthread_mutex_t gates_mu = PTHREAD_MUTEX_INITIALIZER;
static const void *gates[GATES_MAX];
static int gates_n;   /* read without the lock as a fast path */

static int gate_set(const void *user_data, bool closed)
{
    int rc = PD_OK;
    pthread_mutex_lock(&gates_mu);
    int i = 0;
    while (i < GATES_MAX && gates[i] != user_data)
        i++;
    if (closed && i == GATES_MAX) {
        for (i = 0; i < GATES_MAX && gates[i] != NULL; i++)
            ;
        rc = i < GATES_MAX ? PD_OK : PD_ENOMEM;
        if (rc == PD_OK)
            gates[i] = user_data;
    } else if (!closed && i < GATES_MAX) {
        gates[i] = NULL;
    }
    int n = 0;
    for (i = 0; i < GATES_MAX; i++)
        n += gates[i] != NULL;
    __atomic_store_n(&gates_n, n, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&gates_mu);
    return rc;
}

static bool gate_closed(const void *user_data)
{
    if (__atomic_load_n(&gates_n, __ATOMIC_ACQUIRE) == 0)
        return false;
    bool closed = false;
    pthread_mutex_lock(&gates_mu);
    for (int i = 0; i < GATES_MAX && !closed; i++)
        closed = gates[i] == user_data;
    pthread_mutex_unlock(&gates_mu);
    return closed;
}

static int begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (ri == NULL || ri->user_data == NULL || !gate_closed(ri->user_data))
        return 0;
    pd_http_reply_error(conn, 503, "starting", "the server is starting; retry shortly");
    return 503;
}

void pd_http_server_ready(struct mg_context *ctx)
{
    gate_set(mg_get_user_data(ctx), false);
}

/* Every request is authorized here: the product's messages carry their own
 * signatures, checked by the handlers. Without an authorization handler
 * civetweb looks for a password file on every request (with no document
 * root, /.htpasswd at the root of the file system): one stat() a request,
 * and a stray /.htpasswd would have every endpoint answer 401. */
static int authorize_all(struct mg_connection *conn, void *cbdata)
{
    (void)conn;
    (void)cbdata;
    return 1;
}

int pd_http_server_start(const struct pd_http_server_opts *opts, void *user_data,
                         struct mg_context **out_ctx, int *out_port)
{
    char host[64];
    int port = 0;
    if (pd_http_parse_listen(opts->listen, host, &port) != PD_OK)
        return PD_EINVAL;
    pd_http_global_init();

    char threads[16], timeout[24], keep_alive[24];
    double factor = pd_http_time_factor();
    snprintf(threads, sizeof threads, "%d", opts->threads > 0 ? opts->threads : 8);
    snprintf(timeout, sizeof timeout, "%.0f",
             (opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000) * factor);
    snprintf(keep_alive, sizeof keep_alive, "%.0f", 60000 * factor);
    const char *options[] = {
        "listening_ports", opts->listen,
        "num_threads", threads,
        "request_timeout_ms", timeout,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", keep_alive,
        "tcp_nodelay", "1",
        NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.log_message = log_message;
    callbacks.begin_request = begin_request;
    if (opts->until_ready && (user_data == NULL || gate_set(user_data, true) != PD_OK))
        return PD_EINVAL;
    struct mg_context *ctx = mg_start(&callbacks, user_data, options);
    if (ctx == NULL) {
        gate_set(user_data, false);
        return PD_EIO;
    }
    struct mg_server_port ports[4];
    memset(ports, 0, sizeof ports);
    int n = mg_get_server_ports(ctx, 4, ports);
    if (n < 1) {
        mg_stop(ctx);
        gate_set(user_data, false);
        return PD_EIO;
    }
    mg_set_auth_handler(ctx, "/", authorize_all, NULL);
    *out_ctx = ctx;
    *out_port = ports[0].port;
    return PD_OK;
}

int pd_http_read_body(struct mg_connection *conn, size_t limit, char **out, size_t *out_len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    *out = NULL;
    *out_len = 0;
    if (ri->content_length > 0 && (unsigned long long)ri->content_length > limit)
        return PD_ETOOBIG;
    struct pd_buf buf;
    pd_buf_init(&buf, limit);
    char chunk[8192];
    for (;;) {
        int n = mg_read(conn, chunk, sizeof chunk);
        if (n < 0) {
            pd_buf_release(&buf);
            return PD_EIO;
        }
        if (n == 0)
            break;
        int rc = pd_buf_append(&buf, chunk, (size_t)n);
        if (rc != PD_OK) {
            pd_buf_release(&buf);
            return rc;
        }
    }
    *out_len = buf.len;
    *out = pd_buf_take(&buf);
    return *out ? PD_OK : PD_ENOMEM;
}

const char *pd_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static const char *const date_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const date_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void pd_http_format_date(int64_t epoch_ms, char out[32])
{
    /* Every answer carries one, and the second rarely changes between two
     * answers of a thread: the last one formatted is kept. */
    static _Thread_local int64_t last_s = INT64_MIN;
    static _Thread_local char last[32];
    int64_t sec = epoch_ms / 1000;
    if (sec != last_s) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(last, sizeof last, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 date_days[tm.tm_wday % 7], tm.tm_mday % 100, date_months[tm.tm_mon % 12],
                 (tm.tm_year + 1900) % 10000, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100);
        last_s = sec;
    }
    memcpy(out, last, 32);
}

static int two_digits(const char *p)
{
    return p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9'
               ? (p[0] - '0') * 10 + (p[1] - '0')
               : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t pd_http_parse_date(const char *value, size_t n)
{
    while (n > 0 && (*value == ' ' || *value == '\t'))
        value++, n--;
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r'))
        n--;
    /* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": what every server
     * sends (RFC 9110 5.6.7), read here without a copy or a scanf. */
    if (n == 29 && value[3] == ',' && value[4] == ' ' && value[7] == ' ' && value[11] == ' ' &&
        value[16] == ' ' && value[19] == ':' && value[22] == ':' && value[25] == ' ' &&
        memcmp(value + 26, "GMT", 3) == 0) {
        int day = two_digits(value + 5), hi = two_digits(value + 12), lo = two_digits(value + 14);
        int h = two_digits(value + 17), mi = two_digits(value + 20), sec = two_digits(value + 23);
        int mon = -1;
        for (int i = 0; i < 12; i++)
            if (memcmp(value + 8, date_months[i], 3) == 0)
                mon = i + 1;
        if (day >= 1 && day <= 31 && hi >= 0 && lo >= 0 && mon > 0 && h >= 0 && h <= 23 &&
            mi >= 0 && mi <= 59 && sec >= 0 && sec <= 60) {
            int64_t days = days_from_civil(hi * 100 + lo, mon, day);
            int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec;
            return t > 0 ? t * 1000 : 0;
        }
    }
    /* The obsolete forms (RFC 850, asctime) and anything else: libcurl's
     * parser, on a copy it can terminate. */
    char line[128];
    if (n == 0 || n >= sizeof line)
        return 0;
    memcpy(line, value, n);
    line[n] = '\0';
    time_t t = curl_getdate(line, NULL);
    return t > 0 ? (int64_t)t * 1000 : 0;
}

int pd_http_reply_head(int status, const char *content_type, size_t len, char *out,
                       size_t out_len)
{
    char date[32];
    pd_http_format_date(pd_now_ms(), date);
    return snprintf(out, out_len,
                    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Cache-Control: no-store\r\n\r\n",
                    status, pd_http_reason(status), date, content_type, len);
}

void pd_http_reply(struct mg_connection *conn, int status, const char *content_type,
                   const char *body, size_t len)
{
    /* Head and a small body go out in one write: as two, the client may
     * wake for the head, then sleep and wake again for the body. */
    char out[4096];
    int n = pd_http_reply_head(status, content_type, len, out, 512);
    if (n <= 0 || n >= 512)
        return;
    if (len <= sizeof out - (size_t)n) {
        if (len > 0)
            memcpy(out + n, body, len);
        mg_write(conn, out, (size_t)n + len);
        return;
    }
    mg_write(conn, out, (size_t)n);
    mg_write(conn, body, len);
}

void pd_http_reply_json(struct mg_connection *conn, int status, const cJSON *item)
{
    char *text = pd_json_print(item);
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
        pd_http_reply(conn, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    pd_http_reply(conn, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

void pd_http_reply_error(struct mg_connection *conn, int status, const char *error,
                         const char *detail_fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    cJSON *obj = cJSON_CreateObject();
    if (obj != NULL) {
        cJSON_AddStringToObject(obj, "error", error);
        cJSON_AddStringToObject(obj, "detail", detail);
    }
    pd_http_reply_json(conn, status, obj);
    cJSON_Delete(obj);
}

int pd_http_is_json(const struct mg_connection *conn)
{
    const char *ct = mg_get_header(conn, "Content-Type");
    if (ct == NULL)
        return 0;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int pd_http_query_param(const struct mg_connection *conn, const char *name,
                        char *out, size_t out_len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (ri->query_string == NULL)
        return -1;
    int n = mg_get_var(ri->query_string, strlen(ri->query_string), name, out, out_len);
    return n;
}

/* ---- client (the requests themselves: pd_http_client.c) ---- */

bool pd_http_url_is_loopback(const char *url)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    const char *at = strpbrk(p, "@/?#");
    if (at != NULL && *at == '@')
        p = at + 1;                             /* user:password@ */
    if (strncmp(p, "[::1]", 5) == 0)
        return p[5] == '\0' || strchr(":/?#", p[5]) != NULL;
    size_t n = strcspn(p, ":/?#");
    if (n == 9 && strncasecmp(p, "localhost", 9) == 0)
        return true;
    /* 127.0.0.0/8: four parts of 1 to 3 digits, each at most 255, the
     * first 127; nothing else (a sign or a blank makes curl look the name
     * up in DNS, which may point anywhere). */
    unsigned part[4] = {0};
    size_t k = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9' && digits < 3) {
            part[k] = part[k] * 10 + (unsigned)(p[i] - '0');
            digits++;
        } else if (p[i] == '.' && digits > 0 && k < 3) {
            k++;
            digits = 0;
        } else {
            return false;
        }
    }
    return k == 3 && digits > 0 && part[0] == 127 && part[1] < 256 && part[2] < 256 &&
           part[3] < 256;
}

void pd_http_easy_url(CURL *easy, const char *url)
{
    curl_easy_setopt(easy, CURLOPT_URL, url);
    /* A proxy from the environment (CI machines set http_proxy) would refuse
     * or misroute loopback traffic. "" also spares libcurl reading the
     * proxy variables. */
    if (pd_http_url_is_loopback(url))
        curl_easy_setopt(easy, CURLOPT_PROXY, "");
}
