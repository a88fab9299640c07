#define _GNU_SOURCE    /* syscall(), struct stat64 */
/* Proves the HTTP helpers over real loopback: a server on port 0 reports the
 * port it got; replies carry Content-Length and a Date header that the
 * client parses back to the server's clock (how paydrill reads a child's
 * faked clock); bodies over the limit are refused with PD_ETOOBIG; a
 * refused connection is PD_ECONNECT; a server started until_ready answers
 * 503 "starting" until it is declared ready; a loopback peer is reached
 * directly whatever http_proxy says, any other through the proxy; a
 * request never makes civetweb look for a password file (.htpasswd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_time.h"

/* This test program's stat64() (what libcivetweb imports) comes before
 * libc's, so the files civetweb looks at can be counted: the password files
 * it looks for unless an authorization handler answers first. */
static atomic_int htpasswd_stats;

int stat64(const char *restrict path, struct stat64 *restrict st);
int stat64(const char *restrict path, struct stat64 *restrict st)
{
    size_t n = strlen(path);
    if (n >= 9 && strcmp(path + n - 9, ".htpasswd") == 0)
        atomic_fetch_add(&htpasswd_stats, 1);
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

static int echo_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    char *body = NULL;
    size_t len = 0;
    int rc = pd_http_read_body(conn, 16, &body, &len);
    if (rc == PD_ETOOBIG)
        pd_http_reply_error(conn, 413, "too_big", "over %d bytes", 16);
    else
        pd_http_reply(conn, 200, "text/plain", body ? body : "", len);
    free(body);
    return 200;
}

/* Starts a server on a free loopback port answering /echo; its URL in url. */
static struct mg_context *start_echo(char *url, size_t url_len)
{
    struct pd_http_server_opts opts = {.listen = "127.0.0.1:0", .threads = 2};
    struct mg_context *ctx = NULL;
    int port = 0;
    assert_int_equal(pd_http_server_start(&opts, NULL, &ctx, &port), PD_OK);
    assert_true(port > 0);
    mg_set_request_handler(ctx, "/echo", echo_handler, NULL);
    snprintf(url, url_len, "http://127.0.0.1:%d/echo", port);
    return ctx;
}

static void test_roundtrip_and_date(void **state)
{
    (void)state;
    char url[64];
    struct mg_context *ctx = start_echo(url, sizeof url);

    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp r;
    assert_int_equal(pd_http_request(c, "POST", url, NULL, "hello", 5, 5000, 0, &r), PD_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    int64_t now = pd_now_ms();
    assert_true(r.date_ms > 0);
    assert_true(r.date_ms <= now && now - r.date_ms < 3000);
    pd_http_resp_release(&r);

    assert_int_equal(pd_http_request(c, "POST", url, NULL, "0123456789abcdefXYZ", 19, 5000, 0, &r),
                     PD_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"error\":\"too_big\""));
    pd_http_resp_release(&r);

    /* A response larger than max_resp is refused on the client side. */
    assert_int_equal(pd_http_request(c, "POST", url, NULL, "0123456789", 10, 5000, 4, &r),
                     PD_ETOOBIG);
    pd_http_resp_release(&r);
    mg_stop(ctx);

    assert_int_equal(pd_http_request(c, "GET", url, NULL, NULL, 0, 2000, 0, &r), PD_ECONNECT);
    pd_http_resp_release(&r);
    pd_http_client_free(c);
}

/* pd_http_parse_date reads what pd_http_format_date writes, for instants
 * from 1970 to 9999 (leap days, centuries, the last second of a year),
 * agrees with libcurl's parser on each, reads the obsolete forms through
 * it, and answers 0 for what is not a date. pd_http_format_date's
 * per-thread cache gives the new second's text when the second changes. */
