/* The filter chain: sources, pass-through filters, hashes, gzip both ways, sinks, errors. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "common/progress.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/filters.h"
#include "io/gzip.h"
#include "io/hash.h"
#include "mem_sink.h"
#include "postgres/dumpscan.h"
#include "unit.h"

static char tmpdir[256];

/* Text that compresses, n lines of it. */
static char *make_text(size_t n, size_t *len)
{
    char *t = xmalloc(n * 64 + 1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(t + off, "row %zu with some text that compresses\n", i);
    t[off] = '\0';
    *len = off;
    return t;
}

/* What zlib writes in one call at this level with gzip's wrapper: what the backup wrote
 * before the chain, for jobs = 1 (the chain's output was compared with that pipeline's
 * files when it replaced it). */
static unsigned char *zlib_reference(const char *in, size_t len, int level, size_t *out_len)
{
    z_stream z = {0};
    deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = xmalloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK_INT(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static char *gunzip_mem(const unsigned char *in, size_t len, size_t *out_len)
{
    return filter_to_mem(filter_gunzip_new("mem"), in, len, SIZE_MAX, out_len);
}

static void test_hash_and_size_known_answers(void)
{
    /* XXH3-128 as "xxhsum -H2" prints it, pushed in pieces */
    char h[HASH_HEX_LEN], h2[HASH_HEX_LEN];
    uint64_t n = 99, n2 = 99;
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&n));
    chain_add(c, filter_hash_new(h));
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)"a", 1), 0);
    CHECK_INT(chain_write(c, (const unsigned char *)"bc", 2), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    CHECK_STR(h, "06b05ab6733a618578af5f94892f3950");
    CHECK_INT(n, 3);
    CHECK_INT(m.buf.len, 3);
    CHECK(m.buf.data && memcmp(m.buf.data, "abc", 3) == 0);
    sbuf_free(&m.buf);

    /* nothing at all: the hash of the empty input; a hash as the last filter is a sink */
    c = chain_new();
    chain_add(c, filter_size_new(&n2));
    chain_add(c, filter_hash_new(h2));
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    CHECK_STR(h2, "99aa06d3014798d86001c324468d497f");
    CHECK_INT(n2, 0);

    /* the file helper */
    char *path = xasprintf("%s/abc", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK_INT(hash_file(path, h, &n, NULL), 0);
    CHECK_STR(h, "06b05ab6733a618578af5f94892f3950");
    CHECK_INT(n, 3);
    free(path);
}

static void test_gzip_equals_zlib(void)
{
    size_t len, ref_len, back_len;
    char *text = make_text(100000, &len);
    for (int level = 1; level <= 9; level += 4) {
        struct mem_sink m = {0};
        struct chain *c = chain_new();
        compress_add(c, "gzip", level, 1);
        chain_add(c, filter_callback_new(mem_write, &m));
        /* pushed in uneven pieces: the output must not depend on them */
        size_t step = 1, off = 0;
        while (off < len) {
            size_t k = len - off < step ? len - off : step;
            CHECK_INT(chain_write(c, (const unsigned char *)text + off, k), 0);
            off += k;
            step = step * 3 + 7;
        }
        CHECK_INT(chain_finish(c), 0);
        chain_free(c);
        unsigned char *ref = zlib_reference(text, len, level, &ref_len);
        CHECK_INT(m.buf.len, ref_len);
        CHECK(m.buf.len == ref_len && memcmp(m.buf.data, ref, ref_len) == 0);
        char *back = gunzip_mem((unsigned char *)m.buf.data, m.buf.len, &back_len);
        CHECK(back && back_len == len && memcmp(back, text, len) == 0);
        free(back);
        free(ref);

        sbuf_free(&m.buf);
    }
    free(text);
}

static void test_parallel_gzip_inflates_to_input(void)
{
    size_t len, back_len;
    char *text = make_text(200000, &len);
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    compress_add(c, "gzip", 6, 3);
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)text, len), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    char *back = gunzip_mem((unsigned char *)m.buf.data, m.buf.len, &back_len);
    CHECK(back && back_len == len && memcmp(back, text, len) == 0);
    free(back);
    sbuf_free(&m.buf);
    free(text);
}

