#ifndef PGVAULT_CHAIN_H
#define PGVAULT_CHAIN_H

#include <signal.h>
#include <stddef.h>

/*
 * A byte stream as a chain of filters, in the spirit of pgBackRest's IoFilterGroup: a
 * source (pg_dump's stdout, a file, memory) pushes buffers into the first filter, each
 * filter hands what it makes of them to the next one, and the last one is the sink (the
 * partial file, psql's stdin, the dump scanner). One read feeds every counter, hash,
 * compressor and writer on the way. Backup, restore, verify and import each build their
 * own chain from the filters of io/filters.h, io/hash.h and io/compress.h.
 *
 * The first error stops the chain: the filter that fails records it (err_set) and returns
 * -1; from then on every write and the finish return -1 at once, with that error kept.
 */

/* A filter embeds this as its first member; the chain links and frees it. */
struct filter {
    const struct filter_ops *ops;
    struct filter *next; /* NULL for the last one: what it passes on goes nowhere */
};

struct filter_ops {
    /* Takes len > 0 bytes; hands its output to filter_push(f->next, …); 0 or -1. */
    int (*process)(struct filter *f, const unsigned char *buf, size_t len);
    /* End of input: pushes what is left, records results; 0 or -1. NULL: nothing to do. */
    int (*finish)(struct filter *f);
    /* Frees f and what it owns (never f->next). NULL: free(f). */
    void (*free)(struct filter *f);
    /* An access point numbered id falls between the bytes pushed so far and the next
     * ones: a compressor ends what it holds so that decoding can start at the next byte
     * it writes (a full flush, a new frame), then passes the mark on with filter_mark(
     * f->next, id), once the bytes before it are on their way. NULL: passed on as it is. */
    int (*mark)(struct filter *f, size_t id);
};

/* Hands buf to filter f (a filter's f->next); nothing to do when f is NULL or len 0. */
int filter_push(struct filter *f, const unsigned char *buf, size_t len);

/* Hands the mark of access point id to filter f, or to the first one after it that
 * handles marks; nothing to do when none does. */
int filter_mark(struct filter *f, size_t id);

struct chain;

struct chain *chain_new(void);

/* Appends f, which the chain then owns. A NULL f (a constructor that failed with its
 * error set) makes the chain fail with that error when it runs. */
void chain_add(struct chain *c, struct filter *f);

/* Pushes buf through the chain (a memory source). */
int chain_write(struct chain *c, const unsigned char *buf, size_t len);

/* End of input: each filter in turn flushes into the next and records its results. */
int chain_finish(struct chain *c);

/* The fd source: reads fd to its end in 1 MiB chunks, pushing each through the chain,
 * then finishes it. what names the stream in a read error ("could not read <what>");
 * stops with "interrupted" as soon as *cancel (may be NULL) becomes non-zero. */
int chain_pump_fd(struct chain *c, int fd, const char *what, volatile sig_atomic_t *cancel);

/* The file source: opens path (not through a symbolic link) and pumps it; errors name
 * the file ("could not open file \"…\"", "could not read file \"…\""). */
int chain_pump_file(struct chain *c, const char *path, volatile sig_atomic_t *cancel);

/* Frees every filter; NULL-safe. */
void chain_free(struct chain *c);

#endif
