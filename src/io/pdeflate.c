#include "io/pdeflate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/err.h"
#include "common/util.h"

#define BLOCK_SIZE (512u << 10)
#define DICT_SIZE (32u << 10)
/* a block that shrinks at least this much is deflated inline */
#define INLINE_RATIO 8

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_WORKING, SLOT_DONE };

struct slot {
    enum slot_state state;
    uint64_t seq;
    bool last;
    unsigned char *in;
    size_t in_len;
    unsigned char dict[DICT_SIZE];
    size_t dict_len;
    unsigned char *out;
    size_t out_len, out_cap;
    uLong crc;
    bool failed;
    bool by_worker;
    bool marked; /* an access point follows the block: mark_id goes to on_mark */
    size_t mark_id;
};

struct pdeflate {
    int level;
    pdeflate_sink sink;
    pdeflate_mark_sink on_mark;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t work_ready; /* a slot was queued, or stopping */
    pthread_cond_t work_done;  /* a slot became DONE */
    pthread_t *threads;
    int nthreads;
    bool stopping;
    struct slot *slots;
    size_t nslots;
    struct slot *filling;               /* the block being filled by the caller */
    uint64_t next_seq;                  /* sequence number of the next block to fill */
    uint64_t next_write;                /* sequence number of the next block to hand to the sink */
    unsigned char prev_tail[DICT_SIZE]; /* last 32 KiB of the previous block's input */
    size_t prev_tail_len;
    uLong crc;
    uint64_t total_in;
    bool header_done;
    /* Blocks that compress well (fast deflate) are compressed on the caller's thread, in
     * one continuous stream: on a machine whose cores are busy with pg_dump and the
     * server, handing them to threads only adds work. Poorly compressible blocks (slow
     * deflate, the bottleneck) go to the pool. */
    z_stream iz;
    bool iz_ready;
    bool prev_inline; /* the previous block went through iz: no dictionary needed */
    bool inline_next; /* decided from the last block's compression ratio */
};

/* Compresses one block as part of a larger raw deflate stream. */
static void compress_block(z_stream *z, struct slot *s, bool fresh)
{
    /* a fresh stream starts from the previous block's tail; a continued one has it */
    if (fresh) {
        deflateReset(z);
        if (s->dict_len)
            deflateSetDictionary(z, s->dict, (uInt)s->dict_len);
    }
    z->next_in = s->in;
    z->avail_in = (uInt)s->in_len;
    z->next_out = s->out;
    z->avail_out = (uInt)s->out_cap;
    int rc = deflate(z, s->last ? Z_FINISH : Z_SYNC_FLUSH);
    s->failed = s->last ? rc != Z_STREAM_END : (rc != Z_OK || z->avail_in != 0);
    s->out_len = s->out_cap - z->avail_out;
    s->crc = crc32(0L, s->in, (uInt)s->in_len);
}

static void *worker(void *arg)
{
    struct pdeflate *p = arg;
    z_stream z = {0};
    /* raw deflate (negative window bits): the gzip wrapper is written once, by us */
    bool ok = deflateInit2(&z, p->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct slot *job = NULL;
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i].state == SLOT_QUEUED && (!job || p->slots[i].seq < job->seq))
                job = &p->slots[i];
        if (!job) {
            if (p->stopping)
                break;
            pthread_cond_wait(&p->work_ready, &p->mu);
            continue;
        }
        job->state = SLOT_WORKING;
        job->by_worker = true;
        pthread_mutex_unlock(&p->mu);
        if (ok)
            compress_block(&z, job, true);
        else
            job->failed = true;
        pthread_mutex_lock(&p->mu);
        job->state = SLOT_DONE;
        pthread_cond_broadcast(&p->work_done);
    }
    pthread_mutex_unlock(&p->mu);
    if (ok)
        deflateEnd(&z);
    return NULL;
}

