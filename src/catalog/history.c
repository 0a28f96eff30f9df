/* The restores and events tables: the audit trail. */
#include "catalog/catalog.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>

#include "catalog/internal.h"
#include "common/util.h"

struct event_row {
    const char *at, *action, *outcome, *detail;
    int64_t backup_id;
};

static int bind_event(sqlite3_stmt *st, const void *arg)
{
    const struct event_row *e = arg;
    return cat_bind_text(st, 1, e->at) || cat_bind_text(st, 2, e->action) ||
           (e->backup_id > 0 ? sqlite3_bind_int64(st, 3, e->backup_id)
                             : sqlite3_bind_null(st, 3)) ||
           cat_bind_text(st, 4, os_user()) || cat_bind_text(st, 5, e->outcome) ||
           cat_bind_text(st, 6, e->detail);
}

int cat_insert_event(struct catalog *c, const char *action, int64_t backup_id, const char *outcome,
                     const char *detail, const char *what)
{
    struct timespec now;
    char at[25];
    clock_gettime(CLOCK_REALTIME, &now);
    time_iso_ms(&now, at);
    struct event_row e = {
        .at = at, .action = action, .outcome = outcome, .detail = detail, .backup_id = backup_id};
    return cat_run(c, what,
                   "INSERT INTO events (at, action, backup_id, actor, outcome, detail) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   bind_event, &e);
}

static int insert_event(struct catalog *c, void *ctx, const char *what)
{
    const struct event_row *e = ctx;
    return cat_insert_event(c, e->action, e->backup_id, e->outcome, e->detail, what);
}

int catalog_event(struct catalog *c, const char *action, int64_t backup_id, const char *outcome,
                  const char *detail)
{
    struct event_row e = {
        .action = action, .outcome = outcome, .detail = detail, .backup_id = backup_id};
    return cat_tx(c, "record an event", insert_event, &e);
}

struct restore_args {
    int64_t id, backup_id, tables, rows;
    const char *target, *mode, *at, *status, *detail;
};

static int bind_restore_begin(sqlite3_stmt *st, const void *arg)
{
    const struct restore_args *a = arg;
    return sqlite3_bind_int64(st, 1, a->backup_id) || cat_bind_text(st, 2, a->target) ||
           cat_bind_text(st, 3, a->mode) || cat_bind_text(st, 4, a->at);
}

int catalog_restore_begin(struct catalog *c, int64_t backup_id, const char *target_db,
                          const char *mode, const char *started_at, int64_t *id)
{
    struct restore_args a = {
        .backup_id = backup_id, .target = target_db, .mode = mode, .at = started_at};
    if (cat_write_one(c, "record the restore",
                      "INSERT INTO restores (backup_id, target_db, mode, started_at, status)"
                      " VALUES (?, ?, ?, ?, 'running')",
                      bind_restore_begin, &a) != 0)
        return -1;
    *id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

static int bind_restore_finish(sqlite3_stmt *st, const void *arg)
{
    const struct restore_args *a = arg;
    return cat_bind_text(st, 1, a->status) || cat_bind_text(st, 2, a->at) ||
           sqlite3_bind_int64(st, 3, a->tables) || sqlite3_bind_int64(st, 4, a->rows) ||
           cat_bind_text(st, 5, a->detail) || sqlite3_bind_int64(st, 6, a->id);
}

int catalog_restore_finish(struct catalog *c, int64_t id, const char *status,
                           const char *finished_at, int64_t tables_checked, int64_t rows_checked,
                           const char *detail)
{
    struct restore_args a = {.id = id,
                             .status = status,
                             .at = finished_at,
                             .tables = tables_checked,
                             .rows = rows_checked,
                             .detail = detail};
    return cat_write_one(c, "record the restore outcome",
                         "UPDATE restores SET status = ?, finished_at = ?, tables_checked = ?,"
                         " rows_checked = ?, detail = ? WHERE id = ?",
                         bind_restore_finish, &a);
}

/* --- the audit surface: show, log, query, diff, check, import --- */

static void read_event(sqlite3_stmt *st, void *row)
{
    *(struct event_rec *)row = (struct event_rec){
        .id = sqlite3_column_int64(st, 0),
        .at = cat_col_text(st, 1),
        .action = cat_col_text(st, 2),
        .backup_id = sqlite3_column_int64(st, 3),
        .actor = cat_col_text(st, 4),
        .outcome = cat_col_text(st, 5),
        .detail = cat_col_text(st, 6),
        .db_name = cat_col_text(st, 7),
        .file_name = cat_col_text(st, 8),
    };
}

int catalog_events(struct catalog *c, const char *since, int64_t backup_id, const char *db,
                   struct event_rec **out, size_t *n)
{
    const char *what = "read the audit trail";
    sqlite3_stmt *st = NULL;
    struct event_rec *arr = NULL;
    size_t len = 0;
    int ret = -1;
    *out = NULL;
    *n = 0;
    /* ISO-8601 UTC text sorts as time, so "at >= since" is a time comparison */
    if (cat_prepare(
            c,
            "SELECT e.id, e.at, e.action, e.backup_id, e.actor, e.outcome, e.detail, "
            "b.db_name, b.file_name FROM events e LEFT JOIN backups b ON b.id = e.backup_id "
            "WHERE (?1 IS NULL OR e.at >= ?1) AND (?2 <= 0 OR e.backup_id = ?2) "
            "AND (?3 IS NULL OR b.db_name = ?3) ORDER BY e.at DESC, e.id DESC",
            &st, what) < 0)
        goto out;
    if (cat_bind_text(st, 1, since) || sqlite3_bind_int64(st, 2, backup_id) ||
        cat_bind_text(st, 3, db)) {
        cat_fail(c, what);
        goto out;
    }
    if (cat_collect(c, st, what, sizeof(*arr), read_event, (void **)&arr, &len) != 0)
        goto out;
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    event_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

void event_recs_free(struct event_rec *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].at);
        free(e[i].action);
        free(e[i].actor);
        free(e[i].outcome);
        free(e[i].detail);
        free(e[i].db_name);
        free(e[i].file_name);
    }
    free(e);
}

