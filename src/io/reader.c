#include "io/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "common/err.h"
#include "common/util.h"

#define IN_CHUNK (1u << 20)
#define OUT_CHUNK (1u << 20)

/* The canonical (big-endian) hex form that "xxhsum -H2" prints. */
static void hex128(XXH128_hash_t h, char out[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    hex_encode(c.digest, sizeof(c.digest), out);
}

/* Hands raw bytes to the sink and the raw hash. */
static int emit(XXH3_state_t *raw_h, reader_sink sink, void *ctx, const unsigned char *buf,
                size_t len, uint64_t *raw_bytes)
{
    XXH3_128bits_update(raw_h, buf, len);
    *raw_bytes += len;
    return sink ? sink(ctx, buf, len) : 0;
}

int reader_run(const char *path, bool gzip, reader_sink sink, void *ctx,
               volatile sig_atomic_t *cancel, struct reader_result *r)
{
    memset(r, 0, sizeof(*r));
    int rc = -1;
    bool z_ready = false, in_member = false;
    z_stream z = {0};
    unsigned char *in = xmalloc_io(IN_CHUNK), *out = gzip ? xmalloc_io(OUT_CHUNK) : NULL;
    XXH3_state_t *file_h = XXH3_createState(), *raw_h = XXH3_createState();
    int fd = -1;
    if (!file_h || !raw_h) {
        err_set(ERR_FAILED, "out of memory");
        goto out;
    }
    XXH3_128bits_reset(file_h);
    XXH3_128bits_reset(raw_h);

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        err_sys(errno, "could not open file \"%s\"", path);
        goto out;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (gzip) {
        /* 15 + 16: gzip wrapper only, so a zlib or raw stream is not taken for a backup */
        if (inflateInit2(&z, 15 + 16) != Z_OK) {
            err_set(ERR_FAILED, "could not initialise zlib");
            goto out;
        }
        z_ready = true;
    }

    for (;;) {
        if (cancel && *cancel) {
            err_set(ERR_FAILED, "interrupted");
            goto out;
        }
        ssize_t n = read(fd, in, IN_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err_sys(errno, "could not read file \"%s\"", path);
            goto out;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(file_h, in, (size_t)n);
        r->file_bytes += (uint64_t)n;
        if (!gzip) {
            /* plain: the raw stream is the file itself, hashed once */
            r->raw_bytes += (uint64_t)n;
            if (sink && sink(ctx, in, (size_t)n) != 0)
                goto out;
            continue;
        }
        z.next_in = in;
        z.avail_in = (uInt)n;
        while (z.avail_in > 0) {
            if (!in_member) {
                /* a new gzip member (concatenated members are valid gzip) */
                if (inflateReset(&z) != Z_OK) {
                    err_set(ERR_FAILED, "could not reset zlib");
                    goto out;
                }
                in_member = true;
            }
            z.next_out = out;
            z.avail_out = OUT_CHUNK;
            int zrc = inflate(&z, Z_NO_FLUSH);
            if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
                err_set(ERR_INTEGRITY, "file \"%s\" is not valid gzip data: %s", path,
                        z.msg ? z.msg : "data error");
                goto out;
            }
            size_t have = OUT_CHUNK - z.avail_out;
            if (have && emit(raw_h, sink, ctx, out, have, &r->raw_bytes) != 0)
                goto out;
            if (zrc == Z_STREAM_END)
                in_member = false;
        }
    }
    if (gzip && (in_member || r->file_bytes == 0)) {
        err_set(ERR_INTEGRITY, "file \"%s\" is truncated: the gzip stream does not end", path);
        goto out;
    }
    hex128(XXH3_128bits_digest(file_h), r->checksum);
    if (gzip)
        hex128(XXH3_128bits_digest(raw_h), r->raw_checksum);
    else
        memcpy(r->raw_checksum, r->checksum, sizeof(r->raw_checksum));
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (z_ready)
        inflateEnd(&z);
    XXH3_freeState(file_h);
    XXH3_freeState(raw_h);
    free(in);
    free(out);
    return rc;
}
