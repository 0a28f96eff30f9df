/*
 * pgvault diff: what changed from one backup to another, from the catalog alone: tables
 * added and dropped, row counts per table, sizes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/audit.h"
#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/err.h"
#include "common/output.h"
#include "command/resolve.h"
#include "common/util.h"

struct diff_side {
    struct backup_rec b;
    struct table_rec *tables;
    size_t ntables;
};

/* "+1.5 MiB", "-300 B", "0 B" */
static const char *fmt_delta(int64_t d, char buf[24])
{
    char sz[16];
    uint64_t mag = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    snprintf(buf, 24, "%s%s", d > 0 ? "+" : d < 0 ? "-" : "", fmt_size(mag, sz));
    return buf;
}

/* "schema.table", or "table" for a COPY that named no schema */
static char *qualified(const struct table_rec *t)
{
    return t->schema_name && *t->schema_name ? xasprintf("%s.%s", t->schema_name, t->table_name)
                                             : xstrdup(t->table_name);
}

/* An adopted dump: its tables are those with COPY data, without partitioned parents. */
static bool is_imported(const struct backup_rec *b)
{
    return b->origin && strcmp(b->origin, "import") == 0;
}

/* Resolves one side; a backup without row counts cannot be compared. */
static int diff_load(struct catalog *cat, const struct settings *set, const char *db,
                     const char *spec, struct diff_side *s)
{
    if (backup_resolve(cat, set, db, spec, &s->b) != 0)
        return -1;
    if (strcmp(s->b.status, "running") == 0 || strcmp(s->b.status, "failed") == 0)
        return err_set(ERR_USAGE, "backup %" PRId64 " is %s: it has no table counts to compare",
                       s->b.id, s->b.status);
    return catalog_backup_tables(cat, s->b.id, &s->tables, &s->ntables);
}

static void json_side(const char *key, const struct backup_rec *b)
{
    printf("\"%s\":{\"id\":%" PRId64 ",\"db_name\":", key, b->id);
    json_str(stdout, b->db_name);
    printf(",\"file_name\":");
    json_str(stdout, b->file_name);
    printf(",\"started_at\":");
    json_str_or_null(stdout, b->started_at);
    printf(",\"status\":");
    json_str(stdout, b->status);
    printf(",\"size_bytes\":%" PRId64 ",\"raw_bytes\":%" PRId64 ",\"table_count\":%" PRId64
           ",\"row_count\":%" PRId64 "}",
           b->size_bytes, b->raw_bytes, b->table_count, b->row_count);
}

static void json_table(const struct table_rec *t, bool *first)
{
    printf("%s{\"schema_name\":", *first ? "" : ",");
    json_str(stdout, t->schema_name);
    printf(",\"table_name\":");
    json_str(stdout, t->table_name);
    *first = false;
}

static void diff_json(const struct diff_side *a, const struct diff_side *b,
                      const struct table_change *ch, size_t n)
{
    putchar('{');
    json_side("from", &a->b);
    putchar(',');
    json_side("to", &b->b);
    printf(",\"size_change\":%" PRId64 ",\"raw_change\":%" PRId64 ",\"table_count_change\":%" PRId64
           ",\"row_change\":%" PRId64,
           b->b.size_bytes - a->b.size_bytes, b->b.raw_bytes - a->b.raw_bytes,
           b->b.table_count - a->b.table_count, b->b.row_count - a->b.row_count);
    static const struct {
        enum table_change_kind kind;
        const char *key;
    } groups[] = {{TABLE_ADDED, "added"}, {TABLE_DROPPED, "dropped"}, {TABLE_CHANGED, "changed"}};
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        bool first = true;
        printf(",\"%s\":[", groups[g].key);
        for (size_t i = 0; i < n; i++) {
            if (ch[i].kind != groups[g].kind)
                continue;
            if (ch[i].kind == TABLE_ADDED) {
                json_table(ch[i].after, &first);
                printf(",\"row_count\":%" PRId64 "}", ch[i].after->row_count);
            } else if (ch[i].kind == TABLE_DROPPED) {
                json_table(ch[i].before, &first);
                printf(",\"row_count\":%" PRId64 "}", ch[i].before->row_count);
            } else {
                json_table(ch[i].after, &first);
                printf(",\"rows_before\":%" PRId64 ",\"rows_after\":%" PRId64
                       ",\"row_change\":%" PRId64 "}",
                       ch[i].before->row_count, ch[i].after->row_count,
                       ch[i].after->row_count - ch[i].before->row_count);
            }
        }
        putchar(']');
    }
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += ch[i].kind == TABLE_SAME;
    printf(",\"unchanged\":%zu}\n", same);
}

