/*
 * The backups table, with backup_tables and backup_settings: recording a backup and
 * reading its rows.
 */
#include "catalog/catalog.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "catalog/internal.h"
#include "common/util.h"

/* Every string member of struct backup_rec, for copying and freeing. */
#define BACKUP_REC_STRINGS(b)                                                                      \
    &(b)->db_name, &(b)->file_name, &(b)->format, &(b)->compression, &(b)->checksum,               \
        &(b)->raw_checksum, &(b)->checksum_algo, &(b)->server_version, &(b)->pg_dump_version,      \
        &(b)->encoding, &(b)->collate, &(b)->ctype, &(b)->started_at, &(b)->finished_at,           \
        &(b)->status, &(b)->label, &(b)->error, &(b)->verified_at, &(b)->pruned_at,                \
        &(b)->prune_rule, &(b)->host, &(b)->origin, &(b)->locale_provider, &(b)->icu_locale,       \
        &(b)->encryption, &(b)->recipients

/* Reads a row selected with BACKUP_COLUMNS. */
static void read_backup_with(sqlite3_stmt *st, struct backup_rec *b,
                             char *(*text)(sqlite3_stmt *st, int i))
{
    int i = 0;
    b->id = sqlite3_column_int64(st, i++);
    b->db_name = text(st, i++);
    b->file_name = text(st, i++);
    b->format = text(st, i++);
    b->compression = text(st, i++);
    b->level = sqlite3_column_int(st, i++);
    b->size_bytes = sqlite3_column_int64(st, i++);
    b->raw_bytes = sqlite3_column_int64(st, i++);
    b->checksum = text(st, i++);
    b->raw_checksum = text(st, i++);
    b->checksum_algo = text(st, i++);
    b->table_count = sqlite3_column_int64(st, i++);
    b->row_count = sqlite3_column_int64(st, i++);
    b->server_version = text(st, i++);
    b->pg_dump_version = text(st, i++);
    b->db_size_bytes = sqlite3_column_int64(st, i++);
    b->encoding = text(st, i++);
    b->collate = text(st, i++);
    b->ctype = text(st, i++);
    b->with_owners = sqlite3_column_int(st, i++) != 0;
    b->started_at = text(st, i++);
    b->finished_at = text(st, i++);
    b->duration_ms = sqlite3_column_int64(st, i++);
    b->status = text(st, i++);
    b->pinned = sqlite3_column_int(st, i++) != 0;
    b->suspect = sqlite3_column_int(st, i++) != 0;
    b->label = text(st, i++);
    b->error = text(st, i++);
    b->verified_at = text(st, i++);
    b->pruned_at = text(st, i++);
    b->prune_rule = text(st, i++);
    b->pid = sqlite3_column_int64(st, i++);
    b->host = text(st, i++);
    b->origin = text(st, i++);
    b->locale_provider = text(st, i++);
    b->icu_locale = text(st, i++);
    b->encryption = text(st, i++);
    b->recipients = text(st, i++);
}

void cat_read_backup(sqlite3_stmt *st, struct backup_rec *b)
{
    read_backup_with(st, b, cat_col_text);
}

/* A column's text as SQLite holds it, valid until the next step: no copy. */
static char *col_borrow(sqlite3_stmt *st, int i)
{
    return (char *)sqlite3_column_text(st, i);
}

/* What a transaction writes for one backup row; id is the row a body inserted. */
struct backup_write {
    const struct backup_rec *b;
    const struct table_rec *tables;
    size_t ntables;
    char *const *settings;
    int nsettings;
    const struct backup_points *points; /* NULL: none */
    int64_t id;
};

static int bind_running(sqlite3_stmt *st, const void *arg)
{
    const struct backup_rec *b = arg;
    return cat_bind_text(st, 1, b->db_name) || cat_bind_text(st, 2, b->file_name) ||
           cat_bind_text(st, 3, b->compression) || sqlite3_bind_int(st, 4, b->level) ||
           cat_bind_text(st, 5, b->started_at) || sqlite3_bind_int64(st, 6, b->pid) ||
           cat_bind_text(st, 7, b->host) || cat_bind_text(st, 8, b->label) ||
           sqlite3_bind_int(st, 9, b->with_owners) || cat_bind_text(st, 10, b->format) ||
           cat_bind_text(st, 11, b->origin) || cat_bind_text(st, 12, b->encryption) ||
           cat_bind_text(st, 13, b->recipients);
}

