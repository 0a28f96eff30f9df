/* The zstd filters: round trips at the levels and thread counts a backup uses, the stock
 * zstd(1) reading what they write, concatenated frames, and damaged streams. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/filters.h"
#include "io/zstd.h"
#include "mem_sink.h"
#include "unit.h"

static char tmpdir[256];

/* n lines of text that compresses, but not to nothing (the numbers vary). */
static char *make_text(size_t n, size_t *len)
{
    char *t = xmalloc(n * 80 + 1);
    size_t off = 0;
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        off += (size_t)sprintf(t + off, "%zu\t%u\tsome text of row %zu that compresses\n", i,
                               x >> 8, i % 977);
    }
    t[off] = '\0';
    *len = off;
    return t;
}

static unsigned char *zstd_mem(const char *in, size_t len, int level, int jobs, size_t *out_len)
{
    return (unsigned char *)filter_to_mem(filter_zstd_new(level, jobs), (const unsigned char *)in,
                                          len, 1u << 20, out_len);
}

static char *unzstd_mem(const unsigned char *in, size_t len, size_t step, size_t *out_len)
{
    return filter_to_mem(filter_unzstd_new("mem"), in, len, step, out_len);
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    CHECK(write_test_file(path, data, len));
    return path;
}

/* What the stock "zstd -dc" makes of the file: its output in *out, or -1 (no zstd in
 * PATH: 1, checked nothing). */
