/* Access points end to end: a synthetic dump through the backup's stream (dump scanner,
 * compressor, the offsets filter) with a small interval, then the seekable reader at
 * every point the scanner recorded, for each compression and thread count a backup uses.
 * The whole output must still decompress as one stream to the original bytes. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/access.h"
#include "io/ahead.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "age_key.h"
#include "mem_sink.h"
#include "postgres/dumpscan.h"
#include "unit.h"

#define INTERVAL 3000

static char tmpdir[256];

/* A plain dump: a table of rows of varied lengths (some starting with a backslash, one
 * long), an empty table, and a table with quoted names, between the usual SQL. */
static char *make_dump(size_t *len)
{
    struct sbuf d = {0};
    sbuf_puts(&d, "--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"
                  "CREATE TABLE public.t (id integer, v text);\n\n"
                  "COPY public.t (id, v) FROM stdin;\n");
    unsigned x = 7;
    for (int i = 0; i < 8000; i++) {
        x = x * 1103515245u + 12345u;
        if (i % 97 == 5)
            sbuf_printf(&d, "\\N\trow %d starts with a backslash\n", i);
        else if (i == 1500)
            for (int k = 0; k < 300; k++)
                sbuf_printf(&d, "%s%u", k ? "," : "1500\tlong ", x + (unsigned)k);
        else
            sbuf_printf(&d, "%d\tvalue %08x%08x%08x of row %d\n", i, x, x * 2654435761u,
                        x ^ 0x5bd1e995u, i % 13);
        if (i == 1500)
            sbuf_puts(&d, "\n");
    }
    sbuf_puts(&d, "\\.\n\n\nCOPY public.empty (a) FROM stdin;\n\\.\n\n"
                  "COPY \"odd \"\"s\"\"\".\"T b\" (x) FROM stdin;\n");
    for (int i = 0; i < 500; i++)
        sbuf_printf(&d, "quoted table row %d\n", i);
    sbuf_puts(&d, "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n");
    *len = d.len;
    return d.data;
}

struct run {
    const char *encrypt_to; /* an age recipient, or NULL */
    struct dumpscan *scan;
    struct mark_offsets marks;
    struct mem_sink out;
    size_t boundary_hits; /* points that fell at the start of a buffer fed */
};

/* The dump through the backup's chain, in chunks of the sizes steps gives in turn (0 ends
 * the list and starts it again). */
static int run_chain(struct run *r, const char *compression, int jobs, const char *dump, size_t len,
                     const size_t *steps)
{
    r->scan = dumpscan_new();
    dumpscan_set_interval(r->scan, INTERVAL);
    struct chain *c = chain_new();
    chain_add(c, filter_dumpscan_new(r->scan));
    compress_add(c, compression, strcmp(compression, "zstd") == 0 ? 3 : 6, jobs);
    chain_add(c, filter_mark_offsets_new(&r->marks));
    char *to[] = {(char *)r->encrypt_to};
    if (r->encrypt_to)
        encrypt_add(c, "age", to, 1);
    chain_add(c, filter_callback_new(mem_write, &r->out));
    int rc = 0;
    size_t k = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        if (!steps[k])
            k = 0;
        size_t n = steps[k++] < len - off ? steps[k - 1] : len - off;
        rc = chain_write(c, (const unsigned char *)dump + off, n);
        off += n;
        for (size_t i = 0; i < dumpscan_point_count(r->scan); i++)
            r->boundary_hits += dumpscan_point(r->scan, i)->raw_offset == off;
    }
    if (rc == 0)
        rc = chain_finish(c);
    chain_free(c);
    return rc == 0 ? dumpscan_finish(r->scan) : -1;
}

static void run_free(struct run *r)
{
    dumpscan_free(r->scan);
    mark_offsets_free(&r->marks);
    sbuf_free(&r->out.buf);
}

/* The whole output decompresses, as one gzip member or one zstd stream, to the dump. */
static void check_whole(const char *compression, const struct sbuf *out, const char *dump,
                        size_t len)
{
    unsigned char *plain = xmalloc(len + 16);
    size_t got = 0;
    if (strcmp(compression, "gzip") == 0) {
        z_stream z = {0};
        CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
        z.next_in = (unsigned char *)out->data;
        z.avail_in = (uInt)out->len;
        z.next_out = plain;
        z.avail_out = (uInt)(len + 16);
        CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
        CHECK_INT(z.avail_in, 0); /* one member, nothing after it */
        got = len + 16 - z.avail_out;
        inflateEnd(&z);
    } else if (strcmp(compression, "zstd") == 0) {
        got = ZSTD_decompress(plain, len + 16, out->data, out->len);
        CHECK(!ZSTD_isError(got));
    } else {
        got = out->len;
        memcpy(plain, out->data, got < len + 16 ? got : len + 16);
    }
    CHECK_INT(got, len);
    CHECK(got == len && memcmp(plain, dump, len) == 0);
    free(plain);
}