static int insert_running(struct catalog *c, void *ctx, const char *what)
{
    struct backup_write *w = ctx;
    if (cat_run(
            c, what,
            "INSERT INTO backups (db_name, file_name, compression, compression_level, "
            "started_at, pid, host, label, with_owners, format, origin, encryption, recipients, "
            "status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, 'plain'), "
            "COALESCE(?, 'backup'), COALESCE(?, 'none'), ?, 'running')",
            bind_running, w->b) < 0)
        return -1;
    w->id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

int catalog_backup_begin(struct catalog *c, struct backup_rec *b)
{
    struct backup_write w = {.b = b};
    if (cat_tx(c, "record the backup", insert_running, &w) < 0)
        return -1;
    b->id = w.id;
    return 0;
}

/* The rows a backup's result writes besides its own: tables, settings. */
struct rows_of {
    int64_t id;
    const struct table_rec *t;
    char *const *settings;
};

static int bind_table(sqlite3_stmt *st, size_t i, const void *arg)
{
    const struct rows_of *w = arg;
    const struct table_rec *t = &w->t[i];
    char relkind[2] = {t->relkind ? t->relkind : 'r', '\0'};
    return sqlite3_bind_int64(st, 1, w->id) || cat_bind_text(st, 2, t->schema_name) ||
           cat_bind_text(st, 3, t->table_name) || cat_bind_text(st, 4, relkind) ||
           sqlite3_bind_int64(st, 5, t->row_count);
}

static int store_tables(struct catalog *c, int64_t id, const struct table_rec *t, size_t n,
                        const char *what)
{
    struct rows_of w = {.id = id, .t = t};
    return cat_insert_each(c, what,
                           "INSERT INTO backup_tables (backup_id, schema_name, table_name, "
                           "relkind, row_count) VALUES (?, ?, ?, ?, ?)",
                           n, bind_table, &w);
}

static int bind_setting(sqlite3_stmt *st, size_t i, const void *arg)
{
    const struct rows_of *w = arg;
    return sqlite3_bind_int64(st, 1, w->id) || cat_bind_text(st, 2, w->settings[i]);
}

static int store_settings(struct catalog *c, int64_t id, char *const *settings, int n,
                          const char *what)
{
    struct rows_of w = {.id = id, .settings = settings};
    return cat_insert_each(c, what,
                           "INSERT INTO backup_settings (backup_id, setting) VALUES (?, ?)",
                           n > 0 ? (size_t)n : 0, bind_setting, &w);
}

/* The row the last statement changed was backup id; else "backup N not found". */
static int changed_backup(struct catalog *c, int64_t id)
{
    if (sqlite3_changes(c->db) != 1)
        return err_set(ERR_USAGE, "backup %" PRId64 " not found in the catalog", id);
    return 0;
}

static int bind_result(sqlite3_stmt *st, const void *arg)
{
    const struct backup_rec *b = arg;
    return sqlite3_bind_int64(st, 1, b->size_bytes) || sqlite3_bind_int64(st, 2, b->raw_bytes) ||
           cat_bind_text(st, 3, b->checksum) || cat_bind_text(st, 4, b->raw_checksum) ||
           cat_bind_text(st, 5, b->checksum_algo) || sqlite3_bind_int64(st, 6, b->table_count) ||
           sqlite3_bind_int64(st, 7, b->row_count) || cat_bind_text(st, 8, b->server_version) ||
           cat_bind_text(st, 9, b->pg_dump_version) ||
           sqlite3_bind_int64(st, 10, b->db_size_bytes) || cat_bind_text(st, 11, b->encoding) ||
           cat_bind_text(st, 12, b->collate) || cat_bind_text(st, 13, b->ctype) ||
           cat_bind_text(st, 14, b->finished_at) || sqlite3_bind_int64(st, 15, b->duration_ms) ||
           cat_bind_text(st, 16, b->status ? b->status : "complete") ||
           sqlite3_bind_int(st, 17, b->suspect) || cat_bind_text(st, 18, b->error) ||
           cat_bind_text(st, 19, b->locale_provider) || cat_bind_text(st, 20, b->icu_locale) ||
           sqlite3_bind_int64(st, 21, b->id);
}

static int update_result(struct catalog *c, void *ctx, const char *what)
{
    const struct backup_write *w = ctx;
    if (cat_run(c, what,
                "UPDATE backups SET size_bytes = ?, raw_bytes = ?, checksum = ?, "
                "raw_checksum = ?, checksum_algo = COALESCE(?, checksum_algo), "
                "table_count = ?, row_count = ?, server_version = ?, pg_dump_version = ?, "
                "db_size_bytes = ?, encoding = ?, lc_collate = ?, lc_ctype = ?, finished_at = ?, "
                "duration_ms = ?, status = ?, suspect = ?, error = ?, locale_provider = ?, "
                "icu_locale = ? WHERE id = ?",
                bind_result, w->b) < 0 ||
        changed_backup(c, w->b->id) < 0)
        return -1;
    if (store_tables(c, w->b->id, w->tables, w->ntables, what) < 0 ||
        store_settings(c, w->b->id, w->settings, w->nsettings, what) < 0)
        return -1;
    if (w->points && cat_store_points(c, w->b->id, w->points->v, w->points->n, what) < 0)
        return -1;
    return 0;
}

int catalog_backup_finish(struct catalog *c, const struct backup_rec *b,
                          const struct table_rec *tables, size_t ntables, char *const *settings,
                          int nsettings)
{
    return catalog_backup_finish_points(c, b, tables, ntables, settings, nsettings, NULL);
}

int catalog_backup_finish_points(struct catalog *c, const struct backup_rec *b,
                                 const struct table_rec *tables, size_t ntables,
                                 char *const *settings, int nsettings,
                                 const struct backup_points *points)
{
    struct backup_write w = {.b = b,
                             .tables = tables,
                             .ntables = ntables,
                             .settings = settings,
                             .nsettings = nsettings,
                             .points = points};
    return cat_tx(c, "record the backup result", update_result, &w);
}

struct failure {
    int64_t id;
    const char *finished_at, *error;
};

static int bind_failure(sqlite3_stmt *st, const void *arg)
{
    const struct failure *f = arg;
    return cat_bind_text(st, 1, f->finished_at) || cat_bind_text(st, 2, f->error) ||
           sqlite3_bind_int64(st, 3, f->id);
}

static int update_failed(struct catalog *c, void *ctx, const char *what)
{
    const struct failure *f = ctx;
    if (cat_run(c, what,
                "UPDATE backups SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                bind_failure, f) < 0)
        return -1;
    return changed_backup(c, f->id);
}

int catalog_backup_fail(struct catalog *c, int64_t id, const char *finished_at, const char *error)
{
    struct failure f = {.id = id, .finished_at = finished_at, .error = error};
    return cat_tx(c, "record the failed backup", update_failed, &f);
}

struct verified_args {
    int64_t id;
    const char *at;
};

static int bind_verified(sqlite3_stmt *st, const void *arg)
{
    const struct verified_args *a = arg;
    return cat_bind_text(st, 1, a->at) || sqlite3_bind_int64(st, 2, a->id);
}

struct verify_result {
    struct verified_args v;
    const char *outcome, *detail;
};

static int write_verify_result(struct catalog *c, void *ctx, const char *what)
{
    const struct verify_result *r = ctx;
    if (r->v.at &&
        cat_run(c, what, "UPDATE backups SET verified_at = ? WHERE id = ?", bind_verified, &r->v))
        return -1;
    return cat_insert_event(c, "verify", r->v.id, r->outcome, r->detail, what);
}

int catalog_verify_result(struct catalog *c, int64_t id, const char *verified_at,
                          const char *outcome, const char *detail)
{
    struct verify_result r = {
        .v = {.id = id, .at = verified_at}, .outcome = outcome, .detail = detail};
    return cat_tx(c, "record the verification", write_verify_result, &r);
}

int catalog_backup_restore_tested(struct catalog *c, int64_t id, const char *at)
{
    struct verified_args a = {.id = id, .at = at};
    return cat_write_one(c, "record the test restore",
                         "UPDATE backups SET restore_tested_at = ? WHERE id = ?", bind_verified,
                         &a);
}

int catalog_db_last_tested(struct catalog *c, const char *db, char **at)
{
    const char *what = "read the last test restore";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    *at = NULL;
    if (cat_prepare(c, "SELECT max(restore_tested_at) FROM backups WHERE db_name = ?", &st, what) <
        0)
        goto out;
    if (cat_bind_text(st, 1, db) || sqlite3_step(st) != SQLITE_ROW) {
        cat_fail(c, what);
        goto out;
    }
    *at = cat_col_text(st, 0);
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

int catalog_backups_each(struct catalog *c, const char *db, bool all_status,
                         int (*fn)(void *ctx, const struct backup_rec *b), void *ctx)
{
    const char *what = "list backups";
    /* Fixed SQL per filter: a db filter walks the backups_db_time index in order; "+status"
     * keeps the planner off the status index, useless when nearly every row is complete. */
    char *sql = xasprintf("SELECT " BACKUP_COLUMNS " FROM backups WHERE %s AND %s "
                          "ORDER BY started_at DESC, id DESC",
                          db ? "db_name = ?1" : "1", all_status ? "1" : "+status = 'complete'");
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (db && cat_bind_text(st, 1, db)) {
        cat_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct backup_rec b = {0};
        read_backup_with(st, &b, col_borrow);
        if (fn(ctx, &b) != 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        cat_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

struct collect {
    struct backup_rec *arr;
    size_t len, cap;
};

/* Keeps a copy of each row. */
static int collect_row(void *ctx, const struct backup_rec *b)
{
    struct collect *col = ctx;
    if (col->len == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 64;
        col->arr = xrealloc(col->arr, col->cap * sizeof(*col->arr));
    }
    struct backup_rec *r = &col->arr[col->len++];
    *r = *b;
    char **strs[] = {BACKUP_REC_STRINGS(r)};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        *strs[i] = *strs[i] ? xstrdup(*strs[i]) : NULL;
    return 0;
}

int catalog_backups(struct catalog *c, const char *db, bool all_status, struct backup_rec **out,
                    size_t *n)
{
    struct collect col = {0};
    *out = NULL;
    *n = 0;
    if (catalog_backups_each(c, db, all_status, collect_row, &col) != 0) {
        backup_recs_free(col.arr, col.len);
        return -1;
    }
    *out = col.arr;
    *n = col.len;
    return 0;
}

/* Reads the one row that st (bound) selects; absent is a usage error naming `name`. */
static int get_one(struct catalog *c, sqlite3_stmt *st, const char *name, struct backup_rec *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cat_read_backup(st, out);
        return 0;
    }
    if (rc == SQLITE_DONE)
        return err_set(ERR_USAGE, "backup %s not found in the catalog", name);
    return cat_fail(c, "read a backup");
}

int catalog_backup_get(struct catalog *c, int64_t id, struct backup_rec *out)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    char name[24];
    snprintf(name, sizeof(name), "%" PRId64, id);
    memset(out, 0, sizeof(*out));
    if (cat_prepare(c, "SELECT " BACKUP_COLUMNS " FROM backups WHERE id = ?", &st,
                    "read a backup") < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, id)) {
        cat_fail(c, "read a backup");
        goto out;
    }
    ret = get_one(c, st, name, out);
out:
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_by_file(struct catalog *c, const char *file_name, struct backup_rec *out)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    char *name = xasprintf("\"%s\"", file_name);
    memset(out, 0, sizeof(*out));
    if (cat_prepare(c, "SELECT " BACKUP_COLUMNS " FROM backups WHERE file_name = ?", &st,
                    "read a backup") < 0)
        goto out;
    if (cat_bind_text(st, 1, file_name)) {
        cat_fail(c, "read a backup");
        goto out;
    }
    ret = get_one(c, st, name, out);
out:
    sqlite3_finalize(st);
    free(name);
    return ret;
}

static void read_table(sqlite3_stmt *st, void *row)
{
    const unsigned char *kind = sqlite3_column_text(st, 2);
    *(struct table_rec *)row = (struct table_rec){
        .schema_name = cat_col_text(st, 0),
        .table_name = cat_col_text(st, 1),
        .relkind = kind && kind[0] ? (char)kind[0] : 'r',
        .row_count = sqlite3_column_int64(st, 3),
    };
}

int catalog_backup_tables(struct catalog *c, int64_t id, struct table_rec **out, size_t *n)
{
    struct table_rec *arr = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    if (cat_collect_id(c, "read the tables of a backup",
                       "SELECT schema_name, table_name, relkind, row_count FROM backup_tables "
                       "WHERE backup_id = ? ORDER BY schema_name, table_name",
                       id, sizeof(*arr), read_table, (void **)&arr, &len) != 0) {
        table_recs_free(arr, len);
        return -1;
    }
    *out = arr;
    *n = len;
    return 0;
}

int catalog_backup_settings(struct catalog *c, int64_t id, char ***out, int *n)
{
    const char *what = "read the settings of a backup";
    sqlite3_stmt *st = NULL;
    char **arr = NULL;
    int len = 0, cap = 0, ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c, "SELECT setting FROM backup_settings WHERE backup_id = ? ORDER BY rowid",
                    &st, what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, id)) {
        cat_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, (size_t)cap * sizeof(*arr));
        }
        arr[len++] = cat_col_text(st, 0);
    }
    if (rc != SQLITE_DONE) {
        cat_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    for (int i = 0; arr && i < len; i++)
        free(arr[i]);
    free(arr);
    sqlite3_finalize(st);
    return ret;
}

int catalog_file_known(struct catalog *c, const char *file_name, bool *known)
{
    const char *what = "look up a backup file";
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    *known = false;
    if (cat_prepare(c, "SELECT 1 FROM backups WHERE file_name = ?", &st, what) < 0)
        goto out;
    if (cat_bind_text(st, 1, file_name)) {
        cat_fail(c, what);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cat_fail(c, what);
        goto out;
    }
    *known = rc == SQLITE_ROW;
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

void backup_rec_free(struct backup_rec *b)
{
    if (!b)
        return;
    char **strs[] = {BACKUP_REC_STRINGS(b)};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

void backup_recs_free(struct backup_rec *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        backup_rec_free(&b[i]);
    free(b);
}

void table_recs_free(struct table_rec *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].schema_name);
        free(t[i].table_name);
    }
    free(t);
}

