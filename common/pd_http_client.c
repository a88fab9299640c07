/* pd_http_client.c -- the HTTP client every program uses (pd_http_request).
 *
 * Two ways to the peer:
 * - plain http:// to a literal loopback address (127.0.0.0/8 or [::1]),
 *   which is every peer of a run but a --sut-url SUT elsewhere: a small
 *   HTTP/1.1 client of its own over non-blocking sockets, a few connections
 *   kept alive per client;
 * - anything else (https, a host name, a proxy, credentials in the URL):
 *   libcurl.
 * PAYDRILL_HTTP_CLIENT=curl sends everything through libcurl.
 *
 * Why its own client: an exchange through libcurl cost ~25 us of CPU more
 * than through a socket (bench/cost_bench.c), six exchanges an order, and
 * libcurl was ~20 % of mock-gateway's and paydrill's CPU in the end-to-end
 * benchmark (docs/benchmarks.md, "Stop 19").
 *
 * What the own client does as libcurl did, so that a run sees the same
 * traffic either way (tests/unit/test_pd_http_client.c runs every case
 * against both):
 * - the request: "Host" (with the port unless 80), "Accept: * / *", the
 *   caller's headers ("Name:" alone removes a default header, "Name;" sends
 *   it empty), "Content-Length" for every method but GET, and
 *   "Content-Type: application/x-www-form-urlencoded" when a body goes
 *   without a Content-Type;
 * - the answer: any number of 1xx answers skipped; the body framed by
 *   chunked transfer coding, Content-Length, or the end of the connection;
 *   HTTP/1.0 kept alive only when it says so; "Connection: close" obeyed;
 * - a kept-alive connection the peer closed while idle is noticed before
 *   use, and a request on a reused connection that got no byte of an answer
 *   (the peer closed it under us) is sent once more on a new connection;
 * - timeout_ms covers connecting, sending and the whole answer, on the
 *   process's monotonic clock (libfaketime's, in a sped-up run: as libcurl).
 */
#define _GNU_SOURCE
#include "pd_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "pd_time.h"

#define LEAN_CONNS 4                /* kept-alive connections a client holds */
#define HEAD_MAX (100 * 1024)       /* one answer's status line and headers */
#define LINE_MAX_CHUNK 4096         /* a chunk-size line, a trailer line */
#define READ_SIZE 16384

struct lean_conn {
    int fd;           /* -1: free */
    char key[64];     /* "127.0.0.1:8080", "[::1]:80" */
    uint64_t used;    /* last use, for evicting the oldest */
};

struct pd_http_client {
    CURL *easy;                         /* NULL until a request needs libcurl */
    bool curl_only;                     /* PAYDRILL_HTTP_CLIENT=curl */
    struct lean_conn conns[LEAN_CONNS];
    uint64_t tick;
    char *in;                           /* received, not yet consumed: in[pos, len) */
    size_t pos, len, cap;
    struct pd_buf head;                 /* the request's head, reused */
};

/* PAYDRILL_HTTP_CLIENT=curl: every request through libcurl. */
static bool curl_forced(void)
{
    const char *v = getenv("PAYDRILL_HTTP_CLIENT");
    return v != NULL && strcmp(v, "curl") == 0;
}

pd_http_client *pd_http_client_new(void)
{
    pd_http_global_init();
    pd_http_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->curl_only = curl_forced();
    for (int i = 0; i < LEAN_CONNS; i++)
        c->conns[i].fd = -1;
    pd_buf_init(&c->head, 0);
    return c;
}

void pd_http_client_free(pd_http_client *client)
{
    if (client == NULL)
        return;
    for (int i = 0; i < LEAN_CONNS; i++)
        if (client->conns[i].fd >= 0)
            close(client->conns[i].fd);
    if (client->easy != NULL)
        curl_easy_cleanup(client->easy);
    pd_buf_release(&client->head);
    free(client->in);
    free(client);
}

