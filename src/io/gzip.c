#include "io/gzip.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "common/err.h"
#include "common/util.h"
#include "io/pdeflate.h"

#define DEFLATE_OUT (256u << 10)
#define INFLATE_OUT (1u << 20)

struct gzip_filter {
    struct filter base;
    struct pdeflate *pd; /* jobs > 1 */
    z_stream z;          /* jobs <= 1 */
    bool z_ready;
    unsigned char *out;
};

/* Deflates input (or, with Z_FINISH, ends the stream) and pushes whatever comes out. */
static int deflate_out(struct gzip_filter *g, const unsigned char *in, size_t len, int flush)
{
    g->z.next_in = (unsigned char *)in;
    g->z.avail_in = (uInt)len;
    for (;;) {
        g->z.next_out = g->out;
        g->z.avail_out = DEFLATE_OUT;
        int rc = deflate(&g->z, flush);
        if (rc == Z_STREAM_ERROR)
            return err_set(ERR_FAILED, "could not compress: zlib stream error");
        if (filter_push(g->base.next, g->out, DEFLATE_OUT - g->z.avail_out) != 0)
            return -1;
        if (flush == Z_FINISH ? rc == Z_STREAM_END : g->z.avail_out != 0)
            return 0;
    }
}

/* The parallel deflate's output, in order, on the chain's thread. */
static int pdeflate_out(void *ctx, const unsigned char *buf, size_t len)
{
    struct gzip_filter *g = ctx;
    return filter_push(g->base.next, buf, len);
}

static int gzip_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct gzip_filter *g = (struct gzip_filter *)f;
    return g->pd ? pdeflate_write(g->pd, buf, len) : deflate_out(g, buf, len, Z_NO_FLUSH);
}

static int gzip_finish(struct filter *f)
{
    struct gzip_filter *g = (struct gzip_filter *)f;
    return g->pd ? pdeflate_finish(g->pd) : deflate_out(g, NULL, 0, Z_FINISH);
}

/* An access point: a full flush (byte-aligned, no reference back across it), or with
 * the parallel deflate the end of its block, reported when that block is written. */
static int gzip_mark(struct filter *f, size_t id)
{
    struct gzip_filter *g = (struct gzip_filter *)f;
    if (g->pd)
        return pdeflate_mark(g->pd, id);
    if (deflate_out(g, NULL, 0, Z_FULL_FLUSH) != 0)
        return -1;
    return filter_mark(f->next, id);
}

static int pdeflate_marked(void *ctx, size_t id)
{
    struct gzip_filter *g = ctx;
    return filter_mark(g->base.next, id);
}

static void gzip_free(struct filter *f)
{
    struct gzip_filter *g = (struct gzip_filter *)f;
    pdeflate_free(g->pd);
    if (g->z_ready)
        deflateEnd(&g->z);
    free(g->out);
    free(g);
}

struct filter *filter_gzip_new(int level, int jobs)
{
    static const struct filter_ops ops = {
        .process = gzip_process, .finish = gzip_finish, .free = gzip_free, .mark = gzip_mark};
    struct gzip_filter *g = xcalloc(1, sizeof(*g));
    g->base.ops = &ops;
    if (jobs > 1) {
        /* deflate on all cores, still one standard gzip member */
        if (!(g->pd = pdeflate_new(level, jobs, pdeflate_out, g)))
            goto fail;
        pdeflate_on_mark(g->pd, pdeflate_marked);
        return &g->base;
    }
    /* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes */
    if (deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        err_set(ERR_FAILED, "could not initialise zlib");
        goto fail;
    }
    g->z_ready = true;
    g->out = xmalloc_io(DEFLATE_OUT);
    return &g->base;
fail:
    gzip_free(&g->base);
    return NULL;
}

struct gunzip_filter {
    struct filter base;
    z_stream z;
    bool in_member;  /* inside a member: its end has not been seen */
    bool seen_input; /* a stream with no member at all is no gzip either */
    unsigned char *out;
    char *name;
};

static int gunzip_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct gunzip_filter *g = (struct gunzip_filter *)f;
    bool out_full = false;
    g->seen_input = true;
    g->z.next_in = (unsigned char *)buf;
    g->z.avail_in = (uInt)len;
    /* go on while input is left, or while the last call filled the output (zlib may hold
     * more of this input's output) */
    while (g->z.avail_in > 0 || out_full) {
        if (!g->in_member) {
            /* a new gzip member (concatenated members are valid gzip) */
            if (inflateReset(&g->z) != Z_OK)
                return err_set(ERR_FAILED, "could not reset zlib");
            g->in_member = true;
        }
        g->z.next_out = g->out;
        g->z.avail_out = INFLATE_OUT;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return err_set(ERR_INTEGRITY, "file \"%s\" is not valid gzip data: %s", g->name,
                           g->z.msg ? g->z.msg : "data error");
        if (filter_push(f->next, g->out, INFLATE_OUT - g->z.avail_out) != 0)
            return -1;
        out_full = rc != Z_STREAM_END && g->z.avail_out == 0;
        if (rc == Z_STREAM_END)
            g->in_member = false;
    }
    return 0;
}

static int gunzip_finish(struct filter *f)
{
    struct gunzip_filter *g = (struct gunzip_filter *)f;
    if (g->in_member || !g->seen_input)
        return err_set(ERR_INTEGRITY, "file \"%s\" is truncated: the gzip stream does not end",
                       g->name);
    return 0;
}

static void gunzip_free(struct filter *f)
{
    struct gunzip_filter *g = (struct gunzip_filter *)f;
    inflateEnd(&g->z);
    free(g->out);
    free(g->name);
    free(g);
}

struct filter *filter_gunzip_new(const char *name)
{
    static const struct filter_ops ops = {
        .process = gunzip_process, .finish = gunzip_finish, .free = gunzip_free};
    struct gunzip_filter *g = xcalloc(1, sizeof(*g));
    /* 15 + 16: gzip wrapper only, so a zlib or raw stream is not taken for a backup */
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        free(g);
        err_set(ERR_FAILED, "could not initialise zlib");
        return NULL;
    }
    g->base.ops = &ops;
    g->out = xmalloc_io(INFLATE_OUT);
    g->name = xstrdup(name);
    return &g->base;
}