static void diff_text(const struct diff_side *a, const struct diff_side *b,
                      const struct table_change *ch, size_t n)
{
    char s1[16], s2[16], d[24], t1[21], t2[21];
    /* "2026-11-25T15:27:54.123Z" → "2026-11-25 15:27:54" */
    snprintf(t1, sizeof(t1), "%.19s", a->b.started_at ? a->b.started_at : "");
    snprintf(t2, sizeof(t2), "%.19s", b->b.started_at ? b->b.started_at : "");
    if (t1[10] == 'T')
        t1[10] = ' ';
    if (t2[10] == 'T')
        t2[10] = ' ';
    printf("backup %" PRId64 " (%s, %s UTC) -> backup %" PRId64 " (%s, %s UTC)\n", a->b.id,
           a->b.db_name, t1, b->b.id, b->b.db_name, t2);
    if (strcmp(a->b.db_name, b->b.db_name) != 0)
        printf("  note: the backups are of different databases\n");
    printf("  size    %s -> %s (%s)\n", fmt_size((uint64_t)a->b.size_bytes, s1),
           fmt_size((uint64_t)b->b.size_bytes, s2),
           fmt_delta(b->b.size_bytes - a->b.size_bytes, d));
    printf("  raw     %s -> %s (%s)\n", fmt_size((uint64_t)a->b.raw_bytes, s1),
           fmt_size((uint64_t)b->b.raw_bytes, s2), fmt_delta(b->b.raw_bytes - a->b.raw_bytes, d));
    printf("  tables  %" PRId64 " -> %" PRId64 "\n", a->b.table_count, b->b.table_count);
    printf("  rows    %" PRId64 " -> %" PRId64 " (%+" PRId64 ")\n", a->b.row_count, b->b.row_count,
           b->b.row_count - a->b.row_count);

    size_t same = 0, shown = 0;
    int w = 5;
    for (size_t i = 0; i < n; i++) {
        if (ch[i].kind == TABLE_SAME) {
            same++;
            continue;
        }
        char *q = qualified(ch[i].after ? ch[i].after : ch[i].before);
        w = (int)strlen(q) > w ? (int)strlen(q) : w;
        free(q);
        shown++;
    }
    if (shown) {
        printf("\n  %-7s  %-*s  %12s  %12s  %12s\n", "CHANGE", w, "TABLE", "ROWS BEFORE",
               "ROWS AFTER", "DIFFERENCE");
        /* added, then dropped, then changed: what appeared or vanished matters most */
        static const enum table_change_kind order[] = {TABLE_ADDED, TABLE_DROPPED, TABLE_CHANGED};
        static const char *const label[] = {
            [TABLE_ADDED] = "added", [TABLE_DROPPED] = "dropped", [TABLE_CHANGED] = "rows"};
        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
            for (size_t i = 0; i < n; i++) {
                if (ch[i].kind != order[k])
                    continue;
                char before[24] = "-", after[24] = "-";
                int64_t rb = ch[i].before ? ch[i].before->row_count : 0;
                int64_t ra = ch[i].after ? ch[i].after->row_count : 0;
                if (ch[i].before)
                    snprintf(before, sizeof(before), "%" PRId64, rb);
                if (ch[i].after)
                    snprintf(after, sizeof(after), "%" PRId64, ra);
                char *q = qualified(ch[i].after ? ch[i].after : ch[i].before);
                printf("  %-7s  %-*s  %12s  %12s  %+12" PRId64 "\n", label[order[k]], w, q, before,
                       after, ra - rb);
                free(q);
            }
        }
    } else {
        printf("\n  no table added, dropped or changed\n");
    }
    if (same)
        printf("  %zu table%s unchanged\n", same, same == 1 ? "" : "s");
}

int cmd_diff(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct diff_side a = {0}, b = {0};
    struct table_change *ch = NULL;
    int rc = -1;

    /* 1. both backups and their tables */
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        goto out;
    const char *db = opt->db ? opt->db : set->conn.dbname;
    if (diff_load(cat, set, db, opt->args[0], &a) != 0 ||
        diff_load(cat, set, db, opt->args[1], &b) != 0)
        goto out;

    /* 2. compare the table lists (both sorted by schema, table) */
    ch = xcalloc(a.ntables + b.ntables + 1, sizeof(*ch));
    size_t n = audit_table_diff(a.tables, a.ntables, b.tables, b.ntables, ch);
    n = audit_table_diff_comparable(ch, n, !is_imported(&a.b), !is_imported(&b.b));

    /* 3. print */
    if (opt->json)
        diff_json(&a, &b, ch, n);
    else
        diff_text(&a, &b, ch, n);
    rc = 0;
out:
    free(ch);
    backup_rec_free(&a.b);
    table_recs_free(a.tables, a.ntables);
    backup_rec_free(&b.b);
    table_recs_free(b.tables, b.ntables);
    catalog_close(cat);
    return rc;
}
