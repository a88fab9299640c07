/* Proves the export scan (sim/sim_collect.c) against a scripted SUT export
 * over loopback HTTP: pages are fetched one ahead at the cursor read from
 * the page's raw text, and
 * - with an honest SUT (next_after last, as the reference writes it) every
 *   page is fetched once, none twice;
 * - a page whose raw text misleads the guess (a nested "next_after" after
 *   the real one, or an escaped cursor) costs a wasted GET, never a wrong
 *   or missing page: counts and the file written are those of the honest
 *   run;
 * - a page fetched ahead that is not JSON, answers 500 or never answers
 *   (connection closed) fails the scan as a page fetched in turn would
 *   (PD_EPROTO, PD_EPROTO, PD_ECONNECT), and so does a SUT not listening;
 * - sim_export_guess_next reads the last "next_after":"ID" and refuses
 *   null, escaped, unterminated and oversized cursors, and any with a byte
 *   a URL would have to encode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_util.h"
#include "sim_collect.h"

#define ORDERS 350      /* four pages of SIM_EXPORT_PAGE (100) */

enum mode { HONEST, DECOY, ESCAPED, GARBAGE_PAGE_3, ERROR_PAGE_3, CLOSE_PAGE_3 };

struct sut {
    enum mode mode;
    int gets;                   /* GET /orders answered (under civetweb's threads) */
    pthread_mutex_t mu;
};

static int orders_handler(struct mg_connection *conn, void *cbdata)
{
    struct sut *s = cbdata;
    char after[64] = "", limit[16] = "";
    pd_http_query_param(conn, "after", after, sizeof after);
    pd_http_query_param(conn, "limit", limit, sizeof limit);
    int first = after[0] ? atoi(after + 2) + 1 : 0;     /* ids "o-NNNN" */
    int n = atoi(limit);
    pthread_mutex_lock(&s->mu);
    s->gets++;
    pthread_mutex_unlock(&s->mu);
    if (first == 2 * n && s->mode == GARBAGE_PAGE_3) {
        pd_http_reply(conn, 200, "application/json", "{\"orders\":[", 11);
        return 200;
    }
    if (first == 2 * n && s->mode == ERROR_PAGE_3) {
        pd_http_reply(conn, 500, "application/json", "{}", 2);
        return 500;
    }
    if (first == 2 * n && s->mode == CLOSE_PAGE_3)
        return 1;       /* civetweb closes the connection: no answer at all */
    char *body = malloc(200 * (size_t)n + 256);
    size_t len = 0;
    int last = first + n > ORDERS ? ORDERS : first + n;
    char next[32] = "null";
    if (last < ORDERS)
        snprintf(next, sizeof next, "\"o-%04d\"", last - 1);
    if (s->mode == DECOY)           /* the real cursor first, a nested decoy last */
        len += (size_t)sprintf(body + len, "{\"next_after\":%s,\"orders\":[", next);
    else
        len += (size_t)sprintf(body + len, "{\"orders\":[");
    for (int i = first; i < last; i++) {
        len += (size_t)sprintf(body + len,
                               "%s{\"order_id\":\"o-%04d\",\"client_ref\":\"k-%d\",\"status\":"
                               "\"%s\",\"refunds\":[],\"notifications\":[{\"delivered_at\":1}]",
                               i > first ? "," : "", i, i, i % 3 ? "PAID" : "CLOSED");
        if (s->mode == DECOY)
            len += (size_t)sprintf(body + len, ",\"x\":{\"next_after\":\"o-9999\"}");
        body[len++] = '}';
    }
    if (s->mode == DECOY)
        len += (size_t)sprintf(body + len, "]}");
    else if (s->mode == ESCAPED && last < ORDERS)
        len += (size_t)sprintf(body + len, "],\"next_after\":\"o\\u002d%04d\"}", last - 1);
    else
        len += (size_t)sprintf(body + len, "],\"next_after\":%s}", next);
    pd_http_reply(conn, 200, "application/json", body, len);
    free(body);
    return 200;
}

struct server {
    struct mg_context *ctx;
    char url[64];
};

