/*
 * Off-site copies (command/copies.c): the `copies` rows of each backup on each remote,
 * what pgvault last saw of each remote (`remotes`), and the consistent snapshot of the
 * whole catalog that goes to every remote.
 */
#include "catalog/catalog.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/internal.h"
#include "common/err.h"
#include "common/util.h"

static int bind_copy(sqlite3_stmt *st, const void *arg)
{
    const struct copy_update *u = arg;
    int rc = sqlite3_bind_int64(st, 1, u->backup_id) || cat_bind_text(st, 2, u->remote) ||
             cat_bind_text(st, 3, u->location ? u->location : "") ||
             cat_bind_text(st, 4, u->status) || cat_bind_text(st, 6, u->checksum) ||
             cat_bind_text(st, 7, u->copied_at) || cat_bind_text(st, 8, u->verified_at) ||
             cat_bind_text(st, 9, u->error);
    if (rc)
        return rc;
    return u->size_bytes >= 0 ? sqlite3_bind_int64(st, 5, u->size_bytes) : sqlite3_bind_null(st, 5);
}

static int copy_set_body(struct catalog *c, void *ctx, const char *what)
{
    const struct copy_update *u = ctx;
    if (cat_run(c, what,
                "INSERT INTO copies (backup_id, remote, location, status, size_bytes, checksum, "
                "copied_at, verified_at, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                "ON CONFLICT (backup_id, remote) DO UPDATE SET "
                "location = CASE WHEN ?3 = '' THEN location ELSE ?3 END, status = ?4, "
                "size_bytes = coalesce(?5, size_bytes), checksum = coalesce(?6, checksum), "
                "copied_at = coalesce(?7, copied_at), verified_at = coalesce(?8, verified_at), "
                "error = ?9",
                bind_copy, u) < 0)
        return -1;
    if (!u->action)
        return 0;
    char *detail = xasprintf("remote \"%s\": %s", u->remote, u->detail ? u->detail : u->status);
    int rc = cat_insert_event(c, u->action, u->backup_id, u->outcome, detail, what);
    free(detail);
    return rc;
}

int catalog_copy_set(struct catalog *c, const struct copy_update *u)
{
    return cat_tx(c, "record a remote copy", copy_set_body, (void *)u);
}

#define COPY_COLUMNS                                                                               \
    "c.backup_id, c.remote, c.location, c.size_bytes, c.checksum, c.status, c.copied_at, "         \
    "c.verified_at, c.error, b.db_name, b.file_name, b.started_at, b.status, b.checksum, "         \
    "b.size_bytes, b.pinned, b.suspect"

static void read_copy(sqlite3_stmt *st, void *row)
{
    struct copy_rec *r = row;
    r->backup_id = sqlite3_column_int64(st, 0);
    r->remote = cat_col_text(st, 1);
    r->location = cat_col_text(st, 2);
    r->size_bytes = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
    r->checksum = cat_col_text(st, 4);
    r->status = cat_col_text(st, 5);
    r->copied_at = cat_col_text(st, 6);
    r->verified_at = cat_col_text(st, 7);
    r->error = cat_col_text(st, 8);
    r->db_name = cat_col_text(st, 9);
    r->file_name = cat_col_text(st, 10);
    r->started_at = cat_col_text(st, 11);
    r->backup_status = cat_col_text(st, 12);
    r->backup_checksum = cat_col_text(st, 13);
    r->backup_size = sqlite3_column_int64(st, 14);
    r->pinned = sqlite3_column_int(st, 15) != 0;
    r->suspect = sqlite3_column_int(st, 16) != 0;
}

void copy_recs_free(struct copy_rec *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        char *strs[] = {r[i].remote,    r[i].location,    r[i].checksum,      r[i].status,
                        r[i].copied_at, r[i].verified_at, r[i].error,         r[i].db_name,
                        r[i].file_name, r[i].started_at,  r[i].backup_status, r[i].backup_checksum};
        for (size_t j = 0; j < sizeof(strs) / sizeof(strs[0]); j++)
            free(strs[j]);
    }
    free(r);
}