/* ---- libcurl ---- */

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    int64_t *date_ms = userdata;
    size_t n = size * nitems;
    if (n > 5 && strncasecmp(ptr, "Date:", 5) == 0) {
        int64_t ms = pd_http_parse_date(ptr + 5, n - 5);
        if (ms > 0)
            *date_ms = ms;
    }
    return n;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct pd_buf *buf = userdata;
    size_t n = size * nmemb;
    if (pd_buf_append(buf, ptr, n) != PD_OK)
        return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
    return n;
}

static int curl_request(pd_http_client *client, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t body_len,
                        long timeout_ms, struct pd_buf *buf, struct pd_http_resp *out)
{
    if (client->easy == NULL && (client->easy = curl_easy_init()) == NULL)
        return PD_ENOMEM;
    CURL *e = client->easy;
    struct curl_slist *list = NULL;
    curl_easy_reset(e);
    pd_http_easy_url(e, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &out->date_ms);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    /* No "Expect: 100-continue" round trip on larger bodies. */
    list = curl_slist_append(list, "Expect:");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);

    CURLcode result = curl_easy_perform(e);
    curl_slist_free_all(list);
    switch (result) {
    case CURLE_OK:
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
        return PD_OK;
    case CURLE_OPERATION_TIMEDOUT: return PD_ETIMEDOUT;
    case CURLE_COULDNT_CONNECT: return PD_ECONNECT;
    case CURLE_WRITE_ERROR: return PD_ETOOBIG;
    default: return PD_EIO;
    }
}

/* ---- the own client: the URL ---- */

struct lean_url {
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char key[64];            /* address and port: which kept connection */
    char host[64];           /* the Host header's value */
    const char *target;      /* path and query */
};

/* True when the own client serves url: "http://", a literal loopback
 * address, an optional port, and a path of printable ASCII with no
 * fragment (no path: "/"). Anything else goes to libcurl. */
static bool lean_parse(const char *url, struct lean_url *u)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *p = url + 7;
    size_t hn = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#@");
    char addr[48];
    if (hn < 2 || hn >= sizeof addr || (p[0] == '[' && p[hn - 1] != ']'))
        return false;
    memset(&u->sa, 0, sizeof u->sa);
    unsigned port = 80;
    const char *q = p + hn;
    if (*q == ':') {
        size_t digits = strspn(q + 1, "0123456789");
        if (digits == 0 || digits > 5)
            return false;
        port = (unsigned)strtoul(q + 1, NULL, 10);
        if (port == 0 || port > 65535)
            return false;
        q += 1 + digits;
    }
    if (*q != '/' && *q != '\0')
        return false;                       /* "?query" with no path, "@": libcurl */
    for (const char *t = q; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f || *t == '#')
            return false;
    /* The loopback addresses pd_http_url_is_loopback names: [::1] as
     * written, or four decimal parts with 127 first. */
    if (p[0] == '[') {
        if (hn != 5 || memcmp(p, "[::1]", 5) != 0)
            return false;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->sa;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        u->sa_len = sizeof *s6;
    } else {
        memcpy(addr, p, hn);
        addr[hn] = '\0';
        struct sockaddr_in *s4 = (struct sockaddr_in *)&u->sa;
        if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1 ||
            (ntohl(s4->sin_addr.s_addr) >> 24) != 127)
            return false;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        u->sa_len = sizeof *s4;
    }
    snprintf(u->key, sizeof u->key, "%.*s:%u", (int)hn, p, port);
    if (port == 80)
        snprintf(u->host, sizeof u->host, "%.*s", (int)hn, p);
    else
        snprintf(u->host, sizeof u->host, "%.*s:%u", (int)hn, p, port);
    u->target = *q != '\0' ? q : "/";
    return true;
}

bool pd_http_client_own(const char *url)
{
    struct lean_url u;
    return !curl_forced() && lean_parse(url, &u);
}

/* ---- the own client: the request ---- */

