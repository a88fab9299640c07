/* Proves the HTTP helpers over real loopback: a server on port 0 reports the
 * port it got; replies carry Content-Length and a Date header that the
 * client parses back to the server's clock (how paydrill reads a child's
 * faked clock); bodies over the limit are refused with PD_ETOOBIG; a
 * refused connection is PD_ECONNECT; a server started until_ready answers
 * 503 "starting" until it is declared ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_time.h"

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

static void test_roundtrip_and_date(void **state)
{
    (void)state;
    struct pd_http_server_opts opts = {.listen = "127.0.0.1:0", .threads = 2};
    struct mg_context *ctx = NULL;
    int port = 0;
    assert_int_equal(pd_http_server_start(&opts, NULL, &ctx, &port), PD_OK);
    assert_true(port > 0);
    mg_set_request_handler(ctx, "/echo", echo_handler, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_date),
        cmocka_unit_test(test_until_ready),
        cmocka_unit_test(test_parse_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
