/*
 * pgvault show: everything the catalog knows about one backup: its columns, its tables and
 * row counts, its database settings, whether its file is there, its verification, the
 * restores made from it and its events.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/encryption.h"
#include "common/err.h"
#include "storage/fsutil.h"
#include "common/output.h"
#include "command/resolve.h"
#include "common/util.h"

/* Everything shown, read before anything is printed. */
struct show_data {
    struct backup_rec b;
    char *path;
    const char *file_state; /* "present", "missing", "size differs", "not a regular file" */
    int64_t file_size;      /* on disk, -1 if absent */
    struct table_rec *tables;
    size_t ntables;
    char **settings;
    int nsettings;
    struct restore_history_rec *restores;
    size_t nrestores;
    struct event_rec *events;
    size_t nevents;
};

static int show_read(struct catalog *cat, const struct settings *set, struct show_data *d)
{
    /* the file, as the catalog expects it */
    struct stat st;
    d->path = path_join(set->dir, d->b.file_name);
    d->file_size = -1;
    if (lstat(d->path, &st) != 0) {
        if (errno != ENOENT)
            return err_sys(errno, "could not stat \"%s\"", d->path);
        d->file_state = "missing";
    } else if (!S_ISREG(st.st_mode)) {
        d->file_state = "not a regular file";
    } else {
        d->file_size = (int64_t)st.st_size;
        d->file_state = d->file_size == d->b.size_bytes ? "present" : "size differs";
    }

    /* tables, settings, restores, events */
    if (catalog_backup_tables(cat, d->b.id, &d->tables, &d->ntables) != 0 ||
        catalog_backup_settings(cat, d->b.id, &d->settings, &d->nsettings) != 0 ||
        catalog_restore_history(cat, d->b.id, &d->restores, &d->nrestores) != 0 ||
        catalog_events(cat, NULL, d->b.id, NULL, &d->events, &d->nevents) != 0)
        return -1;
    return 0;
}

static void show_data_free(struct show_data *d)
{
    backup_rec_free(&d->b);
    free(d->path);
    table_recs_free(d->tables, d->ntables);
    for (int i = 0; i < d->nsettings; i++)
        free(d->settings[i]);
    free(d->settings);
    restore_history_recs_free(d->restores, d->nrestores);
    event_recs_free(d->events, d->nevents);
}

/* --- JSON: one object --- */

static void json_key_str(const char *key, const char *val)
{
    printf(",\"%s\":", key);
    json_str_or_null(stdout, val);
}

static void json_key_int(const char *key, int64_t val)
{
    printf(",\"%s\":%" PRId64, key, val);
}

static void json_key_bool(const char *key, bool val)
{
    printf(",\"%s\":%s", key, val ? "true" : "false");
}

static void show_json(const struct show_data *d)
{
    const struct backup_rec *b = &d->b;
    printf("{\"id\":%" PRId64, b->id);
    json_key_str("db_name", b->db_name);
    json_key_str("file_name", b->file_name);
    json_key_str("path", d->path);
    json_key_str("file_state", d->file_state);
    json_key_str("status", b->status);
    json_key_str("origin", b->origin);
    json_key_str("label", b->label);
    json_key_bool("pinned", b->pinned);
    json_key_bool("suspect", b->suspect);
    json_key_str("started_at", b->started_at);
    json_key_str("finished_at", b->finished_at);
    json_key_int("duration_ms", b->duration_ms);
    json_key_str("format", b->format);
    json_key_str("compression", b->compression);
    json_key_int("compression_level", b->level);
    json_key_str("encryption", b->encryption);
    printf(",\"recipients\":");
    json_lines(stdout, b->recipients);
    json_key_int("size_bytes", b->size_bytes);
    json_key_int("raw_bytes", b->raw_bytes);
    json_key_str("checksum_algo", b->checksum_algo);
    json_key_str("checksum", b->checksum);
    json_key_str("raw_checksum", b->raw_checksum);
    json_key_int("table_count", b->table_count);
    json_key_int("row_count", b->row_count);
    json_key_str("server_version", b->server_version);
    json_key_str("pg_dump_version", b->pg_dump_version);
    json_key_int("db_size_bytes", b->db_size_bytes);
    json_key_str("encoding", b->encoding);
    json_key_str("lc_collate", b->collate);
    json_key_str("lc_ctype", b->ctype);
    json_key_str("locale_provider", b->locale_provider);
    json_key_str("icu_locale", b->icu_locale);
    json_key_bool("with_owners", b->with_owners);
    json_key_str("verified_at", b->verified_at);
    json_key_str("pruned_at", b->pruned_at);
    json_key_str("prune_rule", b->prune_rule);
    json_key_str("error", b->error);
    json_key_int("pid", b->pid);
    json_key_str("host", b->host);

    printf(",\"settings\":[");
    for (int i = 0; i < d->nsettings; i++) {
        if (i)
            putchar(',');
        json_str(stdout, d->settings[i]);
    }
    printf("],\"tables\":[");
    for (size_t i = 0; i < d->ntables; i++) {
        const struct table_rec *t = &d->tables[i];
        printf("%s{\"schema_name\":", i ? "," : "");
        json_str(stdout, t->schema_name);
        json_key_str("table_name", t->table_name);
        printf(",\"relkind\":\"%c\"", t->relkind);
        json_key_int("row_count", t->row_count);
        putchar('}');
    }
    printf("],\"restores\":[");
    for (size_t i = 0; i < d->nrestores; i++) {
        const struct restore_history_rec *r = &d->restores[i];
        printf("%s{\"id\":%" PRId64, i ? "," : "", r->id);
        json_key_str("target_db", r->target_db);
        json_key_str("mode", r->mode);
        json_key_str("started_at", r->started_at);
        json_key_str("finished_at", r->finished_at);
        json_key_str("status", r->status);
        if (r->tables_checked >= 0)
            json_key_int("tables_checked", r->tables_checked);
        else
            printf(",\"tables_checked\":null");
        if (r->rows_checked >= 0)
            json_key_int("rows_checked", r->rows_checked);
        else
            printf(",\"rows_checked\":null");
        json_key_str("detail", r->detail);
        putchar('}');
    }
    printf("],\"events\":[");
    for (size_t i = 0; i < d->nevents; i++) {
        const struct event_rec *e = &d->events[i];
        printf("%s{\"id\":%" PRId64, i ? "," : "", e->id);
        json_key_str("at", e->at);
        json_key_str("action", e->action);
        json_key_str("actor", e->actor);
        json_key_str("outcome", e->outcome);
        json_key_str("detail", e->detail);
        putchar('}');
    }
    puts("]}");
}

