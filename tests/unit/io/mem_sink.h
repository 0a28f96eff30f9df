#ifndef PGVAULT_TEST_MEM_SINK_H
#define PGVAULT_TEST_MEM_SINK_H

/* The memory sink the filter tests end their chains with, a memory-to-memory run of one
 * filter, and files to hand to the stock tools. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"

/* Appends everything to an sbuf; fails once it would hold more than fail_after bytes. */
struct mem_sink {
    struct sbuf buf;
    size_t fail_after; /* 0: never */
    int calls;
};

static int mem_write(void *ctx, const unsigned char *buf, size_t len)
{
    struct mem_sink *m = ctx;
    m->calls++;
    if (m->fail_after && m->buf.len + len > m->fail_after)
        return err_set(ERR_FAILED, "could not write to the test sink");
    sbuf_add(&m->buf, (const char *)buf, len);
    return 0;
}

/* Pushes in through the one filter f into memory, step bytes at a time, and finishes:
 * what came out (NUL-terminated, *out_len bytes), or NULL with the chain's error set. */
static __attribute__((unused)) char *filter_to_mem(struct filter *f, const unsigned char *in,
                                                   size_t len, size_t step, size_t *out_len)
{
    struct mem_sink m = {0};
    struct chain *c = chain_new();
    chain_add(c, f);
    chain_add(c, filter_callback_new(mem_write, &m));
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += step)
        rc = chain_write(c, in + off, len - off < step ? len - off : step);
    if (rc == 0)
        rc = chain_finish(c);
    chain_free(c);
    if (rc != 0) {
        sbuf_free(&m.buf);
        return NULL;
    }
    *out_len = m.buf.len;
    if (!m.buf.data)
        sbuf_add(&m.buf, "", 0);
    return m.buf.data;
}

/* Writes len bytes of data to path; false when it could not. */
static __attribute__((unused)) bool write_test_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    return ok;
}

/* Appends what path holds to out (nothing when it cannot be read). */
static __attribute__((unused)) void read_test_file(const char *path, struct sbuf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sbuf_add(out, chunk, n);
    if (f)
        fclose(f);
}

#endif