static void test_date_parse(void **state)
{
    (void)state;
    static const int64_t fixed[] = {
        1000, 784111777000, 951782400000 /* 2000-02-29 */, 4107542399000 /* 2100-02-28 23:59:59 */,
        1798761599000 /* 2026-12-31 23:59:59 */, 253402300799000 /* 9999-12-31 23:59:59 */};
    char text[32];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        pd_http_format_date(fixed[i], text);
        assert_int_equal(pd_http_parse_date(text, strlen(text)), fixed[i]);
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = (int64_t)(x % 253402300799ULL) * 1000;
        pd_http_format_date(ms, text);
        int64_t got = pd_http_parse_date(text, strlen(text));
        if (got != ms || (ms >= 1000 && got != (int64_t)curl_getdate(text, NULL) * 1000))
            fail_msg("%s: got %lld, want %lld", text, (long long)got, (long long)ms);
    }
    assert_int_equal(pd_http_parse_date("  Sun, 06 Nov 1994 08:49:37 GMT\r", 32), 784111777000);
    assert_int_equal(pd_http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT", 30), 784111777000);
    assert_int_equal(pd_http_parse_date("Sun Nov  6 08:49:37 1994", 24), 784111777000);
    static const char *const bad[] = {"", "soon", "Sun, 06 Nov 1994 25:49:37 GMT",
                                      "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 0x Nov 1994 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pd_http_parse_date(bad[i], strlen(bad[i])), 0);
    pd_http_format_date(784111777000, text);
    pd_http_format_date(784111778999, text);
    assert_string_equal(text, "Sun, 06 Nov 1994 08:49:38 GMT");
}

/* A server started until_ready answers 503 "starting" (JSON) before its
 * handlers are registered and pd_http_server_ready is called, never
 * civetweb's bare 404; afterwards the handler answers. */
static void test_until_ready(void **state)
{
    (void)state;
    static int owner;
    struct pd_http_server_opts opts = {.listen = "127.0.0.1:0", .threads = 2,
                                       .until_ready = true};
    struct mg_context *ctx = NULL;
    int port = 0;
    assert_int_equal(pd_http_server_start(&opts, NULL, &ctx, &port), PD_EINVAL);
    assert_int_equal(pd_http_server_start(&opts, &owner, &ctx, &port), PD_OK);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp r;
    assert_int_equal(pd_http_request(c, "POST", url, NULL, "hi", 2, 5000, 0, &r), PD_OK);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"error\":\"starting\""));
    pd_http_resp_release(&r);

    mg_set_request_handler(ctx, "/echo", echo_handler, NULL);
    pd_http_server_ready(ctx);
    assert_int_equal(pd_http_request(c, "POST", url, NULL, "hi", 2, 5000, 0, &r), PD_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hi");
    pd_http_resp_release(&r);
    pd_http_client_free(c);
    mg_stop(ctx);
}

