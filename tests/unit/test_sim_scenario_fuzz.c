/* Hostile scenario files: every shipped scenario (the files are given on
 * the command line) is mutated many times — a value swapped for a hostile
 * one (null, a huge or negative number, a fraction, an empty or 5,000-byte
 * string, an array, an object, a bad duration), a key dropped, a byte
 * deleted, changed or inserted — and parsed. Each parse either succeeds or
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
#include "pd_util.h"
#include "sim_scenario.h"

#define MUTATIONS_PER_FILE 400
#define NODES_MAX 4096

static int n_files;
static char **files;
static uint64_t seed = 20261127;

static uint64_t draw(const char *file, const char *kind, uint64_t i, uint64_t n)
{
    return pd_draw_u64(seed, file, kind, i) % n;
}

/* Every node under root, root first. */
static size_t collect(cJSON *root, cJSON **out, size_t n)
{
    if (n < NODES_MAX)
        out[n++] = root;
    for (cJSON *c = root->child; c != NULL; c = c->next)
        n = collect(c, out, n);
    return n;
}

static cJSON *hostile_value(uint64_t pick)
{
    static char big[5001];
    if (big[0] == '\0')
        memset(big, 'x', sizeof big - 1);
    switch (pick) {
    case 0: return cJSON_CreateNull();
    case 1: return cJSON_CreateTrue();
    case 2: return cJSON_CreateNumber(-1);
    case 3: return cJSON_CreateNumber(0);
    case 4: return cJSON_CreateNumber(1e308);
    case 5: return cJSON_CreateNumber(-1e308);
    case 6: return cJSON_CreateNumber(1.5);
    case 7: return cJSON_CreateNumber(9223372036854775807.0);
    case 8: return cJSON_CreateNumber(18446744073709551616.0);
    case 9: return cJSON_CreateString("");
    case 10: return cJSON_CreateString(big);
    case 11: return cJSON_CreateArray();
    case 12: return cJSON_CreateObject();
    case 13: return cJSON_CreateString("-5s");
    case 14: return cJSON_CreateString("99999999999999999999d");
    case 15: return cJSON_CreateString("1h");
    case 16: return cJSON_CreateString("0s");
    case 17: return cJSON_CreateString("\xc3\x28 not utf-8");
    case 18: return cJSON_CreateNumber(2147483648.0);
    default: return cJSON_CreateString("%s%n%x");
    }
}
#define HOSTILE_KINDS 20

/* The text of one mutation of doc (caller frees), described in what. */
static char *mutate(const char *file, const char *text, uint64_t i, char *what, size_t what_len)
{
    uint64_t kind = draw(file, "kind", i, 4);
    if (kind >= 2) {                       /* bytes */
        size_t len = strlen(text);
        size_t at = (size_t)draw(file, "at", i, len);
        static const char bytes[] = "{}[]\":,0-9e.\\\x80\xff nt";
        char b = bytes[draw(file, "byte", i, sizeof bytes - 1)];
        char *out = malloc(len + 2);
        assert_non_null(out);
        memcpy(out, text, at);
        if (kind == 2) {                   /* delete one byte */
            strcpy(out + at, text + at + 1);
            snprintf(what, what_len, "byte %zu deleted", at);
        } else {                           /* insert one byte */
            out[at] = b;
            strcpy(out + at + 1, text + at);
            snprintf(what, what_len, "byte 0x%02x inserted at %zu", (unsigned char)b, at);
        }
        return out;
    }
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    cJSON *nodes[NODES_MAX];
    size_t n = collect(root, nodes, 0);
    size_t k = 1 + (size_t)draw(file, "node", i, n - 1);   /* not the root itself */
    cJSON *victim = nodes[k];
    cJSON *parent = NULL;
    for (size_t j = 0; j < n && parent == NULL; j++)
        for (cJSON *c = nodes[j]->child; c != NULL; c = c->next)
            if (c == victim)
                parent = nodes[j];
    assert_non_null(parent);
    char name[64];
    pd_strlcpy(name, victim->string ? victim->string : "(item)", sizeof name);
    if (kind == 0) {                       /* a hostile value in its place */
        uint64_t pick = draw(file, "value", i, HOSTILE_KINDS);
        cJSON_ReplaceItemViaPointer(parent, victim, hostile_value(pick));
        snprintf(what, what_len, "value of %s (node %zu) replaced by hostile value %llu", name,
                 k, (unsigned long long)pick);
    } else {                               /* dropped */
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, victim));
        snprintf(what, what_len, "%s (node %zu) removed", name, k);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    assert_non_null(out);
    return out;
}

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
    for (uint64_t i = 0; i < MUTATIONS_PER_FILE; i++) {
        char what[160];
        char *m = mutate(file, text, i, what, sizeof what);
        check(file, m, what);
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
    const char *env = getenv("PD_SEED");
    if (env != NULL && *env != '\0')
        seed = strtoull(env, NULL, 10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_gateway_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
