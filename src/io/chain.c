#include "io/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/ahead.h"

#define READ_CHUNK (1u << 20)

struct chain {
    struct filter *first, *last;
    bool failed;
    struct err_saved why; /* a constructor's error, kept until the run reports it */
};

int filter_push(struct filter *f, const unsigned char *buf, size_t len)
{
    if (!f || len == 0)
        return 0;
    return f->ops->process(f, buf, len);
}

int filter_mark(struct filter *f, size_t id)
{
    for (; f; f = f->next)
        if (f->ops->mark)
            return f->ops->mark(f, id);
    return 0;
}

struct chain *chain_new(void)
{
    return xcalloc(1, sizeof(struct chain));
}

void chain_add(struct chain *c, struct filter *f)
{
    if (!f) {
        if (!c->failed) {
            c->failed = true;
            err_save(&c->why);
            err_restore(&c->why);
        }
        return;
    }
    f->next = NULL;
    if (c->last)
        c->last->next = f;
    else
        c->first = f;
    c->last = f;
}

/* 0 if the chain can go on; else -1 with its error current. */
static int chain_ok(struct chain *c)
{
    if (!c->failed)
        return 0;
    if (c->why.cls != ERR_NONE)
        err_restore(&c->why);
    else if (!err_is_set())
        err_set(ERR_FAILED, "could not process the stream: an earlier step failed");
    return -1;
}

int chain_write(struct chain *c, const unsigned char *buf, size_t len)
{
    if (chain_ok(c) != 0)
        return -1;
    if (filter_push(c->first, buf, len) != 0) {
        c->failed = true;
        return -1;
    }
    return 0;
}

int chain_finish(struct chain *c)
{
    if (chain_ok(c) != 0)
        return -1;
    for (struct filter *f = c->first; f; f = f->next) {
        if (f->ops->finish && f->ops->finish(f) != 0) {
            c->failed = true;
            return -1;
        }
    }
    return 0;
}

int chain_pump_fd(struct chain *c, int fd, const char *what, volatile sig_atomic_t *cancel)
{
    if (chain_ok(c) != 0)
        return -1;
    /* a bigger pipe means fewer wake-ups; failure (not a pipe) is harmless */
    (void)fcntl(fd, F_SETPIPE_SZ, (int)READ_CHUNK);
    unsigned char *buf = xmalloc_io(READ_CHUNK);
    int rc = -1;
    for (;;) {
        if (cancel && *cancel) {
            err_set(ERR_FAILED, "interrupted");
            goto out;
        }
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(errno, "could not read %s", what);
            goto out;
        }
        if (n == 0)
            break;
        if (chain_write(c, buf, (size_t)n) != 0)
            goto out;
    }
    rc = chain_finish(c);
out:
    if (rc != 0)
        c->failed = true;
    free(buf);
    return rc;
}

/* The file source's reads, on the read-ahead thread (io/ahead.h): while the chain hashes
 * (inflates, scans) one chunk, the next ones are being copied out of the page cache, so
 * that a verify of a cached file takes about as long as reading it, not reading plus
 * hashing. */
struct fd_source {
    int fd;
    const char *what;
};

static ssize_t fd_source_read(void *ctx, void *buf, size_t cap)
{
    struct fd_source *s = ctx;
    ssize_t n;
    do
        n = read(s->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return err_sys(errno, "could not read %s", s->what);
    return n;
}

static int pump_readahead(struct chain *c, int fd, const char *what, volatile sig_atomic_t *cancel)
{
    struct fd_source src = {fd, what};
    struct ahead *a =
        ahead_start(&(struct ahead_source){.read = fd_source_read, .ctx = &src}, UINT64_MAX);
    int rc = a ? 0 : -1;
    while (rc == 0) {
        if (cancel && *cancel) {
            rc = err_set(ERR_FAILED, "interrupted");
            break;
        }
        const unsigned char *buf = NULL;
        ssize_t n = ahead_next(a, &buf);
        if (n <= 0) {
            rc = n < 0 ? -1 : chain_finish(c);
            break;
        }
        rc = chain_write(c, buf, (size_t)n);
        ahead_release(a);
    }
    if (rc != 0)
        c->failed = true;
    ahead_free(a);
    return rc;
}

int chain_pump_file(struct chain *c, const char *path, volatile sig_atomic_t *cancel)
{
    if (chain_ok(c) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        c->failed = true;
        return err_sys(errno, "could not open file \"%s\"", path);
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char *what = xasprintf("file \"%s\"", path);
    int rc = pump_readahead(c, fd, what, cancel);
    free(what);
    close(fd);
    return rc;
}

void chain_free(struct chain *c)
{
    if (!c)
        return;
    for (struct filter *f = c->first, *next; f; f = next) {
        next = f->next;
        if (f->ops->free)
            f->ops->free(f);
        else
            free(f);
    }
    free(c);
}