int catalog_db_names(struct catalog *c, char ***out, size_t *n)
{
    /* walks the backups_db_time index */
    return cat_text_column(c, "list the databases",
                           "SELECT DISTINCT db_name FROM backups ORDER BY db_name", out, n);
}

int catalog_newest_backup(struct catalog *c, const char *db, enum catalog_newest which,
                          struct backup_rec *out, bool *found)
{
    static const char *const filters[] = {
        [CATALOG_NEWEST_COMPLETE] = "status = 'complete'",
        [CATALOG_NEWEST_FINISHED] = "status <> 'running'",
        [CATALOG_NEWEST_ANY] = "1",
    };
    const char *what = "read the newest backup";
    char *sql = xasprintf("SELECT " BACKUP_COLUMNS " FROM backups WHERE db_name = ? AND %s "
                          "ORDER BY started_at DESC, id DESC LIMIT 1",
                          filters[which]);
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    memset(out, 0, sizeof(*out));
    *found = false;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (cat_bind_text(st, 1, db)) {
        cat_fail(c, what);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cat_read_backup(st, out);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        cat_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

static int bind_imported(sqlite3_stmt *st, const void *arg)
{
    const struct backup_rec *b = arg;
    return cat_bind_text(st, 1, b->db_name) || cat_bind_text(st, 2, b->file_name) ||
           cat_bind_text(st, 3, b->compression) || sqlite3_bind_int(st, 4, b->level) ||
           sqlite3_bind_int64(st, 5, b->size_bytes) || sqlite3_bind_int64(st, 6, b->raw_bytes) ||
           cat_bind_text(st, 7, b->checksum) || cat_bind_text(st, 8, b->raw_checksum) ||
           sqlite3_bind_int64(st, 9, b->table_count) || sqlite3_bind_int64(st, 10, b->row_count) ||
           cat_bind_text(st, 11, b->server_version) || cat_bind_text(st, 12, b->pg_dump_version) ||
           cat_bind_text(st, 13, b->encoding) || sqlite3_bind_int(st, 14, b->with_owners) ||
           cat_bind_text(st, 15, b->started_at) || cat_bind_text(st, 16, b->finished_at) ||
           sqlite3_bind_int64(st, 17, b->duration_ms) || sqlite3_bind_int(st, 18, b->suspect) ||
           cat_bind_text(st, 19, b->label) || sqlite3_bind_int64(st, 20, b->pid) ||
           cat_bind_text(st, 21, b->host) || cat_bind_text(st, 22, b->encryption) ||
           cat_bind_text(st, 23, b->recipients);
}

static int insert_imported(struct catalog *c, void *ctx, const char *what)
{
    struct backup_write *w = ctx;
    if (cat_run(c, what,
                "INSERT INTO backups (db_name, file_name, format, compression, "
                "compression_level, size_bytes, raw_bytes, checksum, raw_checksum, "
                "checksum_algo, table_count, row_count, server_version, pg_dump_version, "
                "encoding, with_owners, started_at, finished_at, duration_ms, status, suspect, "
                "label, pid, host, origin, encryption, recipients) VALUES (?, ?, 'plain', ?, "
                "NULLIF(?, 0), ?, ?, ?, ?, 'XXH3-128', ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, -1), "
                "'complete', ?, ?, ?, ?, 'import', COALESCE(?, 'none'), ?)",
                bind_imported, w->b) < 0)
        return -1;
    w->id = sqlite3_last_insert_rowid(c->db);
    return store_tables(c, w->id, w->tables, w->ntables, what);
}

int catalog_backup_import(struct catalog *c, struct backup_rec *b, const struct table_rec *tables,
                          size_t ntables)
{
    struct backup_write w = {.b = b, .tables = tables, .ntables = ntables};
    if (cat_tx(c, "record the imported backup", insert_imported, &w) < 0)
        return -1;
    b->id = w.id;
    return 0;
}