static void serve(struct sut *s, struct server *srv)
{
    struct pd_http_server_opts opts = {.listen = "127.0.0.1:0", .threads = 4};
    int port = 0;
    assert_int_equal(pd_http_server_start(&opts, s, &srv->ctx, &port), PD_OK);
    mg_set_request_handler(srv->ctx, "/orders", orders_handler, s);
    snprintf(srv->url, sizeof srv->url, "http://127.0.0.1:%d", port);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Scans the export of a SUT in mode m into path; returns the GETs made. */
static int scan(enum mode m, const char *path, struct sim_export_stats *st, int *rc)
{
    struct sut s = {.mode = m, .mu = PTHREAD_MUTEX_INITIALIZER};
    struct server srv;
    serve(&s, &srv);
    *rc = sim_export_scan(srv.url, path, st);
    mg_stop(srv.ctx);
    return s.gets;
}

static void test_pages_fetched_ahead(void **state)
{
    (void)state;
    char honest_path[64], other_path[64];
    snprintf(honest_path, sizeof honest_path, "/tmp/test_sim_collect_%d_a.json", (int)getpid());
    snprintf(other_path, sizeof other_path, "/tmp/test_sim_collect_%d_b.json", (int)getpid());
    struct sim_export_stats honest, other;
    int rc = PD_EIO;
    assert_int_equal(scan(HONEST, honest_path, &honest, &rc), 4);   /* each page once */
    assert_int_equal(rc, PD_OK);
    assert_int_equal(honest.orders, ORDERS);
    assert_int_equal(honest.final, ORDERS);
    assert_int_equal(honest.paid, ORDERS - (ORDERS + 2) / 3);
    assert_int_equal(honest.pending_notifications, 0);
    assert_true(honest.attach_passed);
    char *want = slurp(honest_path);
    assert_non_null(strstr(want, "\"o-0349\""));

    static const enum mode misleading[] = {DECOY, ESCAPED};
    for (size_t k = 0; k < PD_ARRAY_LEN(misleading); k++) {
        int gets = scan(misleading[k], other_path, &other, &rc);
        assert_int_equal(rc, PD_OK);
        /* DECOY: a wrong guess on each of the four pages (the last one's
         * too: its cursor is null), each a wasted GET; ESCAPED: no guess. */
        assert_int_equal(gets, misleading[k] == DECOY ? 8 : 4);
        assert_int_equal(other.orders, honest.orders);
        assert_int_equal(other.paid, honest.paid);
        assert_int_equal(other.final, honest.final);
        if (misleading[k] == ESCAPED) {     /* same orders; DECOY's carry "x" */
            char *got = slurp(other_path);
            assert_string_equal(got, want);
            free(got);
        }
    }
    free(want);
    unlink(honest_path);
    unlink(other_path);
}

/* Page 3 is fetched ahead (the guess from page 2 is right), so its
 * failure comes through the page fetched ahead: judged as any page's. */
static void test_bad_page_fails_the_scan(void **state)
{
    (void)state;
    struct sim_export_stats st;
    int rc = PD_OK;
    scan(GARBAGE_PAGE_3, NULL, &st, &rc);
    assert_int_equal(rc, PD_EPROTO);
    scan(ERROR_PAGE_3, NULL, &st, &rc);
    assert_int_equal(rc, PD_EPROTO);
    scan(CLOSE_PAGE_3, NULL, &st, &rc);
    assert_int_equal(rc, PD_ECONNECT);
    /* Nobody listening: no answer at all. */
    assert_int_equal(sim_export_scan("http://127.0.0.1:1", NULL, &st), PD_ECONNECT);
}

static void test_guess_next(void **state)
{
    (void)state;
    char g[128];
    static const char *const yes[][2] = {
        {"{\"orders\":[],\"next_after\":\"o-1\"}", "o-1"},
        {"{\"next_after\":\"a\",\"orders\":[{\"next_after\":\"b\"}]}", "b"},    /* the last */
        {"{\"note\":\"\\\"next_after\\\":\\\"z\\\"\",\"next_after\":\"c\"}", "c"},
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(yes); i++) {
        assert_true(sim_export_guess_next(yes[i][0], strlen(yes[i][0]), g));
        assert_string_equal(g, yes[i][1]);
    }
    char long_id[300];
    snprintf(long_id, sizeof long_id, "{\"next_after\":\"%0200d\"}", 7);
    static const char *const no[] = {
        "{\"orders\":[]}",
        "{\"orders\":[],\"next_after\":null}",
        "{\"next_after\":\"o\\u002d1\"}",
        "{\"next_after\":\"\"}",
        "{\"next_after\":\"o-1",              /* cut short */
        "{\"next_after\":\"o-1&limit=1\"}",    /* a byte a URL would encode */
        "{\"next_after\":\"o 1\"}",
        "{\"next_after\":\"o-1#x\"}",
        "\"next_after\":\"",
        "",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(no); i++)
        assert_false(sim_export_guess_next(no[i], strlen(no[i]), g));
    assert_false(sim_export_guess_next(long_id, strlen(long_id), g));
    /* Only len bytes are read: the cursor past them is not seen. */
    const char *t = "{\"next_after\":\"o-1\"}";
    assert_false(sim_export_guess_next(t, 16, g));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guess_next),
        cmocka_unit_test(test_pages_fetched_ahead),
        cmocka_unit_test(test_bad_page_fails_the_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
