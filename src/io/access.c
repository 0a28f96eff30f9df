#include "io/access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/age.h"
#include "io/crypt.h"

#define ACCESS_IN (256u << 10)

enum access_kind { AK_NONE, AK_GZIP, AK_ZSTD };

struct access_reader {
    enum access_kind kind;
    int fd;                     /* the file, unless it is encrypted */
    struct age_identities *ids; /* age: the keys, and the payload from the offset */
    struct age_reader *age;
    char *path;
    unsigned char *in; /* compressed bytes read, in[pos..len) not yet decoded */
    size_t len, pos;
    bool eof;      /* the file was read to its end */
    bool done;     /* gzip: the deflate stream's final block ended */
    bool in_frame; /* zstd: inside a frame */
    z_stream z;
    bool z_ready;
    ZSTD_DCtx *dctx;
};

/* The stored bytes from the offset on: the file's, or the age payload's. */
static ssize_t source_read(struct access_reader *r, void *buf, size_t cap)
{
    if (r->age)
        return age_reader_read(r->age, buf, cap);
    ssize_t n;
    do
        n = read(r->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return err_sys(errno, "could not read file \"%s\"", r->path);
    return n;
}

/* More compressed input when all of it was used; false once there is none (or -1 on a
 * read error, returned through *rc). */
static bool fill(struct access_reader *r, int *rc)
{
    if (r->pos < r->len)
        return true;
    if (r->eof)
        return false;
    ssize_t n = source_read(r, r->in, ACCESS_IN);
    if (n < 0) {
        *rc = -1;
        return false;
    }
    r->eof = n == 0;
    r->len = (size_t)n;
    r->pos = 0;
    return n > 0;
}

static ssize_t truncated(const struct access_reader *r, const char *what)
{
    err_set(ERR_INTEGRITY, "file \"%s\" is truncated: the %s stream does not end", r->path, what);
    return -1;
}

static ssize_t read_gzip(struct access_reader *r, unsigned char *buf, size_t cap)
{
    if (cap > (1u << 30))
        cap = 1u << 30;
    r->z.next_out = buf;
    r->z.avail_out = (uInt)cap;
    while (!r->done && r->z.avail_out == (uInt)cap) {
        int rc = 0;
        if (!fill(r, &rc))
            return rc ? -1 : truncated(r, "gzip");
        r->z.next_in = r->in + r->pos;
        r->z.avail_in = (uInt)(r->len - r->pos);
        int zrc = inflate(&r->z, Z_NO_FLUSH);
        r->pos = r->len - r->z.avail_in;
        if (zrc == Z_STREAM_END)
            r->done = true;
        else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return err_set(ERR_INTEGRITY, "file \"%s\" is not valid gzip data: %s", r->path,
                           r->z.msg ? r->z.msg : "data error");
    }
    return (ssize_t)(cap - r->z.avail_out);
}

static ssize_t read_zstd(struct access_reader *r, unsigned char *buf, size_t cap)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    while (out.pos == 0) {
        int rc = 0;
        if (!fill(r, &rc)) {
            if (rc)
                return -1;
            return r->in_frame ? truncated(r, "zstd") : 0;
        }
        ZSTD_inBuffer in = {r->in, r->len, r->pos};
        size_t left = ZSTD_decompressStream(r->dctx, &out, &in);
        r->pos = in.pos;
        if (ZSTD_isError(left))
            return err_set(ERR_INTEGRITY, "file \"%s\" is not valid zstd data: %s", r->path,
                           ZSTD_getErrorName(left));
        r->in_frame = left != 0;
    }
    return (ssize_t)out.pos;
}

