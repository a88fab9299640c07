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

/* ---- mutation fuzzing (hostile-input tests) ---- */

/* The fuzz seed: PD_SEED when set (CI's random pass), else fixed. */
uint64_t pd_test_fuzz_seed(uint64_t fixed);

/* 64 random bits from *state (pd_mix64 of a counter; any state, 0 too). */
uint64_t pd_test_rand(uint64_t *state);

/* One random mutation of the JSON text json: a value swapped for a
 * hostile one (null, a huge, negative or fractional number, an empty,
 * 5,000-byte, non-UTF-8 or control-character string, an array, an object,
 * a bad duration), a key or item dropped, or a byte deleted or inserted
 * (the NUL byte included). Returns the malloc'd result (*out_len bytes
 * plus a NUL; it may hold a NUL before that) and describes it in what. */
char *pd_test_mutate_json(const char *json, uint64_t *state, size_t *out_len, char *what,
                          size_t what_len);

#endif