static void test_gunzip_members_and_damage(void)
{
    size_t len1, len2, z1, z2, back_len;
    char *a = make_text(3000, &len1), *b = make_text(10, &len2);
    unsigned char *g1 = zlib_reference(a, len1, 6, &z1), *g2 = zlib_reference(b, len2, 1, &z2);
    /* two members, one after the other: both inflated */
    struct sbuf both = {0};
    sbuf_add(&both, (const char *)g1, z1);
    sbuf_add(&both, (const char *)g2, z2);
    char *back = gunzip_mem((unsigned char *)both.data, both.len, &back_len);
    CHECK(back && back_len == len1 + len2 && memcmp(back, a, len1) == 0 &&
          memcmp(back + len1, b, len2) == 0);
    free(back);

    /* cut short: truncated */
    err_clear();
    CHECK(gunzip_mem(g1, z1 - 5, &back_len) == NULL);
    CHECK_STR(err_msg(), "file \"mem\" is truncated: the gzip stream does not end");
    CHECK_INT(err_class(), ERR_INTEGRITY);
    err_clear();
    /* nothing at all is no gzip either */
    CHECK(gunzip_mem(g1, 0, &back_len) == NULL);
    CHECK_STR(err_msg(), "file \"mem\" is truncated: the gzip stream does not end");
    err_clear();
    /* garbage after a member */
    sbuf_add(&both, "garbage", 7);
    CHECK(gunzip_mem((unsigned char *)both.data, both.len, &back_len) == NULL);
    CHECK(strncmp(err_msg(), "file \"mem\" is not valid gzip data: ", 35) == 0);
    CHECK_INT(err_class(), ERR_INTEGRITY);
    err_clear();
    sbuf_free(&both);
    free(g1);
    free(g2);
    free(a);
    free(b);
}

/* A sink that fails mid-stream stops the chain: nothing after it runs, every later write
 * and the finish fail, and the sink's error is the one kept; with either compressor, on
 * the chain's thread or on worker threads. */
static void test_sink_error_stops_the_chain(void)
{
    for (int run = 0; run < 4; run++) {
        const char *format = run < 2 ? "gzip" : "zstd";
        int jobs = run % 2 ? 4 : 1;
        size_t len;
        char *text = make_text(400000, &len);
        struct mem_sink m = {.fail_after = 100000};
        uint64_t raw = 0;
        char h[HASH_HEX_LEN];
        struct chain *c = chain_new();
        chain_add(c, filter_size_new(&raw));
        chain_add(c, filter_hash_new(h));
        compress_add(c, format, 1, jobs);
        chain_add(c, filter_callback_new(mem_write, &m));
        err_clear();
        int rc = 0;
        for (size_t off = 0; off < len && rc == 0; off += 65536)
            rc = chain_write(c, (const unsigned char *)text + off,
                             len - off < 65536 ? len - off : 65536);
        if (rc == 0) /* with threads the failing block may only be handed over at the end */
            rc = chain_finish(c);
        CHECK_INT(rc, -1);
        CHECK_STR(err_msg(), "could not write to the test sink");
        int calls = m.calls;
        CHECK_INT(chain_write(c, (const unsigned char *)"x", 1), -1);
        CHECK_INT(chain_finish(c), -1);
        CHECK_INT(m.calls, calls);
        CHECK_STR(err_msg(), "could not write to the test sink");
        CHECK(m.buf.len <= 100000);
        err_clear();
        chain_free(c);
        sbuf_free(&m.buf);
        free(text);
    }
}

static void test_failed_constructor_and_unknown_format(void)
{
    /* the constructor's error is reported by the run, even if cleared meanwhile */
    struct chain *c = chain_new();
    err_clear();
    compress_add(c, "lz4", 1, 1);
    CHECK_STR(err_msg(), "unknown compression \"lz4\"");
    err_clear();
    CHECK_INT(chain_write(c, (const unsigned char *)"x", 1), -1);
    CHECK_STR(err_msg(), "unknown compression \"lz4\"");
    err_clear();
    CHECK_INT(chain_pump_fd(c, 0, "stdin", NULL), -1);
    CHECK_STR(err_msg(), "unknown compression \"lz4\"");
    err_clear();
    chain_free(c);

    /* "none" adds nothing: the bytes pass as they are */
    struct mem_sink m = {0};
    c = chain_new();
    compress_add(c, "none", 0, 1);
    decompress_add(c, "none", "x");
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)"plain", 5), 0);
    CHECK_INT(chain_finish(c), 0);
    CHECK(m.buf.len == 5 && memcmp(m.buf.data, "plain", 5) == 0);
    chain_free(c);
    sbuf_free(&m.buf);
}

