#include "pd_test.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_rand.h"
#include "pd_time.h"
#include "pd_util.h"

void pd_test_bin(const char *name, char *out, size_t out_len)
{
    const char *dir = getenv("PD_BIN_DIR");
    snprintf(out, out_len, "%s/%s", dir ? dir : ".", name);
}

void pd_test_tmpdir(char out[256])
{
    snprintf(out, 256, "/tmp/pdtest-XXXXXX");
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

void pd_test_rmdir(const char *path)
{
    if (strncmp(path, "/tmp/pdtest-", 12) != 0)
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        /* leftovers in /tmp are harmless */
    }
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int pd_test_redis_start(struct pd_proc *out)
{
    const char *candidates[] = {"/usr/bin/redis-server", "/usr/local/bin/redis-server"};
    const char *bin = NULL;
    for (size_t i = 0; i < 2 && bin == NULL; i++)
        if (access(candidates[i], X_OK) == 0)
            bin = candidates[i];
    if (bin == NULL)
        return 0;
    memset(out, 0, sizeof *out);
    for (int tries = 0; tries < 5; tries++) {
        int port = free_port();
        char port_s[16];
        snprintf(port_s, sizeof port_s, "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
            execl(bin, bin, "--port", port_s, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
                  (char *)NULL);
            _exit(127);
        }
        out->pid = pid;
        pd_proc_track(pid);
        snprintf(out->url, sizeof out->url, "redis://127.0.0.1:%d", port);
        /* Ready when it answers PING. */
        char url[64];
        snprintf(url, sizeof url, "127.0.0.1:%d", port);
        for (int i = 0; i < 100; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a;
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons((uint16_t)port);
            int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
            char reply[16] = {0};
            if (ok && write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof reply - 1) > 0 &&
                strncmp(reply, "+PONG", 5) == 0) {
                close(fd);
                return port;
            }
            close(fd);
            pd_sleep_ms(50);
        }
        pd_proc_kill9(out);
    }
    return 0;
}

long pd_test_http_json(const char *method, const char *url, const char *body,
                       const char *const *extra_headers, cJSON **out_json)
{
    const char *headers[PD_HTTP_MAX_HEADERS + 2];
    size_t n = 0;
    headers[n++] = "Content-Type: application/json";
    for (size_t i = 0; extra_headers && extra_headers[i] && n < PD_HTTP_MAX_HEADERS; i++)
        headers[n++] = extra_headers[i];
    headers[n] = NULL;
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    int rc = pd_http_request(c, method, url, headers, body, body ? strlen(body) : 0,
                             30000, 0, &resp);
    pd_http_client_free(c);
    if (out_json != NULL)
        *out_json = (rc == PD_OK && resp.body) ? cJSON_Parse(resp.body) : NULL;
    long status = rc == PD_OK ? resp.status : 0;
    pd_http_resp_release(&resp);
    return status;
}

/* ---- mutation fuzzing ---- */

uint64_t pd_test_fuzz_seed(uint64_t fixed)
{
    const char *env = getenv("PD_SEED");
    return env != NULL && *env != '\0' ? strtoull(env, NULL, 10) : fixed;
}

uint64_t pd_test_rand(uint64_t *state)
{
    return pd_mix64((*state)++);   /* SplitMix64's finalizer over a counter: any state */
}

#define MUTATE_NODES_MAX 4096

static size_t mutate_collect(cJSON *root, cJSON **out, size_t n)
{
    if (n < MUTATE_NODES_MAX)
        out[n++] = root;
    for (cJSON *c = root->child; c != NULL; c = c->next)
        n = mutate_collect(c, out, n);
    return n;
}

