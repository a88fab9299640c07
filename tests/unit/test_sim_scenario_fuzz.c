/* Hostile scenario files: every shipped scenario (the files are given on
 * the command line) is mutated many times (pd_test_mutate_json: a value
 * swapped for a hostile one, a key dropped, a byte deleted or inserted)
 * and parsed. Each parse either succeeds or
 * fails with "FILE: FIELD: REASON" on one line; under ASan+UBSan (CI) a
 * memory error or undefined behaviour fails the test too. A document that
 * parses prints (scenario.json of a run) to a form that parses back to the
 * same text: what a replay runs is what ran. The same for the gateway
 * fault rules inside them (mock-gateway's parser, which paydrill runs as
 * `mock-gateway --check-faults`): "PATH: REASON" on one line, or rules
 * whose kept text parses again to the same rules text.
 *
 * The mutations are drawn from a fixed seed, or PD_SEED when set (CI's
 * random-seed pass then draws new ones; a failure prints the seed, file
 * and mutation to replay it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_faults.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_rand.h"
#include "pd_test.h"
#include "pd_util.h"
#include "sim_scenario.h"

#define MUTATIONS_PER_FILE 400

static int n_files;
static char **files;
static uint64_t seed = 20261127;

static void check_one(const char *file, const char *text, const char *what)
{
    struct sim_scenario s;
    char err[SIM_ERR_MAX] = "";
    int rc = sim_scenario_parse(file, text, NULL, &s, err);
    if (rc != PD_OK) {
        size_t flen = strlen(file);
        if (rc != PD_EINVAL || strncmp(err, file, flen) != 0 || strncmp(err + flen, ": ", 2) != 0 ||
            err[flen + 2] == '\0' || strchr(err, '\n') != NULL)
            fail_msg("seed %llu, %s, %s: rc %d, message \"%s\" is not \"FILE: FIELD: REASON\"",
                     (unsigned long long)seed, file, what, rc, err);
        return;
    }
    cJSON *doc = sim_scenario_to_json(&s);
    char *printed = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    sim_scenario_release(&s);
    assert_non_null(printed);
    struct sim_scenario back;
    rc = sim_scenario_parse("scenario.json", printed, NULL, &back, err);
    if (rc != PD_OK)
        fail_msg("seed %llu, %s, %s: accepted, but its printed form is refused: %s",
                 (unsigned long long)seed, file, what, err);
    cJSON *doc2 = sim_scenario_to_json(&back);
    char *again = doc2 ? cJSON_PrintUnformatted(doc2) : NULL;
    cJSON_Delete(doc2);
    sim_scenario_release(&back);
    assert_non_null(again);
    if (strcmp(printed, again) != 0)
        fail_msg("seed %llu, %s, %s: printed form changes when parsed back:\n%s\n%s",
                 (unsigned long long)seed, file, what, printed, again);
    free(printed);
    free(again);
}

/* check on text as it is, then on each of its mutations. */
static void each_mutation(const char *file, const char *text,
                          void (*check)(const char *file, const char *text, const char *what))
{
    check(file, text, "unchanged");
    uint64_t rng = (seed ^ pd_hash_str(file)) | 1;   /* each file its own draws */
    for (uint64_t i = 0; i < MUTATIONS_PER_FILE; i++) {
        char what[160];
        size_t len = 0;
        char *m = pd_test_mutate_json(text, &rng, &len, what, sizeof what);
        assert_non_null(m);
        check(file, m, what);   /* a NUL inside ends the text there: still a mutation */
        free(m);
    }
}

static void test_mutations(void **state)
{
    (void)state;
    assert_true(n_files > 0);
    for (int f = 0; f < n_files; f++) {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(pd_read_file(files[f], 1 << 20, &text, &len), PD_OK);
        each_mutation(files[f], text, check_one);
        free(text);
    }
}

static void check_rules(const char *file, const char *text, const char *what)
{
    struct gw_rules *rules = NULL;
    struct pd_json_err err = {{0}};
    int rc = gw_rules_parse(text, strlen(text), &rules, &err);
    if (rc != PD_OK) {
        const char *colon = strstr(err.text, ": ");
        if (rc != PD_EINVAL || colon == NULL || colon == err.text || colon[2] == '\0' ||
            strchr(err.text, '\n') != NULL)
            fail_msg("seed %llu, %s gateway_faults, %s: rc %d, message \"%s\" is not "
                     "\"PATH: REASON\"", (unsigned long long)seed, file, what, rc, err.text);
        return;
    }
    struct gw_rules *back = NULL;
    rc = gw_rules_parse(rules->text, strlen(rules->text), &back, &err);
    if (rc != PD_OK || strcmp(back->text, rules->text) != 0)
        fail_msg("seed %llu, %s gateway_faults, %s: accepted, but its kept text does not "
                 "parse to itself: %s", (unsigned long long)seed, file, what,
                 rc != PD_OK ? err.text : back->text);
    gw_rules_unref(back);
    gw_rules_unref(rules);
}

static void test_gateway_rules(void **state)
{
    (void)state;
    int with_rules = 0;
    for (int f = 0; f < n_files; f++) {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(pd_read_file(files[f], 1 << 20, &text, &len), PD_OK);
        cJSON *doc = cJSON_Parse(text);
        free(text);
        assert_non_null(doc);
        const cJSON *gf = cJSON_GetObjectItemCaseSensitive(doc, "gateway_faults");
        char *rules = cJSON_IsObject(gf) ? cJSON_PrintUnformatted(gf) : NULL;
        cJSON_Delete(doc);
        if (rules == NULL)
            continue;
        with_rules++;
        each_mutation(files[f], rules, check_rules);
        free(rules);
    }
    assert_true(with_rules > 0);
}

int main(int argc, char **argv)
{
    files = argv + 1;
    n_files = argc - 1;
    seed = pd_test_fuzz_seed(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_gateway_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
