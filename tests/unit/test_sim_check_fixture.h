/* test_sim_check_fixture.h -- hand-written G/P/B histories for the checker's
 * tests: the base run in tests/data/check/base.json, edits applied to it by
 * JSON path, and helpers that write a run folder. */
#ifndef TEST_SIM_CHECK_FIXTURE_H
#define TEST_SIM_CHECK_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "check.h"

/* One edit: in document doc ("scenario", "run", "ledger", "journal",
 * "export", "business"), at path ("orders[0].history[2]", "trades[]" to
 * append, "" for the document itself), put json (parsed), or delete the item
 * when json is NULL. json may use single quotes for double quotes. */
struct fx_edit {
    const char *doc;
    const char *path;
    const char *json;
};

#define FX_MAX_EDITS 8

/* The base run with edits applied (stops at the first {NULL}). Fails the
 * test on a bad path. Free with cJSON_Delete. */
cJSON *fx_load(const struct fx_edit *edits);

/* The documents of a fixture for sim_check_eval (borrowed from fx). */
struct sim_check_docs fx_docs(const cJSON *fx);

/* Writes the fixture as a run folder into dir (which exists). */
void fx_write_dir(const cJSON *fx, const char *dir);

/* True when summary lists a violation of invariant inv on order. */
bool fx_has(const struct sim_check_summary *s, const char *inv, const char *order);

/* Prints the summary's lines (for a failing test's log). */
void fx_dump(const struct sim_check_summary *s);

#endif
