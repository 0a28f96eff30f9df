/*
 * pgvault list (and restore --list): the catalog's backups, newest first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "common/err.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/output.h"
#include "common/util.h"

/* The rows are printed as the catalog hands them over, one at a time: memory stays
 * flat however many backups the catalog holds. */
struct list_out {
    const struct options *opt;
    size_t n;
    int width; /* of the FILE column (table) */
};

static void json_row(const struct backup_rec *r, bool first)
{
    printf("%s{\"id\":%" PRId64 ",\"db_name\":", first ? "" : ",", r->id);
    json_str(stdout, r->db_name);
    printf(",\"file_name\":");
    json_str(stdout, r->file_name);
    printf(",\"status\":");
    json_str(stdout, r->status);
    printf(",\"started_at\":");
    json_str_or_null(stdout, r->started_at);
    printf(",\"finished_at\":");
    json_str_or_null(stdout, r->finished_at);
    printf(",\"size_bytes\":%" PRId64 ",\"raw_bytes\":%" PRId64 ",\"compression\":", r->size_bytes,
           r->raw_bytes);
    json_str_or_null(stdout, r->compression);
    printf(",\"encryption\":");
    json_str_or_null(stdout, r->encryption);
    printf(",\"recipients\":");
    json_lines(stdout, r->recipients);
    printf(",\"checksum\":");
    json_str_or_null(stdout, r->checksum);
    printf(",\"table_count\":%" PRId64 ",\"row_count\":%" PRId64
           ",\"pinned\":%s,\"suspect\":%s,\"label\":",
           r->table_count, r->row_count, r->pinned ? "true" : "false",
           r->suspect ? "true" : "false");
    json_str_or_null(stdout, r->label);
    printf(",\"error\":");
    json_str_or_null(stdout, r->error);
    putchar('}');
}

static void csv_header(void)
{
    puts("id,db_name,file_name,status,started_at,finished_at,size_bytes,raw_bytes,compression,"
         "checksum,table_count,row_count,pinned,suspect,label,error");
}

static void csv_row(const struct backup_rec *r)
{
    printf("%" PRId64 ",", r->id);
    csv_field(stdout, r->db_name);
    putchar(',');
    csv_field(stdout, r->file_name);
    printf(",%s,%s,%s,%" PRId64 ",%" PRId64 ",%s,%s,%" PRId64 ",%" PRId64 ",%d,%d,", r->status,
           r->started_at ? r->started_at : "", r->finished_at ? r->finished_at : "", r->size_bytes,
           r->raw_bytes, r->compression ? r->compression : "", r->checksum ? r->checksum : "",
           r->table_count, r->row_count, r->pinned, r->suspect);
    csv_field(stdout, r->label);
    putchar(',');
    csv_field(stdout, r->error);
    putchar('\n');
}

static void table_row(const struct backup_rec *r, int w)
{
    char sz[16], date[21] = "";
    /* "2026-11-25T15:27:54.123Z" → "2026-11-25 15:27:54" */
    snprintf(date, sizeof(date), "%.19s", r->started_at ? r->started_at : "");
    if (date[10] == 'T')
        date[10] = ' ';
    char status[24];
    snprintf(status, sizeof(status), "%s%s%s", r->status, r->suspect ? "!" : "",
             r->pinned ? "*" : "");
    bool has_size = strcmp(r->status, "complete") == 0 || strcmp(r->status, "pruned") == 0 ||
                    strcmp(r->status, "missing") == 0;
    printf("%6" PRId64 "  %-*s  %10s  %-20s  %-9s  %6" PRId64 "  %12" PRId64 "\n", r->id, w,
           r->file_name, has_size ? fmt_size((uint64_t)r->size_bytes, sz) : "-", date, status,
           r->table_count, r->row_count);
}

/* First pass of the table: the widest file name. */
static int measure_row(void *ctx, const struct backup_rec *r)
{
    struct list_out *lo = ctx;
    int len = (int)strlen(r->file_name);
    if (len > lo->width)
        lo->width = len;
    lo->n++;
    return 0;
}

static int print_row(void *ctx, const struct backup_rec *r)
{
    struct list_out *lo = ctx;
    if (lo->opt->json)
        json_row(r, lo->n == 0);
    else if (lo->opt->csv)
        csv_row(r);
    else
        table_row(r, lo->width);
    lo->n++;
    return 0;
}

int cmd_list(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct list_out lo = {.opt = opt, .width = (int)strlen("FILE")};
    int rc = -1;
    if (opt->remote)
        return copies_list(opt, set);

    /* 1. the repository must exist; one without a catalog lists nothing */
    if (fsutil_require_repo(set->dir) != 0)
        return -1;
    struct stat st;
    if (stat(set->catalog, &st) != 0 && errno == ENOENT) {
        if (opt->json)
            puts("[]");
        else if (opt->csv)
            csv_header();
        else
            log_info("no backups: catalog \"%s\" does not exist yet", set->catalog);
        return 0;
    }

    /* 2. read the catalog (no lock: readers never wait for a backup) */
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        return -1;
    const char *db = opt->db;

    /* 3. print, row by row */
    if (opt->json) {
        putchar('[');
    } else if (opt->csv) {
        csv_header();
    } else {
        if (catalog_backups_each(cat, db, opt->all_status, measure_row, &lo) != 0)
            goto out;
        if (lo.n == 0) {
            log_info("no backups%s%s%s in \"%s\"", db ? " of database \"" : "", db ? db : "",
                     db ? "\"" : "", set->dir);
            rc = 0;
            goto out;
        }
        printf("%6s  %-*s  %10s  %-20s  %-9s  %6s  %12s\n", "ID", lo.width, "FILE", "SIZE",
               "DATE (UTC)", "STATUS", "TABLES", "ROWS");
        lo.n = 0;
    }
    if (catalog_backups_each(cat, db, opt->all_status, print_row, &lo) != 0) {
        if (opt->json)
            puts("]"); /* stdout stays one JSON document */
        goto out;
    }
    if (opt->json)
        puts("]");
    rc = 0;
out:
    catalog_close(cat);
    return rc;
}
