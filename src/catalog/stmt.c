/*
 * The statement helpers every table file uses: error mapping, prepare, bind, step,
 * reading a column, one statement in one transaction (see internal.h).
 */
#include "catalog/catalog.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "catalog/internal.h"
#include "common/util.h"

/* Records the connection's last error: busy means another writer, anything else fails. */
int cat_fail(struct catalog *c, const char *what)
{
    int rc = sqlite3_errcode(c->db);
    if (rc == SQLITE_BUSY)
        return err_set(ERR_BUSY, "catalog \"%s\" is locked by another process", c->path);
    if (rc == SQLITE_NOTADB) {
        err_set(ERR_FAILED, "could not open catalog \"%s\": file is not a database", c->path);
        err_hint("move the damaged file aside; \"pgvault import --scan\" rebuilds a catalog from "
                 "the backup files");
        return -1;
    }
    return err_set(ERR_FAILED, "could not %s in catalog \"%s\": %s", what, c->path,
                   sqlite3_errmsg(c->db));
}

int cat_exec(struct catalog *c, const char *sql, const char *what)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return cat_fail(c, what);
    return 0;
}

int cat_prepare(struct catalog *c, const char *sql, sqlite3_stmt **st, const char *what)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return cat_fail(c, what);
    return 0;
}

/* Steps a statement that returns no rows. */
int cat_step_done(struct catalog *c, sqlite3_stmt *st, const char *what)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return cat_fail(c, what);
    return 0;
}

/* Binds a string, or NULL; returns an SQLite result code. */
int cat_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

char *cat_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? xstrdup((const char *)s) : NULL;
}

int cat_run(struct catalog *c, const char *what, const char *sql,
            int (*bind)(sqlite3_stmt *st, const void *arg), const void *arg)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (bind && bind(st, arg) != SQLITE_OK) {
        cat_fail(c, what);
        goto out;
    }
    ret = cat_step_done(c, st, what);
out:
    sqlite3_finalize(st);
    return ret;
}

int cat_tx(struct catalog *c, const char *what, cat_tx_body body, void *ctx)
{
    if (cat_exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (body(c, ctx, what) == 0 && cat_exec(c, "COMMIT", what) == 0)
        return 0;
    /* the body's (or COMMIT's) error is the one to report, not the rollback's */
    struct err_saved why;
    err_save(&why);
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    err_restore(&why);
    return -1;
}

struct one_statement {
    const char *sql;
    int (*bind)(sqlite3_stmt *st, const void *arg);
    const void *arg;
};

static int run_one(struct catalog *c, void *ctx, const char *what)
{
    const struct one_statement *one = ctx;
    return cat_run(c, what, one->sql, one->bind, one->arg);
}

int cat_write_one(struct catalog *c, const char *what, const char *sql,
                  int (*bind)(sqlite3_stmt *st, const void *arg), const void *arg)
{
    struct one_statement one = {sql, bind, arg};
    return cat_tx(c, what, run_one, &one);
}

int cat_collect(struct catalog *c, sqlite3_stmt *st, const char *what, size_t elem, cat_row_fn fill,
                void **arr, size_t *n)
{
    size_t cap = *n;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *arr = xrealloc(*arr, cap * elem);
        }
        void *row = (char *)*arr + *n * elem;
        memset(row, 0, elem);
        fill(st, row);
        (*n)++;
    }
    return rc == SQLITE_DONE ? 0 : cat_fail(c, what);
}

int cat_collect_id(struct catalog *c, const char *what, const char *sql, int64_t id, size_t elem,
                   cat_row_fn fill, void **arr, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (cat_prepare(c, sql, &st, what) < 0)
        return -1;
    if (sqlite3_bind_int64(st, 1, id))
        cat_fail(c, what);
    else
        rc = cat_collect(c, st, what, elem, fill, arr, n);
    sqlite3_finalize(st);
    return rc;
}

int cat_insert_each(struct catalog *c, const char *what, const char *sql, size_t n,
                    int (*bind)(sqlite3_stmt *st, size_t i, const void *arg), const void *arg)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (n == 0)
        return 0;
    if (cat_prepare(c, sql, &st, what) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        if (bind(st, i, arg)) {
            cat_fail(c, what);
            goto out;
        }
        if (cat_step_done(c, st, what) < 0)
            goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

static void read_text(sqlite3_stmt *st, void *row)
{
    *(char **)row = cat_col_text(st, 0);
}

/* The text of the first column of every row of sql (no parameters). */
int cat_text_column(struct catalog *c, const char *what, const char *sql, char ***out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **arr = NULL;
    size_t len = 0;
    int ret = -1;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (cat_collect(c, st, what, sizeof(*arr), read_text, (void **)&arr, &len) != 0)
        goto out;
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    for (size_t i = 0; arr && i < len; i++)
        free(arr[i]);
    free(arr);
    sqlite3_finalize(st);
    return ret;
}
