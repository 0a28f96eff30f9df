#ifndef PGVAULT_CATALOG_INTERNAL_H
#define PGVAULT_CATALOG_INTERNAL_H

/*
 * Private to src/catalog/: the connection and the statement helpers the table files
 * share. Nothing outside src/catalog/ includes this header (nor sqlite3.h).
 */
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

struct catalog {
    sqlite3 *db;
    char *path;
    int version;
};

/* The columns of `backups`, in the order of struct backup_rec (see cat_read_backup). */
#define BACKUP_COLUMNS                                                                             \
    "id, db_name, file_name, format, compression, compression_level, size_bytes, raw_bytes, "      \
    "checksum, raw_checksum, checksum_algo, table_count, row_count, server_version, "              \
    "pg_dump_version, db_size_bytes, encoding, lc_collate, lc_ctype, with_owners, started_at, "    \
    "finished_at, duration_ms, status, pinned, suspect, label, error, verified_at, pruned_at, "    \
    "prune_rule, pid, host, origin, locale_provider, icu_locale, encryption, recipients"

/* Records the connection's last error as "could not <what> in catalog …" (ERR_BUSY for
 * another writer, a hint for a file that is not a database); returns -1. */
int cat_fail(struct catalog *c, const char *what);
/* Runs sql (no parameters, no rows); cat_fail(what) on failure. */
int cat_exec(struct catalog *c, const char *sql, const char *what);
/* Prepares one statement; cat_fail(what) on failure. */
int cat_prepare(struct catalog *c, const char *sql, sqlite3_stmt **st, const char *what);
/* Steps a statement that returns no rows; cat_fail(what) unless it is done. */
int cat_step_done(struct catalog *c, sqlite3_stmt *st, const char *what);
/* Binds a string, or NULL; returns an SQLite result code. */
int cat_bind_text(sqlite3_stmt *st, int i, const char *s);
/* A copy of a column's text, NULL for NULL. */
char *cat_col_text(sqlite3_stmt *st, int i);

/* Runs one statement that returns no rows, inside the caller's transaction (if any):
 * prepare, bind() its parameters (NULL: none), step, finalize. */
int cat_run(struct catalog *c, const char *what, const char *sql,
            int (*bind)(sqlite3_stmt *st, const void *arg), const void *arg);

/* The work of one transaction; what is cat_tx's, for the body's own error messages. */
typedef int (*cat_tx_body)(struct catalog *c, void *ctx, const char *what);
/*
 * Runs body(c, ctx, what) in one BEGIN IMMEDIATE transaction and commits it when the
 * body returns 0. When the body (or COMMIT) fails, everything it wrote is rolled back
 * and its error (class, message, hint) stays the one reported; returns -1. A BEGIN that
 * waits longer than the busy timeout fails with ERR_BUSY and the body does not run.
 * what names the write in the errors of BEGIN and COMMIT ("could not <what> in catalog").
 */
int cat_tx(struct catalog *c, const char *what, cat_tx_body body, void *ctx);

/* One statement in one transaction: cat_tx around cat_run. */
int cat_write_one(struct catalog *c, const char *what, const char *sql,
                  int (*bind)(sqlite3_stmt *st, const void *arg), const void *arg);
/* Fills the zeroed element row from the current row of st. */
typedef void (*cat_row_fn)(sqlite3_stmt *st, void *row);
/* Steps st to its end, appending to *arr (*n elements of elem bytes) one zeroed element a
 * row, which fill writes. Returns 0, or -1 with cat_fail(what); either way *arr and *n
 * hold the rows read, for the caller to keep or free. */
int cat_collect(struct catalog *c, sqlite3_stmt *st, const char *what, size_t elem, cat_row_fn fill,
                void **arr, size_t *n);
/* Runs the insert sql n times, bind(st, i, arg) binding row i's parameters (non-zero: an
 * SQLite error), inside the caller's transaction. */
int cat_insert_each(struct catalog *c, const char *what, const char *sql, size_t n,
                    int (*bind)(sqlite3_stmt *st, size_t i, const void *arg), const void *arg);
/* cat_collect over sql with the one parameter ?1 = id (a backup's), *arr and *n empty. */
int cat_collect_id(struct catalog *c, const char *what, const char *sql, int64_t id, size_t elem,
                   cat_row_fn fill, void **arr, size_t *n);
/* The text of the first column of every row of sql (no parameters). */
int cat_text_column(struct catalog *c, const char *what, const char *sql, char ***out, size_t *n);

/* Inserts the n access points of backup id, seq 0.. in their order (points.c). */
int cat_store_points(struct catalog *c, int64_t id, const struct access_point *p, size_t n,
                     const char *what);

/* Reads a row selected with BACKUP_COLUMNS into b (owned copies). */
void cat_read_backup(sqlite3_stmt *st, struct backup_rec *b);

/* Inserts an audit event (at = now, actor = OS user) inside the caller's transaction. */
int cat_insert_event(struct catalog *c, const char *action, int64_t backup_id, const char *outcome,
                     const char *detail, const char *what);

#endif
