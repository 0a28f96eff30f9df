/* The access points of a backup (table access_points). */
#include <stdlib.h>

#include "catalog/internal.h"
#include "common/util.h"

struct points_of {
    int64_t id;
    const struct access_point *p;
};

static int bind_point(sqlite3_stmt *st, size_t i, const void *arg)
{
    const struct points_of *w = arg;
    const struct access_point *p = &w->p[i];
    const int64_t nums[] = {p->raw_offset,     p->raw_bytes,       p->comp_offset,
                            p->line,           p->rows_before,     p->rows,
                            p->end_raw_offset, p->end_comp_offset, p->end_line};
    int rc = sqlite3_bind_int64(st, 1, w->id) || sqlite3_bind_int64(st, 2, (int64_t)i) ||
             cat_bind_text(st, 3, p->schema_name) || cat_bind_text(st, 4, p->table_name) ||
             cat_bind_text(st, 5, p->statement);
    for (int k = 0; k < 9 && !rc; k++)
        rc = sqlite3_bind_int64(st, 6 + k, nums[k]);
    return rc;
}

int cat_store_points(struct catalog *c, int64_t id, const struct access_point *p, size_t n,
                     const char *what)
{
    struct points_of w = {id, p};
    return cat_insert_each(c, what,
                           "INSERT INTO access_points (backup_id, seq, schema_name, table_name, "
                           "statement, raw_offset, raw_bytes, comp_offset, line, rows_before, "
                           "rows, end_raw_offset, end_comp_offset, end_line) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           n, bind_point, &w);
}

static void read_point(sqlite3_stmt *st, void *row)
{
    *(struct access_point *)row = (struct access_point){
        .schema_name = cat_col_text(st, 0),
        .table_name = cat_col_text(st, 1),
        .statement = cat_col_text(st, 2),
        .raw_offset = sqlite3_column_int64(st, 3),
        .raw_bytes = sqlite3_column_int64(st, 4),
        .comp_offset = sqlite3_column_int64(st, 5),
        .line = sqlite3_column_int64(st, 6),
        .rows_before = sqlite3_column_int64(st, 7),
        .rows = sqlite3_column_int64(st, 8),
        .end_raw_offset = sqlite3_column_int64(st, 9),
        .end_comp_offset = sqlite3_column_int64(st, 10),
        .end_line = sqlite3_column_int64(st, 11),
    };
}

int catalog_access_points(struct catalog *c, int64_t backup_id, struct access_point **out,
                          size_t *n)
{
    struct access_point *arr = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    if (c->version < 5) /* a catalog opened read-only before its migration has none */
        return 0;
    if (cat_collect_id(c, "read the access points of a backup",
                       "SELECT schema_name, table_name, statement, raw_offset, raw_bytes, "
                       "comp_offset, line, rows_before, rows, end_raw_offset, end_comp_offset, "
                       "end_line FROM access_points "
                       "WHERE backup_id = ? ORDER BY seq",
                       backup_id, sizeof(*arr), read_point, (void **)&arr, &len) != 0) {
        access_points_free(arr, len);
        return -1;
    }
    *out = arr;
    *n = len;
    return 0;
}

void access_points_free(struct access_point *p, size_t n)
{
    if (!p)
        return;
    for (size_t i = 0; i < n; i++) {
        free(p[i].schema_name);
        free(p[i].table_name);
        free(p[i].statement);
    }
    free(p);
}
