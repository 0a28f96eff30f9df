/*
 * pgvault backup: pg_dump → row counter → zlib → XXH3-128 → .partial → fsync → rename,
 * catalogued from 'running' to 'complete' or 'failed' (SPEC section 4).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "commands.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "naming.h"
#include "output.h"
#include "pg.h"
#include "pgtools.h"
#include "pipeline.h"
#include "proc.h"
#include "repo.h"
#include "util.h"

struct backup_run {
    const struct options *opt;
    const struct settings *set;
    struct catalog *cat;
};

static void now_iso(char buf[25])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_iso_ms(&ts, buf);
}

/* Picks a file name not used on disk (final or partial) nor in the catalog. */
static int choose_file_name(struct backup_run *br, const char *db, time_t when, char **name)
{
    for (int seq = 1; seq < 1000; seq++) {
        char *cand = naming_backup_file(db, when, br->set->compress, seq);
        char *partial = xasprintf("%s.partial", cand);
        bool known = false;
        if (catalog_file_known(br->cat, cand, &known) != 0) {
            free(cand);
            free(partial);
            return -1;
        }
        bool taken =
            known || fsutil_exists(br->set->dir, cand) || fsutil_exists(br->set->dir, partial);
        free(partial);
        if (!taken) {
            *name = cand;
            return 0;
        }
        free(cand);
    }
    return err_set(ERR_FAILED, "could not find a free file name for database \"%s\"", db);
}

static int cmp_table(const char *s1, const char *n1, const char *s2, const char *n2)
{
    int c = strcmp(s1 ? s1 : "", s2 ? s2 : "");
    return c ? c : strcmp(n1, n2);
}

static int cmp_pg_table(const void *a, const void *b)
{
    const struct pg_table *x = a, *y = b;
    return cmp_table(x->schema, x->name, y->schema, y->name);
}

static int cmp_table_rec(const void *a, const void *b)
{
    const struct table_rec *x = a, *y = b;
    return cmp_table(x->schema_name, x->table_name, y->schema_name, y->table_name);
}

static struct pg_table *find_table(struct pg_dbinfo *info, const char *schema, const char *name)
{
    struct pg_table key = {.schema = (char *)schema, .name = (char *)name};
    return bsearch(&key, info->tables, (size_t)info->ntables, sizeof(key), cmp_pg_table);
}

/*
 * The per-table row counts to record: every table that had a COPY block (merged if it had
 * several), and every partitioned table with the sum of the rows of its partitions.
 */
static struct table_rec *collect_tables(struct pg_dbinfo *info, const struct dumpscan *scan,
                                        size_t *ntables, int64_t *total_rows)
{
    qsort(info->tables, (size_t)info->ntables, sizeof(struct pg_table), cmp_pg_table);
    int64_t *psum = xcalloc((size_t)info->ntables + 1, sizeof(int64_t));
    size_t ncopy = dumpscan_copy_count(scan);
    struct table_rec *t = xcalloc(ncopy + (size_t)info->ntables + 1, sizeof(*t));
    size_t n = 0;
    *total_rows = 0;

    for (size_t i = 0; i < ncopy; i++) {
        const struct dumpscan_table *c = dumpscan_copy(scan, i);
        t[n].schema_name = xstrdup(c->schema ? c->schema : "");
        t[n].table_name = xstrdup(c->name);
        t[n].relkind = 'r';
        t[n].row_count = (int64_t)c->rows;
        *total_rows += (int64_t)c->rows;
        /* add the rows to every partitioned ancestor */
        struct pg_table *p = find_table(info, c->schema, c->name);
        for (int depth = 0; p && p->parent_name && depth < 100; depth++) {
            p = find_table(info, p->parent_schema, p->parent_name);
            if (p)
                psum[p - info->tables] += (int64_t)c->rows;
        }
        n++;
    }
    for (int i = 0; i < info->ntables; i++) {
        if (info->tables[i].relkind != 'p')
            continue;
        t[n].schema_name = xstrdup(info->tables[i].schema);
        t[n].table_name = xstrdup(info->tables[i].name);
        t[n].relkind = 'p';
        t[n].row_count = psum[i];
        n++;
    }
    free(psum);

    /* sort and merge a table that appeared in more than one COPY block */
    qsort(t, n, sizeof(*t), cmp_table_rec);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && cmp_table_rec(&t[w - 1], &t[i]) == 0) {
            t[w - 1].row_count += t[i].row_count;
            free(t[i].schema_name);
            free(t[i].table_name);
            continue;
        }
        t[w++] = t[i];
    }
    *ntables = w;
    return t;
}

/* Under half the median raw size of the previous five complete backups (at least three). */
static bool is_suspect(struct catalog *cat, const char *db, int64_t raw_bytes)
{
    struct backup_rec *prev = NULL;
    size_t n = 0;
    if (catalog_backups(cat, db, false, &prev, &n) != 0) {
        err_clear();
        return false;
    }
    int64_t v[5];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 5; i++)
        v[k++] = prev[i].raw_bytes;
    backup_recs_free(prev, n);
    if (k < 3)
        return false;
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    /* twice the median, to stay in integers: raw < median / 2  <=>  4 * raw < 2 * median */
    int64_t median2 = (k % 2) ? 2 * v[k / 2] : v[k / 2 - 1] + v[k / 2];
    return raw_bytes * 4 < median2;
}

