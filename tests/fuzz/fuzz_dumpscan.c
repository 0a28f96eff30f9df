/*
 * libFuzzer target for src/postgres/dumpscan.c.
 *
 * Input: byte 0 gives k = 1 + byte0 % 16, the next k bytes are chunk sizes (1..256, used
 * in turn), the rest is the dump. The dump is scanned in one chunk, in those chunks and
 * one byte at a time; the three results must be identical, and no table may have more
 * rows than the dump has newlines.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Isrc src/postgres/dumpscan.c src/common/util.c \
 *       src/common/err.c tests/fuzz/fuzz_dumpscan.c -o /tmp/fz
 *   /tmp/fz -max_total_time=60 tests/fuzz/corpus_dumpscan
 */
#include "postgres/dumpscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct result {
    struct dumpscan *s;
    int fin;
};

/* Scans buf with chunk sizes from sizes[] in turn (nsizes 0: one chunk). */
static struct result run(const char *buf, size_t len, const unsigned char *sizes, size_t nsizes)
{
    struct result r = {dumpscan_new(), 0};
    size_t off = 0, i = 0;
    while (off < len) {
        size_t n = nsizes ? (size_t)sizes[i++ % nsizes] + 1 : len;
        if (n > len - off)
            n = len - off;
        dumpscan_feed(r.s, buf + off, n);
        off += n;
    }
    r.fin = dumpscan_finish(r.s);
    return r;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_dumpscan: %s\n", what);
    abort();
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void same_tables(const struct dumpscan *a, const struct dumpscan *b, int copies)
{
    size_t n = copies ? dumpscan_copy_count(a) : dumpscan_create_count(a);
    if (n != (copies ? dumpscan_copy_count(b) : dumpscan_create_count(b)))
        fail(copies ? "copy count differs" : "create count differs");
    for (size_t i = 0; i < n; i++) {
        const struct dumpscan_table *x = copies ? dumpscan_copy(a, i) : dumpscan_create(a, i);
        const struct dumpscan_table *y = copies ? dumpscan_copy(b, i) : dumpscan_create(b, i);
        if (!x || !y || !x->name || !y->name)
            fail("missing table");
        if (!str_eq(x->schema, y->schema) || !str_eq(x->name, y->name))
            fail("table name differs");
        if (x->rows != y->rows)
            fail("row count differs");
    }
}

static void same(const struct result *a, const struct result *b)
{
    if (a->fin != b->fin)
        fail("finish result differs");
    if (dumpscan_trailer_ok(a->s) != dumpscan_trailer_ok(b->s))
        fail("trailer differs");
    same_tables(a->s, b->s, 1);
    same_tables(a->s, b->s, 0);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = 1 + data[0] % 16;
    if (size < 1 + k)
        return 0;
    const unsigned char *sizes = data + 1;
    const char *buf = (const char *)data + 1 + k;
    size_t len = size - 1 - k;
    static const unsigned char one[1] = {0};

    struct result whole = run(buf, len, NULL, 0);
    struct result chunked = run(buf, len, sizes, k);
    struct result bytes = run(buf, len, one, 1);
    same(&whole, &chunked);
    same(&whole, &bytes);

    if (whole.fin != 0 && whole.fin != -1)
        fail("finish returned neither 0 nor -1");
    uint64_t newlines = 0, rows = 0;
    for (size_t i = 0; i < len; i++)
        newlines += buf[i] == '\n';
    for (size_t i = 0; i < dumpscan_copy_count(whole.s); i++)
        rows += dumpscan_copy(whole.s, i)->rows;
    if (rows > newlines)
        fail("more rows than lines");

    dumpscan_free(whole.s);
    dumpscan_free(chunked.s);
    dumpscan_free(bytes.s);
    return 0;
}