static void test_parse_listen(void **state)
{
    (void)state;
    char host[64];
    int port = -1;
    assert_int_equal(pd_http_parse_listen("127.0.0.1:0", host, &port), PD_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(pd_http_parse_listen("127.0.0.1:65536", host, &port), PD_EINVAL);
    assert_int_equal(pd_http_parse_listen("127.0.0.1:", host, &port), PD_EINVAL);
    assert_int_equal(pd_http_parse_listen(":80", host, &port), PD_EINVAL);
    assert_int_equal(pd_http_parse_listen("host:8x", host, &port), PD_EINVAL);
}

static void test_loopback_urls(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "http://127.0.0.1:8080/x", "http://127.0.0.1", "https://127.1.2.3/", "http://localhost:1/",
        "http://LOCALHOST/p?q", "http://[::1]:9/", "http://[::1]", "http://u:p@127.0.0.1:5/",
        "127.0.0.1:80", "http://127.255.255.255#f"};
    static const char *const no[] = {
        "http://128.0.0.1/", "http://127.0.0.1.example.com/", "http://localhost.example/",
        "http://10.0.0.1:80/", "http://[::2]/", "http://[::1]x/", "http://127.0.0.256/",
        "http://127.0.0/", "http://example.com/127.0.0.1", "http://example.com/?h=localhost",
        "http://127.0.0.1@example.com/", "http://1270.0.0.1/", "", "http://",
        "http://127.0.0.-0/", "http://127.+0.0.1/", "http://127. 0.0.1/", "http://127..0.1/",
        "http://127.0.0.1./", "http://0127.0.0.1/"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!pd_http_url_is_loopback(yes[i]))
            fail_msg("%s: not taken for loopback", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (pd_http_url_is_loopback(no[i]))
            fail_msg("%s: taken for loopback", no[i]);
}

/* The proxy variables libcurl reads, saved and cleared so that a no_proxy
 * on the machine running the tests (CI machines behind a proxy set one)
 * cannot make the proxy tests pass without the code under test. */
static const char *const PROXY_VARS[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
                                         "no_proxy",   "NO_PROXY"};
#define N_PROXY_VARS (sizeof PROXY_VARS / sizeof *PROXY_VARS)

static void proxy_env_clear(char *saved[N_PROXY_VARS])
{
    for (size_t i = 0; i < N_PROXY_VARS; i++) {
        const char *v = getenv(PROXY_VARS[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(PROXY_VARS[i]);
    }
}

static void proxy_env_restore(char *saved[N_PROXY_VARS])
{
    for (size_t i = 0; i < N_PROXY_VARS; i++) {
        if (saved[i] != NULL)
            setenv(PROXY_VARS[i], saved[i], 1);
        else
            unsetenv(PROXY_VARS[i]);
        free(saved[i]);
    }
}

/* A one-shot HTTP proxy stand-in: accepts one connection, keeps the
 * request's first line and answers 204. */
struct fake_proxy {
    int fd;
    char line[256];
};

static void *fake_proxy_main(void *arg)
{
    struct fake_proxy *fp = arg;
    int conn = accept(fp->fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    char buf[2048];
    ssize_t n = recv(conn, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(fp->line, sizeof fp->line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    static const char reply[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n";
    (void)!send(conn, reply, sizeof reply - 1, 0);
    close(conn);
    return NULL;
}

static int fake_proxy_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    /* accept gives up after 10 s: a case that failed before connecting
     * leaves no thread blocked for ever. */
    struct timeval tv = {.tv_sec = 10};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* With http_proxy naming a port where nothing listens, a request to the
 * loopback server still gets through (a proxied one would be refused);
 * a request for any other host still goes to the proxy the environment
 * names, as libcurl does by default. */
static void test_proxy_skipped_for_loopback(void **state)
{
    (void)state;
    char url[64], proxy[64];
    struct mg_context *ctx = start_echo(url, sizeof url);
    int port;
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp r;
    char *saved[N_PROXY_VARS];
    proxy_env_clear(saved);
    assert_int_equal(setenv("http_proxy", "http://127.0.0.1:1", 1), 0);
    assert_int_equal(pd_http_request(c, "POST", url, NULL, "hi", 2, 5000, 0, &r), PD_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hi");
    pd_http_resp_release(&r);
    mg_stop(ctx);

    static struct fake_proxy fp;   /* static: its thread may outlive a failed case */
    fp = (struct fake_proxy){.fd = fake_proxy_listen(&port)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fake_proxy_main, &fp), 0);
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);
    assert_int_equal(setenv("http_proxy", proxy, 1), 0);
    /* 192.0.2.1 is TEST-NET-1: only the proxy can answer for it. */
    assert_int_equal(pd_http_request(c, "POST", "http://192.0.2.1:9/echo", NULL, "hi", 2, 5000,
                                     0, &r), PD_OK);
    assert_int_equal(r.status, 204);
    pd_http_resp_release(&r);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(fp.fd);
    assert_string_equal(fp.line, "POST http://192.0.2.1:9/echo HTTP/1.1");
    proxy_env_restore(saved);
    pd_http_client_free(c);
}

/* civetweb authorizes a request, unless a handler does, by looking for a
 * .htpasswd file: with no document root, "/.htpasswd" at the root of the
 * file system, one stat() per request. The product's servers sign their
 * messages instead; a stray /.htpasswd must not make them answer 401. */
static void test_no_password_file_lookup(void **state)
{
    (void)state;
    char url[64];
    struct mg_context *ctx = start_echo(url, sizeof url);
    pd_http_client *c = pd_http_client_new();
    atomic_store(&htpasswd_stats, 0);
    for (int i = 0; i < 5; i++) {
        struct pd_http_resp r;
        assert_int_equal(pd_http_request(c, "POST", url, NULL, "x", 1, 5000, 0, &r), PD_OK);
        assert_int_equal(r.status, 200);
        pd_http_resp_release(&r);
    }
    assert_int_equal(atomic_load(&htpasswd_stats), 0);
    pd_http_client_free(c);
    mg_stop(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_date),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_no_password_file_lookup),
        cmocka_unit_test(test_until_ready),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_loopback_urls),
        cmocka_unit_test(test_proxy_skipped_for_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
