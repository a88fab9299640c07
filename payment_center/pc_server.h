/* pc_server.h -- runs the payment center: store, ports, HTTP server and
 * the worker threads (reconcilers, refunds, outbox senders). */
#ifndef PC_SERVER_H
#define PC_SERVER_H

#include "pc_config.h"

/* Runs until SIGTERM or SIGINT. Returns the process exit code. */
int pc_server_run(const struct pc_config *cfg);

#endif
