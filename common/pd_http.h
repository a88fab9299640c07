/* pd_http.h -- HTTP over loopback: civetweb server helpers, libcurl client.
 *
 * Server side: start a civetweb context on HOST:PORT (port 0 picks a free
 * one and reports it), read request bodies under a size limit, answer JSON.
 * Client side: one pd_http_client per thread, reusing its connection. */
#ifndef PD_HTTP_H
#define PD_HTTP_H

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PD_HTTP_MAX_HEADERS 8

/* ---- server ---- */

struct pd_http_server_opts {
    const char *listen;         /* "HOST:PORT"; port may be 0 */
    int threads;                /* worker threads (civetweb num_threads) */
    int request_timeout_ms;     /* civetweb request_timeout_ms; 0 = 30000 */
    bool until_ready;           /* answer every request 503 {"error":"starting"}
                                 * until pd_http_server_ready(); needs a
                                 * non-NULL user_data, unique per server */
};

/* Initialises civetweb and libcurl once per process. Idempotent, thread-safe. */
void pd_http_global_init(void);

/* Splits "HOST:PORT" into host[64] and port. Returns 0 or PD_EINVAL. */
int pd_http_parse_listen(const char *listen, char host[64], int *out_port);

/* Starts a server with no handlers yet (add them with mg_set_request_handler).
 * When PAYDRILL_TIME_SCALE is set (paydrill sets it for the processes it
 * runs under a sped-up clock), the transport timeouts are multiplied by it so
 * they keep their real-time length.
 * user_data is what mg_get_request_info()->user_data returns in handlers.
 * On success *out_ctx is the context (stop with mg_stop) and *out_port the
 * bound port. Returns 0, PD_EINVAL (bad listen text) or PD_EIO. */
int pd_http_server_start(const struct pd_http_server_opts *opts, void *user_data,
                         struct mg_context **out_ctx, int *out_port);

/* Opens a server started with opts.until_ready, once its handlers are
 * registered. civetweb accepts connections from mg_start on; before this a
 * request would find no handler (a bare 404 from a restarting server). */
void pd_http_server_ready(struct mg_context *ctx);

/* Reads the whole request body, refusing more than limit bytes. *out is
 * malloc'd and NUL-terminated (caller frees); *out_len excludes the NUL.
 * Returns 0, PD_ETOOBIG, PD_ENOMEM or PD_EIO. */
int pd_http_read_body(struct mg_connection *conn, size_t limit, char **out, size_t *out_len);

/* Sends status + body with Content-Length (keep-alive safe) and a Date
 * header from pd_now_ms, so a peer can read this process's clock. */
void pd_http_reply(struct mg_connection *conn, int status, const char *content_type,
                   const char *body, size_t len);

/* Formats the head pd_http_reply sends (status line, Date, Content-Type,
 * Content-Length, Cache-Control, blank line) into out, for servers that
 * are not civetweb. Returns what snprintf returns. */
int pd_http_reply_head(int status, const char *content_type, size_t len, char *out,
                       size_t out_len);

/* Sends item as compact JSON. Does not take ownership. */
void pd_http_reply_json(struct mg_connection *conn, int status, const cJSON *item);

/* Sends {"error": error, "detail": detail}. detail is a printf format. */
void pd_http_reply_error(struct mg_connection *conn, int status, const char *error,
                         const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

/* True when the request's Content-Type is application/json (parameters allowed). */
int pd_http_is_json(const struct mg_connection *conn);

/* Copies query parameter name into out (decoded). Returns its length, or -1
 * when absent, or -2 when it does not fit. */
int pd_http_query_param(const struct mg_connection *conn, const char *name,
                        char *out, size_t out_len);

/* The factor transport timeouts are multiplied by: PAYDRILL_TIME_SCALE when
 * set to a number in [1, 100000], else 1. For servers that are not civetweb. */
double pd_http_time_factor(void);

/* IMF-fixdate (RFC 9110 5.6.7) of epoch ms into out[32], as the Date header
 * of pd_http_reply. */
void pd_http_format_date(int64_t epoch_ms, char out[32]);

/* A Date header's value (value[0..n), white space around it allowed) as
 * epoch ms, second resolution; 0 when it is not a date. IMF-fixdate is
 * read directly, the obsolete forms through libcurl's curl_getdate. */
int64_t pd_http_parse_date(const char *value, size_t n);

/* The standard reason phrase for a status. */
const char *pd_http_reason(int status);

/* ---- client ---- */

typedef struct pd_http_client pd_http_client;

struct pd_http_resp {
    long status;      /* HTTP status; 0 when no answer arrived */
    char *body;       /* malloc'd, NUL-terminated; caller frees with pd_http_resp_release */
    size_t len;
    int64_t date_ms;  /* the answer's Date header as epoch ms (second
                       * resolution), 0 when absent or unparsable: how
                       * paydrill reads a peer's (faked) clock */
};

/* One per thread; keeps the connection alive between calls.
 * Returns NULL on allocation failure. */
pd_http_client *pd_http_client_new(void);
void pd_http_client_free(pd_http_client *client);   /* NULL is a no-op */

/* True when url's host is loopback: localhost, 127.0.0.0/8 or [::1]. */
bool pd_http_url_is_loopback(const char *url);

/* Points a libcurl handle at url; a loopback url never goes through a
 * proxy, whatever http_proxy and no_proxy say (every peer of a run but a
 * --sut-url SUT is on loopback), any other follows them. Every handle of
 * the product sets its URL with this. */
void pd_http_easy_url(CURL *easy, const char *url);

/* True when pd_http_request sends url through paydrill's own HTTP/1.1
 * client rather than libcurl: a plain http:// URL whose host is a literal
 * loopback address (127.0.0.0/8, [::1]), with an optional port and a path
 * of printable ASCII, and PAYDRILL_HTTP_CLIENT is not "curl" (read when a
 * client is made). Both speak the same HTTP (common/pd_http_client.c). */
bool pd_http_client_own(const char *url);

/* Performs one request. headers is NULL or a NULL-terminated list of
 * "Name: value" lines. body may be NULL for no body. max_resp bounds the
 * response body (0 = 64 MiB). A loopback url never goes through a proxy,
 * whatever http_proxy and no_proxy say; any other follows them (libcurl's
 * rules).
 * Returns 0 when an HTTP answer arrived (any status, filled in *out),
 * PD_ETIMEDOUT when timeout_ms passed, PD_ECONNECT when the peer refused,
 * PD_ETOOBIG when the answer exceeded max_resp, PD_EINVAL (own client)
 * for a method that is not a word or a header line with a line break or no
 * name, PD_EIO otherwise.
 * *out is always initialised; release it with pd_http_resp_release. */
int pd_http_request(pd_http_client *client, const char *method, const char *url,
                    const char *const *headers, const char *body, size_t body_len,
                    long timeout_ms, size_t max_resp, struct pd_http_resp *out);

void pd_http_resp_release(struct pd_http_resp *resp);

#endif
