#ifndef PGVAULT_PLOAD_H
#define PGVAULT_PLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The parallel load of a backup into a fresh database. The restore's own loader (the
 * main session) reads the dump from the start and asks this module, statement by
 * statement, where each one runs (pload_route is its route hook):
 *   - pre-data runs on the main session, in dump order;
 *   - at the first COPY of a table with access points, every part of every such table
 *     is queued, longest first, for `jobs` sessions that read their part of the file
 *     from its access point (io/access.h) and load it with a COPY of their own, so that
 *     several sessions share one large table; the main session skips that data;
 *   - index builds, index-backed constraints and foreign keys go to the same sessions
 *     once all data is in, several at once where PostgreSQL allows it: index builds of
 *     one table together, anything else on a table alone, every foreign key after every
 *     index and constraint before it, in dump order otherwise;
 *   - any other statement after the data waits until the sessions are idle, then runs
 *     on the main session: dump order is kept wherever it could matter.
 * The settings the dump makes (SET, set_config) are replayed on each session before
 * its next job. Loading sessions run with synchronous_commit off: the database is new
 * and its swap into place, a synchronous commit, makes everything before it durable.
 * The first failure stops every session (a statement in flight is cancelled).
 *
 * With jobs <= 1 no session is started: every statement runs on the main session, and
 * only the phases' times are taken.
 */
struct access_point;
struct conn_params;
struct crypt_keys;
struct dumpscan_stmt;
struct loader;
struct loader_error;
struct pload;

struct pload_config {
    const struct conn_params *conn;
    const char *db; /* the database being loaded */
    int jobs;
    const char *path, *compression, *encryption; /* the backup file */
    const struct crypt_keys *keys;
    const struct access_point *points; /* the backup's, in file order (may be none) */
    size_t npoints;
    /* a table whose data is loaded (NULL: every table) */
    bool (*want_table)(void *ctx, const char *schema, const char *name);
    void *want_ctx;
    volatile sig_atomic_t *cancel; /* a signal: everything stops */
    /* a statement a session ran failed (called on that session's thread): as the
     * loader's on_error; NULL: the loader's own message */
    int (*on_error)(void *ctx, const struct loader_error *e);
    void *error_ctx;
};

/* The configuration is copied; points and the strings must outlive the load. */
struct pload *pload_new(const struct pload_config *c);

/* Whether the main session may read only what lies around the tables' data: the parts
 * are read from their points, and every table's data has an end point. */
bool pload_segmented(const struct pload *p);

/* Feeds the main session's loader l the dump, without the data of the tables with access
 * points: from the start of the file to a table's first point, where its COPY is left
 * unfinished (loader_skip_copy), then on from its end point, and so on to the end of the
 * file. raw_done (may be NULL) gets the position in the dump as it goes, for progress. 0,
 * or -1 with the error set. */
int pload_feed_main(struct pload *p, struct loader *l, void (*raw_done)(void *ctx, uint64_t at),
                    void *ctx);

/* The route hook of the main session's loader (route_ctx: the pload). */
int pload_route(void *ctx, const struct dumpscan_stmt *st, const char *sql, long line);

/* The main session read the whole dump: waits for every job; 0, or -1 with the first
 * failure's error. */
int pload_finish(struct pload *p);

/* Where the time went, in seconds: up to the first table data, the data, and from the
 * first index, constraint or foreign key after it to the end. */
struct pload_times {
    double pre_data, data, post_data;
};
void pload_times(const struct pload *p, struct pload_times *t);

/* Stops the sessions (cancelling what runs) and frees everything; NULL-safe. */
void pload_free(struct pload *p);

#endif
