/*
 * Retention, pins, crash recovery and monitoring (policy/retention.h, command/pin.c,
 * command/recover.c, command/metrics.c): the queries over many rows, and the updates
 * that record an audit event with them.
 */
#include "catalog/catalog.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "catalog/internal.h"
#include "common/util.h"

struct update_event {
    const char *sql;
    const char *const *a;
    int na;
    int64_t id;
    const char *not_changed, *action, *outcome, *detail;
};

/* The texts a[0..na), then the id. */
static int bind_texts_id(sqlite3_stmt *st, const void *arg)
{
    const struct update_event *u = arg;
    for (int i = 0; i < u->na; i++) {
        int rc = cat_bind_text(st, i + 1, u->a[i]);
        if (rc != SQLITE_OK)
            return rc;
    }
    return sqlite3_bind_int64(st, u->na + 1, u->id);
}

static int update_then_event(struct catalog *c, void *ctx, const char *what)
{
    const struct update_event *u = ctx;
    if (cat_run(c, what, u->sql, bind_texts_id, u) < 0)
        return -1;
    if (sqlite3_changes(c->db) != 1)
        return err_set(ERR_FAILED, "backup %" PRId64 " %s", u->id, u->not_changed);
    return cat_insert_event(c, u->action, u->id, u->outcome, u->detail, what);
}

/*
 * In one transaction: runs sql (which changes row id and whose parameters are the texts
 * a[0..na) followed by id), fails with ERR_FAILED "backup N <not_changed>" if no row
 * changed, then records the audit event.
 */
static int update_with_event(struct catalog *c, const char *what, const char *sql,
                             const char *const *a, int na, int64_t id, const char *not_changed,
                             const char *action, const char *outcome, const char *detail)
{
    struct update_event u = {sql, a, na, id, not_changed, action, outcome, detail};
    return cat_tx(c, what, update_then_event, &u);
}

/* By database, then newest first: started_at (ISO text sorts as time) and id descending. */
static int cmp_retention_row(const void *x, const void *y)
{
    const struct retention_row *a = x, *b = y;
    int c = strcmp(a->db_name, b->db_name);
    if (c == 0)
        c = -strcmp(a->started_at, b->started_at);
    if (c == 0)
        c = a->id < b->id ? 1 : a->id > b->id ? -1 : 0;
    return c;
}

static void read_retention_row(sqlite3_stmt *st, void *row)
{
    struct retention_row *r = row;
    r->id = sqlite3_column_int64(st, 0);
    r->db_name = cat_col_text(st, 1);
    r->file_name = cat_col_text(st, 2);
    r->started_at = cat_col_text(st, 3);
    r->complete = sqlite3_column_int(st, 4) != 0;
    r->pinned = sqlite3_column_int(st, 5) != 0;
    r->size_bytes = sqlite3_column_int64(st, 6);
    r->suspect = sqlite3_column_int(st, 7) != 0;
}

int catalog_retention_rows(struct catalog *c, const char *db, struct retention_row **out, size_t *n)
{
    const char *what = "list backups for retention";
    /* sorted here rather than by SQLite: a temporary b-tree costs more than qsort */
    char *sql = xasprintf("SELECT id, db_name, file_name, started_at, status = 'complete', "
                          "pinned, size_bytes, suspect FROM backups "
                          "WHERE %s AND +status IN ('complete', 'failed')",
                          db ? "db_name = ?1" : "1");
    sqlite3_stmt *st = NULL;
    struct retention_row *arr = NULL;
    size_t len = 0;
    int ret = -1;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (db && cat_bind_text(st, 1, db)) {
        cat_fail(c, what);
        goto out;
    }
    if (cat_collect(c, st, what, sizeof(*arr), read_retention_row, (void **)&arr, &len) != 0)
        goto out;
    if (len > 1)
        qsort(arr, len, sizeof(*arr), cmp_retention_row);
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    retention_rows_free(arr, len);
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

void retention_rows_free(struct retention_row *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].db_name);
        free(r[i].file_name);
        free(r[i].started_at);
    }
    free(r);
}

int catalog_backup_retire(struct catalog *c, int64_t id, const char *status, const char *at,
                          const char *rule, const char *detail)
{
    const char *a[] = {status, at, rule};
    return update_with_event(c, "record the pruned backup",
                             "UPDATE backups SET status = ?, pruned_at = ?, prune_rule = ? "
                             "WHERE id = ? AND status = 'complete'",
                             a, 3, id, "is no longer complete", "prune",
                             strcmp(status, "pruned") == 0 ? "ok" : status, detail);
}

int catalog_backup_set_pinned(struct catalog *c, int64_t id, bool pinned, const char *detail)
{
    return update_with_event(c, pinned ? "pin the backup" : "unpin the backup",
                             pinned ? "UPDATE backups SET pinned = 1 WHERE id = ?"
                                    : "UPDATE backups SET pinned = 0 WHERE id = ?",
                             NULL, 0, id, "not found in the catalog", pinned ? "pin" : "unpin",
                             "ok", detail);
}

