/* gw_http.c -- the request parser, the answer calls handlers use, and the
 * worker pool of gw_http.h (the loop itself is gw_loop.c). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_http_internal.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"

#define WORKER_FLUSH_AT 65536   /* a worker sends once this much is queued */

/* ---- answers ---- */

/* Sends the queued output from a worker, waiting for the socket. */
static int flush_blocking(gw_conn *c)
{
    int timeout_ms = c->h->request_ms > 600000 ? 600000 : (int)c->h->request_ms;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && poll(&p, 1, timeout_ms) > 0)
            continue;
        c->dropped = true;   /* the client went away or stopped reading */
        return PD_EIO;
    }
    c->out.len = c->out_off = 0;
    return PD_OK;
}

const struct gw_request *gw_conn_request(const gw_conn *conn)
{
    return &conn->req;
}

bool gw_conn_inline(const gw_conn *conn)
{
    return conn->state == C_LOOP;
}

int gw_conn_body(gw_conn *conn, size_t limit, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (conn->req.body_len > limit)
        return PD_ETOOBIG;
    char *p = malloc(conn->req.body_len + 1);
    if (p == NULL)
        return PD_ENOMEM;
    if (conn->req.body_len > 0)
        memcpy(p, conn->req.body, conn->req.body_len);
    p[conn->req.body_len] = '\0';
    *out = p;
    *out_len = conn->req.body_len;
    return PD_OK;
}

int gw_conn_write(gw_conn *conn, const void *data, size_t len)
{
    if (conn->dropped)
        return PD_EIO;
    int rc = pd_buf_append(&conn->out, data, len);
    if (rc == PD_OK && conn->state == C_WORKER && conn->out.len - conn->out_off >= WORKER_FLUSH_AT)
        rc = flush_blocking(conn);
    return rc;
}

int gw_conn_printf(gw_conn *conn, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PD_EIO;
    if ((size_t)n < sizeof small)
        return gw_conn_write(conn, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return PD_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = gw_conn_write(conn, big, (size_t)n);
    free(big);
    return rc;
}

void gw_conn_reply(gw_conn *conn, int status, const char *content_type, const char *body,
                   size_t len)
{
    char head[512];
    int n = pd_http_reply_head(status, content_type, len, head, sizeof head);
    if (n > 2 && (size_t)n < sizeof head) {
        /* A connection that closes after this answer says so (RFC 9112
         * 9.6): the head's blank line goes after the extra field. */
        bool closing = conn->req.close || conn->close_after;
        gw_conn_write(conn, head, (size_t)n - (closing ? 2 : 0));
        if (closing)
            gw_conn_write(conn, "Connection: close\r\n\r\n", 21);
    }
    if (len > 0)
        gw_conn_write(conn, body, len);
}

void gw_conn_drop(gw_conn *conn)
{
    shutdown(conn->fd, SHUT_RDWR);
    conn->dropped = true;
    conn->out.len = conn->out_off = 0;
    PD_LOG(PD_LOG_DEBUG, "gw", "act=drop_connection fd=%d", conn->fd);
}

/* ---- the parser ---- */

/* Answers a malformed request with {"code","message"} and closes after. */
static int refuse(gw_conn *c, int status, const char *code, const char *msg)
{
    char body[300];
    int n = snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}", code, msg);
    c->close_after = true;
    gw_conn_reply(c, status, "application/json", body, (size_t)n);
    PD_LOG(PD_LOG_DEBUG, "gw", "act=http_refuse status=%d code=%s", status, code);
    return -1;
}

/* Index just past the first CRLFCRLF in p[0..n), or 0; the search starts
 * near *from (where the last one stopped) so a client writing one byte at
 * a time costs linear work, and *from is advanced. */
