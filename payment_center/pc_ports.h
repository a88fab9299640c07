/* pc_ports.h -- the real ports: the gateway over HTTP (libcurl), signed
 * business notifications, and the Redis duplicate pre-filter (hiredis). */
#ifndef PC_PORTS_H
#define PC_PORTS_H

#include "pc_core.h"

struct pc_http_ports {
    char gateway_url[PC_URL_MAX];
    char business_url[PC_URL_MAX];
    char business_secret[PC_SECRET_MAX];
    long gateway_timeout_ms;
    long business_timeout_ms;
};

/* Fills the gateway and business ports of app from cfg; ports must outlive app. */
void pc_ports_init(struct pc_http_ports *ports, const struct pc_config *cfg, struct pc_app *app);

/* The gateway port's call (ctx = struct pc_http_ports *). */
int pc_ports_gateway_call(void *ctx, const char *method, const char *path, const char *body,
                          long *status, cJSON **json);

/* The business port's notify: signs with X-Paydrill-Timestamp/Nonce/Signature. */
int pc_ports_business_notify(void *ctx, const char *body, size_t len, long *status);

/* Redis pre-filter from "redis://HOST:PORT". Returns 0 or PD_EINVAL. */
struct pc_redis;
int pc_redis_new(const char *url, struct pc_redis **out);
void pc_redis_free(struct pc_redis *r);
/* The port over r (r must outlive it). */
struct pc_dedup_port pc_redis_port(struct pc_redis *r);

#endif
