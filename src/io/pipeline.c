#include "io/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "common/err.h"
#include "io/pdeflate.h"
#include "io/reader.h"
#include "common/util.h"

#define READ_CHUNK (1u << 20)
#define OUT_CHUNK (256u << 10)

/* The canonical (big-endian) hex form that "xxhsum -H2" prints. */
static void hex128(XXH128_hash_t h, char out[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    hex_encode(c.digest, sizeof(c.digest), out);
}

/* Writes all of buf, hashing it on the way. */
static int write_out(const struct pipeline_opts *o, XXH3_state_t *h, const unsigned char *buf,
                     size_t len, uint64_t *total)
{
    XXH3_128bits_update(h, buf, len);
    while (len > 0) {
        ssize_t n = write(o->out_fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(errno, "could not write file \"%s\"", o->out_name);
        }
        buf += n;
        len -= (size_t)n;
        *total += (uint64_t)n;
    }
    return 0;
}

/* Deflates input (or finishes the stream with Z_FINISH) and writes whatever comes out. */
static int deflate_out(const struct pipeline_opts *o, z_stream *z, XXH3_state_t *h,
                       unsigned char *out, const unsigned char *in, size_t len, int flush,
                       uint64_t *total)
{
    z->next_in = (unsigned char *)in;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = out;
        z->avail_out = OUT_CHUNK;
        int rc = deflate(z, flush);
        if (rc == Z_STREAM_ERROR)
            return err_set(ERR_FAILED, "could not compress: zlib stream error");
        size_t have = OUT_CHUNK - z->avail_out;
        if (have && write_out(o, h, out, have, total) != 0)
            return -1;
        if (flush == Z_FINISH ? rc == Z_STREAM_END : z->avail_out != 0)
            return 0;
    }
}

struct out_sink {
    const struct pipeline_opts *o;
    XXH3_state_t *h;
    uint64_t *total;
};

static int sink_write(void *ctx, const unsigned char *buf, size_t len)
{
    struct out_sink *s = ctx;
    return write_out(s->o, s->h, buf, len, s->total);
}

int pipeline_run(const struct pipeline_opts *o, struct pipeline_result *r)
{
    memset(r, 0, sizeof(*r));
    int rc = -1;
    bool z_ready = false;
    z_stream z = {0};
    struct pdeflate *pd = NULL;
    unsigned char *in = xmalloc_io(READ_CHUNK);
    unsigned char *out = xmalloc_io(OUT_CHUNK);
    XXH3_state_t *raw_h = XXH3_createState();
    XXH3_state_t *out_h = XXH3_createState();
    if (!raw_h || !out_h) {
        err_set(ERR_FAILED, "out of memory");
        goto out;
    }
    XXH3_128bits_reset(raw_h);
    XXH3_128bits_reset(out_h);
    r->scan = dumpscan_new();

    struct out_sink sink = {.o = o, .h = out_h, .total = &r->out_bytes};
    if (o->level > 0 && o->jobs > 1) {
        /* deflate on all cores, still one standard gzip member */
        if (!(pd = pdeflate_new(o->level, o->jobs, sink_write, &sink)))
            goto out;
    } else if (o->level > 0) {
        /* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes */
        if (deflateInit2(&z, o->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            err_set(ERR_FAILED, "could not initialise zlib");
            goto out;
        }
        z_ready = true;
    }
    /* a bigger pipe means fewer wake-ups; failure to grow it is harmless */
    (void)fcntl(o->in_fd, F_SETPIPE_SZ, (int)READ_CHUNK);

    for (;;) {
        if (o->cancel && *o->cancel) {
            err_set(ERR_FAILED, "interrupted");
            goto out;
        }
        ssize_t n = read(o->in_fd, in, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err_sys(errno, "could not read dump stream");
            goto out;
        }
        if (n == 0)
            break;
        r->raw_bytes += (uint64_t)n;
        dumpscan_feed(r->scan, (const char *)in, (size_t)n);
        XXH3_128bits_update(raw_h, in, (size_t)n);
        if (pd) {
            if (pdeflate_write(pd, in, (size_t)n) != 0)
                goto out;
        } else if (z_ready) {
            if (deflate_out(o, &z, out_h, out, in, (size_t)n, Z_NO_FLUSH, &r->out_bytes) != 0)
                goto out;
        } else if (write_out(o, out_h, in, (size_t)n, &r->out_bytes) != 0) {
            goto out;
        }
        if (o->progress)
            o->progress(o->progress_ctx, r->raw_bytes, r->out_bytes);
    }
    if (pd && pdeflate_finish(pd) != 0)
        goto out;
    if (z_ready && deflate_out(o, &z, out_h, out, NULL, 0, Z_FINISH, &r->out_bytes) != 0)
        goto out;
    hex128(XXH3_128bits_digest(raw_h), r->raw_checksum);
    hex128(XXH3_128bits_digest(out_h), r->checksum);
    rc = 0;
out:
    pdeflate_free(pd);
    if (z_ready)
        deflateEnd(&z);
    XXH3_freeState(raw_h);
    XXH3_freeState(out_h);
    free(in);
    free(out);
    return rc;
}

int pipeline_hash_file(const char *path, char out[33], uint64_t *size,
                       volatile sig_atomic_t *cancel)
{
    struct reader_result r;
    if (reader_run(path, false, NULL, NULL, cancel, &r) != 0)
        return -1;
    memcpy(out, r.checksum, 33);
    *size = r.file_bytes;
    return 0;
}