static bool header_is(const char *line, size_t name_len, const char *name)
{
    return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* Writes the request head into c->head. PD_EINVAL for a method that is
 * not a token of letters, or a header line without a name or with a line
 * break in it. */
static int build_head(pd_http_client *c, const char *method, const struct lean_url *u,
                      const char *const *headers, bool has_body, size_t body_len)
{
    bool want_host = true, want_accept = true, want_type = has_body;
    struct pd_buf *h = &c->head;
    h->len = 0;
    size_t m = strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    if (m == 0 || method[m] != '\0')
        return PD_EINVAL;
    int rc = pd_buf_printf(h, "%s %s HTTP/1.1\r\n", method, u->target);
    for (size_t i = 0; rc == PD_OK && headers != NULL && headers[i] != NULL; i++) {
        const char *line = headers[i];
        size_t n = strcspn(line, ":;");
        if (n == 0 || line[n] == '\0' || strpbrk(line, "\r\n") != NULL)
            return PD_EINVAL;
        if (header_is(line, n, "Host"))
            want_host = false;
        else if (header_is(line, n, "Accept"))
            want_accept = false;
        else if (header_is(line, n, "Content-Type"))
            want_type = false;
        const char *v = line + n + 1;
        if (line[n] == ';')                 /* "Name;": the header, empty */
            rc = pd_buf_printf(h, "%.*s:\r\n", (int)n, line);
        else if (v[strspn(v, " \t")] != '\0')
            rc = pd_buf_printf(h, "%s\r\n", line);
        /* else "Name:" alone: the default header removed, nothing sent */
    }
    if (rc == PD_OK && want_host)
        rc = pd_buf_printf(h, "Host: %s\r\n", u->host);
    if (rc == PD_OK && want_accept)
        rc = pd_buf_puts(h, "Accept: */*\r\n");
    if (rc == PD_OK && has_body)
        rc = pd_buf_printf(h, "Content-Length: %zu\r\n", body_len);
    if (rc == PD_OK && want_type)
        rc = pd_buf_puts(h, "Content-Type: application/x-www-form-urlencoded\r\n");
    if (rc == PD_OK)
        rc = pd_buf_puts(h, "\r\n");
    return rc;
}

/* ---- the own client: the transport ---- */

/* One exchange on one connection. */
struct xfer {
    pd_http_client *c;
    int fd;
    int64_t deadline;        /* pd_mono_ms */
    size_t received;         /* bytes of the answer so far */
    bool eof;
};

/* Waits for events on x->fd until the deadline: PD_OK or PD_ETIMEDOUT. */
static int wait_fd(struct xfer *x, short events)
{
    for (;;) {
        int64_t left = x->deadline - pd_mono_ms();
        if (left <= 0)
            return PD_ETIMEDOUT;
        struct pollfd pfd = {.fd = x->fd, .events = events};
        int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return PD_OK;
        if (n < 0 && errno != EINTR)
            return PD_EIO;
    }
}

static int lean_connect(const struct lean_url *u, struct xfer *x)
{
    int fd = socket(u->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PD_ECONNECT;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    x->fd = fd;
    if (connect(fd, (const struct sockaddr *)&u->sa, u->sa_len) == 0)
        return PD_OK;
    int rc = PD_ECONNECT;
    if (errno == EINPROGRESS) {
        rc = wait_fd(x, POLLOUT);
        int err = 0;
        socklen_t len = sizeof err;
        if (rc == PD_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0))
            rc = PD_ECONNECT;
        if (rc == PD_OK)
            return PD_OK;
        if (rc == PD_EIO)
            rc = PD_ECONNECT;
    }
    close(fd);
    x->fd = -1;
    return rc;
}

/* After a send or receive that failed with errno: PD_OK to try it again
 * (interrupted, or the socket is ready now), else the error. */
static int io_again(struct xfer *x, short events)
{
    if (errno == EINTR)
        return PD_OK;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return PD_EIO;
    return wait_fd(x, events);
}

static int send_all(struct xfer *x, const char *head, size_t head_len, const char *body,
                    size_t body_len)
{
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body_len > 0 ? 2 : 1};
    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(x->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            int rc = io_again(x, POLLOUT);
            if (rc != PD_OK)
                return rc;
            continue;
        }
        while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov[0].iov_len) {
            n -= (ssize_t)msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
            msg.msg_iov[0].iov_len -= (size_t)n;
        }
    }
    return PD_OK;
}

