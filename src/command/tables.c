#include "command/tables.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct table_rec *tables_from_copies(const struct dumpscan *scan, size_t extra, size_t *n,
                                     int64_t *rows)
{
    size_t ncopy = dumpscan_copy_count(scan);
    struct table_rec *t = xcalloc(ncopy + extra + 1, sizeof(*t));
    *rows = 0;
    for (size_t i = 0; i < ncopy; i++) {
        const struct dumpscan_table *c = dumpscan_copy(scan, i);
        t[i] = (struct table_rec){
            .schema_name = xstrdup(c->schema ? c->schema : ""),
            .table_name = xstrdup(c->name),
            .relkind = 'r',
            .row_count = (int64_t)c->rows,
        };
        *rows += (int64_t)c->rows;
    }
    *n = ncopy;
    return t;
}

static int cmp_table_rec(const void *a, const void *b)
{
    const struct table_rec *x = a, *y = b;
    int c = strcmp(x->schema_name, y->schema_name);
    return c ? c : strcmp(x->table_name, y->table_name);
}

size_t tables_merge(struct table_rec *t, size_t n)
{
    size_t w = 0;
    if (n == 0) /* qsort wants a valid base even for no elements */
        return 0;
    qsort(t, n, sizeof(*t), cmp_table_rec);
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && cmp_table_rec(&t[w - 1], &t[i]) == 0) {
            t[w - 1].row_count += t[i].row_count;
            free(t[i].schema_name);
            free(t[i].table_name);
            continue;
        }
        t[w++] = t[i];
    }
    return w;
}
