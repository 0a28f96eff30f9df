/*
 * pgvault query: one read-only SQL statement against the catalog, printed as a table for
 * people, or as JSON (an array of objects) or CSV (with a header row) for programs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/err.h"
#include "common/output.h"
#include "common/util.h"

struct query_out {
    const struct options *opt;
    size_t rows;
    bool started; /* the header was printed (JSON: the opening bracket) */
    /* the table for people is printed at the end, when the column widths are known */
    int ncols;
    char **names;
    bool *numeric; /* every non-NULL value of the column is a number: right-align it */
    char **cells;  /* row-major; NULL for NULL */
    size_t ncells, cap;
};

/* A blob as PostgreSQL prints a bytea: \x followed by hex. */
static char *blob_text(const struct catalog_value *v)
{
    char *s = xmalloc(2 * v->len + 3);
    s[0] = '\\';
    s[1] = 'x';
    hex_encode((const unsigned char *)(v->text ? v->text : ""), v->len, s + 2);
    return s;
}

/* True if a REAL's text is a JSON number (SQLite writes infinity as "Inf"). */
static bool json_number(const char *s)
{
    return s && strspn(s, "-+0123456789.eE") == strlen(s) && *s;
}

static void json_value(const struct catalog_value *v)
{
    switch (v->type) {
    case CATALOG_NULL:
        fputs("null", stdout);
        break;
    case CATALOG_INTEGER:
        fputs(v->text, stdout);
        break;
    case CATALOG_REAL:
        fputs(json_number(v->text) ? v->text : "null", stdout);
        break;
    case CATALOG_BLOB: {
        char *s = blob_text(v);
        json_str(stdout, s);
        free(s);
        break;
    }
    case CATALOG_TEXT:
        json_str(stdout, v->text ? v->text : "");
        break;
    }
}

static void csv_value(const struct catalog_value *v)
{
    if (v->type == CATALOG_BLOB) {
        char *s = blob_text(v);
        csv_field(stdout, s);
        free(s);
    } else if (v->type != CATALOG_NULL) {
        csv_field(stdout, v->text);
    }
}