static int stock_unzstd(const char *path, struct sbuf *out)
{
    char *dst = xasprintf("%s.out", path);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execlp("zstd", "zstd", "-q", "-dc", path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int rc = WIFEXITED(st) && WEXITSTATUS(st) == 127 ? 1
             : WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
                                                     : -1;
    read_test_file(dst, out);
    unlink(dst);
    free(dst);
    return rc;
}

/* Every level and thread count round-trips, in one frame that the stock zstd reads. */
static void test_round_trip_levels_and_jobs(void)
{
    static const struct {
        int level, jobs;
        size_t lines; /* with 2 jobs, big enough for libzstd to cut it into several jobs */
    } cases[] = {{1, 1, 20000},  {3, 1, 20000},  {19, 1, 20000},
                 {1, 2, 250000}, {3, 2, 250000}, {19, 2, 60000}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len, zlen = 0, back_len = 0;
        char *text = make_text(cases[i].lines, &len);
        unsigned char *z = zstd_mem(text, len, cases[i].level, cases[i].jobs, &zlen);
        CHECK(z != NULL && zlen > 0 && zlen < len / 2);
        if (!z) {
            free(text);
            continue;
        }
        /* our decompressor, in odd chunks across block boundaries */
        char *back = unzstd_mem(z, zlen, 7777, &back_len);
        CHECK(back && back_len == len && memcmp(back, text, len) == 0);
        /* the stock tool */
        char *name = xasprintf("rt_%d_%d.zst", cases[i].level, cases[i].jobs);
        char *path = write_tmp(name, z, zlen);
        struct sbuf stock = {0};
        int rc = stock_unzstd(path, &stock);
        if (rc != 1)
            CHECK(rc == 0 && stock.len == len && memcmp(stock.data, text, len) == 0);
        unlink(path);
        sbuf_free(&stock);
        free(path);
        free(name);
        free(back);
        free(z);
        free(text);
    }
}

/* Frames one after the other (cat a.zst b.zst) are one stream, byte at a time too. */
static void test_concatenated_frames(void)
{
    size_t len1, len2, z1, z2, back_len = 0;
    char *a = make_text(3000, &len1), *b = make_text(10, &len2);
    unsigned char *f1 = zstd_mem(a, len1, 3, 1, &z1), *f2 = zstd_mem(b, len2, 1, 1, &z2);
    struct sbuf both = {0};
    sbuf_add(&both, (const char *)f1, z1);
    sbuf_add(&both, (const char *)f2, z2);
    for (size_t step = 1; step <= (1u << 20); step <<= 20) {
        char *back = unzstd_mem((unsigned char *)both.data, both.len, step, &back_len);
        CHECK(back && back_len == len1 + len2 && memcmp(back, a, len1) == 0 &&
              memcmp(back + len1, b, len2) == 0);
        free(back);
    }
    /* an empty input compresses to a frame that decompresses to nothing */
    size_t ze = 0;
    unsigned char *e = zstd_mem("", 0, 3, 1, &ze);
    char *back = unzstd_mem(e, ze, 1u << 20, &back_len);
    CHECK(e && ze > 0 && back && back_len == 0);
    free(back);
    free(e);
    sbuf_free(&both);
    free(f1);
    free(f2);
    free(a);
    free(b);
}

static void check_integrity_error(const unsigned char *z, size_t zlen, const char *expect,
                                  size_t prefix)
{
    size_t back_len;
    err_clear();
    CHECK(unzstd_mem(z, zlen, 1u << 20, &back_len) == NULL);
    if (prefix)
        CHECK(strncmp(err_msg(), expect, prefix) == 0);
    else
        CHECK_STR(err_msg(), expect);
    CHECK_INT(err_class(), ERR_INTEGRITY);
    err_clear();
}

/* Cut short, bit-flipped, garbage after the end or nothing at all: integrity errors. */
static void test_damaged_streams(void)
{
    static const char truncated[] = "file \"mem\" is truncated: the zstd stream does not end";
    static const char invalid[] = "file \"mem\" is not valid zstd data: ";
    size_t len, zlen, len2, zlen2;
    char *text = make_text(20000, &len), *small = make_text(10, &len2);
    unsigned char *z = zstd_mem(text, len, 3, 1, &zlen);
    unsigned char *z2 = zstd_mem(small, len2, 3, 1, &zlen2);

    check_integrity_error(z, zlen - 5, truncated, 0); /* inside the checksum */
    check_integrity_error(z, zlen / 2, truncated, 0); /* inside a block */
    check_integrity_error(z, 3, truncated, 0);        /* inside the magic number */
    check_integrity_error(z, 0, truncated, 0);        /* nothing at all */
    struct sbuf two = {0};                            /* a whole frame, then half of the next */
    sbuf_add(&two, (const char *)z2, zlen2);
    sbuf_add(&two, (const char *)z, zlen / 2);
    check_integrity_error((unsigned char *)two.data, two.len, truncated, 0);
    sbuf_free(&two);

    /* one bit flipped, in the data and in the content checksum */
    size_t at[] = {zlen / 3, zlen / 2, zlen - 2};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        z[at[i]] ^= 0x10;
        check_integrity_error(z, zlen, invalid, sizeof(invalid) - 1);
        z[at[i]] ^= 0x10;
    }

    /* garbage after the frame, and data that is no zstd */
    struct sbuf g = {0};
    sbuf_add(&g, (const char *)z2, zlen2);
    sbuf_add(&g, "garbage", 7);
    check_integrity_error((unsigned char *)g.data, g.len, invalid, sizeof(invalid) - 1);
    check_integrity_error((const unsigned char *)"plain SQL text\n", 15, invalid,
                          sizeof(invalid) - 1);
    sbuf_free(&g);
    free(z);
    free(z2);
    free(text);
    free(small);
}

/* The table knows the format by its name. */
static void test_by_name(void)
{
    /* compress_add and decompress_add by name, through one chain */
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    compress_add(c, "zstd", 3, 2);
    decompress_add(c, "zstd", "x");
    chain_add(c, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(c, (const unsigned char *)"plain", 5), 0);
    CHECK_INT(chain_finish(c), 0);
    CHECK(m.buf.len == 5 && memcmp(m.buf.data, "plain", 5) == 0);
    chain_free(c);
    sbuf_free(&m.buf);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/zstd-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_round_trip_levels_and_jobs);
    RUN(test_concatenated_frames);
    RUN(test_damaged_streams);
    RUN(test_by_name);
    rmdir(tmpdir);
    return UNIT_DONE();
}
