/* gw_journal.c -- see gw_journal.h. */
#include "gw_journal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_util.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_log.h"

#define LINE_MAX_BYTES 4096

struct gw_journal {
    pthread_mutex_t mu;
    int fd;
    uint64_t seq;              /* last seq written */
    int64_t size;              /* bytes of whole lines in the file */
    char path[1024];
};

/* Finds the last whole line, cuts anything after it, and reads its seq. */
static int recover_tail(gw_journal *j)
{
    struct stat stbuf;
    if (fstat(j->fd, &stbuf) != 0)
        return PD_EIO;
    int64_t size = stbuf.st_size;
    char tail[LINE_MAX_BYTES + 1];
    int64_t off = size > LINE_MAX_BYTES ? size - LINE_MAX_BYTES : 0;
    ssize_t n = pread(j->fd, tail, (size_t)(size - off), off);
    if (n < 0)
        return PD_EIO;
    tail[n] = '\0';
    char *end = strrchr(tail, '\n');
    int64_t whole = end ? off + (end - tail) + 1 : 0;
    if (whole != size && ftruncate(j->fd, whole) != 0)
        return PD_EIO;
    j->size = whole;
    if (end == NULL)
        return PD_OK;
    *end = '\0';
    char *line = strrchr(tail, '\n');
    line = line ? line + 1 : tail;
    unsigned long long seq = 0;
    if (sscanf(line, "{\"seq\":%llu", &seq) == 1)
        j->seq = seq;
    return PD_OK;
}

int gw_journal_open(const char *dir, gw_journal **out)
{
    *out = NULL;
    gw_journal *j = calloc(1, sizeof *j);
    if (j == NULL)
        return PD_ENOMEM;
    snprintf(j->path, sizeof j->path, "%s/journal.ndjson", dir);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0 || recover_tail(j) != PD_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=journal_open path=%s", j->path);
        if (j->fd >= 0)
            close(j->fd);
        free(j);
        return PD_EIO;
    }
    pthread_mutex_init(&j->mu, NULL);
    *out = j;
    return PD_OK;
}

void gw_journal_close(gw_journal *j)
{
    if (j == NULL)
        return;
    close(j->fd);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static int format_line(struct pd_buf *b, uint64_t seq, const struct gw_jentry *e)
{
    int rc = pd_buf_printf(b, "{\"seq\":%" PRIu64 ",\"at\":%" PRId64 ",\"op\":\"%s\",\"out_trade_no\":",
                           seq, e->at, e->op);
    rc = rc ? rc : gw_json_str(b, e->out_trade_no);
    rc = rc ? rc : pd_buf_puts(b, ",\"key\":");
    rc = rc ? rc : gw_json_str(b, e->key);
    rc = rc ? rc : pd_buf_printf(b, ",\"attempt\":%" PRIu64 ",\"fault\":", e->attempt);
    rc = rc ? rc : gw_json_str(b, e->fault);
    rc = rc ? rc : pd_buf_printf(b, ",\"status\":%d,\"detail\":", e->status);
    rc = rc ? rc : gw_json_str(b, e->detail ? e->detail : "");
    rc = rc ? rc : pd_buf_puts(b, "}\n");
    return rc;
}

/* Formats the n lines with the next seqs and writes them with one write(),
 * all under the mutex: seq order is file order whoever appends. */
int gw_journal_append_many(gw_journal *j, const struct gw_jentry *e, size_t n)
{
    struct pd_buf b;
    pd_buf_init(&b, LINE_MAX_BYTES * (n > 0 ? n : 1));
    pthread_mutex_lock(&j->mu);
    int rc = PD_OK;
    for (size_t i = 0; rc == PD_OK && i < n; i++)
        rc = format_line(&b, j->seq + 1 + i, &e[i]);
    if (rc == PD_OK && b.len > 0) {
        ssize_t w = write(j->fd, b.data, b.len);
        if (w == (ssize_t)b.len) {
            j->seq += n;
            j->size += (int64_t)b.len;
        } else {
            rc = PD_EIO;
        }
    }
    pthread_mutex_unlock(&j->mu);
    pd_buf_release(&b);
    if (rc != PD_OK)
        PD_LOG(PD_LOG_ERROR, "gw", "act=journal_write lines=%zu err=%s", n, pd_strerror(rc));
    return rc;
}

int gw_journal_append(gw_journal *j, const struct gw_jentry *e)
{
    return gw_journal_append_many(j, e, 1);
}

int gw_journal_reset(gw_journal *j)
{
    pthread_mutex_lock(&j->mu);
    int rc = ftruncate(j->fd, 0) == 0 ? PD_OK : PD_EIO;
    if (rc == PD_OK) {
        j->seq = 0;
        j->size = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

const char *gw_journal_path(const gw_journal *j)
{
    return j->path;
}

int64_t gw_journal_size(gw_journal *j)
{
    pthread_mutex_lock(&j->mu);
    int64_t n = j->size;
    pthread_mutex_unlock(&j->mu);
    return n;
}

uint64_t gw_journal_seq(gw_journal *j)
{
    pthread_mutex_lock(&j->mu);
    uint64_t n = j->seq;
    pthread_mutex_unlock(&j->mu);
    return n;
}
