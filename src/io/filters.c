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
    uint64_t fed; /* bytes before this buffer */
};

/* Passes the buffer on in pieces, marking the access points the scanner found in it. */
static int dumpscan_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct dumpscan_filter *s = (struct dumpscan_filter *)f;
    size_t first = dumpscan_point_count(s->scan);
    dumpscan_feed(s->scan, (const char *)buf, len);
    size_t done = 0;
    for (size_t i = first; i < dumpscan_point_count(s->scan); i++) {
        size_t at = (size_t)(dumpscan_point(s->scan, i)->raw_offset - s->fed);
        if (filter_push(f->next, buf + done, at - done) != 0 || filter_mark(f->next, i) != 0)
            return -1;
        done = at;
    }
    s->fed += len;
    return filter_push(f->next, buf + done, len - done);
}

struct filter *filter_dumpscan_new(struct dumpscan *scan)
{
    static const struct filter_ops ops = {.process = dumpscan_process};
    struct dumpscan_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->scan = scan;
    return &s->base;
}

struct offsets_filter {
    struct filter base;
    uint64_t passed;
    struct mark_offsets *out;
};

static int offsets_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct offsets_filter *s = (struct offsets_filter *)f;
    s->passed += len;
    return filter_push(f->next, buf, len);
}

static int offsets_mark(struct filter *f, size_t id)
{
    struct offsets_filter *s = (struct offsets_filter *)f;
    struct mark_offsets *m = s->out;
    if (id >= m->n) {
        size_t n = id + 1 > 2 * m->n ? id + 1 : 2 * m->n;
        m->at = xrealloc(m->at, n * sizeof(*m->at));
        for (size_t i = m->n; i < n; i++)
            m->at[i] = UINT64_MAX;
        m->n = n;
    }
    m->at[id] = s->passed;
    return filter_mark(f->next, id);
}

struct filter *filter_mark_offsets_new(struct mark_offsets *out)
{
    static const struct filter_ops ops = {.process = offsets_process, .mark = offsets_mark};
    struct offsets_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->out = out;
    *out = (struct mark_offsets){0};
    return &s->base;
}

uint64_t mark_offset(const struct mark_offsets *m, size_t id)
{
    return id < m->n ? m->at[id] : UINT64_MAX;
}

void mark_offsets_free(struct mark_offsets *m)
{
    free(m->at);
    *m = (struct mark_offsets){0};
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