/* Receives more of the answer into c->in. PD_OK with x->eof set when the
 * peer closed; PD_EIO on a reset. */
static int fill(struct xfer *x)
{
    pd_http_client *c = x->c;
    if (c->pos > 0 && c->pos == c->len)
        c->pos = c->len = 0;
    if (c->cap - c->len < READ_SIZE / 2) {
        if (c->pos > 0) {
            memmove(c->in, c->in + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (c->cap - c->len < READ_SIZE / 2) {
            size_t cap = c->cap ? c->cap * 2 : READ_SIZE;
            char *p = realloc(c->in, cap);
            if (p == NULL)
                return PD_ENOMEM;
            c->in = p;
            c->cap = cap;
        }
    }
    for (;;) {
        ssize_t n = recv(x->fd, c->in + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            x->received += (size_t)n;
            return PD_OK;
        }
        if (n == 0) {
            x->eof = true;
            return PD_OK;
        }
        int rc = io_again(x, POLLIN);
        if (rc != PD_OK)
            return rc;
    }
}

/* The next line (CRLF or LF ended, the ending cut off) in *line and *n,
 * consumed. PD_EIO when it does not end within max bytes or the peer
 * closes first. */
static int read_line(struct xfer *x, size_t max, const char **line, size_t *n)
{
    pd_http_client *c = x->c;
    size_t scanned = 0;
    for (;;) {
        size_t unread = c->len - c->pos - scanned;
        char *nl = unread > 0 ? memchr(c->in + c->pos + scanned, '\n', unread) : NULL;
        if (nl != NULL) {
            size_t len = (size_t)(nl - (c->in + c->pos));
            if (len > max)
                return PD_EIO;
            *line = c->in + c->pos;
            *n = len > 0 && nl[-1] == '\r' ? len - 1 : len;
            c->pos += len + 1;
            return PD_OK;
        }
        scanned = c->len - c->pos;
        if (scanned > max)
            return PD_EIO;
        int rc = fill(x);
        if (rc != PD_OK)
            return rc;
        if (x->eof)
            return PD_EIO;
    }
}

/* Moves n bytes of body (or, n == SIZE_MAX, all until the peer closes)
 * into body. */
static int read_body(struct xfer *x, size_t n, struct pd_buf *body)
{
    pd_http_client *c = x->c;
    for (;;) {
        size_t have = c->len - c->pos, take = have < n ? have : n;
        if (take > 0) {
            if (pd_buf_append(body, c->in + c->pos, take) != PD_OK)
                return PD_ETOOBIG;
            c->pos += take;
            if (n != SIZE_MAX)
                n -= take;
        }
        if (n == 0)
            return PD_OK;
        int rc = fill(x);
        if (rc != PD_OK)
            return rc;
        if (x->eof)
            return n == SIZE_MAX ? PD_OK : PD_EIO;
    }
}

static int read_chunked(struct xfer *x, struct pd_buf *body)
{
    const char *line;
    size_t n;
    for (;;) {
        int rc = read_line(x, LINE_MAX_CHUNK, &line, &n);
        if (rc != PD_OK)
            return rc;
        size_t digits = 0;
        uint64_t size = 0;
        for (; digits < n && digits < 16 && isxdigit((unsigned char)line[digits]); digits++) {
            int ch = line[digits] | 0x20;
            size = size * 16 + (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        }
        if (digits == 0 || (digits < n && strchr(" \t;", line[digits]) == NULL))
            return PD_EIO;                  /* then only white space or extensions */
        if (size == 0)
            break;
        if (size > body->limit - body->len)
            return PD_ETOOBIG;
        if ((rc = read_body(x, (size_t)size, body)) != PD_OK ||
            (rc = read_line(x, 1, &line, &n)) != PD_OK)
            return rc;
        if (n != 0)
            return PD_EIO;                  /* the chunk's data must end with its CRLF */
    }
    do {                                    /* trailers, up to the empty line */
        int rc = read_line(x, LINE_MAX_CHUNK, &line, &n);
        if (rc != PD_OK)
            return rc;
    } while (n > 0);
    return PD_OK;
}

/* What the head of an answer says. */
struct head {
    long status;
    bool http10, keep_alive_named, close_named, chunked, te_other;
    bool has_length;
    uint64_t length;
};

static bool value_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, token, tl) == 0 && (i == 0 || strchr(" \t,", v[i - 1])) &&
            (i + tl == n || strchr(" \t,;", v[i + tl])))
            return true;
    return false;
}

