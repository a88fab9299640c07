#include "pd_test.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
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