struct pdeflate *pdeflate_new(int level, int jobs, pdeflate_sink sink, void *ctx)
{
    struct pdeflate *p = xcalloc(1, sizeof(*p));
    p->level = level;
    p->sink = sink;
    p->ctx = ctx;
    p->crc = crc32(0L, NULL, 0);
    /* enough blocks in flight to keep every thread busy while the caller writes, and few
     * enough that memory stays bounded (about 1 MiB a slot) whatever --jobs says */
    if (jobs > 64)
        jobs = 64;
    p->nslots = (size_t)jobs * 2 + 2;
    if (p->nslots > 24)
        p->nslots = 24;
    p->slots = xcalloc(p->nslots, sizeof(struct slot));
    for (size_t i = 0; i < p->nslots; i++) {
        p->slots[i].in = xmalloc_io(BLOCK_SIZE);
        p->slots[i].out_cap = deflateBound(NULL, BLOCK_SIZE) + 64;
        p->slots[i].out = xmalloc_io(p->slots[i].out_cap);
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_ready, NULL);
    pthread_cond_init(&p->work_done, NULL);
    p->iz_ready = deflateInit2(&p->iz, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    p->inline_next = true; /* the first block tells how compressible the stream is */
    p->threads = xcalloc((size_t)jobs, sizeof(pthread_t));
    for (int i = 0; i < jobs; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            err_set(ERR_FAILED, "could not start compression thread");
            pdeflate_free(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

/* Hands finished blocks to the sink in order; with wait, blocks until the oldest is done.
 * Called with the mutex held. */
static int drain(struct pdeflate *p, bool wait)
{
    for (;;) {
        struct slot *s = NULL;
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i].seq == p->next_write && p->slots[i].state >= SLOT_QUEUED)
                s = &p->slots[i];
        if (!s)
            return 0;
        if (s->state != SLOT_DONE) {
            if (!wait)
                return 0;
            pthread_cond_wait(&p->work_done, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        int rc = 0;
        if (s->failed)
            rc = err_set(ERR_FAILED, "could not compress: zlib error");
        else if (s->out_len)
            rc = p->sink(p->ctx, s->out, s->out_len);
        if (rc == 0 && s->marked && p->on_mark)
            rc = p->on_mark(p->ctx, s->mark_id);
        if (s->by_worker) /* how compressible the stream is now */
            p->inline_next = s->in_len >= INLINE_RATIO * s->out_len;
        p->crc = crc32_combine(p->crc, s->crc, (z_off_t)s->in_len);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_FREE;
        p->next_write++;
        if (rc != 0)
            return -1;
        wait = false; /* one slot freed: the caller can go on */
    }
}

static struct slot *free_slot(struct pdeflate *p)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].state == SLOT_FREE)
            return &p->slots[i];
    return NULL;
}

/* Takes a free slot (submit left one) as the block to fill next. Its state and sequence
 * number are what the workers and drain() look at under the mutex, so they are set
 * under it too; the block's bytes belong to this thread until submit(). */
static void start_block(struct pdeflate *p)
{
    pthread_mutex_lock(&p->mu);
    struct slot *s = free_slot(p);
    s->state = SLOT_FILLING;
    s->seq = p->next_seq++;
    s->in_len = 0;
    s->marked = false;
    p->filling = s;
    pthread_mutex_unlock(&p->mu);
}

/* Queues the block being filled; waits for a free slot if all are in use. */

static int submit(struct pdeflate *p, bool last)
{
    struct slot *s = p->filling;
    s->last = last;
    memcpy(s->dict, p->prev_tail, p->prev_tail_len);
    s->dict_len = p->prev_tail_len;
    /* the next block's dictionary: the last 32 KiB of the stream so far */
    if (s->in_len >= DICT_SIZE) {
        memcpy(p->prev_tail, s->in + s->in_len - DICT_SIZE, DICT_SIZE);
        p->prev_tail_len = DICT_SIZE;
    } else {
        size_t keep =
            p->prev_tail_len + s->in_len > DICT_SIZE ? DICT_SIZE - s->in_len : p->prev_tail_len;
        memmove(p->prev_tail, p->prev_tail + p->prev_tail_len - keep, keep);
        memcpy(p->prev_tail + keep, s->in, s->in_len);
        p->prev_tail_len = keep + s->in_len;
    }
    bool inline_block = p->inline_next && p->iz_ready;
    s->by_worker = false;
    if (inline_block) {
        /* inline: the caller's stream continues when the previous block was inline too */
        compress_block(&p->iz, s, !p->prev_inline);
        p->inline_next = s->in_len >= INLINE_RATIO * s->out_len;
    }
    p->prev_inline = inline_block;
    pthread_mutex_lock(&p->mu);
    s->state = inline_block ? SLOT_DONE : SLOT_QUEUED;
    p->filling = NULL;
    if (!inline_block)
        pthread_cond_signal(&p->work_ready);
    int rc = drain(p, false);
    while (rc == 0 && !last && !free_slot(p))
        rc = drain(p, true);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int write_header(struct pdeflate *p)
{
    /* gzip header: magic, deflate, no flags, no mtime, XFL for the level, OS = Unix */
    unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    h[8] = p->level == 9 ? 2 : p->level == 1 ? 4 : 0;
    p->header_done = true;
    return p->sink(p->ctx, h, sizeof(h));
}

int pdeflate_write(struct pdeflate *p, const unsigned char *buf, size_t len)
{
    if (!p->header_done && write_header(p) != 0)
        return -1;
    p->total_in += len;
    while (len > 0) {
        if (!p->filling)
            start_block(p);
        struct slot *s = p->filling;
        size_t n = BLOCK_SIZE - s->in_len < len ? BLOCK_SIZE - s->in_len : len;
        memcpy(s->in + s->in_len, buf, n);
        s->in_len += n;
        buf += n;
        len -= n;
        if (s->in_len == BLOCK_SIZE && submit(p, false) != 0)
            return -1;
    }
    return 0;
}

void pdeflate_on_mark(struct pdeflate *p, pdeflate_mark_sink fn)
{
    p->on_mark = fn;
}

int pdeflate_mark(struct pdeflate *p, size_t id)
{
    if (!p->header_done && write_header(p) != 0)
        return -1;
    if (!p->filling)
        start_block(p);
    p->filling->marked = true;
    p->filling->mark_id = id;
    if (submit(p, false) != 0)
        return -1;
    /* the next block refers to nothing before it */
    p->prev_tail_len = 0;
    p->prev_inline = false;
    return 0;
}

int pdeflate_finish(struct pdeflate *p)
{
    if (!p->header_done && write_header(p) != 0)
        return -1;
    /* the last block (possibly empty) carries the final-block bit */
    if (!p->filling)
        start_block(p);
    if (submit(p, true) != 0)
        return -1;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (rc == 0 && p->next_write < p->next_seq)
        rc = drain(p, true);
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        return -1;
    /* trailer: CRC-32 and length mod 2^32, little-endian */
    unsigned char t[8];
    for (int i = 0; i < 4; i++) {
        t[i] = (unsigned char)(p->crc >> (8 * i));
        t[4 + i] = (unsigned char)(p->total_in >> (8 * i));
    }
    return p->sink(p->ctx, t, sizeof(t));
}

void pdeflate_free(struct pdeflate *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (size_t i = 0; i < p->nslots; i++) {
        free(p->slots[i].in);
        free(p->slots[i].out);
    }
    free(p->slots);
    free(p->threads);
    if (p->iz_ready)
        deflateEnd(&p->iz);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_ready);
    pthread_cond_destroy(&p->work_done);
    free(p);
}
