/* pgvault query: one read-only statement, behind an authorizer that allows only reading. */
#include "catalog/catalog.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "catalog/internal.h"
#include "common/util.h"

/* What a `pgvault query` statement may do: read. The first action denied is kept for
 * the message. */
struct query_guard {
    char denied[64];
};

static int query_authorize(void *ctx, int action, const char *a1, const char *a2, const char *a3,
                           const char *a4)
{
    (void)a3;
    (void)a4;
    struct query_guard *g = ctx;
    /* pragmas that only report; with an argument, only those that read a schema object */
    static const char *const read_pragmas[] = {
        "table_info",      "table_xinfo",   "table_list",       "index_info",
        "index_xinfo",     "index_list",    "foreign_key_list", "foreign_key_check",
        "collation_list",  "function_list", "pragma_list",      "module_list",
        "integrity_check", "quick_check",   "database_list",    "compile_options",
    };
    const char *name = NULL;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_UPDATE:
        /* SQLite asks this while it declares a pragma function's columns
         * (SELECT * FROM pragma_table_info('backups')); a real UPDATE of the schema table
         * is not read-only and is refused below */
        if (a1 && (sqlite3_stricmp(a1, "sqlite_master") == 0 ||
                   sqlite3_stricmp(a1, "sqlite_schema") == 0))
            return SQLITE_OK;
        name = "a statement that writes";
        break;
    case SQLITE_FUNCTION:
        if (a2 && (sqlite3_stricmp(a2, "load_extension") == 0 ||
                   sqlite3_stricmp(a2, "readfile") == 0 || sqlite3_stricmp(a2, "writefile") == 0))
            name = a2;
        else
            return SQLITE_OK;
        break;
    case SQLITE_PRAGMA:
        if (!a2) {
            /* a bare pragma reads a setting, except the ones that act */
            if (sqlite3_stricmp(a1, "optimize") != 0 && sqlite3_stricmp(a1, "shrink_memory") != 0 &&
                sqlite3_stricmp(a1, "wal_checkpoint") != 0 &&
                sqlite3_stricmp(a1, "incremental_vacuum") != 0)
                return SQLITE_OK;
        } else {
            for (size_t i = 0; i < sizeof(read_pragmas) / sizeof(read_pragmas[0]); i++)
                if (sqlite3_stricmp(a1, read_pragmas[i]) == 0)
                    return SQLITE_OK;
        }
        name = "a PRAGMA that changes a setting or data";
        break;
    case SQLITE_ATTACH:
        name = "ATTACH";
        break;
    case SQLITE_DETACH:
        name = "DETACH";
        break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        name = "transaction control";
        break;
    default:
        name = "a statement that writes";
        break;
    }
    if (!g->denied[0])
        snprintf(g->denied, sizeof(g->denied), "%s", name);
    return SQLITE_DENY;
}

/* A statement the guard refused, or one that would write: a usage error. */
static int query_refused(const char *why)
{
    err_set(ERR_USAGE, "statement refused: %s is not allowed, the catalog is read-only here", why);
    err_hint("pgvault query runs one read-only statement (SELECT, WITH … SELECT, reading "
             "PRAGMAs)");
    return -1;
}

int catalog_query(struct catalog *c, const char *sql, catalog_row_fn fn, void *ctx)
{
    const char *what = "run the query";
    struct query_guard guard = {{0}};
    sqlite3_stmt *st = NULL, *next = NULL;
    const char *tail = NULL;
    const char **names = NULL;
    struct catalog_value *vals = NULL;
    int ret = -1, rc;

    /* 1. only a read-only connection, with writes, ATTACH and the rest refused */
    if (sqlite3_db_readonly(c->db, "main") != 1)
        return err_set(ERR_FAILED, "internal error: catalog \"%s\" is not open read-only", c->path);
    if (cat_exec(c, "PRAGMA query_only = 1", what) < 0)
        return -1;
    sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(c->db, query_authorize, &guard);

    /* 2. exactly one statement */
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, &tail) != SQLITE_OK) {
        if (sqlite3_errcode(c->db) == SQLITE_AUTH || guard.denied[0])
            query_refused(guard.denied[0] ? guard.denied : "this statement");
        else
            err_set(ERR_USAGE, "invalid SQL: %s", sqlite3_errmsg(c->db));
        goto out;
    }
    if (!st) {
        err_set(ERR_USAGE, "no SQL statement given");
        goto out;
    }
    if (tail && *tail) {
        /* anything but blanks and comments after the first statement is a second one */
        rc = sqlite3_prepare_v2(c->db, tail, -1, &next, NULL);
        if (rc != SQLITE_OK || next) {
            err_set(ERR_USAGE, "only one SQL statement is allowed");
            goto out;
        }
    }

    /* 3. it must not write, whatever the authorizer let through */
    if (!sqlite3_stmt_readonly(st)) {
        query_refused("a statement that writes");
        goto out;
    }

    /* 4. the column names, then every row */
    int ncols = sqlite3_column_count(st);
    names = xcalloc((size_t)ncols + 1, sizeof(*names));
    vals = xcalloc((size_t)ncols + 1, sizeof(*vals));
    for (int i = 0; i < ncols; i++) {
        const char *nm = sqlite3_column_name(st, i);
        names[i] = nm ? nm : "?";
    }
    if (fn(ctx, ncols, names, NULL) != 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            int type = sqlite3_column_type(st, i);
            vals[i].type = type == SQLITE_INTEGER ? CATALOG_INTEGER
                           : type == SQLITE_FLOAT ? CATALOG_REAL
                           : type == SQLITE_BLOB  ? CATALOG_BLOB
                           : type == SQLITE_NULL  ? CATALOG_NULL
                                                  : CATALOG_TEXT;
            if (type == SQLITE_BLOB)
                vals[i].text = sqlite3_column_blob(st, i);
            else
                vals[i].text = (const char *)sqlite3_column_text(st, i);
            vals[i].len = (size_t)sqlite3_column_bytes(st, i);
        }
        if (fn(ctx, ncols, names, vals) != 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_READONLY || rc == SQLITE_AUTH)
            query_refused("a statement that writes");
        else
            cat_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    free(names);
    free(vals);
    sqlite3_finalize(next);
    sqlite3_finalize(st);
    sqlite3_set_authorizer(c->db, NULL, NULL);
    return ret;
}
