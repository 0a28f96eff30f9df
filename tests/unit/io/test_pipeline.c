/*
 * The backup's stream as backup builds its chain (the input → size, rows, raw checksum →
 * gzip unless level 0 → size, checksum → the output file): gzip output, checksums, row
 * counts, errors, the parallel deflate.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/filters.h"
#include "io/hash.h"
#include "postgres/dumpscan.h"
#include "unit.h"
#include "common/util.h"

static char tmpdir[256];

struct pipeline_opts {
    int in_fd;
    int out_fd;
    int level; /* 1..9, 0 = store plain */
    int jobs;
    const char *out_name;
    volatile sig_atomic_t *cancel;
};

struct pipeline_result {
    uint64_t raw_bytes;
    uint64_t out_bytes;
    char checksum[HASH_HEX_LEN];
    char raw_checksum[HASH_HEX_LEN];
    struct dumpscan *scan;
};

static int pipeline_run(const struct pipeline_opts *o, struct pipeline_result *r)
{
    memset(r, 0, sizeof(*r));
    r->scan = dumpscan_new();
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&r->raw_bytes));
    chain_add(c, filter_dumpscan_new(r->scan));
    chain_add(c, filter_hash_new(r->raw_checksum));
    compress_add(c, o->level > 0 ? "gzip" : "none", o->level, o->jobs);
    chain_add(c, filter_size_new(&r->out_bytes));
    chain_add(c, filter_hash_new(r->checksum));
    chain_add(c, filter_fd_new(o->out_fd, o->out_name));
    int rc = chain_pump_fd(c, o->in_fd, "dump stream", o->cancel);
    chain_free(c);
    return rc;
}

static const char *sample_dump =
    "--\n-- PostgreSQL database dump\n--\n\n"
    "SET standard_conforming_strings = on;\n"
    "CREATE TABLE public.t (\n    a integer,\n    b text\n);\n"
    "COPY public.t (a, b) FROM stdin;\n1\tx\n2\ta\\\\.b\\n\\\\.\n\\.\n\n"
    "COPY public.z  FROM stdin;\n\n\n\\.\n\n"
    "--\n-- PostgreSQL database dump complete\n--\n\n";

