/* The queries of "pgvault report": per database, a period of backups and what became of
 * them (verified, test-restored, copied, pruned), the tables that moved, a summary. */
#include "catalog/report.h"

#include <sqlite3.h>
#include <stdlib.h>

#include "catalog/internal.h"
#include "common/util.h"

/* The parameters a report query may use: ?1 db, ?2 since, ?3 schema or the limit, ?4
 * table. A statement binds only those it names. */
struct report_args {
    const char *db, *since, *schema, *table;
    int64_t limit;
};

static int bind_args(sqlite3_stmt *st, const struct report_args *a)
{
    int count = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;
    if (count >= 1)
        rc = cat_bind_text(st, 1, a->db);
    if (rc == SQLITE_OK && count >= 2)
        rc = cat_bind_text(st, 2, a->since);
    if (rc == SQLITE_OK && count >= 3)
        rc = a->schema ? cat_bind_text(st, 3, a->schema) : sqlite3_bind_int64(st, 3, a->limit);
    if (rc == SQLITE_OK && count >= 4)
        rc = cat_bind_text(st, 4, a->table);
    return rc;
}

/* Frees n rows of one of the report's kinds. */
typedef void (*release_fn)(void *rows, size_t n);

/* Runs sql with a's parameters and appends a row to *arr for each row; on failure frees
 * what was read (release) and leaves *arr NULL and *n 0. */
static int collect(struct catalog *c, const char *what, const char *sql,
                   const struct report_args *a, size_t elem, cat_row_fn fill, release_fn release,
                   void **arr, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    *arr = NULL;
    *n = 0;
    if (cat_prepare(c, sql, &st, what) < 0)
        goto out;
    if (bind_args(st, a) != SQLITE_OK) {
        cat_fail(c, what);
        goto out;
    }
    ret = cat_collect(c, st, what, elem, fill, arr, n);
out:
    sqlite3_finalize(st);
    if (ret != 0) {
        release(*arr, *n);
        *arr = NULL;
        *n = 0;
    }
    return ret;
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

/* --- summaries --- */

/* "in the period": ?2 NULL or started at or after it */
#define IN_PERIOD(t) "(?2 IS NULL OR " t ".started_at >= ?2)"

static const char summary_sql[] =
    "SELECT d.db_name, l.id, l.started_at, l.size_bytes, l.suspect, f.status, f.started_at, "
    " f.error,"
    " (SELECT max(verified_at) FROM backups v WHERE v.db_name = d.db_name),"
    " (SELECT max(t) FROM (SELECT max(x.restore_tested_at) AS t FROM backups x"
    "   WHERE x.db_name = d.db_name UNION ALL SELECT max(r.finished_at) FROM restores r"
    "   JOIN backups y ON y.id = r.backup_id WHERE y.db_name = d.db_name"
    "   AND r.mode = 'test' AND r.status = 'complete')),"
    " (SELECT count(*) FROM backups p WHERE p.db_name = d.db_name AND " IN_PERIOD(
        "p") "   AND p.status <> 'running'),"
             " (SELECT count(*) FROM backups p WHERE p.db_name = d.db_name AND " IN_PERIOD(
                 "p") "   AND p.status = 'failed') "
                      "FROM (SELECT DISTINCT db_name FROM backups WHERE ?1 IS NULL OR db_name = "
                      "?1) d "
                      "LEFT JOIN backups l ON l.id = (SELECT id FROM backups WHERE db_name = "
                      "d.db_name"
                      "  AND status = 'complete' ORDER BY started_at DESC, id DESC LIMIT 1) "
                      "LEFT JOIN backups f ON f.id = (SELECT id FROM backups WHERE db_name = "
                      "d.db_name"
                      "  AND status <> 'running' ORDER BY started_at DESC, id DESC LIMIT 1) "
                      "ORDER BY d.db_name";

static void read_summary(sqlite3_stmt *st, void *row)
{
    *(struct report_summary *)row = (struct report_summary){
        .db_name = cat_col_text(st, 0),
        .latest_id = sqlite3_column_int64(st, 1),
        .latest_at = cat_col_text(st, 2),
        .latest_size = col_int(st, 3),
        .latest_suspect = sqlite3_column_int(st, 4) != 0,
        .last_status = cat_col_text(st, 5),
        .last_at = cat_col_text(st, 6),
        .last_error = cat_col_text(st, 7),
        .verified_at = cat_col_text(st, 8),
        .tested_at = cat_col_text(st, 9),
        .backups = sqlite3_column_int64(st, 10),
        .failed = sqlite3_column_int64(st, 11),
    };
}

static void release_summaries(void *rows, size_t n)
{
    report_summaries_free(rows, n);
}

int catalog_report_summaries(struct catalog *c, const char *db, const char *since,
                             struct report_summary **out, size_t *n)
{
    struct report_args a = {.db = db, .since = since};
    return collect(c, "summarize the databases", summary_sql, &a, sizeof(**out), read_summary,
                   release_summaries, (void **)out, n);
}

void report_summaries_free(struct report_summary *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].db_name);
        free(s[i].latest_at);
        free(s[i].last_status);
        free(s[i].last_at);
        free(s[i].last_error);
        free(s[i].verified_at);
        free(s[i].tested_at);
    }
    free(s);
}