static cJSON *hostile_value(uint64_t pick)
{
    char big[5001];         /* cJSON copies it */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    switch (pick % 21) {
    case 0: return cJSON_CreateNull();
    case 1: return cJSON_CreateTrue();
    case 2: return cJSON_CreateNumber(-1);
    case 3: return cJSON_CreateNumber(0);
    case 4: return cJSON_CreateNumber(1e308);
    case 5: return cJSON_CreateNumber(-1e308);
    case 6: return cJSON_CreateNumber(1.5);
    case 7: return cJSON_CreateNumber(9223372036854775807.0);
    case 8: return cJSON_CreateNumber(18446744073709551616.0);
    case 9: return cJSON_CreateNumber(2147483648.0);
    case 10: return cJSON_CreateString("");
    case 11: return cJSON_CreateString(big);
    case 12: return cJSON_CreateArray();
    case 13: return cJSON_CreateObject();
    case 14: return cJSON_CreateString("-5s");
    case 15: return cJSON_CreateString("99999999999999999999d");
    case 16: return cJSON_CreateString("1h");
    case 17: return cJSON_CreateString("0s");
    case 18: return cJSON_CreateString("\xc3\x28 not utf-8");
    case 19: return cJSON_CreateString("a\nb\"c\\");
    default: return cJSON_CreateString("%s%n%x");
    }
}

char *pd_test_mutate_json(const char *json, uint64_t *state, size_t *out_len, char *what,
                          size_t what_len)
{
    uint64_t kind = pd_test_rand(state) % 4;
    size_t len = strlen(json);
    if (kind >= 2 && (kind == 3 || len > 0)) {
        static const char bytes[] = "{}[]\":,-.e09\\\x80\xff\x01 nt";
        size_t at = (size_t)(pd_test_rand(state) % (len + 1));   /* after the end too */
        char b = bytes[pd_test_rand(state) % sizeof bytes];   /* the NUL too */
        char *out = malloc(len + 2);
        if (out == NULL)
            return NULL;
        memcpy(out, json, at);
        if (kind == 2) {
            if (at == len)      /* nothing after the end to delete: the last byte */
                at = len - 1;
            memcpy(out + at, json + at + 1, len - at);
            *out_len = len - 1;
            snprintf(what, what_len, "byte %zu deleted", at);
        } else {
            out[at] = b;
            memcpy(out + at + 1, json + at, len - at + 1);
            *out_len = len + 1;
            snprintf(what, what_len, "byte 0x%02x inserted at %zu", (unsigned char)b, at);
        }
        return out;
    }
    cJSON *root = cJSON_Parse(json);
    if (root == NULL)
        return NULL;
    cJSON **nodes = malloc(MUTATE_NODES_MAX * sizeof *nodes);
    size_t n = nodes != NULL ? mutate_collect(root, nodes, 0) : 0;
    if (n < 2) {
        free(nodes);
        char *same = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        *out_len = same != NULL ? strlen(same) : 0;
        snprintf(what, what_len, "unchanged (nothing inside to mutate)");
        return same;
    }
    size_t k = 1 + (size_t)(pd_test_rand(state) % (n - 1));   /* not the root */
    cJSON *victim = nodes[k], *parent = NULL;
    for (size_t j = 0; j < n && parent == NULL; j++)
        for (cJSON *c = nodes[j]->child; c != NULL; c = c->next)
            if (c == victim)
                parent = nodes[j];
    free(nodes);
    char name[64];
    snprintf(name, sizeof name, "%s", victim->string ? victim->string : "(item)");
    if (kind == 0) {
        uint64_t pick = pd_test_rand(state);
        cJSON *hv = hostile_value(pick);
        if (hv == NULL) {
            cJSON_Delete(root);
            return NULL;
        }
        /* Under the same key: a replacement keeps no name of its own, and a
         * value under "" would only test the unknown-field refusal. */
        hv->string = victim->string;
        victim->string = NULL;
        if (hv->string != NULL)
            hv->type |= victim->type & cJSON_StringIsConst;
        cJSON_ReplaceItemViaPointer(parent, victim, hv);
        snprintf(what, what_len, "%s (node %zu) given hostile value %llu", name, k,
                 (unsigned long long)(pick % 21));
    } else {
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, victim));
        snprintf(what, what_len, "%s (node %zu) removed", name, k);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *out_len = out != NULL ? strlen(out) : 0;
    return out;
}