/* --- people: one "key  value" line per fact, then the lists --- */

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    printf("  %-15s ", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* "encryption  age to age1…, age1…" (the recipients one a line in the catalog). */
static void show_encryption(const struct backup_rec *b)
{
    if (!b->encryption || strcmp(b->encryption, "none") == 0) {
        kv("encryption", "none");
        return;
    }
    char *list = encryption_recipients_joined(b->recipients);
    kv("encryption", "%s to %s", b->encryption, list);
    free(list);
}

/* "2026-11-25T15:27:54.123Z" → "2026-11-25 15:27:54" */
static const char *short_time(const char *iso, char buf[20])
{
    snprintf(buf, 20, "%.19s", iso ? iso : "");
    if (buf[10] == 'T')
        buf[10] = ' ';
    return buf;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void show_facts(const struct show_data *d)
{
    const struct backup_rec *b = &d->b;
    bool has_file = strcmp(b->status, "complete") == 0 || strcmp(b->status, "pruned") == 0 ||
                    strcmp(b->status, "missing") == 0;
    char sz[16], raw[16], t1[20];

    printf("backup %" PRId64 ": %s\n", b->id, b->file_name);
    kv("database", "%s", b->db_name);
    kv("status", "%s%s%s", b->status, b->pinned ? ", pinned" : "",
       b->suspect ? ", suspect (raw size under half the usual)" : "");
    if (b->label)
        kv("label", "%s", b->label);
    if (b->origin && strcmp(b->origin, "import") == 0)
        kv("origin", "imported by pid %" PRId64 " on %s", b->pid, or_dash(b->host));
    else
        kv("origin", "%s by pid %" PRId64 " on %s", or_dash(b->origin), b->pid, or_dash(b->host));
    kv("started", "%s UTC", short_time(b->started_at, t1));
    if (b->finished_at && b->duration_ms > 0)
        kv("finished", "%s UTC (%.1f s)", short_time(b->finished_at, t1),
           (double)b->duration_ms / 1000.0);
    else if (b->finished_at)
        kv("finished", "%s UTC", short_time(b->finished_at, t1));
    else
        kv("finished", "%s", strcmp(b->status, "running") == 0 ? "still running" : "unknown");
    if (b->error)
        kv("error", "%s", b->error);
    if (strcmp(b->status, "pruned") == 0)
        kv("pruned", "%s UTC, %s", short_time(b->pruned_at, t1), or_dash(b->prune_rule));

    if (strcmp(b->status, "pruned") == 0)
        kv("file", "%s (removed by retention)", d->path);
    else if (strcmp(b->status, "failed") == 0)
        kv("file", "%s (none: a failed backup leaves no file)", d->path);
    else if (strcmp(b->status, "running") == 0)
        kv("file", "%s (being written)", d->path);
    else if (d->file_size >= 0 && strcmp(d->file_state, "size differs") == 0)
        kv("file", "%s (size differs: %" PRId64 " bytes on disk)", d->path, d->file_size);
    else
        kv("file", "%s (%s)", d->path, d->file_state);
    if (has_file) {
        double ratio = b->size_bytes > 0 ? (double)b->raw_bytes / (double)b->size_bytes : 0;
        kv("size", "%s, %" PRId64 " bytes (raw %s, %" PRId64 " bytes; ratio %.1fx)",
           fmt_size((uint64_t)b->size_bytes, sz), b->size_bytes,
           fmt_size((uint64_t)b->raw_bytes, raw), b->raw_bytes, ratio);
        if (b->level > 0)
            kv("compression", "%s level %d", b->compression, b->level);
        else
            kv("compression", "%s", b->compression);
        show_encryption(b);
        kv("checksum", "%s %s", or_dash(b->checksum_algo), or_dash(b->checksum));
        kv("raw checksum", "%s %s", or_dash(b->checksum_algo), or_dash(b->raw_checksum));
    }
    if (b->server_version)
        kv("server", "PostgreSQL %s", b->server_version);
    else
        kv("server", "-");
    kv("pg_dump", "%s", or_dash(b->pg_dump_version));
    if (b->db_size_bytes > 0)
        kv("database size", "%s, %" PRId64 " bytes", fmt_size((uint64_t)b->db_size_bytes, sz),
           b->db_size_bytes);
    kv("encoding", "%s (collate %s, ctype %s)", or_dash(b->encoding), or_dash(b->collate),
       or_dash(b->ctype));
    if (!b->locale_provider)
        kv("locale provider", "-");
    else if (strcmp(b->locale_provider, "i") == 0)
        kv("locale provider", "icu (locale %s)", or_dash(b->icu_locale));
    else
        kv("locale provider", "%s",
           strcmp(b->locale_provider, "c") == 0 ? "libc" : b->locale_provider);
    for (int i = 0; i < d->nsettings; i++)
        kv(i == 0 ? "settings" : "", "%s", d->settings[i]);
    kv("ownership", "%s", b->with_owners ? "in the dump (owners and privileges)" : "not dumped");
    if (b->verified_at)
        kv("verified", "%s UTC", short_time(b->verified_at, t1));
    else
        kv("verified", "never");
}

static void show_tables(const struct show_data *d)
{
    printf("\ntables: %" PRId64 ", rows: %" PRId64 "\n", d->b.table_count, d->b.row_count);
    if (d->ntables == 0)
        return;
    int ws = 6, wt = 5;
    for (size_t i = 0; i < d->ntables; i++) {
        int ls = (int)strlen(d->tables[i].schema_name), lt = (int)strlen(d->tables[i].table_name);
        ws = ls > ws ? ls : ws;
        wt = lt > wt ? lt : wt;
    }
    printf("  %-*s  %-*s  %4s  %12s\n", ws, "SCHEMA", wt, "TABLE", "KIND", "ROWS");
    for (size_t i = 0; i < d->ntables; i++) {
        const struct table_rec *t = &d->tables[i];
        printf("  %-*s  %-*s  %4c  %12" PRId64 "\n", ws, t->schema_name, wt, t->table_name,
               t->relkind, t->row_count);
    }
}

static void show_restores(const struct show_data *d)
{
    char t1[20];
    if (d->nrestores == 0) {
        printf("\nrestores: none\n");
        return;
    }
    printf("\nrestores: %zu\n", d->nrestores);
    printf("  %6s  %-19s  %-20s  %-8s  %-8s  %6s  %12s  %s\n", "ID", "STARTED (UTC)", "TARGET",
           "MODE", "STATUS", "TABLES", "ROWS", "DETAIL");
    for (size_t i = 0; i < d->nrestores; i++) {
        const struct restore_history_rec *r = &d->restores[i];
        char tables[24] = "-", rows[24] = "-";
        if (r->tables_checked >= 0)
            snprintf(tables, sizeof(tables), "%" PRId64, r->tables_checked);
        if (r->rows_checked >= 0)
            snprintf(rows, sizeof(rows), "%" PRId64, r->rows_checked);
        printf("  %6" PRId64 "  %-19s  %-20s  %-8s  %-8s  %6s  %12s  %s\n", r->id,
               short_time(r->started_at, t1), r->target_db, or_dash(r->mode), r->status, tables,
               rows, r->detail ? r->detail : "");
    }
}

static void show_events(const struct show_data *d)
{
    char t1[20];
    if (d->nevents == 0)
        return;
    printf("\nevents: %zu\n", d->nevents);
    printf("  %-19s  %-8s  %-12s  %-8s  %s\n", "AT (UTC)", "ACTION", "ACTOR", "OUTCOME", "DETAIL");
    for (size_t i = 0; i < d->nevents; i++) {
        const struct event_rec *e = &d->events[i];
        printf("  %-19s  %-8s  %-12s  %-8s  %s\n", short_time(e->at, t1), e->action, e->actor,
               e->outcome, e->detail ? e->detail : "");
    }
}

int cmd_show(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct show_data d = {0};
    int rc = -1;

    /* 1. find the backup ("latest" means the selected database's newest complete one) */
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        goto out;
    const char *db = opt->db ? opt->db : set->conn.dbname;
    if (backup_resolve(cat, set, db, opt->args[0], &d.b) != 0)
        goto out;

    /* 2. everything else the catalog and the file system know about it */
    if (show_read(cat, set, &d) != 0)
        goto out;

    /* 3. print */
    if (opt->json) {
        show_json(&d);
    } else {
        show_facts(&d);
        show_tables(&d);
        show_restores(&d);
        show_events(&d);
    }
    rc = 0;
out:
    show_data_free(&d);
    catalog_close(cat);
    return rc;
}