static char *make_input(const char *name, const char *text, size_t repeat_body)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fputs("COPY public.big (v) FROM stdin;\n", f);
    for (size_t i = 0; i < repeat_body; i++)
        fprintf(f, "row %zu with some text that compresses\n", i);
    fputs("\\.\n", f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Inflates a whole gzip file into memory; returns NULL if it is not valid gzip. */
static char *gunzip_file(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    struct sbuf b = {0};
    char buf[65536];
    int n;
    while ((n = gzread(g, buf, sizeof(buf))) > 0)
        sbuf_add(&b, buf, (size_t)n);
    int errnum;
    gzerror(g, &errnum);
    gzclose(g);
    if (n < 0 || errnum != Z_OK) {
        sbuf_free(&b);
        return NULL;
    }
    *len = b.len;
    if (!b.data)
        sbuf_add(&b, "", 0);
    return b.data;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct sbuf b = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sbuf_add(&b, buf, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

static int run_jobs(const char *in, const char *out, int level, int jobs, struct pipeline_result *r)
{
    int ifd = open(in, O_RDONLY);
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct pipeline_opts o = {
        .in_fd = ifd, .out_fd = ofd, .level = level, .jobs = jobs, .out_name = out};
    int rc = pipeline_run(&o, r);
    close(ifd);
    close(ofd);
    return rc;
}

static int run(const char *in, const char *out, int level, struct pipeline_result *r)
{
    return run_jobs(in, out, level, 1, r);
}

static void test_gzip_roundtrip_and_counts(void)
{
    char *in = make_input("in1", sample_dump, 200000);
    char *out = xasprintf("%s/out1.gz", tmpdir);
    struct pipeline_result r;
    CHECK_INT(run(in, out, 6, &r), 0);

    size_t raw_len, back_len;
    char *raw = read_all(in, &raw_len);
    char *back = gunzip_file(out, &back_len);
    CHECK(back != NULL);
    CHECK_INT(back_len, raw_len);
    CHECK(back && memcmp(raw, back, raw_len) == 0);
    CHECK_INT(r.raw_bytes, raw_len);

    struct stat st;
    stat(out, &st);
    CHECK_INT(r.out_bytes, st.st_size);
    CHECK(r.out_bytes < r.raw_bytes / 4);

    /* the file checksum is of the bytes on disk, the raw one of the input */
    char h[33];
    uint64_t size;
    CHECK_INT(hash_file(out, h, &size, NULL), 0);
    CHECK_STR(r.checksum, h);
    CHECK_INT(size, st.st_size);
    CHECK_INT(hash_file(in, h, &size, NULL), 0);
    CHECK_STR(r.raw_checksum, h);

    /* rows counted on the way */
    CHECK_INT(dumpscan_finish(r.scan), 0);
    CHECK(dumpscan_trailer_ok(r.scan));
    CHECK_INT(dumpscan_copy_count(r.scan), 3);
    CHECK_INT(dumpscan_copy(r.scan, 0)->rows, 200000);
    CHECK_STR(dumpscan_copy(r.scan, 1)->name, "t");
    CHECK_INT(dumpscan_copy(r.scan, 1)->rows, 2);
    CHECK_INT(dumpscan_copy(r.scan, 2)->rows, 2);
    dumpscan_free(r.scan);
    free(raw);
    free(back);
    free(in);
    free(out);
}

static void test_plain_output_is_identical(void)
{
    char *in = make_input("in2", sample_dump, 1000);
    char *out = xasprintf("%s/out2.sql", tmpdir);
    struct pipeline_result r;
    CHECK_INT(run(in, out, 0, &r), 0);
    size_t a, b;
    char *x = read_all(in, &a), *y = read_all(out, &b);
    CHECK_INT(a, b);
    CHECK(memcmp(x, y, a) == 0);
    CHECK_STR(r.checksum, r.raw_checksum);
    CHECK_INT(r.out_bytes, r.raw_bytes);
    dumpscan_free(r.scan);
    free(x);
    free(y);
    free(in);
    free(out);
}

static void test_every_level_and_known_hash(void)
{
    /* XXH3-128 of "abc", as "xxhsum -H2" prints it (a known-answer test) */
    char *in = xasprintf("%s/abc", tmpdir);
    FILE *f = fopen(in, "wb");
    fputs("abc", f);
    fclose(f);
    char h[33];
    uint64_t size;
    CHECK_INT(hash_file(in, h, &size, NULL), 0);
    CHECK_STR(h, "06b05ab6733a618578af5f94892f3950");
    CHECK_INT(size, 3);

    char *big = make_input("in3", sample_dump, 20000);
    for (int level = 1; level <= 9; level++) {
        char *out = xasprintf("%s/lvl%d.gz", tmpdir, level);
        struct pipeline_result r;
        CHECK_INT(run(big, out, level, &r), 0);
        size_t len;
        char *back = gunzip_file(out, &len);
        CHECK(back != NULL && len == r.raw_bytes);
        free(back);
        dumpscan_free(r.scan);
        free(out);
    }
    free(big);
    free(in);
}

static void test_empty_input(void)
{
    char *in = xasprintf("%s/empty", tmpdir);
    close(open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    char *out = xasprintf("%s/empty.gz", tmpdir);
    struct pipeline_result r;
    CHECK_INT(run(in, out, 6, &r), 0);
    CHECK_INT(r.raw_bytes, 0);
    CHECK_STR(r.raw_checksum, "99aa06d3014798d86001c324468d497f");
    size_t len = 1;
    char *back = gunzip_file(out, &len);
    CHECK(back != NULL && len == 0);
    CHECK(!dumpscan_trailer_ok(r.scan));
    free(back);
    dumpscan_free(r.scan);
    free(in);
    free(out);
}

static void test_write_error_is_reported(void)
{
    char *in = make_input("in4", sample_dump, 10);
    int ifd = open(in, O_RDONLY);
    int ofd = open("/dev/full", O_WRONLY);
    struct pipeline_opts o = {.in_fd = ifd, .out_fd = ofd, .level = 1, .out_name = "/dev/full"};
    struct pipeline_result r;
    err_clear();
    CHECK_INT(pipeline_run(&o, &r), -1);
    CHECK(strstr(err_msg(), "could not write file \"/dev/full\": No space left on device") != NULL);
    err_clear();
    dumpscan_free(r.scan);
    close(ifd);
    close(ofd);

    /* cancellation stops the run with a message */
    volatile sig_atomic_t cancel = 1;
    ifd = open(in, O_RDONLY);
    ofd = open("/dev/null", O_WRONLY);
    o = (struct pipeline_opts){
        .in_fd = ifd, .out_fd = ofd, .level = 1, .out_name = "x", .cancel = &cancel};
    CHECK_INT(pipeline_run(&o, &r), -1);
    CHECK_STR(err_msg(), "interrupted");
    err_clear();
    dumpscan_free(r.scan);
    close(ifd);
    close(ofd);

    /* a missing file to hash names it */
    char h[33];
    uint64_t size;
    CHECK_INT(hash_file("/nonexistent/x.sql.gz", h, &size, NULL), -1);
    CHECK(strstr(err_msg(), "could not open file \"/nonexistent/x.sql.gz\"") != NULL);
    err_clear();
    free(in);
}

/* Parallel deflate: one gzip member that zlib inflates to the same bytes, about as small
 * as single-threaded zlib's, whatever the input size relative to the block size. */
static void test_parallel_deflate(void)
{
    static const size_t rows[] = {0, 1, 14000, 14563, 100000, 400000};
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        char *in = make_input("par", sample_dump, rows[k]);
        char *one = xasprintf("%s/par1.gz", tmpdir), *many = xasprintf("%s/par4.gz", tmpdir);
        struct pipeline_result r1, r4;
        CHECK_INT(run_jobs(in, one, 6, 1, &r1), 0);
        CHECK_INT(run_jobs(in, many, 6, 4, &r4), 0);
        size_t raw_len, len;
        char *raw = read_all(in, &raw_len);
        char *back = gunzip_file(many, &len);
        CHECK(back != NULL && len == raw_len && memcmp(raw, back, raw_len) == 0);
        CHECK_STR(r4.raw_checksum, r1.raw_checksum);
        /* within 1 % (plus a few bytes of flush markers for tiny inputs) */
        CHECK(r4.out_bytes <= r1.out_bytes + r1.out_bytes / 100 + 64);
        char h[33];
        uint64_t size;
        CHECK_INT(hash_file(many, h, &size, NULL), 0);
        CHECK_STR(r4.checksum, h);
        CHECK_INT(size, r4.out_bytes);
        CHECK_INT(dumpscan_copy(r4.scan, 0)->rows, rows[k]);
        free(raw);
        free(back);
        dumpscan_free(r1.scan);
        dumpscan_free(r4.scan);
        free(in);
        free(one);
        free(many);
    }
}

/* A stream whose compressibility changes on the way: text (deflated inline) and random
 * bytes (deflated by the pool) alternate, so both paths and the switches between them
 * must splice into one valid gzip member. */
static void test_parallel_mixed_stream(void)
{
    char *in = xasprintf("%s/mixed", tmpdir);
    FILE *f = fopen(in, "wb");
    uint32_t x = 12345;
    for (int part = 0; part < 7; part++) {
        size_t n = (size_t)(700000 + part * 91111);
        for (size_t i = 0; i < n; i++) {
            if (part % 2) {
                x = x * 1103515245u + 12345u;
                fputc((int)(x >> 24), f);
            } else {
                fputc("row of text that compresses\n"[i % 28], f);
            }
        }
    }
    fputs(sample_dump, f);
    fclose(f);
    char *one = xasprintf("%s/mixed1.gz", tmpdir), *many = xasprintf("%s/mixed2.gz", tmpdir);
    struct pipeline_result r1, r2;
    CHECK_INT(run_jobs(in, one, 6, 1, &r1), 0);
    CHECK_INT(run_jobs(in, many, 6, 2, &r2), 0);
    size_t raw_len, len;
    char *raw = read_all(in, &raw_len);
    char *back = gunzip_file(many, &len);
    CHECK(back != NULL && len == raw_len && memcmp(raw, back, raw_len) == 0);
    CHECK(r2.out_bytes <= r1.out_bytes + r1.out_bytes / 100 + 64);
    free(raw);
    free(back);
    dumpscan_free(r1.scan);
    dumpscan_free(r2.scan);
    free(in);
    free(one);
    free(many);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/pipeline-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_gzip_roundtrip_and_counts);
    RUN(test_plain_output_is_identical);
    RUN(test_every_level_and_known_hash);
    RUN(test_empty_input);
    RUN(test_write_error_is_reported);
    RUN(test_parallel_deflate);
    RUN(test_parallel_mixed_stream);
    return UNIT_DONE();
}