/* The catalog_query callback: streams JSON and CSV, buffers the table. */
static int on_row(void *ctx, int ncols, const char *const *names, const struct catalog_value *vals)
{
    struct query_out *q = ctx;
    if (!vals) {
        /* the header */
        q->started = true;
        if (q->opt->json) {
            putchar('[');
        } else if (q->opt->csv) {
            for (int i = 0; i < ncols; i++) {
                if (i)
                    putchar(',');
                csv_field(stdout, names[i]);
            }
            putchar('\n');
        } else {
            q->ncols = ncols;
            q->names = xcalloc((size_t)ncols + 1, sizeof(*q->names));
            q->numeric = xcalloc((size_t)ncols + 1, sizeof(*q->numeric));
            for (int i = 0; i < ncols; i++) {
                q->names[i] = xstrdup(names[i]);
                q->numeric[i] = true;
            }
        }
        return 0;
    }

    if (q->opt->json) {
        printf("%s{", q->rows ? "," : "");
        for (int i = 0; i < ncols; i++) {
            if (i)
                putchar(',');
            json_str(stdout, names[i]);
            putchar(':');
            json_value(&vals[i]);
        }
        putchar('}');
    } else if (q->opt->csv) {
        for (int i = 0; i < ncols; i++) {
            if (i)
                putchar(',');
            csv_value(&vals[i]);
        }
        putchar('\n');
    } else {
        if (q->ncells + (size_t)ncols > q->cap) {
            q->cap = q->cap ? q->cap * 2 : 256;
            while (q->cap < q->ncells + (size_t)ncols)
                q->cap *= 2;
            q->cells = xrealloc(q->cells, q->cap * sizeof(*q->cells));
        }
        for (int i = 0; i < ncols; i++) {
            const struct catalog_value *v = &vals[i];
            char *cell = v->type == CATALOG_NULL   ? NULL
                         : v->type == CATALOG_BLOB ? blob_text(v)
                                                   : xstrdup(v->text ? v->text : "");
            /* one line per row: control characters become spaces */
            for (char *c = cell; c && *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = ' ';
            if (v->type != CATALOG_NULL && v->type != CATALOG_INTEGER && v->type != CATALOG_REAL)
                q->numeric[i] = false;
            q->cells[q->ncells++] = cell;
        }
    }
    q->rows++;
    return 0;
}

/* psql's aligned format: a header, a rule, the rows, "(N rows)". */
static void print_table(const struct query_out *q)
{
    size_t *w = xcalloc((size_t)q->ncols + 1, sizeof(*w));
    for (int i = 0; i < q->ncols; i++)
        w[i] = strlen(q->names[i]);
    for (size_t k = 0; k < q->ncells; k++) {
        size_t len = q->cells[k] ? strlen(q->cells[k]) : 0;
        if (len > w[k % (size_t)q->ncols])
            w[k % (size_t)q->ncols] = len;
    }
    for (int i = 0; i < q->ncols; i++) {
        if (q->numeric[i])
            printf("%s%*s", i ? "  " : "", (int)w[i], q->names[i]);
        else
            printf("%s%-*s", i ? "  " : "", i == q->ncols - 1 ? 0 : (int)w[i], q->names[i]);
    }
    putchar('\n');
    for (int i = 0; i < q->ncols; i++) {
        printf("%s", i ? "  " : "");
        for (size_t k = 0; k < w[i]; k++)
            putchar('-');
    }
    putchar('\n');
    for (size_t r = 0; r < q->rows; r++) {
        for (int i = 0; i < q->ncols; i++) {
            const char *cell = q->cells[r * (size_t)q->ncols + (size_t)i];
            bool last = i == q->ncols - 1;
            if (q->numeric[i])
                printf("%s%*s", i ? "  " : "", (int)w[i], cell ? cell : "");
            else
                printf("%s%-*s", i ? "  " : "", last ? 0 : (int)w[i], cell ? cell : "");
        }
        putchar('\n');
    }
    printf("(%zu row%s)\n", q->rows, q->rows == 1 ? "" : "s");
    free(w);
}

static void query_out_free(struct query_out *q)
{
    for (int i = 0; q->names && i < q->ncols; i++)
        free(q->names[i]);
    free(q->names);
    free(q->numeric);
    for (size_t k = 0; k < q->ncells; k++)
        free(q->cells[k]);
    free(q->cells);
}

/* Opens the catalog read-only; an older schema is first migrated (which adds the views),
 * when this user may write the catalog, as any writing command would. */
static int open_readonly(const char *path, struct catalog **cat)
{
    if (catalog_open(path, CATALOG_READONLY, cat) != 0)
        return -1;
    if (catalog_schema_version(*cat) >= catalog_schema_latest())
        return 0;
    catalog_close(*cat);
    *cat = NULL;
    struct catalog *rw = NULL;
    if (catalog_open(path, 0, &rw) == 0)
        catalog_close(rw);
    err_clear(); /* a catalog we may only read is queried as it is */
    return catalog_open(path, CATALOG_READONLY, cat);
}

int cmd_query(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct query_out q = {.opt = opt};
    int rc = -1;

    /* 1. the catalog, read-only (SQLITE_OPEN_READONLY) */
    if (open_readonly(set->catalog, &cat) != 0)
        goto out;

    /* 2. run the one statement; the catalog refuses anything that is not a read */
    if (catalog_query(cat, opt->args[0], on_row, &q) != 0) {
        /* a run-time error after the opening bracket: keep stdout one JSON document */
        if (opt->json && q.started)
            puts("]");
        goto out;
    }

    /* 3. finish the output */
    if (opt->json)
        puts("]");
    else if (!opt->csv)
        print_table(&q);
    rc = 0;
out:
    query_out_free(&q);
    catalog_close(cat);
    return rc;
}