static size_t head_end(const char *p, size_t n, size_t *from)
{
    size_t i = *from > 3 ? *from : 3;
    *from = n;
    for (; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return i + 1;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX of target[0..n) up to '?' into c->req.path. */
static int decode_path(gw_conn *c, const char *t, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
        if (o + 1 >= sizeof c->req.path)
            return refuse(c, 414, "URI_TOO_LONG", "request target: too long");
        int hi = t[i] == '%' && i + 2 < n ? hexval(t[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(t[i + 2]) : -1;
        char ch = lo >= 0 ? (char)(hi * 16 + lo) : t[i];
        if (lo >= 0)
            i += 2;
        if (ch == '\0')
            return refuse(c, 400, "PARAM_ERROR", "request target: NUL byte");
        c->req.path[o++] = ch;
    }
    c->req.path[o] = '\0';
    return 0;
}

/* "METHOD /target HTTP/1.x": fills method and path, *http10. */
static int request_line(gw_conn *c, const char *p, size_t n, bool *http10)
{
    size_t m = 0;
    while (m < n && m < sizeof c->req.method - 1 && p[m] >= 'A' && p[m] <= 'Z')
        m++;
    if (m == 0 || m >= n || p[m] != ' ')
        return refuse(c, 400, "PARAM_ERROR", "request line: malformed method");
    memcpy(c->req.method, p, m);
    c->req.method[m] = '\0';
    const char *t = p + m + 1;
    const char *sp = memchr(t, ' ', n - m - 1);
    if (sp == NULL || t[0] != '/' || (size_t)(p + n - sp) != 9 || strncmp(sp + 1, "HTTP/1.", 7) != 0 ||
        (sp[8] != '0' && sp[8] != '1'))
        return refuse(c, 400, "PARAM_ERROR", "request line: expected METHOD /path HTTP/1.x");
    for (const char *q = t; q < sp; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return refuse(c, 400, "PARAM_ERROR", "request target: control character");
    *http10 = sp[8] == '0';
    return decode_path(c, t, (size_t)(sp - t));
}

struct head {
    bool http10, keep_alive, close, expect, has_length;
    unsigned long long length;
};

static bool token_in(const char *v, size_t n, const char *token)
{
    size_t k = strlen(token);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, token, k) == 0)
            return true;
    return false;
}

static int content_length(gw_conn *c, const char *v, size_t n, struct head *hd)
{
    unsigned long long x = 0;
    if (n == 0)
        return refuse(c, 400, "PARAM_ERROR", "Content-Length: not a number");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return refuse(c, 400, "PARAM_ERROR", "Content-Length: not a number");
        x = x > 1000000000000ULL ? x : x * 10 + (unsigned)(v[i] - '0');
    }
    if (hd->has_length && hd->length != x)
        return refuse(c, 400, "PARAM_ERROR", "Content-Length: given twice");
    if (x > GW_HTTP_BODY_MAX)
        return refuse(c, 413, "PAYLOAD_TOO_LARGE", "body: longer than 1048576 bytes");
    hd->has_length = true;
    hd->length = x;
    return 0;
}

/* One "Name: value" line. */
static int header(gw_conn *c, const char *p, size_t n, struct head *hd)
{
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return refuse(c, 400, "PARAM_ERROR", "header: expected Name: value");
    for (const char *q = p; q < colon; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return refuse(c, 400, "PARAM_ERROR", "header: bad name");
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (nl == 14 && strncasecmp(p, "Content-Length", nl) == 0)
        return content_length(c, v, vl, hd);
    if (nl == 17 && strncasecmp(p, "Transfer-Encoding", nl) == 0)
        return refuse(c, 411, "LENGTH_REQUIRED", "Transfer-Encoding: not supported; send Content-Length");
    if (nl == 10 && strncasecmp(p, "Connection", nl) == 0) {
        hd->close = hd->close || token_in(v, vl, "close");
        hd->keep_alive = hd->keep_alive || token_in(v, vl, "keep-alive");
    } else if (nl == 6 && strncasecmp(p, "Expect", nl) == 0) {
        hd->expect = token_in(v, vl, "100-continue");
    }
    return 0;
}

/* Request line and headers of p[0..n) (n includes the final CRLFCRLF). */
static int parse_head(gw_conn *c, const char *p, size_t n, struct head *hd)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\0' || (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) ||
            (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n')))
            return refuse(c, 400, "PARAM_ERROR", "request: bare CR, LF or NUL");
    const char *eol = strstr(p, "\r\n");
    int st = request_line(c, p, (size_t)(eol - p), &hd->http10);
    for (const char *line = eol + 2; st == 0 && line < p + n - 2; line = eol + 2) {
        eol = strstr(line, "\r\n");
        if (*line == ' ' || *line == '\t')
            return refuse(c, 400, "PARAM_ERROR", "header: folded lines are not allowed");
        st = header(c, line, (size_t)(eol - line), hd);
    }
    return st;
}

int gw__parse(gw_conn *c)
{
    if (c->req_len == 0) {
        size_t end = head_end(c->in.data, c->in.len, &c->scanned);
        if (end == 0 && c->in.len > GW_HTTP_HEADER_MAX)
            return refuse(c, 431, "HEADERS_TOO_LARGE", "request line and headers: over 16384 bytes");
        if (end == 0)
            return 0;
        if (end > GW_HTTP_HEADER_MAX)
            return refuse(c, 431, "HEADERS_TOO_LARGE", "request line and headers: over 16384 bytes");
        char saved = c->in.data[end];
        c->in.data[end] = '\0';   /* pd_buf keeps a byte past len */
        struct head hd = {0};
        int st = parse_head(c, c->in.data, end, &hd);
        c->in.data[end] = saved;
        if (st != 0)
            return st;
        c->head_len = end;
        c->req_len = end + (size_t)hd.length;
        c->req.close = hd.close || (hd.http10 && !hd.keep_alive);
        c->continue_sent = !hd.expect;
    }
    if (c->in.len < c->req_len) {
        if (!c->continue_sent)
            gw_conn_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
        c->continue_sent = true;
        return 0;
    }
    c->req.body = c->in.data + c->head_len;
    c->req.body_len = c->req_len - c->head_len;
    return 1;
}

void gw__consume(gw_conn *c)
{
    size_t n = c->req_len;
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    c->in.data[c->in.len] = '\0';
    c->req_len = c->head_len = c->scanned = 0;
    c->req.body = NULL;
    c->req.body_len = 0;
    c->continue_sent = false;
    if (c->req.close)
        c->close_after = true;
    c->req_start_ms = pd_mono_ms();
}

/* ---- workers ---- */

static void run_slow(gw_http *h, gw_conn *c)
{
    if (flush_blocking(c) == PD_OK)
        h->hooks.slow(h->hooks.ctx, c);
    if (!c->dropped)
        flush_blocking(c);
    gw__consume(c);
    c->want_worker = false;
}

void *gw__worker_main(void *arg)
{
    gw_http *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->work_head == NULL && !h->stopping)
            pthread_cond_wait(&h->cv, &h->mu);
        gw_conn *c = h->work_head;
        bool stopping = h->stopping;
        if (c != NULL && (h->work_head = c->queue_next) == NULL)
            h->work_tail = NULL;
        pthread_mutex_unlock(&h->mu);
        if (c == NULL)
            return NULL;
        if (stopping)
            c->dropped = true;
        else
            run_slow(h, c);
        pthread_mutex_lock(&h->mu);
        c->queue_next = h->back_head;
        h->back_head = c;
        pthread_mutex_unlock(&h->mu);
        uint64_t one = 1;
        if (write(h->wake_fd, &one, sizeof one) < 0)
            PD_LOG(PD_LOG_WARN, "gw", "act=worker_wake err=%d", errno);
    }
}