int access_end(struct access_reader *r)
{
    if (r->kind != AK_ZSTD)
        return 0;
    /* what is left of the frame: the "\\." line of a table's last part at most, then the
     * frame's end, where libzstd checks its content checksum */
    unsigned char tail[8];
    size_t extra = 0;
    while (r->in_frame) {
        ssize_t n = read_zstd(r, tail, sizeof(tail));
        if (n < 0)
            return -1;
        if (n == 0 || (extra += (size_t)n) > 4)
            return err_set(ERR_INTEGRITY,
                           "file \"%s\" does not match its access points: no zstd frame "
                           "ends where a part does",
                           r->path);
    }
    return 0;
}

ssize_t access_read(struct access_reader *r, void *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    if (r->kind == AK_GZIP)
        return read_gzip(r, buf, cap);
    if (r->kind == AK_ZSTD)
        return read_zstd(r, buf, cap);
    return source_read(r, buf, cap);
}

/* The decoder for compression, ready to start at a point. */
static int start_decoder(struct access_reader *r, const char *compression, uint64_t offset)
{
    if (strcmp(compression, "none") == 0) {
        r->kind = AK_NONE;
        return 0;
    }
    r->in = xmalloc_io(ACCESS_IN);
    if (strcmp(compression, "gzip") == 0) {
        r->kind = AK_GZIP;
        /* raw deflate: the point is inside the member, past its header; at offset 0, the
         * member with its header */
        if (inflateInit2(&r->z, offset == 0 ? 15 + 16 : -15) != Z_OK)
            return err_set(ERR_FAILED, "could not initialise zlib");
        r->z_ready = true;
        return 0;
    }
    if (strcmp(compression, "zstd") == 0) {
        r->kind = AK_ZSTD;
        if (!(r->dctx = ZSTD_createDCtx()))
            return err_set(ERR_FAILED, "could not initialise zstd");
        return 0;
    }
    return err_set(ERR_FAILED, "unknown compression \"%s\"", compression);
}

/* The stored bytes from offset: the file itself, positioned there. */
static int open_plain(struct access_reader *r, uint64_t offset)
{
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r->fd < 0)
        return err_sys(errno, "could not open file \"%s\"", r->path);
    if (offset > INT64_MAX || lseek(r->fd, (off_t)offset, SEEK_SET) < 0)
        return err_sys(offset > INT64_MAX ? EINVAL : errno, "could not seek in file \"%s\"",
                       r->path);
    return 0;
}

/* The age payload from offset, with the keys' identities. */
static int open_age(struct access_reader *r, const struct crypt_keys *keys, uint64_t offset)
{
    const char *idfile = crypt_keys_identity_file(keys);
    if (!idfile)
        return err_set(ERR_FAILED,
                       "file \"%s\" is encrypted with age and no identity was given: it "
                       "cannot be read from an access point",
                       r->path);
    if (!(r->ids = age_identities_load(idfile)) ||
        !(r->age = age_reader_open(r->path, r->ids, offset)))
        return -1;
    return 0;
}

struct access_reader *access_open(const char *path, const char *compression, const char *encryption,
                                  const struct crypt_keys *keys, uint64_t comp_offset)
{
    const char *enc = encryption ? encryption : "none";
    if (strcmp(enc, "none") != 0 && strcmp(enc, "age") != 0) {
        err_set(ERR_FAILED,
                "file \"%s\" is encrypted with %s and cannot be read from an access point", path,
                enc);
        return NULL;
    }
    struct access_reader *r = xcalloc(1, sizeof(*r));
    r->fd = -1;
    r->path = xstrdup(path);
    int rc = strcmp(enc, "age") == 0 ? open_age(r, keys, comp_offset) : open_plain(r, comp_offset);
    if (rc != 0 || start_decoder(r, compression ? compression : "", comp_offset) != 0) {
        access_close(r);
        return NULL;
    }
    return r;
}

void access_close(struct access_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    age_reader_free(r->age);
    age_identities_free(r->ids);
    if (r->z_ready)
        inflateEnd(&r->z);
    ZSTD_freeDCtx(r->dctx);
    free(r->in);
    free(r->path);
    free(r);
}
