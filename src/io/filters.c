#include "io/filters.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "common/progress.h"
#include "common/util.h"
#include "postgres/dumpscan.h"

struct size_filter {
    struct filter base;
    uint64_t *total;
};

static int size_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct size_filter *s = (struct size_filter *)f;
    *s->total += len;
    return filter_push(f->next, buf, len);
}

struct filter *filter_size_new(uint64_t *total)
{
    static const struct filter_ops ops = {.process = size_process};
    struct size_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->total = total;
    *total = 0;
    return &s->base;
}

struct progress_filter {
    struct filter base;
    struct progress *p;
    uint64_t done;
};

static int progress_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct progress_filter *s = (struct progress_filter *)f;
    s->done += len;
    progress_update(s->p, s->done);
    return filter_push(f->next, buf, len);
}

struct filter *filter_progress_new(struct progress *p)
{
    static const struct filter_ops ops = {.process = progress_process};
    struct progress_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->p = p;
    return &s->base;
}

struct dumpscan_filter {
    struct filter base;
    struct dumpscan *scan;
};

static int dumpscan_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct dumpscan_filter *s = (struct dumpscan_filter *)f;
    dumpscan_feed(s->scan, (const char *)buf, len);
    return filter_push(f->next, buf, len);
}

struct filter *filter_dumpscan_new(struct dumpscan *scan)
{
    static const struct filter_ops ops = {.process = dumpscan_process};
    struct dumpscan_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->scan = scan;
    return &s->base;
}

struct fd_filter {
    struct filter base;
    int fd;
    char *name;
};

static int fd_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct fd_filter *s = (struct fd_filter *)f;
    while (len > 0) {
        ssize_t n = write(s->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(errno, "could not write file \"%s\"", s->name);
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fd_free(struct filter *f)
{
    struct fd_filter *s = (struct fd_filter *)f;
    free(s->name);
    free(s);
}

struct filter *filter_fd_new(int fd, const char *name)
{
    static const struct filter_ops ops = {.process = fd_process, .free = fd_free};
    struct fd_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->fd = fd;
    s->name = xstrdup(name);
    return &s->base;
}

struct callback_filter {
    struct filter base;
    filter_callback fn;
    void *ctx;
};

static int callback_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct callback_filter *s = (struct callback_filter *)f;
    return s->fn(s->ctx, buf, len);
}

struct filter *filter_callback_new(filter_callback fn, void *ctx)
{
    static const struct filter_ops ops = {.process = callback_process};
    struct callback_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->fn = fn;
    s->ctx = ctx;
    return &s->base;
}
