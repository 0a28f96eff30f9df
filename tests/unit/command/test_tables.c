/* Unit tests for src/command/tables.c: the per-table row counts built from a dump's COPY
 * blocks, and their merge. */
#include "command/tables.h"
#include "unit.h"

#include <stdlib.h>

/* Two blocks of public.t (a dump with --load-via-partition-root can have that), one of
 * "Odd"."x y", and one of a table named without a schema. */
static const char dump[] = "COPY public.t (a) FROM stdin;\n"
                           "1\n"
                           "2\n"
                           "\\.\n"
                           "COPY \"Odd\".\"x y\" (a) FROM stdin;\n"
                           "1\n"
                           "\\.\n"
                           "COPY public.t (a) FROM stdin;\n"
                           "3\n"
                           "4\n"
                           "5\n"
                           "\\.\n"
                           "COPY bare (a) FROM stdin;\n"
                           "\\.\n";

static struct dumpscan *scanned(const char *text)
{
    struct dumpscan *s = dumpscan_new();
    dumpscan_feed(s, text, strlen(text));
    dumpscan_finish(s);
    return s;
}

static void test_from_copies(void)
{
    struct dumpscan *s = scanned(dump);
    size_t n = 0;
    int64_t rows = -1;
    struct table_rec *t = tables_from_copies(s, 2, &n, &rows);
    CHECK_INT(n, 4);
    CHECK_INT(rows, 6);
    CHECK_STR(t[0].schema_name, "public");
    CHECK_STR(t[0].table_name, "t");
    CHECK_INT(t[0].row_count, 2);
    CHECK_STR(t[1].schema_name, "Odd");
    CHECK_STR(t[1].table_name, "x y");
    CHECK_INT(t[2].row_count, 3);
    CHECK_STR(t[3].schema_name, "");
    CHECK_STR(t[3].table_name, "bare");
    CHECK_INT(t[3].row_count, 0);
    for (size_t i = 0; i < n; i++)
        CHECK(t[i].relkind == 'r');
    /* room for two more, zeroed */
    CHECK(t[4].schema_name == NULL && t[5].table_name == NULL);
    table_recs_free(t, n);
    dumpscan_free(s);
}

static void test_merge(void)
{
    struct dumpscan *s = scanned(dump);
    size_t n = 0;
    int64_t rows = 0;
    struct table_rec *t = tables_from_copies(s, 0, &n, &rows);
    n = tables_merge(t, n);
    CHECK_INT(n, 3);
    /* sorted by schema, then name: "" < "Odd" < "public" */
    CHECK_STR(t[0].table_name, "bare");
    CHECK_STR(t[1].table_name, "x y");
    CHECK_STR(t[2].schema_name, "public");
    CHECK_STR(t[2].table_name, "t");
    CHECK_INT(t[2].row_count, 5);
    table_recs_free(t, n);
    dumpscan_free(s);
}

static void test_empty(void)
{
    struct dumpscan *s = scanned("SELECT 1;\n");
    size_t n = 7;
    int64_t rows = 7;
    struct table_rec *t = tables_from_copies(s, 0, &n, &rows);
    CHECK_INT(n, 0);
    CHECK_INT(rows, 0);
    CHECK_INT(tables_merge(t, 0), 0);
    table_recs_free(t, 0);
    dumpscan_free(s);
}

int main(void)
{
    RUN(test_from_copies);
    RUN(test_merge);
    RUN(test_empty);
    return UNIT_DONE();
}
