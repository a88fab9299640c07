/* gw_http.h -- mock-gateway's own HTTP/1.1 server: one epoll loop thread
 * owns the listening socket and every connection; a small worker pool runs
 * the requests that may block (docs/mock-gateway.md, "Architecture").
 *
 * The loop reads and parses requests (keep-alive, pipelining, HTTP/1.0,
 * Content-Length bodies; chunked bodies are refused with 411), answers
 * malformed or oversized ones itself ({"code","message"} JSON, then closes),
 * and offers every complete request to hooks.fast on the loop thread. fast
 * either answers it inline (the reply is held in the connection's output
 * until hooks.flush has made the iteration's work durable) or declines; a
 * declined request is handed WITH its connection to a worker that runs
 * hooks.slow (blocking allowed), then the connection comes back to the loop.
 * Requests of one connection are answered in order. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_HTTP_HEADER_MAX 16384          /* request line + headers -> 431 */
#define GW_HTTP_BODY_MAX (1u << 20)       /* any body (handlers set lower limits) -> 413 */
#define GW_HTTP_PATH_MAX 8192             /* decoded path, without the query */
#define GW_HTTP_CONN_MAX 8192             /* open connections; more are closed at accept */

typedef struct gw_conn gw_conn;
typedef struct gw_http gw_http;

/* One parsed request; valid while a hook runs. */
struct gw_request {
    char method[16];
    char path[GW_HTTP_PATH_MAX];   /* %XX-decoded, query string removed */
    const char *body;              /* borrowed; NUL-terminated */
    size_t body_len;
    bool close;                    /* HTTP/1.0 or Connection: close: closed after the answer */
};

struct gw_http_hooks {
    void *ctx;
    /* Loop thread. Answers the request inline and returns true, or returns
     * false having changed nothing (the request then goes to a worker). */
    bool (*fast)(void *ctx, gw_conn *conn);
    /* Loop thread, once per iteration that touched a connection, before
     * any inline answer of the iteration is sent. Non-zero: the
     * iteration's inline answers are discarded and their connections
     * closed unanswered. */
    int (*flush)(void *ctx);
    /* A worker thread: answers the request (may sleep, stream, drop). */
    void (*slow)(void *ctx, gw_conn *conn);
};

struct gw_http_opts {
    const char *listen;            /* "HOST:PORT"; port 0 picks a free one */
    int workers;                   /* worker threads of the slow path */
    int64_t idle_timeout_ms;       /* keep-alive connection with no request */
    int64_t request_timeout_ms;    /* a request begun and not complete */
};

/* Binds, starts the loop and the workers. Timeouts are multiplied by
 * PAYDRILL_TIME_SCALE (pd_http_time_factor) so they keep their real length
 * under a sped-up clock. Returns 0, PD_EINVAL (bad listen text), PD_EIO,
 * PD_ENOMEM. */
int gw_http_start(const struct gw_http_opts *opts, const struct gw_http_hooks *hooks,
                  gw_http **out, int *out_port);
/* Stops accepting, waits for the workers, closes every connection. */
void gw_http_stop(gw_http *h);   /* NULL is a no-op */

/* ---- what handlers use ---- */

const struct gw_request *gw_conn_request(const gw_conn *conn);
/* True on the loop thread (hooks.fast), false in a worker. */
bool gw_conn_inline(const gw_conn *conn);
/* Copies the body when it is at most limit bytes: *out is malloc'd and
 * NUL-terminated (caller frees). Returns 0, PD_ETOOBIG or PD_ENOMEM. */
int gw_conn_body(gw_conn *conn, size_t limit, char **out, size_t *out_len);
/* Raw output (status line and headers included). Returns 0 or PD_EIO
 * (the client went away) / PD_ENOMEM. */
int gw_conn_write(gw_conn *conn, const void *data, size_t len);
int gw_conn_printf(gw_conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Status line, Date (pd_now_ms: paydrill reads the gateway's clock from
 * it), Content-Type, Content-Length, Cache-Control, then body. */
void gw_conn_reply(gw_conn *conn, int status, const char *content_type, const char *body,
                   size_t len);
/* Ends the TCP connection now without an answer (a crashed or cut-off
 * gateway). Workers only. */
void gw_conn_drop(gw_conn *conn);

#endif