/* Runs pg_dump into the partial file through the pipeline; fills the result. */
static int dump_to_file(struct backup_run *br, const char *pg_dump, const char *db,
                        const char *partial, int fd, struct pipeline_result *res)
{
    char *connstr = conn_string(&br->set->conn, db);
    char *dbarg = xasprintf("--dbname=%s", connstr);
    const char *argv[8];
    int a = 0;
    argv[a++] = pg_dump;
    argv[a++] = "--format=plain";
    argv[a++] = "--no-password";
    if (!br->opt->with_owners) {
        argv[a++] = "--no-owner";
        argv[a++] = "--no-privileges";
    }
    argv[a++] = dbarg;
    argv[a] = NULL;
    const char *env[] = {pgtools_passfile_env(), NULL};

    struct proc p;
    int rc = -1;
    if (proc_spawn(&p, argv, env, PROC_STDOUT_PIPE) != 0)
        goto out;
    struct pipeline_opts po = {
        .in_fd = p.out_fd,
        .out_fd = fd,
        .level = br->set->compress ? (int)br->set->level : 0,
        .jobs = (int)br->set->jobs,
        .out_name = partial,
        .cancel = &pgvault_interrupted,
    };
    int prc = pipeline_run(&po, res);
    if (prc != 0)
        proc_kill(&p, SIGTERM);
    /* pg_dump's own failure explains more than a short stream does: check it first */
    int wrc = proc_wait(&p);
    if (pgvault_interrupted) {
        err_clear();
        err_set(ERR_FAILED, "backup of database \"%s\" interrupted by a signal", db);
    }
    if (wrc != 0 || prc != 0)
        goto out;
    if (dumpscan_finish(res->scan) != 0 || !dumpscan_trailer_ok(res->scan)) {
        err_set(ERR_FAILED,
                "pg_dump output for database \"%s\" is incomplete: no \"dump complete\" trailer",
                db);
        goto out;
    }
    rc = 0;
out:
    proc_free(&p);
    free(dbarg);
    free(connstr);
    return rc;
}

static void print_summary(const struct backup_run *br, const struct backup_rec *b,
                          uint64_t raw_bytes, double secs)
{
    char sz[16], raw[16], rate[16];
    double ratio = b->size_bytes > 0 ? (double)raw_bytes / (double)b->size_bytes : 0;
    fmt_size(secs > 0 ? (uint64_t)((double)raw_bytes / secs) : raw_bytes, rate);
    if (br->opt->json) {
        printf("{\"outcome\":\"complete\",\"id\":%" PRId64 ",\"db_name\":", b->id);
        json_str(stdout, b->db_name);
        printf(",\"file_name\":");
        json_str(stdout, b->file_name);
        printf(",\"size_bytes\":%" PRId64 ",\"raw_bytes\":%" PRIu64
               ",\"checksum\":\"%s\",\"raw_checksum\":\"%s\",\"table_count\":%" PRId64
               ",\"row_count\":%" PRId64 ",\"duration_ms\":%" PRId64 ",\"suspect\":%s}\n",
               b->size_bytes, raw_bytes, b->checksum, b->raw_checksum, b->table_count, b->row_count,
               b->duration_ms, b->suspect ? "true" : "false");
        return;
    }
    if (log_quiet())
        return;
    printf("backup %" PRId64 " complete: %s/%s\n", b->id, br->set->dir, b->file_name);
    printf("  size %s (raw %s, ratio %.1fx), %" PRId64 " tables, %" PRId64 " rows\n",
           fmt_size((uint64_t)b->size_bytes, sz), fmt_size(raw_bytes, raw), ratio, b->table_count,
           b->row_count);
    printf("  duration %.1f s, %s/s\n", secs, rate);
}