/* --- the backups of the period --- */

#define TEST_RESTORES "FROM restores r WHERE r.backup_id = b.id AND r.mode = 'test'"

static const char backups_sql[] =
    "SELECT b.id, b.file_name, b.started_at, b.status, b.label, b.error, b.verified_at,"
    " b.pruned_at, b.prune_rule,"
    " (SELECT max(t) FROM (SELECT b.restore_tested_at AS t UNION ALL"
    "   SELECT max(r.finished_at) " TEST_RESTORES " AND r.status = 'complete')),"
    " (SELECT r.status " TEST_RESTORES " AND r.status <> 'running'"
    "   ORDER BY r.started_at DESC, r.id DESC LIMIT 1),"
    " b.size_bytes, b.raw_bytes, b.duration_ms, b.table_count, b.row_count, b.pinned,"
    " b.suspect "
    "FROM (SELECT * FROM backups b WHERE b.db_name = ?1 AND " IN_PERIOD(
        "b") "  AND b.status <> 'running' ORDER BY b.started_at DESC, b.id DESC LIMIT ?3) b "
             "ORDER BY b.started_at, b.id";

static void read_backup(sqlite3_stmt *st, void *row)
{
    *(struct report_backup *)row = (struct report_backup){
        .id = sqlite3_column_int64(st, 0),
        .file_name = cat_col_text(st, 1),
        .started_at = cat_col_text(st, 2),
        .status = cat_col_text(st, 3),
        .label = cat_col_text(st, 4),
        .error = cat_col_text(st, 5),
        .verified_at = cat_col_text(st, 6),
        .pruned_at = cat_col_text(st, 7),
        .prune_rule = cat_col_text(st, 8),
        .tested_at = cat_col_text(st, 9),
        .test_status = cat_col_text(st, 10),
        .size_bytes = col_int(st, 11),
        .raw_bytes = col_int(st, 12),
        .duration_ms = col_int(st, 13),
        .table_count = col_int(st, 14),
        .row_count = col_int(st, 15),
        .pinned = sqlite3_column_int(st, 16) != 0,
        .suspect = sqlite3_column_int(st, 17) != 0,
    };
}

static void release_backups(void *rows, size_t n)
{
    report_backups_free(rows, n);
}

int catalog_report_backups(struct catalog *c, const char *db, const char *since, size_t limit,
                           struct report_backup **out, size_t *n)
{
    struct report_args a = {.db = db, .since = since, .limit = (int64_t)limit};
    return collect(c, "read the backups of the period", backups_sql, &a, sizeof(**out), read_backup,
                   release_backups, (void **)out, n);
}

void report_backups_free(struct report_backup *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++) {
        free(b[i].file_name);
        free(b[i].started_at);
        free(b[i].status);
        free(b[i].label);
        free(b[i].error);
        free(b[i].verified_at);
        free(b[i].pruned_at);
        free(b[i].prune_rule);
        free(b[i].tested_at);
        free(b[i].test_status);
    }
    free(b);
}

/* --- copies on remotes --- */

