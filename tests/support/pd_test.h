/* pd_test.h -- helpers for integration tests: temp folders, the programs
 * under test, a redis-server of the test's own, JSON over HTTP. */
#ifndef PD_TEST_H
#define PD_TEST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_proc.h"

/* Path of a built program ("payment-center") in PD_BIN_DIR, into out. */
void pd_test_bin(const char *name, char *out, size_t out_len);

/* Creates a fresh temp folder ("/tmp/pdtest-XXXXXX") into out[256]. */
void pd_test_tmpdir(char out[256]);

/* rm -rf of a folder made by pd_test_tmpdir. */
void pd_test_rmdir(const char *path);

/* Starts a redis-server on a free loopback port with no persistence.
 * Returns the port, or 0 when redis-server is not installed (the caller
 * should fail, not skip: CI installs it). */
int pd_test_redis_start(struct pd_proc *out);

/* HTTP with a JSON body (may be NULL). Returns the status (0 when no answer);
 * *out_json gets the parsed answer or NULL (caller frees with cJSON_Delete).
 * extra_headers: NULL-terminated list or NULL. */
long pd_test_http_json(const char *method, const char *url, const char *body,
                       const char *const *extra_headers, cJSON **out_json);

#endif