/* Runs sql with the optional texts ?1 and ?2 bound, collecting its rows. */
static int collect2(struct catalog *c, const char *what, const char *sql, const char *a,
                    const char *b, size_t elem, cat_row_fn fill, void **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c, sql, &st, what) < 0)
        return -1;
    int rc = -1;
    if (cat_bind_text(st, 1, a) || cat_bind_text(st, 2, b))
        cat_fail(c, what);
    else
        rc = cat_collect(c, st, what, elem, fill, out, n);
    sqlite3_finalize(st);
    return rc;
}

int catalog_copies(struct catalog *c, const char *remote, const char *db, struct copy_rec **out,
                   size_t *n)
{
    int rc = collect2(c, "list remote copies",
                      "SELECT " COPY_COLUMNS " FROM copies c JOIN backups b ON b.id = c.backup_id "
                      "WHERE (?1 IS NULL OR c.remote = ?1) AND (?2 IS NULL OR b.db_name = ?2) "
                      "ORDER BY b.started_at DESC, b.id DESC, c.remote",
                      remote, db, sizeof(**out), read_copy, (void **)out, n);
    if (rc != 0) {
        copy_recs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static void read_backup_row(sqlite3_stmt *st, void *row)
{
    cat_read_backup(st, row);
}

int catalog_copies_lacking(struct catalog *c, const char *remote, const char *db,
                           struct backup_rec **out, size_t *n)
{
    int rc = collect2(c, "list the backups a remote lacks",
                      "SELECT " BACKUP_COLUMNS " FROM backups WHERE status = 'complete' "
                      "AND (?2 IS NULL OR db_name = ?2) AND NOT EXISTS (SELECT 1 FROM copies c "
                      "WHERE c.backup_id = backups.id AND c.remote = ?1 "
                      "AND c.status IN ('complete', 'pruned')) "
                      "ORDER BY started_at DESC, id DESC",
                      remote, db, sizeof(**out), read_backup_row, (void **)out, n);
    if (rc != 0) {
        backup_recs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

struct remote_args {
    const char *name, *url, *at, *error;
};

static int bind_remote(sqlite3_stmt *st, const void *arg)
{
    const struct remote_args *a = arg;
    return cat_bind_text(st, 1, a->name) || cat_bind_text(st, 2, a->url) ||
           cat_bind_text(st, 3, a->at) || cat_bind_text(st, 4, a->error);
}

int catalog_remote_seen(struct catalog *c, const char *name, const char *url, const char *at,
                        const char *error)
{
    struct remote_args a = {name, url, at, error};
    return cat_write_one(
        c, "record what a remote answered",
        error
            ? "INSERT INTO remotes (name, url, last_error_at, last_error) VALUES (?1, ?2, ?3, ?4) "
              "ON CONFLICT (name) DO UPDATE SET url = ?2, last_error_at = ?3, last_error = ?4"
            : "INSERT INTO remotes (name, url, last_ok_at) VALUES (?1, ?2, ?3) "
              "ON CONFLICT (name) DO UPDATE SET url = ?2, last_ok_at = ?3 WHERE ?4 IS NULL",
        bind_remote, &a);
}

int catalog_remote_snapshot(struct catalog *c, const char *name, const char *url, const char *at)
{
    struct remote_args a = {name, url, at, NULL};
    return cat_write_one(c, "record a catalog snapshot",
                         "INSERT INTO remotes (name, url, snapshot_at, last_ok_at) "
                         "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE SET url = ?2, "
                         "snapshot_at = ?3, last_ok_at = ?3 WHERE ?4 IS NULL",
                         bind_remote, &a);
}

static void read_remote(sqlite3_stmt *st, void *row)
{
    struct remote_rec *r = row;
    r->name = cat_col_text(st, 0);
    r->url = cat_col_text(st, 1);
    r->last_ok_at = cat_col_text(st, 2);
    r->last_error_at = cat_col_text(st, 3);
    r->last_error = cat_col_text(st, 4);
    r->snapshot_at = cat_col_text(st, 5);
}

void remote_recs_free(struct remote_rec *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].name);
        free(r[i].url);
        free(r[i].last_ok_at);
        free(r[i].last_error_at);
        free(r[i].last_error);
        free(r[i].snapshot_at);
    }
    free(r);
}

int catalog_remotes(struct catalog *c, struct remote_rec **out, size_t *n)
{
    int rc = collect2(c, "list remotes",
                      "SELECT name, url, last_ok_at, last_error_at, last_error, snapshot_at "
                      "FROM remotes WHERE ?1 IS NULL AND ?2 IS NULL ORDER BY name",
                      NULL, NULL, sizeof(**out), read_remote, (void **)out, n);
    if (rc != 0) {
        remote_recs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int catalog_last_event_at(struct catalog *c, char out[25])
{
    char **v = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (cat_text_column(c, "read the newest event", "SELECT max(at) FROM events", &v, &n) != 0)
        return -1;
    if (n > 0 && v[0])
        snprintf(out, 25, "%s", v[0]);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return 0;
}

static int bind_path(sqlite3_stmt *st, const void *arg)
{
    return cat_bind_text(st, 1, arg);
}

int catalog_snapshot(struct catalog *c, const char *path)
{
    return cat_run(c, "take a snapshot of the catalog", "VACUUM INTO ?", bind_path, path);
}

struct status_args {
    int64_t id;
    const char *status, *action, *detail;
    char *sql;
};

static int bind_status(sqlite3_stmt *st, const void *arg)
{
    const struct status_args *a = arg;
    return cat_bind_text(st, 1, a->status) || sqlite3_bind_int64(st, 2, a->id);
}

static int set_status_body(struct catalog *c, void *ctx, const char *what)
{
    const struct status_args *a = ctx;
    if (cat_run(c, what, a->sql, bind_status, a) < 0)
        return -1;
    if (sqlite3_changes(c->db) != 1)
        return err_set(ERR_FAILED, "backup %" PRId64 " cannot become %s", a->id, a->status);
    return cat_insert_event(c, a->action, a->id, "ok", a->detail, what);
}

int catalog_backup_set_status(struct catalog *c, int64_t id, const char *from, const char *status,
                              const char *action, const char *detail)
{
    struct status_args a = {id, status, action, detail, NULL};
    a.sql = xasprintf("UPDATE backups SET status = ?1, "
                      "pruned_at = CASE WHEN ?1 = 'complete' THEN NULL ELSE pruned_at END, "
                      "prune_rule = CASE WHEN ?1 = 'complete' THEN NULL ELSE prune_rule END "
                      "WHERE id = ?2 AND status IN (%s)",
                      from);
    int rc = cat_tx(c, "change a backup's status", set_status_body, &a);
    free(a.sql);
    return rc;
}

int catalog_newest_restorable(struct catalog *c, const char *db, struct backup_rec *out,
                              bool *found)
{
    struct backup_rec *rows = NULL;
    size_t n = 0;
    *found = false;
    memset(out, 0, sizeof(*out));
    int rc = collect2(c, "find the newest restorable backup",
                      "SELECT " BACKUP_COLUMNS " FROM backups WHERE db_name = ?1 AND ?2 IS NULL "
                      "AND (status = 'complete' OR (status IN ('missing', 'pruned') AND EXISTS "
                      "(SELECT 1 FROM copies c WHERE c.backup_id = backups.id "
                      "AND c.status = 'complete'))) ORDER BY started_at DESC, id DESC LIMIT 1",
                      db, NULL, sizeof(*rows), read_backup_row, (void **)&rows, &n);
    if (rc == 0 && n == 1) {
        *out = rows[0];
        *found = true;
        free(rows);
        return 0;
    }
    backup_recs_free(rows, n);
    return rc;
}