static const char copies_sql[] =
    "SELECT c.backup_id, c.remote, c.status, c.copied_at FROM copies c"
    " JOIN backups b ON b.id = c.backup_id WHERE b.db_name = ?1 AND " IN_PERIOD(
        "b") " ORDER BY c.remote, b.started_at, b.id";

static void read_copy(sqlite3_stmt *st, void *row)
{
    *(struct report_copy *)row = (struct report_copy){
        .backup_id = sqlite3_column_int64(st, 0),
        .remote = cat_col_text(st, 1),
        .status = cat_col_text(st, 2),
        .copied_at = cat_col_text(st, 3),
    };
}

static void release_copies(void *rows, size_t n)
{
    report_copies_free(rows, n);
}

int catalog_report_copies(struct catalog *c, const char *db, const char *since,
                          struct report_copy **out, size_t *n)
{
    struct report_args a = {.db = db, .since = since};
    return collect(c, "read the remote copies", copies_sql, &a, sizeof(**out), read_copy,
                   release_copies, (void **)out, n);
}

void report_copies_free(struct report_copy *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].remote);
        free(r[i].status);
        free(r[i].copied_at);
    }
    free(r);
}

/* --- row counts --- */

/* the backups of the period that recorded their tables */
#define COUNTED                                                                                    \
    "SELECT id, started_at FROM backups b WHERE b.db_name = ?1 AND " IN_PERIOD(                    \
        "b") " AND b.status IN ('complete', 'pruned', 'missing')"

static const char movers_sql[] =
    "WITH ok AS (" COUNTED "),"
    " f AS (SELECT schema_name, table_name, row_count FROM backup_tables WHERE backup_id ="
    "  (SELECT id FROM ok ORDER BY started_at, id LIMIT 1)),"
    " l AS (SELECT schema_name, table_name, row_count FROM backup_tables WHERE backup_id ="
    "  (SELECT id FROM ok ORDER BY started_at DESC, id DESC LIMIT 1)),"
    " names AS (SELECT schema_name, table_name FROM f UNION"
    "  SELECT schema_name, table_name FROM l) "
    "SELECT n.schema_name, n.table_name, f.row_count, l.row_count FROM names n"
    " LEFT JOIN f USING (schema_name, table_name) LEFT JOIN l USING (schema_name, table_name)"
    " WHERE f.row_count IS NOT l.row_count"
    " ORDER BY abs(coalesce(l.row_count, 0) - coalesce(f.row_count, 0)) DESC,"
    " n.schema_name, n.table_name LIMIT ?3";

static void read_mover(sqlite3_stmt *st, void *row)
{
    *(struct report_mover *)row = (struct report_mover){
        .schema_name = cat_col_text(st, 0),
        .table_name = cat_col_text(st, 1),
        .first = col_int(st, 2),
        .last = col_int(st, 3),
    };
}

static void release_movers(void *rows, size_t n)
{
    report_movers_free(rows, n);
}

int catalog_report_movers(struct catalog *c, const char *db, const char *since, size_t limit,
                          struct report_mover **out, size_t *n)
{
    struct report_args a = {.db = db, .since = since, .limit = (int64_t)limit};
    return collect(c, "compare the row counts", movers_sql, &a, sizeof(**out), read_mover,
                   release_movers, (void **)out, n);
}

void report_movers_free(struct report_mover *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].schema_name);
        free(m[i].table_name);
    }
    free(m);
}

static const char counts_sql[] =
    "WITH ok AS (" COUNTED ") SELECT t.row_count FROM ok LEFT JOIN backup_tables t"
    " ON t.backup_id = ok.id AND t.schema_name = ?3 AND t.table_name = ?4"
    " ORDER BY ok.started_at, ok.id";

static void release_counts(void *rows, size_t n)
{
    (void)n;
    free(rows);
}

static void read_count(sqlite3_stmt *st, void *row)
{
    *(int64_t *)row = col_int(st, 0);
}

int catalog_report_table_counts(struct catalog *c, const char *db, const char *since,
                                const char *schema, const char *table, int64_t **out, size_t *n)
{
    struct report_args a = {.db = db, .since = since, .schema = schema, .table = table};
    return collect(c, "read a table's row counts", counts_sql, &a, sizeof(**out), read_count,
                   release_counts, (void **)out, n);
}