static void test_sources_and_fd_sink(void)
{
    /* a file through the dump scanner into an fd */
    const char *dump = "--\n-- PostgreSQL database dump\n--\n\n"
                       "COPY public.t (a) FROM stdin;\n1\n2\n3\n\\.\n\n"
                       "--\n-- PostgreSQL database dump complete\n--\n\n";
    char *in = xasprintf("%s/dump.sql", tmpdir), *out = xasprintf("%s/copy.sql", tmpdir);
    FILE *f = fopen(in, "wb");
    fputs(dump, f);
    fclose(f);
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct dumpscan *scan = dumpscan_new();
    uint64_t n;
    struct chain *c = chain_new();
    chain_add(c, filter_dumpscan_new(scan));
    chain_add(c, filter_size_new(&n));
    chain_add(c, filter_fd_new(ofd, out));
    CHECK_INT(chain_pump_file(c, in, NULL), 0);
    chain_free(c);
    close(ofd);
    CHECK_INT(n, strlen(dump));
    CHECK_INT(dumpscan_finish(scan), 0);
    CHECK(dumpscan_trailer_ok(scan));
    CHECK_INT(dumpscan_copy(scan, 0)->rows, 3);
    dumpscan_free(scan);
    char h1[HASH_HEX_LEN], h2[HASH_HEX_LEN];
    uint64_t s1, s2;
    CHECK_INT(hash_file(in, h1, &s1, NULL), 0);
    CHECK_INT(hash_file(out, h2, &s2, NULL), 0);
    CHECK_STR(h1, h2);

    /* the fd sink names its file */
    ofd = open("/dev/full", O_WRONLY);
    c = chain_new();
    chain_add(c, filter_fd_new(ofd, "/dev/full"));
    err_clear();
    CHECK_INT(chain_pump_file(c, in, NULL), -1);
    CHECK_STR(err_msg(), "could not write file \"/dev/full\": No space left on device");
    err_clear();
    chain_free(c);
    close(ofd);

    /* read errors, a missing file, cancellation */
    int dfd = open(tmpdir, O_RDONLY);
    c = chain_new();
    CHECK_INT(chain_pump_fd(c, dfd, "dump stream", NULL), -1);
    CHECK_STR(err_msg(), "could not read dump stream: Is a directory");
    err_clear();
    chain_free(c);
    close(dfd);
    c = chain_new();
    CHECK_INT(chain_pump_file(c, "/nonexistent/x.sql.gz", NULL), -1);
    CHECK_STR(err_msg(),
              "could not open file \"/nonexistent/x.sql.gz\": No such file or directory");
    err_clear();
    chain_free(c);
    volatile sig_atomic_t cancel = 1;
    c = chain_new();
    CHECK_INT(chain_pump_file(c, in, &cancel), -1);
    CHECK_STR(err_msg(), "interrupted");
    err_clear();
    chain_free(c);
    free(in);
    free(out);
}

/* The file source reads ahead on its own thread: a file of many chunks (and a partial
 * last one) arrives whole and in order; a sink failing in the middle stops the reader
 * (no hang, nothing leaked) and its error is the one kept. */
static void test_file_source_reads_ahead(void)
{
    size_t len;
    char *text = make_text((5u << 20) + 12345, &len);
    char *in = xasprintf("%s/big.sql", tmpdir);
    FILE *f = fopen(in, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_pump_file(c, in, NULL), 0);
    CHECK_INT(m.buf.len, len);
    CHECK(m.buf.len == len && memcmp(m.buf.data, text, len) == 0);
    chain_free(c);
    sbuf_free(&m.buf);

    struct mem_sink bad = {.fail_after = 1500000};
    c = chain_new();
    chain_add(c, filter_callback_new(mem_write, &bad));
    err_clear();
    CHECK_INT(chain_pump_file(c, in, NULL), -1);
    CHECK_STR(err_msg(), "could not write to the test sink");
    CHECK(bad.buf.len <= 1500000);
    err_clear();
    chain_free(c);
    sbuf_free(&bad.buf);
    free(text);
    free(in);
}

static double fake_now;

static double fake_clock(void)
{
    return fake_now;
}

/* The progress line counts what passes and hands it on. */
static void test_progress_filter(void)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    progress_set_clock(fake_clock);
    fake_now = 500.0;
    struct progress *p = progress_new(fds[1], "t", 0, false, 0);
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    chain_add(c, filter_progress_new(p));
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)"abc", 3), 0);
    fake_now += 1.0;
    CHECK_INT(chain_write(c, (const unsigned char *)"defg", 4), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    char out[4096] = "";
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strstr(out, "t: 3 B") != NULL);
    CHECK(strstr(out, "t: 7 B") != NULL);
    CHECK(m.buf.len == 7 && memcmp(m.buf.data, "abcdefg", 7) == 0);
    /* without a line it only passes the bytes on */
    c = chain_new();
    chain_add(c, filter_progress_new(NULL));
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)"h", 1), 0);
    chain_free(c);
    CHECK_INT(m.buf.len, 8);
    progress_free(p);
    progress_set_clock(NULL);
    sbuf_free(&m.buf);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/chain-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_hash_and_size_known_answers);
    RUN(test_gzip_equals_zlib);
    RUN(test_parallel_gzip_inflates_to_input);
    RUN(test_gunzip_members_and_damage);
    RUN(test_sink_error_stops_the_chain);
    RUN(test_failed_constructor_and_unknown_format);
    RUN(test_sources_and_fd_sink);
    RUN(test_file_source_reads_ahead);
    RUN(test_progress_filter);
    return UNIT_DONE();
}