static size_t count_nl(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

/* The reader at the point gives the part's bytes; the part is whole rows as recorded. */
static void check_point(const char *path, const char *compression, struct crypt_keys *keys,
                        const struct run *r, size_t i, const char *dump, size_t len)
{
    const struct dumpscan_point *pt = dumpscan_point(r->scan, i);
    uint64_t off = mark_offset(&r->marks, i);
    CHECK(off != UINT64_MAX);
    CHECK(pt->raw_offset > 0 && dump[pt->raw_offset - 1] == '\n');
    CHECK_INT(pt->line, count_nl(dump, pt->raw_offset) + 1);
    CHECK_INT(pt->rows, count_nl(dump + pt->raw_offset, pt->raw_bytes));
    if (strcmp(compression, "none") == 0)
        CHECK_INT(off, pt->raw_offset);
    struct access_reader *a = access_open(path, compression, keys ? "age" : "none", keys, off);
    CHECK(a != NULL);
    if (!a)
        return;
    /* an end point: what follows the block, a part: its bytes */
    size_t whole =
        pt->end ? (len - pt->raw_offset < 2000 ? len - pt->raw_offset : 2000) : pt->raw_bytes;
    char *got = xmalloc(whole + 1);
    size_t have = 0;
    while (have < whole) {
        /* odd sizes, so that a read ends anywhere */
        size_t want = whole - have < 777 ? whole - have : 777;
        ssize_t n = access_read(a, got + have, want);
        CHECK(n > 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    CHECK(have == whole && memcmp(got, dump + pt->raw_offset, have) == 0);
    free(got);
    access_close(a);
}

/* Each block's parts follow one another, add up to its rows and end at its "\." line;
 * a block with rows has an end point right after that line. */
static void check_blocks(const struct run *r, const char *dump)
{
    for (size_t i = 0; i < dumpscan_point_count(r->scan); i++) {
        const struct dumpscan_point *pt = dumpscan_point(r->scan, i);
        const struct dumpscan_point *next = dumpscan_point(r->scan, i + 1);
        uint64_t end = pt->raw_offset + pt->raw_bytes;
        if (pt->end)
            continue;
        if (next && next->end) {
            CHECK(next->copy == pt->copy && dumpscan_copy(r->scan, pt->copy)->rows > 0);
            CHECK_INT(next->raw_offset, end + 3);
        } else if (dumpscan_copy(r->scan, pt->copy)->rows > 0 &&
                   (!next || next->copy != pt->copy)) {
            CHECK(!"a block with rows has no end point");
        }
        if (next && next->copy == pt->copy && !next->end) {
            CHECK_INT(next->raw_offset, end);
            CHECK_INT(next->rows_before, pt->rows_before + pt->rows);
            CHECK(pt->raw_bytes >= INTERVAL);
        } else {
            CHECK(memcmp(dump + end, "\\.\n", 3) == 0);
            CHECK_INT(pt->rows_before + pt->rows, dumpscan_copy(r->scan, pt->copy)->rows);
        }
    }
}

/* With an identity file: the backup is encrypted to it, and read with it. */
static void check_config(const char *compression, int jobs, const size_t *steps, bool boundary,
                         const char *identity)
{
    int before = unit_failed_checks;
    size_t len = 0;
    char *dump = make_dump(&len);
    char rcpt[AGE_RECIPIENT_MAX];
    char *idfile = identity ? make_identity_in(tmpdir, identity, rcpt) : NULL;
    struct crypt_keys *keys = identity ? crypt_keys_new(idfile) : NULL;
    struct run r = {.encrypt_to = identity ? rcpt : NULL};
    CHECK_INT(run_chain(&r, compression, jobs, dump, len, steps), 0);
    if (!identity)
        check_whole(compression, &r.out.buf, dump, len);
    char *path = xasprintf("%s/dump.%s.%d", tmpdir, compression, jobs);
    CHECK(write_test_file(path, r.out.buf.data, r.out.buf.len));
    size_t n = dumpscan_point_count(r.scan), with_rows = 0;
    CHECK(n > 20);
    for (size_t i = 0; i < n; i++) {
        with_rows += dumpscan_point(r.scan, i)->rows > 0 || dumpscan_point(r.scan, i)->end;
        check_point(path, compression, keys, &r, i, dump, len);
    }
    /* a part without rows (the empty table's, a point right before a "\." line) is empty */
    for (size_t i = 0; i < n; i++) {
        const struct dumpscan_point *pt = dumpscan_point(r.scan, i);
        CHECK(pt->rows > 0 || pt->end ||
              (pt->raw_bytes == 0 && !memcmp(dump + pt->raw_offset, "\\.\n", 3)));
    }
    CHECK(n - with_rows >= 1); /* the empty table's */
    if (identity)              /* points in several age chunks */
        CHECK(mark_offset(&r.marks, n - 1) > 2 * 65536);
    check_blocks(&r, dump);
    if (boundary)
        CHECK(r.boundary_hits > 0);
    if (unit_failed_checks != before)
        fprintf(stderr, "  (compression %s, jobs %d)\n", compression, jobs);
    unlink(path);
    free(path);
    if (idfile)
        unlink(idfile);
    free(idfile);
    crypt_keys_free(keys);
    run_free(&r);
    free(dump);
}

static void test_points_every_compression(void)
{
    static const size_t odd[] = {1, 4093, 0};
    static const char *const comps[] = {"gzip", "zstd", "none"};
    for (size_t c = 0; c < 3; c++)
        for (int jobs = 1; jobs <= 2; jobs++)
            check_config(comps[c], jobs, odd, false, NULL);
}

/* An age-encrypted backup: the reader finds each point's 64 KiB chunk and reads on. */
static void test_points_encrypted(void)
{
    static const size_t odd[] = {1, 4093, 0};
    check_config("gzip", 2, odd, false, "gzip.key");
    check_config("zstd", 1, odd, false, "zstd.key");
    check_config("none", 1, odd, false, "none.key");
}

/* A point at the very first byte of a buffer: the COPY line ends one buffer exactly. */
static void test_point_at_buffer_start(void)
{
    size_t len = 0;
    char *dump = make_dump(&len);
    const char *copy = strstr(dump, "FROM stdin;\n");
    size_t head = (size_t)(copy - dump) + strlen("FROM stdin;\n");
    free(dump);
    size_t steps[] = {head, 4093, 0};
    check_config("gzip", 1, steps, true, NULL);
    check_config("gzip", 2, steps, true, NULL);
    check_config("zstd", 1, steps, true, NULL);
}

static void test_statements(void)
{
    size_t len = 0;
    char *dump = make_dump(&len);
    struct dumpscan *s = dumpscan_new();
    dumpscan_feed(s, dump, len);
    CHECK_INT(dumpscan_finish(s), 0);
    char *a = dumpscan_copy_statement(s, 0), *b = dumpscan_copy_statement(s, 2);
    CHECK_STR(a, "COPY \"public\".\"t\" (\"id\", \"v\") FROM stdin;");
    CHECK_STR(b, "COPY \"odd \"\"s\"\"\".\"T b\" (\"x\") FROM stdin;");
    CHECK_INT(dumpscan_point_count(s), 0); /* no interval: no points */
    free(a);
    free(b);
    dumpscan_free(s);
    free(dump);
}

/* Damage after the point is ERR_INTEGRITY naming the file; encryption is refused. */
static void test_reader_errors(void)
{
    err_clear();
    char *path = xasprintf("%s/garbage", tmpdir);
    CHECK(write_test_file(path, "\xff\xff\xff\xff\xff\xff\xff\xff", 8));
    char buf[64];
    struct access_reader *a = access_open(path, "gzip", "none", NULL, 2);
    CHECK(a && access_read(a, buf, sizeof(buf)) == -1 && err_class() == ERR_INTEGRITY);
    CHECK(strstr(err_msg(), "garbage") != NULL);
    access_close(a);
    err_clear();
    a = access_open(path, "zstd", "none", NULL, 0);
    CHECK(a && access_read(a, buf, sizeof(buf)) == -1 && err_class() == ERR_INTEGRITY);
    access_close(a);
    err_clear();
    CHECK(access_open(path, "gzip", "age", NULL, 0) == NULL);
    CHECK(err_class() == ERR_FAILED && strstr(err_msg(), "cannot be read from an access point"));
    err_clear();
    CHECK(access_open(path, "gzip", "openpgp", NULL, 0) == NULL);
    CHECK(err_class() == ERR_FAILED && strstr(err_msg(), "cannot be read from an access point"));
    err_clear();
    unlink(path);
    free(path);
}

/* All an ahead reader gives, read in odd sizes. */
static char *read_all(struct ahead *a, size_t *n)
{
    struct sbuf b = {0};
    char buf[777];
    ssize_t k;
    while ((k = ahead_read(a, buf, 1 + (b.len % sizeof(buf)))) > 0)
        sbuf_add(&b, buf, (size_t)k);
    CHECK_INT(k, 0);
    *n = b.len;
    sbuf_puts(&b, "");
    return b.data;
}

/* Decompressed ahead on a thread: the whole stream from offset 0 (gzip with its header),
 * a part from its point that stops at its limit, a reader stopped early, and a reader's
 * error, which comes through with its class. */
static void test_ahead(void)
{
    size_t len = 0;
    char *dump = make_dump(&len);
    static const size_t steps[] = {4093, 0};
    static const char *const comps[] = {"gzip", "zstd", "none"};
    char few_buf[333];
    for (size_t c = 0; c < 3; c++) {
        struct run r = {0};
        CHECK_INT(run_chain(&r, comps[c], 1, dump, len, steps), 0);
        char *path = xasprintf("%s/ahead.%s", tmpdir, comps[c]);
        CHECK(write_test_file(path, r.out.buf.data, r.out.buf.len));
        size_t n = 0;
        struct ahead *a =
            ahead_start_access(access_open(path, comps[c], "none", NULL, 0), UINT64_MAX);
        char *got = read_all(a, &n);
        CHECK(n == len && memcmp(got, dump, len) == 0);
        free(got);
        ahead_free(a);
        size_t mid = dumpscan_point_count(r.scan) / 2;
        while (dumpscan_point(r.scan, mid)->end || dumpscan_point(r.scan, mid)->raw_bytes < 100)
            mid++;
        const struct dumpscan_point *pt = dumpscan_point(r.scan, mid);
        uint64_t off = mark_offset(&r.marks, mid);
        a = ahead_start_access(access_open(path, comps[c], "none", NULL, off), pt->raw_bytes);
        got = read_all(a, &n);
        CHECK(n == pt->raw_bytes && memcmp(got, dump + pt->raw_offset, n) == 0);
        free(got);
        ahead_free(a);
        /* zstd: a part must end where its frame does (whose checksum is then checked) */
        a = ahead_start_access(access_open(path, comps[c], "none", NULL, off), pt->raw_bytes - 7);
        ssize_t k = 0;
        while ((k = ahead_read(a, few_buf, sizeof(few_buf))) > 0)
            ;
        CHECK(strcmp(comps[c], "zstd") == 0 ? k == -1 && err_class() == ERR_INTEGRITY : k == 0);
        err_clear();
        ahead_free(a);
        a = ahead_start_access(access_open(path, comps[c], "none", NULL, 0), UINT64_MAX);
        char few[10];
        CHECK(ahead_read(a, few, sizeof(few)) == (ssize_t)sizeof(few));
        ahead_free(a); /* its thread may be filling the ring: it stops */
        unlink(path);
        free(path);
        run_free(&r);
    }
    free(dump);
    err_clear();
    char *path = xasprintf("%s/ahead.garbage", tmpdir);
    CHECK(write_test_file(path, "\xff\xff\xff\xff\xff\xff\xff\xff", 8));
    struct ahead *a = ahead_start_access(access_open(path, "gzip", "none", NULL, 2), UINT64_MAX);
    char buf[16];
    CHECK(ahead_read(a, buf, sizeof(buf)) == -1 && err_class() == ERR_INTEGRITY);
    CHECK(strstr(err_msg(), "ahead.garbage") != NULL);
    err_clear();
    ahead_free(a);
    unlink(path);
    free(path);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/access-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_points_every_compression);
    RUN(test_point_at_buffer_start);
    RUN(test_points_encrypted);
    RUN(test_statements);
    RUN(test_reader_errors);
    RUN(test_ahead);
    rmdir(tmpdir);
    return UNIT_DONE();
}