static void read_backup_row(sqlite3_stmt *st, void *row)
{
    cat_read_backup(st, row);
}

int catalog_running_backups(struct catalog *c, struct backup_rec **out, size_t *n)
{
    const char *what = "list interrupted backups";
    sqlite3_stmt *st = NULL;
    struct backup_rec *arr = NULL;
    size_t len = 0;
    int ret = -1;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c,
                    "SELECT " BACKUP_COLUMNS " FROM backups WHERE status = 'running' ORDER BY id",
                    &st, what) < 0)
        goto out;
    if (cat_collect(c, st, what, sizeof(*arr), read_backup_row, (void **)&arr, &len) != 0)
        goto out;
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    backup_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_interrupted(struct catalog *c, int64_t id, const char *at, const char *error,
                               const char *detail)
{
    const char *a[] = {at, error};
    return update_with_event(c, "record the interrupted backup",
                             "UPDATE backups SET status = 'failed', finished_at = ?, error = ? "
                             "WHERE id = ? AND status = 'running'",
                             a, 2, id, "is no longer running", "recover", "ok", detail);
}

int catalog_db_summaries(struct catalog *c, struct catalog_db_summary **out, size_t *n)
{
    const char *what = "summarise the databases";
    sqlite3_stmt *agg = NULL, *last = NULL, *fin = NULL;
    struct catalog_db_summary *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (cat_prepare(c,
                    "SELECT db_name, sum(status = 'complete'), "
                    "coalesce(sum(CASE WHEN status = 'complete' THEN size_bytes END), 0) "
                    "FROM backups GROUP BY db_name ORDER BY db_name",
                    &agg, what) < 0 ||
        cat_prepare(c,
                    "SELECT " BACKUP_COLUMNS " FROM backups WHERE db_name = ?1 AND "
                    "status = 'complete' ORDER BY started_at DESC, id DESC LIMIT 1",
                    &last, what) < 0 ||
        cat_prepare(c,
                    "SELECT status FROM backups WHERE db_name = ?1 AND status <> 'running' "
                    "ORDER BY started_at DESC, id DESC LIMIT 1",
                    &fin, what) < 0)
        goto out;
    while ((rc = sqlite3_step(agg)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        struct catalog_db_summary *s = &arr[len++];
        memset(s, 0, sizeof(*s));
        s->db_name = cat_col_text(agg, 0);
        s->complete_count = sqlite3_column_int64(agg, 1);
        s->complete_bytes = sqlite3_column_int64(agg, 2);

        /* the newest complete backup, and how the newest run that ended went */
        sqlite3_reset(last);
        sqlite3_reset(fin);
        if (cat_bind_text(last, 1, s->db_name) || cat_bind_text(fin, 1, s->db_name)) {
            cat_fail(c, what);
            goto out;
        }
        if ((rc = sqlite3_step(last)) == SQLITE_ROW) {
            cat_read_backup(last, &s->last_complete);
            s->has_complete = true;
        } else if (rc != SQLITE_DONE) {
            cat_fail(c, what);
            goto out;
        }
        if ((rc = sqlite3_step(fin)) == SQLITE_ROW) {
            s->last_status = cat_col_text(fin, 0);
        } else if (rc != SQLITE_DONE) {
            cat_fail(c, what);
            goto out;
        }
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
    catalog_db_summaries_free(arr, len);
    sqlite3_finalize(agg);
    sqlite3_finalize(last);
    sqlite3_finalize(fin);
    return ret;
}

void catalog_db_summaries_free(struct catalog_db_summary *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].db_name);
        backup_rec_free(&s[i].last_complete);
        free(s[i].last_status);
    }
    free(s);
}

int catalog_restore_targets(struct catalog *c, char ***out, size_t *n)
{
    return cat_text_column(c, "list the restore targets",
                           "SELECT DISTINCT target_db FROM restores ORDER BY target_db", out, n);
}

int catalog_running_restore_dbs(struct catalog *c, char ***out, size_t *n)
{
    return cat_text_column(c, "list the running restores",
                           "SELECT DISTINCT b.db_name FROM restores r JOIN backups b ON b.id = "
                           "r.backup_id WHERE r.status = 'running' ORDER BY b.db_name",
                           out, n);
}

static int bind_interrupted(sqlite3_stmt *st, const void *arg)
{
    const char *const *a = arg;
    return cat_bind_text(st, 1, a[0]) || cat_bind_text(st, 2, a[1]);
}

int catalog_restores_interrupted(struct catalog *c, const char *db, const char *at)
{
    const char *a[] = {at, db};
    return cat_write_one(c, "record interrupted restores",
                         "UPDATE restores SET status = 'failed', finished_at = ?1,"
                         " detail = 'interrupted: the pgvault process is gone' WHERE status = "
                         "'running' AND backup_id IN (SELECT id FROM backups WHERE db_name = ?2)",
                         bind_interrupted, a);
}