/* One header line of an answer. PD_EIO when it cannot be read. */
static int parse_header(const char *line, size_t n, struct head *h, int64_t *date_ms)
{
    if (n == 0 || line[0] == ' ' || line[0] == '\t')
        return PD_OK;                       /* obsolete line folding: ignored */
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return PD_EIO;
    size_t name = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vn = n - name - 1;
    while (vn > 0 && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (header_is(line, name, "Content-Length")) {
        uint64_t len = 0;
        if (vn == 0 || vn > 18)
            return PD_EIO;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9')
                return PD_EIO;
            len = len * 10 + (uint64_t)(v[i] - '0');
        }
        if (h->has_length && h->length != len)
            return PD_EIO;
        h->has_length = true;
        h->length = len;
    } else if (header_is(line, name, "Transfer-Encoding")) {
        if (value_has_token(v, vn, "chunked"))
            h->chunked = true;
        else if (vn > 0 && !(vn == 8 && strncasecmp(v, "identity", 8) == 0))
            h->te_other = true;
    } else if (header_is(line, name, "Connection")) {
        if (value_has_token(v, vn, "close"))
            h->close_named = true;
        if (value_has_token(v, vn, "keep-alive"))
            h->keep_alive_named = true;
    } else if (header_is(line, name, "Date")) {
        int64_t ms = pd_http_parse_date(v, vn);
        if (ms > 0)
            *date_ms = ms;
    }
    return PD_OK;
}

/* Reads one answer's status line and headers. */
static int read_head(struct xfer *x, struct head *h, int64_t *date_ms)
{
    const char *line;
    size_t n, total = 0;
    memset(h, 0, sizeof *h);
    int rc = read_line(x, HEAD_MAX, &line, &n);
    if (rc != PD_OK)
        return rc;
    /* "HTTP/1.1 200 OK": the version, a space, three digits, then a space
     * or the end. */
    if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' ||
        line[11] < '0' || line[11] > '9' || (n > 12 && line[12] != ' '))
        return PD_EIO;
    h->http10 = line[7] == '0';
    h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    total += n;
    for (;;) {
        if ((rc = read_line(x, HEAD_MAX - total, &line, &n)) != PD_OK)
            return rc;
        if (n == 0)
            return PD_OK;
        total += n;
        if ((rc = parse_header(line, n, h, date_ms)) != PD_OK)
            return rc;
    }
}

/* Reads one whole answer. *reuse tells whether the connection may carry
 * another request. */
static int read_answer(struct xfer *x, bool head_only, struct pd_buf *body,
                       struct pd_http_resp *out, bool *reuse)
{
    struct head h;
    int rc;
    *reuse = false;
    do {                                    /* 1xx: interim, another answer follows */
        if ((rc = read_head(x, &h, &out->date_ms)) != PD_OK)
            return rc;
        if (h.status == 101)
            return PD_EIO;                  /* no protocol switch was asked for */
    } while (h.status < 200);
    out->status = h.status;
    bool keep = h.http10 ? h.keep_alive_named && !h.close_named : !h.close_named;
    if (head_only || h.status == 204 || h.status == 304) {
        rc = PD_OK;
    } else if (h.chunked && !h.te_other) {
        rc = read_chunked(x, body);
    } else if (h.has_length && !h.te_other && !h.chunked) {
        rc = h.length > body->limit - body->len ? PD_ETOOBIG : read_body(x, h.length, body);
    } else {
        keep = false;                       /* the body ends when the peer closes */
        rc = read_body(x, SIZE_MAX, body);
    }
    *reuse = rc == PD_OK && keep && !x->eof && x->c->pos == x->c->len;
    return rc;
}

