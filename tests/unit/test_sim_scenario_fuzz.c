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

/* True when text holds a control character (a message must be one line). */
static bool has_control(const char *text)
{
    for (const char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            return true;
    return false;
}

/* Returns true when the document was accepted. */
static bool check_one(const char *file, const char *text, size_t len, const char *what)
{
    struct sim_scenario s;
    char err[SIM_ERR_MAX] = "";
    int rc = sim_scenario_parse(file, text, len, NULL, &s, err);
    if (rc != PD_OK) {
        size_t flen = strlen(file);
        if (rc != PD_EINVAL || strncmp(err, file, flen) != 0 ||
            strncmp(err + flen, ": ", 2) != 0 || err[flen + 2] == '\0' || has_control(err))
            fail_msg("seed %llu, %s, %s: rc %d, message \"%s\" is not \"FILE: FIELD: REASON\"",
                     (unsigned long long)seed, file, what, rc, err);
        return false;
    }
    cJSON *doc = sim_scenario_to_json(&s);
    char *printed = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    sim_scenario_release(&s);
    assert_non_null(printed);
    struct sim_scenario back;
    rc = sim_scenario_parse("scenario.json", printed, strlen(printed), NULL, &back, err);
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
    return true;
}

/* check on text as it is (it must be accepted), then on each of its
 * mutations; returns how many mutations were accepted. The draws depend on
 * the seed and the file's name, not its folder: a failure replays in any
 * checkout. */
static int each_mutation(const char *file, const char *text,
                         bool (*check)(const char *file, const char *text, size_t len,
                                       const char *what))
{
    if (!check(file, text, strlen(text), "unchanged"))
        fail_msg("%s: refused as shipped", file);
    const char *base = strrchr(file, '/');
    uint64_t rng = seed ^ pd_hash_str(base != NULL ? base + 1 : file);
    int accepted = 0;
    for (uint64_t i = 0; i < MUTATIONS_PER_FILE; i++) {
        char what[160];
        size_t len = 0;
        char *m = pd_test_mutate_json(text, &rng, &len, what, sizeof what);
        assert_non_null(m);
        accepted += check(file, m, len, what);
        free(m);
    }
    return accepted;
}

static void test_mutations(void **state)
{
    (void)state;
    assert_true(n_files > 0);
    int accepted = 0;
    for (int f = 0; f < n_files; f++) {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(pd_read_file(files[f], 1 << 20, &text, &len), PD_OK);
        accepted += each_mutation(files[f], text, check_one);
        free(text);
    }
    assert_true(accepted > 0);      /* a parser refusing everything fails here */
}

static bool check_rules(const char *file, const char *text, size_t len, const char *what)
{
    struct gw_rules *rules = NULL;
    struct pd_json_err err = {{0}};
    int rc = gw_rules_parse(text, len, &rules, &err);
    if (rc != PD_OK) {
        const char *colon = strstr(err.text, ": ");
        if (rc != PD_EINVAL || colon == NULL || colon == err.text || colon[2] == '\0' ||
            has_control(err.text))
            fail_msg("seed %llu, %s gateway_faults, %s: rc %d, message \"%s\" is not "
                     "\"PATH: REASON\"", (unsigned long long)seed, file, what, rc, err.text);
        return false;
    }
    struct gw_rules *back = NULL;
    rc = gw_rules_parse(rules->text, strlen(rules->text), &back, &err);
    if (rc != PD_OK || strcmp(back->text, rules->text) != 0)
        fail_msg("seed %llu, %s gateway_faults, %s: accepted, but its kept text does not "
                 "parse to itself: %s", (unsigned long long)seed, file, what,
                 rc != PD_OK ? err.text : back->text);
    gw_rules_unref(back);
    gw_rules_unref(rules);
    return true;
}

static void test_gateway_rules(void **state)
{
    (void)state;
    int with_rules = 0, accepted = 0;
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
        accepted += each_mutation(files[f], rules, check_rules);
        free(rules);
    }
    if (with_rules == 0)
        skip();             /* files given by hand, none with rules */
    assert_true(accepted > 0);
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