/* Backs up one database; returns 0 or -1 with the error set (and the row marked failed). */
static int backup_one(struct backup_run *br, const char *want_db)
{
    struct pg *pg = NULL;
    struct pg_dbinfo info = {0};
    char *pg_dump = NULL, *pg_dump_version = NULL, *file = NULL, *partial = NULL;
    struct pipeline_result res = {0};
    struct table_rec *tables = NULL;
    size_t ntables = 0;
    struct backup_rec b = {0};
    int fd = -1, rc = -1;
    char started[25], finished[25], host[HOST_NAME_MAX + 1] = "";
    double t0 = time_mono();

    /* 1. connect; record server version, size, properties and tables */
    if (pg_connect(&br->set->conn, want_db, &pg) != 0)
        goto out;
    char *db = xstrdup(pg_dbname(pg));
    if (pg_dbinfo_read(pg, &info) != 0)
        goto out_db;
    pg_free(pg);
    pg = NULL;

    /* 2. a pg_dump at least as new as the server */
    if (pgtools_find("pg_dump", info.server_version_num, br->set->pg_bindir, &pg_dump,
                     &pg_dump_version) != 0)
        goto out_db;

    /* 3. name the file and catalogue the run as 'running' */
    now_iso(started);
    if (choose_file_name(br, db, time(NULL), &file) != 0)
        goto out_db;
    partial = xasprintf("%s.partial", file);
    gethostname(host, sizeof(host) - 1);
    b.db_name = db;
    b.file_name = file;
    b.format = "plain";
    b.compression = br->set->compress ? "gzip" : "none";
    b.level = br->set->compress ? (int)br->set->level : 0;
    b.started_at = started;
    b.pid = getpid();
    b.host = host;
    b.label = (char *)br->opt->label;
    b.with_owners = br->opt->with_owners;
    b.origin = "backup";
    if (catalog_backup_begin(br->cat, &b) != 0)
        goto out_db;

    /* 4. stream pg_dump's output into the partial file */
    if (fsutil_create_excl(br->set->dir, partial, &fd) != 0)
        goto fail;
    char *partial_path = path_join(br->set->dir, partial);
    int drc = dump_to_file(br, pg_dump, db, partial_path, fd, &res);
    free(partial_path);
    if (drc != 0)
        goto fail;

    /* 5. make it durable, then give it its name */
    char *fpath = path_join(br->set->dir, partial);
    int frc = fsutil_fsync(fd, fpath);
    free(fpath);
    if (frc != 0)
        goto fail;
    close(fd);
    fd = -1;
    if (fsutil_rename_durable(br->set->dir, partial, file) != 0)
        goto fail;

    /* 6. catalogue it complete, with its per-table row counts */
    int64_t total_rows;
    tables = collect_tables(&info, res.scan, &ntables, &total_rows);
    now_iso(finished);
    double secs = time_mono() - t0;
    b.size_bytes = (int64_t)res.out_bytes;
    b.raw_bytes = (int64_t)res.raw_bytes;
    b.checksum = res.checksum;
    b.raw_checksum = res.raw_checksum;
    b.checksum_algo = "XXH3-128";
    b.table_count = (int64_t)ntables;
    b.row_count = total_rows;
    b.server_version = info.server_version;
    b.pg_dump_version = pg_dump_version;
    b.db_size_bytes = info.size_bytes;
    b.encoding = info.encoding;
    b.collate = info.collate;
    b.ctype = info.ctype;
    b.finished_at = finished;
    b.duration_ms = (int64_t)(secs * 1000);
    b.status = "complete";
    b.suspect = is_suspect(br->cat, db, b.raw_bytes);
    if (catalog_backup_finish(br->cat, &b, tables, ntables, info.settings, info.nsettings) != 0) {
        /* the file is whole but uncatalogued: remove it rather than leave an orphan */
        fsutil_unlink(br->set->dir, file);
        goto fail;
    }
    char *detail = xasprintf("%s %" PRId64 " bytes", file, b.size_bytes);
    catalog_event(br->cat, "backup", b.id, "ok", detail);
    free(detail);
    err_clear(); /* an event that could not be written is not a failed backup */
    if (b.suspect)
        log_warn("backup %" PRId64 " of \"%s\" is suspect: %" PRId64
                 " raw bytes, under half the median of the previous backups",
                 b.id, db, b.raw_bytes);
    print_summary(br, &b, res.raw_bytes, secs);
    rc = 0;
    goto out_db;

fail:
    /* 7. on any failure: no partial file survives, the row says why */
    if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    fsutil_unlink(br->set->dir, partial);
    if (b.id > 0) {
        char *msg = xstrdup(err_msg());
        enum err_class cls = err_class();
        now_iso(finished);
        err_clear();
        catalog_backup_fail(br->cat, b.id, finished, msg);
        catalog_event(br->cat, "backup", b.id, "failed", msg);
        err_clear();
        err_set(cls, "%s", msg);
        free(msg);
    }
out_db:
    free(db);
out:
    if (fd >= 0)
        close(fd);
    table_recs_free(tables, ntables);
    dumpscan_free(res.scan);
    pg_dbinfo_free(&info);
    pg_free(pg);
    free(pg_dump);
    free(pg_dump_version);
    free(file);
    free(partial);
    return rc;
}

int cmd_backup(const struct options *opt, const struct settings *set)
{
    struct backup_run br = {.opt = opt, .set = set};
    struct repo_lock *lock = NULL;
    int rc = -1;

    /* 1. the repository: create it, lock it, open its catalog */
    if (fsutil_mkdir_repo(set->dir) != 0)
        goto out;
    if (repo_lock(set->dir, &lock) != 0)
        goto out;
    if (catalog_open(set->catalog, CATALOG_CREATE, &br.cat) != 0)
        goto out;

    /* 2. the password reaches pg_dump through a 0600 passfile, never argv or environment */
    if (pgtools_passfile_create(set->conn.password) != 0)
        goto out;

    /* 3. dump the database */
    if (backup_one(&br, set->conn.dbname) != 0)
        goto out;
    rc = 0;
out:
    pgtools_passfile_remove();
    catalog_close(br.cat);
    repo_unlock(lock);
    return rc;
}