/* ---- the own client: one request ---- */

static struct lean_conn *conn_for(pd_http_client *c, const char *key)
{
    struct lean_conn *oldest = &c->conns[0];
    for (int i = 0; i < LEAN_CONNS; i++) {
        struct lean_conn *k = &c->conns[i];
        if (k->fd >= 0 && strcmp(k->key, key) == 0)
            return k;
        if (k->fd < 0 || (oldest->fd >= 0 && k->used < oldest->used))
            oldest = k;
    }
    if (oldest->fd >= 0) {
        close(oldest->fd);
        oldest->fd = -1;
    }
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    return oldest;
}

/* True when an idle kept connection has anything to read: the peer closed
 * it, or sent what nobody asked for. Either way it is of no more use. */
static bool conn_stale(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) != 0;
}

static int lean_request(pd_http_client *c, const struct lean_url *u, const char *method,
                        const char *body, size_t body_len, int64_t deadline,
                        struct pd_buf *buf, struct pd_http_resp *out)
{
    struct lean_conn *k = conn_for(c, u->key);
    k->used = ++c->tick;
    bool head_only = strcmp(method, "HEAD") == 0;
    for (int attempt = 0;; attempt++) {
        bool reused = k->fd >= 0;
        if (reused && conn_stale(k->fd)) {
            close(k->fd);
            k->fd = -1;
            reused = false;
        }
        struct xfer x = {.c = c, .fd = k->fd, .deadline = deadline};
        c->pos = c->len = 0;
        int rc = reused ? PD_OK : lean_connect(u, &x);
        if (rc != PD_OK)
            return rc;
        k->fd = x.fd;
        rc = send_all(&x, c->head.data, c->head.len, body, body_len);
        bool reuse = false;
        if (rc == PD_OK)
            rc = read_answer(&x, head_only, buf, out, &reuse);
        if (rc == PD_OK && reuse)
            return PD_OK;
        close(k->fd);
        k->fd = -1;
        /* A reused connection the peer closed under the request, before
         * any byte of an answer: once more on a new one (libcurl does). */
        if (rc == PD_EIO && reused && x.received == 0 && attempt == 0) {
            out->status = 0;
            out->date_ms = 0;
            continue;
        }
        return rc;
    }
}

int pd_http_request(pd_http_client *client, const char *method, const char *url,
                    const char *const *headers, const char *body, size_t body_len,
                    long timeout_ms, size_t max_resp, struct pd_http_resp *out)
{
    out->status = 0;
    out->body = NULL;
    out->len = 0;
    out->date_ms = 0;
    if (timeout_ms <= 0)
        timeout_ms = 10000;
    struct pd_buf buf;
    pd_buf_init(&buf, max_resp ? max_resp : (size_t)64 << 20);
    struct lean_url u;
    int rc;
    if (!client->curl_only && lean_parse(url, &u)) {
        bool has_body = body != NULL || strcmp(method, "GET") != 0;
        rc = build_head(client, method, &u, headers, has_body, body ? body_len : 0);
        if (rc == PD_OK)
            rc = lean_request(client, &u, method, body, body ? body_len : 0,
                              pd_mono_ms() + timeout_ms, &buf, out);
    } else {
        rc = curl_request(client, method, url, headers, body, body_len, timeout_ms, &buf, out);
    }
    if (rc == PD_OK) {
        out->len = buf.len;
        out->body = pd_buf_take(&buf);
        return out->body ? PD_OK : PD_ENOMEM;
    }
    out->status = 0;
    pd_buf_release(&buf);
    return rc;
}

void pd_http_resp_release(struct pd_http_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}
