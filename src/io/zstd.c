#include "io/zstd.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"

#define ZSTD_OUT (1u << 20) /* what the decompressor hands on at a time, as gunzip does */

struct zstd_filter {
    struct filter base;
    ZSTD_CCtx *cctx;
    unsigned char *out;
    size_t out_size;
};

/* Compresses input (or, with ZSTD_e_end, ends the frame) and pushes whatever comes out. */
static int compress_out(struct zstd_filter *z, const unsigned char *buf, size_t len,
                        ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {z->out, z->out_size, 0};
        size_t left = ZSTD_compressStream2(z->cctx, &out, &in, mode);
        if (ZSTD_isError(left))
            return err_set(ERR_FAILED, "could not compress: %s", ZSTD_getErrorName(left));
        if (filter_push(z->base.next, z->out, out.pos) != 0)
            return -1;
        /* continue: until all input is taken; end: until the frame is flushed whole */
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int zstd_process(struct filter *f, const unsigned char *buf, size_t len)
{
    return compress_out((struct zstd_filter *)f, buf, len, ZSTD_e_continue);
}

static int zstd_finish(struct filter *f)
{
    return compress_out((struct zstd_filter *)f, NULL, 0, ZSTD_e_end);
}

/* An access point: the frame ends here, the next bytes start a new one. */
static int zstd_mark(struct filter *f, size_t id)
{
    if (compress_out((struct zstd_filter *)f, NULL, 0, ZSTD_e_end) != 0)
        return -1;
    return filter_mark(f->next, id);
}

static void zstd_free(struct filter *f)
{
    struct zstd_filter *z = (struct zstd_filter *)f;
    ZSTD_freeCCtx(z->cctx);
    free(z->out);
    free(z);
}

/* jobs worker threads, as many as the library allows; none when it has no threads. */
static void set_workers(ZSTD_CCtx *cctx, int jobs)
{
    ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
    if (jobs <= 1 || ZSTD_isError(b.error) || b.upperBound < 1)
        return;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers,
                                            jobs < b.upperBound ? jobs : b.upperBound)))
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 0);
}

struct filter *filter_zstd_new(int level, int jobs)
{
    static const struct filter_ops ops = {
        .process = zstd_process, .finish = zstd_finish, .free = zstd_free, .mark = zstd_mark};
    struct zstd_filter *z = xcalloc(1, sizeof(*z));
    z->base.ops = &ops;
    if (!(z->cctx = ZSTD_createCCtx()) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1))) {
        zstd_free(&z->base);
        err_set(ERR_FAILED, "could not initialise zstd");
        return NULL;
    }
    set_workers(z->cctx, jobs);
    z->out_size = ZSTD_CStreamOutSize();
    z->out = xmalloc_io(z->out_size);
    return &z->base;
}

struct unzstd_filter {
    struct filter base;
    ZSTD_DCtx *dctx;
    bool in_frame;   /* inside a frame: its end has not been seen */
    bool seen_input; /* a stream with no frame at all is no zstd either */
    unsigned char *out;
    size_t out_size;
    char *name;
};

static int unzstd_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct unzstd_filter *z = (struct unzstd_filter *)f;
    ZSTD_inBuffer in = {buf, len, 0};
    bool out_full = false;
    z->seen_input = true;
    /* go on while input is left, or while the last call filled the output (libzstd may
     * hold more of this input's output); a frame's end starts the next one */
    while (in.pos < in.size || out_full) {
        ZSTD_outBuffer out = {z->out, z->out_size, 0};
        size_t rc = ZSTD_decompressStream(z->dctx, &out, &in);
        if (ZSTD_isError(rc))
            return err_set(ERR_INTEGRITY, "file \"%s\" is not valid zstd data: %s", z->name,
                           ZSTD_getErrorName(rc));
        if (filter_push(f->next, z->out, out.pos) != 0)
            return -1;
        z->in_frame = rc != 0;
        out_full = rc != 0 && out.pos == out.size;
    }
    return 0;
}

static int unzstd_finish(struct filter *f)
{
    struct unzstd_filter *z = (struct unzstd_filter *)f;
    if (z->in_frame || !z->seen_input)
        return err_set(ERR_INTEGRITY, "file \"%s\" is truncated: the zstd stream does not end",
                       z->name);
    return 0;
}

static void unzstd_free(struct filter *f)
{
    struct unzstd_filter *z = (struct unzstd_filter *)f;
    ZSTD_freeDCtx(z->dctx);
    free(z->out);
    free(z->name);
    free(z);
}

struct filter *filter_unzstd_new(const char *name)
{
    static const struct filter_ops ops = {
        .process = unzstd_process, .finish = unzstd_finish, .free = unzstd_free};
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) {
        err_set(ERR_FAILED, "could not initialise zstd");
        return NULL;
    }
    struct unzstd_filter *z = xcalloc(1, sizeof(*z));
    z->base.ops = &ops;
    z->dctx = dctx;
    z->out_size = ZSTD_OUT;
    z->out = xmalloc_io(z->out_size);
    z->name = xstrdup(name);
    return &z->base;
}