static void read_restore(sqlite3_stmt *st, void *row)
{
    *(struct restore_history_rec *)row = (struct restore_history_rec){
        .id = sqlite3_column_int64(st, 0),
        .backup_id = sqlite3_column_int64(st, 1),
        .target_db = cat_col_text(st, 2),
        .mode = cat_col_text(st, 3),
        .started_at = cat_col_text(st, 4),
        .finished_at = cat_col_text(st, 5),
        .status = cat_col_text(st, 6),
        .tables_checked =
            sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 7),
        .rows_checked =
            sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8),
        .detail = cat_col_text(st, 9),
    };
}

int catalog_restore_history(struct catalog *c, int64_t backup_id, struct restore_history_rec **out,
                            size_t *n)
{
    const char *what = "read the restore history";
    sqlite3_stmt *st = NULL;
    struct restore_history_rec *arr = NULL;
    size_t len = 0;
    int ret = -1;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c,
                    "SELECT id, backup_id, target_db, mode, started_at, finished_at, status, "
                    "tables_checked, rows_checked, detail FROM restores "
                    "WHERE ?1 <= 0 OR backup_id = ?1 ORDER BY started_at DESC, id DESC",
                    &st, what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, backup_id)) {
        cat_fail(c, what);
        goto out;
    }
    if (cat_collect(c, st, what, sizeof(*arr), read_restore, (void **)&arr, &len) != 0)
        goto out;
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    restore_history_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

void restore_history_recs_free(struct restore_history_rec *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].target_db);
        free(r[i].mode);
        free(r[i].started_at);
        free(r[i].finished_at);
        free(r[i].status);
        free(r[i].detail);
    }
    free(r);
}
