/* test_sim_check_fixture.c -- see test_sim_check_fixture.h. */
#include "test_sim_check_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_util.h"

#ifndef FX_DATA_DIR
#error "FX_DATA_DIR must point at tests/data/check"
#endif

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(path, 1u << 24, &text, &len), 0);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(doc);
    return doc;
}

/* Walks "a[1].b" to the parent of the last segment; *name / *index say
 * what the last segment is (index -1: a member; -2: append "[]"). */
static cJSON *walk(cJSON *root, const char *path, char *name, int *index)
{
    cJSON *cur = root;
    const char *p = path;
    for (;;) {
        char seg[64];
        size_t n = strcspn(p, ".[");
        assert_true(n < sizeof seg);
        memcpy(seg, p, n);
        seg[n] = '\0';
        p += n;
        int idx = -1;
        if (*p == '[') {
            idx = p[1] == ']' ? -2 : atoi(p + 1);
            p = strchr(p, ']') + 1;
        }
        bool last = *p == '\0';
        if (last && idx == -1) {
            strcpy(name, seg);
            *index = -1;
            return cur;
        }
        if (n > 0)
            cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        assert_non_null(cur);
        if (last) {
            *index = idx;
            return cur;
        }
        if (idx >= 0)
            cur = cJSON_GetArrayItem(cur, idx);
        assert_non_null(cur);
        if (*p == '.')
            p++;
    }
}

static void apply(cJSON *fx, const struct fx_edit *e)
{
    cJSON *doc = cJSON_GetObjectItemCaseSensitive(fx, e->doc);
    assert_non_null(doc);
    cJSON *val = NULL;
    if (e->json != NULL) {
        /* Edits are written with single quotes to spare the escapes. */
        char *text = strdup(e->json);
        assert_non_null(text);
        for (char *c = text; *c; c++)
            if (*c == '\'')
                *c = '"';
        val = cJSON_Parse(text);
        free(text);
        if (val == NULL)
            fail_msg("bad JSON in edit %s %s: %s", e->doc, e->path, e->json);
    }
    if (*e->path == '\0') {
        assert_non_null(val);
        cJSON_ReplaceItemInObjectCaseSensitive(fx, e->doc, val);
        return;
    }
    char name[64];
    int index;
    cJSON *parent = walk(doc, e->path, name, &index);
    if (index == -2) {
        assert_non_null(val);
        cJSON_AddItemToArray(parent, val);
    } else if (index >= 0) {
        assert_non_null(cJSON_GetArrayItem(parent, index));
        if (val)
            cJSON_ReplaceItemInArray(parent, index, val);
        else
            cJSON_DeleteItemFromArray(parent, index);
    } else if (val == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, name);
    } else if (cJSON_GetObjectItemCaseSensitive(parent, name)) {
        cJSON_ReplaceItemInObjectCaseSensitive(parent, name, val);
    } else {
        cJSON_AddItemToObject(parent, name, val);
    }
}

cJSON *fx_load(const struct fx_edit *edits)
{
    cJSON *fx = read_json(FX_DATA_DIR "/base.json");
    for (size_t i = 0; edits && i < FX_MAX_EDITS && edits[i].doc; i++)
        apply(fx, &edits[i]);
    return fx;
}

struct sim_check_docs fx_docs(const cJSON *fx)
{
    struct sim_check_docs d = {
        .scenario = cJSON_GetObjectItemCaseSensitive(fx, "scenario"),
        .run = cJSON_GetObjectItemCaseSensitive(fx, "run"),
        .ledger = cJSON_GetObjectItemCaseSensitive(fx, "ledger"),
        .gateway_journal = cJSON_GetObjectItemCaseSensitive(fx, "journal"),
        .export_doc = cJSON_GetObjectItemCaseSensitive(fx, "export"),
        .business = cJSON_GetObjectItemCaseSensitive(fx, "business")};
    return d;
}

static void write_doc(const char *dir, const char *name, const cJSON *doc)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = cJSON_Print(doc);
    assert_non_null(text);
    assert_int_equal(pd_write_file(path, text, strlen(text)), 0);
    free(text);
}

void fx_write_dir(const cJSON *fx, const char *dir)
{
    struct sim_check_docs d = fx_docs(fx);
    write_doc(dir, "scenario.json", d.scenario);
    write_doc(dir, "run.json", d.run);
    write_doc(dir, "ledger.json", d.ledger);
    write_doc(dir, "export.json", d.export_doc);
    write_doc(dir, "business.json", d.business);
    char path[512];
    snprintf(path, sizeof path, "%s/gateway-journal.ndjson", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const cJSON *line;
    cJSON_ArrayForEach(line, d.gateway_journal) {
        char *text = cJSON_PrintUnformatted(line);
        fprintf(f, "%s\n", text);
        free(text);
    }
    fclose(f);
}

bool fx_has(const struct sim_check_summary *s, const char *inv, const char *order)
{
    char want[256];
    snprintf(want, sizeof want, "%s %s %s ", s->scenario, inv, order);
    for (size_t i = 0; i < s->n_lines; i++)
        if (strncmp(s->lines[i], want, strlen(want)) == 0)
            return true;
    return false;
}

void fx_dump(const struct sim_check_summary *s)
{
    if (s->error[0])
        print_message("error: %s\n", s->error);
    for (size_t i = 0; i < s->n_lines; i++)
        print_message("  %s\n", s->lines[i]);
}
