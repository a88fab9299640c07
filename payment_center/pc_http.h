/* pc_http.h -- the HTTP API over civetweb: routes requests to pc_core. */
#ifndef PC_HTTP_H
#define PC_HTTP_H

#include <civetweb.h>

#include "pc_core.h"

/* Registers every handler on ctx; app must outlive ctx. */
void pc_http_register(struct mg_context *ctx, struct pc_app *app);

/* Writes the Prometheus text of /metrics into a malloc'd string (caller
 * frees), or NULL. */
char *pc_metrics_text(struct pc_app *app);

#endif
