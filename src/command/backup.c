/*
 * pgvault backup: pg_dump's output through one chain (size, row counter, raw XXH3-128,
 * compression, size, XXH3-128) into a partial file, made durable and renamed, catalogued
 * from 'running' to 'complete' or 'failed'.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "command/notify.h"
#include "common/err.h"
#include "policy/audit.h"
#include "config/cli.h"
#include "storage/fsutil.h"
#include "command/hooks.h"
#include "common/log.h"
#include "command/metrics.h"
#include "common/naming.h"
#include "common/output.h"
#include "postgres/dumpscan.h"
#include "postgres/pg.h"
#include "postgres/pgtools.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/hash.h"
#include "common/proc.h"
#include "common/progress.h"
#include "command/recover.h"
#include "command/tables.h"
#include "storage/repo.h"
#include "storage/repofile.h"
#include "command/prune.h"
#include "policy/retention.h"
#include "common/util.h"

struct backup_run {
    const struct options *opt;
    const struct settings *set;
    struct catalog *cat;
    const char *encryption; /* "none", "age", "openpgp": what the recipients ask for */
    char *recipients;       /* the recipients one a line, as the catalog keeps them */
    bool globals;           /* backup_one dumps the cluster's globals (pg_dumpall --globals-only) */
    int json_items;         /* objects printed with --json (backup --all prints a list of them) */
    struct progress *progress;     /* the progress line of the dump under way, or NULL */
    volatile sig_atomic_t *cancel; /* non-zero once a signal asks the run to stop */
    /* the backup under way, for the hooks: set once its catalog row exists */
    char *cur_db;
    int64_t cur_id;
    char *cur_file;              /* full path */
    struct metrics_run results;  /* each database's exit code in this run, for the metrics */
    struct copy_outcome *copies; /* the copies of the backup under way, to the remotes */
    size_t ncopies;
    size_t failed_remote; /* backups of backup --all that failed only because a remote did */
};

/* Picks a file name not used on disk (final or partial) nor in the catalog. */
static int choose_file_name(struct backup_run *br, const char *db, time_t when, char **name)
{
    for (int seq = 1; seq < 1000; seq++) {
        char *cand = naming_backup_file(db, when, br->set->compression, br->encryption, seq);
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

static struct pg_table *find_table(struct pg_dbinfo *info, const char *schema, const char *name)
{
    struct pg_table key = {.schema = (char *)schema, .name = (char *)name};
    if (info->ntables == 0) /* bsearch wants a valid base even for no elements */
        return NULL;
    return bsearch(&key, info->tables, (size_t)info->ntables, sizeof(key), cmp_pg_table);
}

/*
 * The per-table row counts to record: every table that had a COPY block (merged if it had
 * several), and every partitioned table with the sum of the rows of its partitions.
 */
static struct table_rec *collect_tables(struct pg_dbinfo *info, const struct dumpscan *scan,
                                        size_t *ntables, int64_t *total_rows)
{
    if (info->ntables > 0) /* the globals have no table list at all */
        qsort(info->tables, (size_t)info->ntables, sizeof(struct pg_table), cmp_pg_table);
    int64_t *psum = xcalloc((size_t)info->ntables + 1, sizeof(int64_t));
    size_t n = 0;
    struct table_rec *t = tables_from_copies(scan, (size_t)info->ntables, &n, total_rows);

    /* add the rows of each COPY block to every partitioned ancestor */
    for (size_t i = 0; i < n; i++) {
        const struct dumpscan_table *c = dumpscan_copy(scan, i);
        struct pg_table *p = find_table(info, c->schema, c->name);
        for (int depth = 0; p && p->parent_name && depth < 100; depth++) {
            p = find_table(info, p->parent_schema, p->parent_name);
            if (p)
                psum[p - info->tables] += (int64_t)c->rows;
        }
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
    *ntables = tables_merge(t, n);
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

/* True if the stream ended with the trailer of the program that wrote it. */
static bool trailer_ok(const struct backup_run *br, const struct dumpscan *scan)
{
    return br->globals ? dumpscan_cluster_trailer_ok(scan) : dumpscan_trailer_ok(scan);
}

/* One database's backup under way: what the steps of backup_dump hand each other. */
struct backup_job {
    char *db;              /* the catalog's name of it ("@globals" for the globals) */
    struct pg_dbinfo info; /* server version, properties, tables */
    struct repo_lock *db_lock;
    char *pg_dump, *pg_dump_version;
    char *file; /* its name in the repository */
    char started[25], finished[25], host[HOST_NAME_MAX + 1];
    struct backup_rec b; /* the catalog row; its strings are borrowed from the above */
    /* what the chain measured on the way */
    uint64_t raw_bytes, out_bytes;
    char checksum[HASH_HEX_LEN], raw_checksum[HASH_HEX_LEN];
    struct dumpscan *scan;
    struct mark_offsets marks; /* the compressed offset of each access point */
    double t0, secs;
};

/*
 * pg_dump's stdout → its size, rows, raw checksum and progress line → compression → the
 * file's size and checksum → the partial file, in one pass.
 */
static int stream_dump(struct backup_run *br, struct backup_job *j, int in_fd,
                       const struct repofile *out)
{
    struct chain *c = chain_new();
    dumpscan_set_interval(j->scan, (uint64_t)br->set->access_point_interval);
    chain_add(c, filter_size_new(&j->raw_bytes));
    chain_add(c, filter_dumpscan_new(j->scan));
    chain_add(c, filter_hash_new(j->raw_checksum));
    chain_add(c, filter_progress_new(br->progress));
    compress_add(c, br->set->compression, (int)br->set->level, (int)br->set->jobs);
    chain_add(c, filter_mark_offsets_new(&j->marks));
    encrypt_add(c, br->encryption, br->set->encrypt_to, (size_t)br->set->n_encrypt_to);
    chain_add(c, filter_size_new(&j->out_bytes));
    chain_add(c, filter_hash_new(j->checksum));
    chain_add(c, filter_fd_new(repofile_fd(out), repofile_path(out)));
    int rc = chain_pump_fd(c, in_fd, "dump stream", br->cancel);
    chain_free(c);
    return rc;
}

/*
 * Runs pg_dump into the partial file through the chain. For the globals, pg_dumpall
 * --globals-only connecting to database db first, with owners and privileges (roles and
 * tablespaces are all they hold).
 */
static int dump_to_file(struct backup_run *br, struct backup_job *j, const char *db,
                        const struct repofile *out)
{
    char *connstr = conn_string(&br->set->conn, db);
    char *dbarg = xasprintf("--dbname=%s", connstr);
    /* pg_dumpall ignores the dbname of --dbname: --database names its first connection */
    char *maintarg = br->globals ? xasprintf("--database=%s", db) : NULL;
    char *what = br->globals ? xstrdup("the cluster's globals") : xasprintf("database \"%s\"", db);
    /* a table another session keeps locked fails the dump instead of stalling it (pg_dump
     * reads a bare number as milliseconds) */
    char *lockarg = xasprintf("--lock-wait-timeout=%ld", br->set->lock_wait_timeout * 1000);
    const char *argv[10];
    int a = 0;
    argv[a++] = j->pg_dump;
    argv[a++] = br->globals ? "--globals-only" : "--format=plain";
    argv[a++] = "--no-password";
    if (!br->globals)
        argv[a++] = lockarg;
    /* owners and privileges are kept (pg_dump's default) unless the origin's flags say */
    if (!br->globals && br->opt->no_owner)
        argv[a++] = "--no-owner";
    if (!br->globals && br->opt->no_privileges)
        argv[a++] = "--no-privileges";
    argv[a++] = dbarg;
    if (br->globals)
        argv[a++] = maintarg;
    argv[a] = NULL;
    const char *env[] = {pgtools_passfile_env(), NULL};

    struct proc p;
    int rc = -1;
    if (proc_spawn(&p, argv, env, PROC_STDOUT_PIPE) != 0)
        goto out;
    int prc = stream_dump(br, j, p.out_fd, out);
    if (prc != 0)
        proc_kill(&p, SIGTERM);
    /* pg_dump's own failure explains more than a short stream does: check it first */
    int wrc = proc_wait(&p);
    if (wrc != 0 && !br->globals) {
        char *tail = proc_stderr(&p);
        if (strstr(tail, "Query was: LOCK TABLE"))
            err_hint("another session held a lock on a table for longer than the lock wait "
                     "timeout (%ld s); run the backup again later or raise --lock-wait-timeout",
                     br->set->lock_wait_timeout);
        free(tail);
    }
    if (*br->cancel) {
        err_clear();
        err_set(ERR_FAILED, "backup of %s interrupted by a signal", what);
    }
    if (wrc != 0 || prc != 0)
        goto out;
    if (dumpscan_finish(j->scan) != 0 || !trailer_ok(br, j->scan)) {
        err_set(ERR_FAILED, "%s output for %s is incomplete: no \"%sdump complete\" trailer",
                br->globals ? "pg_dumpall" : "pg_dump", what, br->globals ? "cluster " : "");
        goto out;
    }
    rc = 0;
out:
    proc_free(&p);
    free(what);
    free(lockarg);
    free(maintarg);
    free(dbarg);
    free(connstr);
    return rc;
}

/* The copies of the backup: a "copies" array (JSON) or a line each. */
static void print_copies(const struct backup_run *br)
{
    char sz[16];
    if (br->opt->json) {
        printf(",\"copies\":[");
        for (size_t i = 0; i < br->ncopies; i++) {
            const struct copy_outcome *o = &br->copies[i];
            printf("%s{\"remote\":", i ? "," : "");
            json_str(stdout, o->remote);
            printf(",\"status\":\"%s\",\"bytes\":%" PRId64 ",\"seconds\":%.3f,\"error\":",
                   o->status, o->bytes, o->seconds);
            json_str_or_null(stdout, o->error);
            putchar('}');
        }
        putchar(']');
        return;
    }
    for (size_t i = 0; i < br->ncopies; i++) {
        const struct copy_outcome *o = &br->copies[i];
        if (o->error)
            printf("  copy to \"%s\" FAILED: %s\n", o->remote, o->error);
        else
            printf("  copy to \"%s\" complete, %s in %.1f s\n", o->remote,
                   fmt_size((uint64_t)o->bytes, sz), o->seconds);
    }
}

static void print_summary(struct backup_run *br, const struct backup_rec *b, uint64_t raw_bytes,
                          double secs)
{
    char sz[16], raw[16], rate[16];
    double ratio = b->size_bytes > 0 ? (double)raw_bytes / (double)b->size_bytes : 0;
    fmt_size(secs > 0 ? (uint64_t)((double)raw_bytes / secs) : raw_bytes, rate);
    if (br->opt->json) {
        if (br->json_items++ > 0)
            putchar(',');
        printf("{\"outcome\":\"complete\",\"id\":%" PRId64 ",\"db_name\":", b->id);
        json_str(stdout, b->db_name);
        printf(",\"file_name\":");
        json_str(stdout, b->file_name);
        printf(",\"size_bytes\":%" PRId64 ",\"raw_bytes\":%" PRIu64
               ",\"checksum\":\"%s\",\"raw_checksum\":\"%s\",\"table_count\":%" PRId64
               ",\"row_count\":%" PRId64 ",\"duration_ms\":%" PRId64
               ",\"suspect\":%s,\"encryption\":\"%s\"",
               b->size_bytes, raw_bytes, b->checksum, b->raw_checksum, b->table_count, b->row_count,
               b->duration_ms, b->suspect ? "true" : "false", b->encryption);
        print_copies(br);
        printf("}\n");
        return;
    }
    if (log_quiet())
        return;
    printf("backup %" PRId64 " complete: %s/%s\n", b->id, br->set->dir, b->file_name);
    printf("  size %s (raw %s, ratio %.1fx), %" PRId64 " tables, %" PRId64 " rows\n",
           fmt_size((uint64_t)b->size_bytes, sz), fmt_size(raw_bytes, raw), ratio, b->table_count,
           b->row_count);
    printf("  duration %.1f s, %s/s\n", secs, rate);
    if (br->set->n_encrypt_to > 0)
        printf("  encrypted with %s to %d recipient%s\n", b->encryption, br->set->n_encrypt_to,
               br->set->n_encrypt_to == 1 ? "" : "s");
    print_copies(br);
}

/* The exit code main will give for a command result rc (its error's class). */
static int exit_code_of(int rc)
{
    return rc == 0 ? 0 : err_is_set() ? (int)err_class() : ERR_FAILED;
}

/* The database libpq connects to when none is named: PGDATABASE, else the user's name. */
static const char *default_dbname(const struct settings *set)
{
    const char *db = getenv("PGDATABASE");
    if (db && *db)
        return db;
    if (set->conn.user)
        return set->conn.user;
    const char *user = getenv("PGUSER");
    return user && *user ? user : os_user();
}

/* The progress line of a dump, with its size and rate estimated from the database's
 * earlier complete backups (the newest one's raw size, the rate of the last five with this
 * run's compression). */
static struct progress *start_progress(struct backup_run *br, const char *db)
{
    if (!cli_progress_wanted(br->opt))
        return NULL;
    struct backup_rec *prev = NULL;
    size_t n = 0;
    uint64_t total = 0;
    double rate = 0;
    if (catalog_backups(br->cat, db, false, &prev, &n) == 0)
        audit_estimate_next(prev, n, br->set->compression, &total, &rate);
    err_clear(); /* without history, the line just has no ETA */
    backup_recs_free(prev, n);
    char *label = xasprintf("backup \"%s\"", db);
    struct progress *p = progress_start(cli_progress_wanted(br->opt), label, total, true, rate);
    free(label);
    return p;
}

/* Runs the pre_backup_hook, if any, for the backup just catalogued; a failure stops the
 * backup before pg_dump starts ("pre_backup_hook failed: …"). */
static int run_pre_hook(struct backup_run *br)
{
    const char *cmd = br->set->pre_backup_hook;
    if (!cmd || !*cmd)
        return 0;
    struct hook_env env = {
        .hook = "pre_backup_hook",
        .outcome = "started",
        .backup_id = br->cur_id,
        .db = br->cur_db,
        .file = br->cur_file,
        .exit_code = -1,
    };
    return hooks_run(cmd, br->set->hook_timeout, &env);
}

/* Connects and records what the catalog keeps of the database: the server version, its
 * size, properties and tables (for the globals, catalogued as "@globals", only the server
 * version); then locks the database against another backup, restore or prune of it. */
static int read_database(struct backup_run *br, const char *want_db, struct backup_job *j)
{
    struct pg *pg = NULL;
    int rc = -1;
    if (pg_connect(&br->set->conn, want_db, &pg) != 0)
        return -1;
    j->db = xstrdup(br->globals ? NAMING_GLOBALS_DB : pg_dbname(pg));
    notify_db(j->db);
    if (br->globals) {
        j->info.server_version_num = pg_server_version_num(pg);
        j->info.server_version = xstrdup(pg_server_version(pg));
    } else if (strcmp(j->db, NAMING_GLOBALS_DB) == 0) {
        err_set(ERR_FAILED,
                "cannot back up database \"%s\": the name is reserved for the cluster's globals",
                j->db);
        err_hint("rename the database (ALTER DATABASE … RENAME TO …)");
        goto out;
    } else if (pg_dbinfo_read(pg, &j->info) != 0) {
        goto out;
    }
    rc = repo_lock_db(br->set->dir, j->db, &j->db_lock);
out:
    pg_free(pg);
    return rc;
}

/* Names the file and catalogues the run as 'running'; the hooks learn of it. */
static int catalog_running(struct backup_run *br, struct backup_job *j)
{
    time_now_iso(j->started);
    if (choose_file_name(br, j->db, time(NULL), &j->file) != 0)
        return -1;
    gethostname(j->host, sizeof(j->host) - 1);
    struct backup_rec *b = &j->b;
    b->db_name = j->db;
    b->file_name = j->file;
    b->format = "plain";
    b->compression = (char *)br->set->compression;
    b->level = (int)br->set->level;
    b->started_at = j->started;
    b->pid = getpid();
    b->host = j->host;
    b->label = (char *)br->opt->label;
    b->with_owners = br->globals || !br->opt->no_owner;
    b->origin = "backup";
    b->encryption = (char *)br->encryption;
    b->recipients = br->recipients;
    if (catalog_backup_begin(br->cat, b) != 0)
        return -1;
    br->cur_db = xstrdup(j->db);
    br->cur_id = b->id;
    br->cur_file = path_join(br->set->dir, j->file);
    return 0;
}

/* Streams pg_dump's output into the partial file with a progress line, then gives it its
 * name durably; on failure nothing of ours is left. The globals' pg_dumpall connects first
 * to want_db, which backup_all names. */
static int write_backup_file(struct backup_run *br, struct backup_job *j, const char *want_db)
{
    struct repofile *out;
    if (repofile_create(br->set->dir, j->file, &out) != 0)
        return -1;
    j->scan = dumpscan_new();
    br->progress = start_progress(br, j->db);
    int rc = dump_to_file(br, j, br->globals ? want_db : j->db, out);
    progress_free(br->progress);
    br->progress = NULL;
    if (rc != 0) {
        repofile_abort(out);
        return -1;
    }
    return repofile_commit(out);
}

/* The access points to record: those whose part holds rows, with the compressed offset
 * the chain measured for each, and their table's end point. */
static struct access_point *collect_points(const struct backup_job *j, struct backup_points *bp)
{
    size_t total = dumpscan_point_count(j->scan), n = 0, first = 0;
    struct access_point *v = xcalloc(total + 1, sizeof(*v));
    size_t *copy_of = xcalloc(total + 1, sizeof(*copy_of));
    for (size_t i = 0; i < total; i++) {
        const struct dumpscan_point *p = dumpscan_point(j->scan, i);
        uint64_t comp = mark_offset(&j->marks, i);
        if (p->end) {
            /* this table's parts: the last ones collected */
            for (size_t k = first; k < n && comp != UINT64_MAX; k++) {
                if (copy_of[k] != p->copy)
                    continue;
                v[k].end_raw_offset = (int64_t)p->raw_offset;
                v[k].end_comp_offset = (int64_t)comp;
                v[k].end_line = (int64_t)p->line;
            }
            first = n;
            continue;
        }
        if (p->rows == 0 || comp == UINT64_MAX)
            continue;
        const struct dumpscan_table *t = dumpscan_copy(j->scan, p->copy);
        copy_of[n] = p->copy;
        v[n++] = (struct access_point){.schema_name = t->schema ? xstrdup(t->schema) : NULL,
                                       .table_name = xstrdup(t->name),
                                       .statement = dumpscan_copy_statement(j->scan, p->copy),
                                       .raw_offset = (int64_t)p->raw_offset,
                                       .raw_bytes = (int64_t)p->raw_bytes,
                                       .comp_offset = (int64_t)comp,
                                       .line = (int64_t)p->line,
                                       .rows_before = (int64_t)p->rows_before,
                                       .rows = (int64_t)p->rows,
                                       .end_raw_offset = -1,
                                       .end_comp_offset = -1,
                                       .end_line = -1};
    }
    free(copy_of);
    *bp = (struct backup_points){.v = v, .n = n};
    return v;
}

/* Catalogues the backup complete, with its per-table row counts; a file the catalog cannot
 * hold is removed rather than left an orphan. */
static int catalog_complete(struct backup_run *br, struct backup_job *j)
{
    size_t ntables = 0;
    int64_t total_rows;
    struct table_rec *tables = collect_tables(&j->info, j->scan, &ntables, &total_rows);
    struct backup_rec *b = &j->b;
    time_now_iso(j->finished);
    j->secs = time_mono() - j->t0;
    b->size_bytes = (int64_t)j->out_bytes;
    b->raw_bytes = (int64_t)j->raw_bytes;
    b->checksum = j->checksum;
    b->raw_checksum = j->raw_checksum;
    b->checksum_algo = "XXH3-128";
    b->table_count = (int64_t)ntables;
    b->row_count = total_rows;
    b->server_version = j->info.server_version;
    b->pg_dump_version = j->pg_dump_version;
    b->db_size_bytes = j->info.size_bytes;
    b->encoding = j->info.encoding;
    b->collate = j->info.collate;
    b->ctype = j->info.ctype;
    b->locale_provider = j->info.locale_provider;
    b->icu_locale = j->info.icu_locale;
    b->finished_at = j->finished;
    b->duration_ms = (int64_t)(j->secs * 1000);
    b->status = "complete";
    b->suspect = is_suspect(br->cat, j->db, b->raw_bytes);
    struct backup_points bp;
    struct access_point *points = collect_points(j, &bp);
    int rc = catalog_backup_finish_points(br->cat, b, tables, ntables, j->info.settings,
                                          j->info.nsettings, &bp);
    access_points_free(points, bp.n);
    table_recs_free(tables, ntables);
    if (rc != 0) {
        fsutil_unlink(br->set->dir, j->file);
        return -1;
    }
    char *detail = xasprintf("%s %" PRId64 " bytes", j->file, b->size_bytes);
    catalog_event(br->cat, "backup", b->id, "ok", detail);
    free(detail);
    err_clear(); /* an event that could not be written is not a failed backup */
    if (b->suspect)
        log_warn("backup %" PRId64 " of \"%s\" is suspect: %" PRId64
                 " raw bytes, under half the median of the previous backups",
                 b->id, j->db, b->raw_bytes);
    return 0;
}

/* Marks the catalogued run failed with the error's message; the error (and its hint)
 * stays the backup's. */
static void catalog_failed(struct backup_run *br, struct backup_job *j)
{
    if (j->b.id <= 0)
        return;
    struct err_saved saved;
    err_save(&saved);
    time_now_iso(j->finished);
    catalog_backup_fail(br->cat, j->b.id, j->finished, saved.msg);
    catalog_event(br->cat, "backup", j->b.id, "failed", saved.msg);
    err_restore(&saved);
}

/* Retention for the database just backed up, unless --no-prune; its failure leaves the
 * backup complete but fails the command. */
static int apply_retention(struct backup_run *br, const struct backup_job *j)
{
    struct retention_result pruned;
    bool report = !br->opt->json && !log_quiet();
    if (br->opt->no_prune || (retention_apply(br->cat, br->set, j->db, "  retention: ", report,
                                              br->cancel, &pruned) == 0 &&
                              copies_retention(br->cat, br->set, j->db, "  retention: ", report,
                                               false, br->cancel) == 0))
        return 0;
    char *why = xstrdup(err_msg());
    err_clear();
    err_set(ERR_FAILED, "backup %" PRId64 " is complete, but retention failed: %s", j->b.id, why);
    free(why);
    return -1;
}

/* The backup to every remote, unless --no-copy. */
static int copy_backup(struct backup_run *br, const struct backup_job *j)
{
    if (br->opt->no_copy || br->set->nremotes == 0)
        return 0;
    return copies_after_backup(br->cat, br->set, &j->b, cli_progress_wanted(br->opt), br->cancel,
                               &br->copies, &br->ncopies);
}

static void backup_job_free(struct backup_job *j)
{
    repo_unlock(j->db_lock);
    dumpscan_free(j->scan);
    mark_offsets_free(&j->marks);
    pg_dbinfo_free(&j->info);
    free(j->pg_dump);
    free(j->pg_dump_version);
    free(j->file);
    free(j->db);
}

/* Backs up one database; returns 0 or -1 with the error set (and the row marked failed). */
static int backup_dump(struct backup_run *br, const char *want_db)
{
    struct backup_job j = {.t0 = time_mono()};
    int rc = -1;

    /* 1. connect: the server, the database's properties and tables; lock the database */
    if (read_database(br, want_db, &j) != 0)
        goto out;

    /* 2. a pg_dump (pg_dumpall) at least as new as the server */
    if (pgtools_find(br->globals ? "pg_dumpall" : "pg_dump", j.info.server_version_num,
                     br->set->pg_bindir, &j.pg_dump, &j.pg_dump_version) != 0)
        goto out;

    /* 3. name the file and catalogue the run as 'running' */
    if (catalog_running(br, &j) != 0)
        goto out;

    /* 4. the pre_backup_hook may stop the backup before pg_dump starts; then pg_dump's
     *    output into the file, and the catalog's row complete (any failure: the row says
     *    why, no partial file survives) */
    if (run_pre_hook(br) != 0 || write_backup_file(br, &j, want_db) != 0 ||
        catalog_complete(br, &j) != 0) {
        catalog_failed(br, &j);
        goto out;
    }

    /* 5. the copies to the remotes (a failed one leaves the backup complete) */
    int copied = copy_backup(br, &j);
    struct err_saved copy_error;
    err_save(&copy_error);
    print_summary(br, &j.b, j.raw_bytes, j.secs);

    /* 6. then retention for this database, here and on the remotes; a failed copy is the
     *    error reported */
    rc = apply_retention(br, &j);
    if (copied != 0) {
        err_clear();
        rc = err_restore(&copy_error);
    }
out:
    copy_outcomes_free(br->copies, br->ncopies);
    br->copies = NULL;
    br->ncopies = 0;
    backup_job_free(&j);
    return rc;
}

/*
 * One database's backup and what surrounds it: backup_dump (which runs the
 * pre_backup_hook just before pg_dump), then the post_backup_hook whatever happened, with
 * the outcome in its environment; the database's exit code is noted for the metrics. A
 * failing post_backup_hook is only a warning: the result and error are the backup's.
 */
static int backup_one(struct backup_run *br, const char *want_db)
{
    int rc = backup_dump(br, want_db);
    int code = exit_code_of(rc);
    const char *db = br->cur_db    ? br->cur_db
                     : br->globals ? NAMING_GLOBALS_DB
                     : want_db     ? want_db
                                   : default_dbname(br->set);
    metrics_run_note(&br->results, db, code);

    const char *post = br->set->post_backup_hook;
    if (post && *post) {
        struct err_saved saved;
        err_save(&saved);
        struct hook_env env = {
            .hook = "post_backup_hook",
            .outcome = rc == 0 ? "success" : "failure",
            .backup_id = br->cur_id,
            .db = db,
            .file = br->cur_file,
            .exit_code = code,
            .error = saved.cls != ERR_NONE ? saved.msg : NULL,
        };
        if (hooks_run(post, br->set->hook_timeout, &env) != 0)
            log_warn("%s", err_msg());
        err_restore(&saved);
    }
    free(br->cur_db);
    free(br->cur_file);
    br->cur_db = br->cur_file = NULL;
    br->cur_id = 0;
    return rc;
}

/* Rewrites the metrics file, when one is configured, from the catalog and this run's
 * exit codes; a file that cannot be written is a warning, not a failed backup. */
static void write_metrics(struct backup_run *br, int rc)
{
    const char *path = br->set->metrics_file;
    if (!path || !*path || !br->cat)
        return;
    int code = exit_code_of(rc);
    struct err_saved saved;
    err_save(&saved);
    if (metrics_write(br->cat, path, &br->results, code) != 0)
        log_warn("%s", err_msg());
    err_restore(&saved);
}

/* Reports one failed backup of backup --all as it happens, and remembers its name. */
static void all_failure(struct backup_run *br, const char *name, struct sbuf *names, int *nfailed)
{
    br->failed_remote += err_class() == ERR_REMOTE;
    if (br->globals)
        log_error("backup of the cluster's globals failed: %s", err_msg());
    else
        log_error("backup of database \"%s\" failed: %s", name, err_msg());
    if (err_hint_msg()[0])
        fprintf(stderr, "HINT: %s\n", err_hint_msg());
    if (br->opt->json) {
        if (br->json_items++ > 0)
            putchar(',');
        printf("{\"outcome\":\"failed\",\"db_name\":");
        json_str(stdout, name);
        printf(",\"error\":");
        json_str(stdout, err_msg());
        printf("}\n");
    }
    err_clear();
    if (++*nfailed <= 5)
        sbuf_printf(names, "%s\"%s\"", *nfailed > 1 ? ", " : "", name);
    else if (*nfailed == 6)
        sbuf_puts(names, ", …");
}

/*
 * backup --all: the cluster's roles and tablespaces as "@globals", then
 * every database that accepts connections, each a backup of its own. A failure is
 * reported and the next one goes on; the end says how many failed (exit code 1).
 */
static int backup_all(struct backup_run *br)
{
    struct pg *pg = NULL;
    char **dbs = NULL, *maint = NULL;
    int ndbs = 0, nfailed = 0, attempted = 0, rc = -1;
    struct sbuf failed = {0};

    /* 1. list the databases over a connection to the maintenance database: the one
     *    configured, else "postgres", else "template1" (as pg_dumpall does) */
    const char *first = br->set->conn.dbname ? br->set->conn.dbname : "postgres";
    if (pg_connect(&br->set->conn, first, &pg) != 0) {
        /* the first error is the one shown if template1 fails too */
        if (br->set->conn.dbname || pg_connect(&br->set->conn, "template1", &pg) != 0)
            goto out;
        err_clear();
    }
    maint = xstrdup(pg_dbname(pg));
    if (pg_list_databases(pg, &dbs, &ndbs) != 0)
        goto out;
    pg_free(pg);
    pg = NULL;
    if (br->opt->json)
        printf("{\"backups\":[");

    /* 2. the globals first: a cluster is rebuilt from its roles and tablespaces up */
    br->globals = true;
    attempted++;
    if (backup_one(br, maint) != 0)
        all_failure(br, NAMING_GLOBALS_DB, &failed, &nfailed);
    br->globals = false;

    /* 3. every database, in name order, until a signal stops the run */
    for (int i = 0; i < ndbs && !*br->cancel; i++) {
        attempted++;
        if (backup_one(br, dbs[i]) != 0)
            all_failure(br, dbs[i], &failed, &nfailed);
    }

    /* 4. the outcome: one line that says how many failed */
    if (br->opt->json)
        printf("],\"outcome\":\"%s\",\"failed\":%d,\"not_attempted\":%d}\n",
               nfailed > 0 || attempted < ndbs + 1 ? "failed" : "complete", nfailed,
               ndbs + 1 - attempted);
    if (attempted < ndbs + 1) {
        err_set(ERR_FAILED,
                "backup --all interrupted: %d of %d backups failed (%s), %d not attempted", nfailed,
                ndbs + 1, nfailed ? failed.data : "none", ndbs + 1 - attempted);
        goto out;
    }
    if (nfailed > 0) {
        /* exit 6 when every failure was an unreachable remote (the backups are complete) */
        err_set((size_t)nfailed == br->failed_remote ? ERR_REMOTE : ERR_FAILED,
                "%d of %d backups failed: %s", nfailed, attempted, failed.data);
        err_hint("the other backups are complete; \"pgvault list --all-status\" shows each "
                 "failure");
        goto out;
    }
    if (!br->opt->json && !log_quiet())
        printf("all %d backups complete: the cluster's globals and %d database%s\n", attempted,
               ndbs, ndbs == 1 ? "" : "s");
    rc = 0;
out:
    pg_free(pg);
    for (int i = 0; i < ndbs; i++)
        free(dbs[i]);
    free(dbs);
    free(maint);
    sbuf_free(&failed);
    return rc;
}

int cmd_backup(const struct options *opt, const struct settings *set)
{
    struct backup_run br = {.opt = opt, .set = set, .cancel = &pgvault_interrupted};
    struct repo_lock *lock = NULL;
    int rc = -1;

    /* 1. the recipients, all of one format, before anything is written */
    if (!(br.encryption = crypt_format_of(set->encrypt_to, (size_t)set->n_encrypt_to)))
        goto out;
    br.recipients =
        crypt_recipients_record(br.encryption, set->encrypt_to, (size_t)set->n_encrypt_to);
    if (set->n_encrypt_to > 0 && !br.recipients)
        goto out;

    /* 2. the repository: create it, lock it, open its catalog */
    if (fsutil_mkdir_repo(set->dir) != 0)
        goto out;
    if (repo_lock(set->dir, &lock) != 0)
        goto out;
    if (catalog_open(set->catalog, CATALOG_CREATE, &br.cat) != 0)
        goto out;
    /* runs a killed pgvault left 'running' become 'failed'; their partial files go */
    if (recover_repository(br.cat, set->dir) != 0)
        goto out;

    /* 3. the password reaches pg_dump through a 0600 passfile, never argv or environment */
    if (pgtools_passfile_create(&set->conn) != 0)
        goto out;

    /* 4. dump the database, or with --all the cluster's globals and every database */
    if ((opt->all ? backup_all(&br) : backup_one(&br, set->conn.dbname)) != 0)
        goto out;
    rc = 0;
out:
    /* 5. the metrics, whatever happened, once there is a catalog to read them from */
    write_metrics(&br, rc);
    free(br.recipients);
    metrics_run_free(&br.results);
    pgtools_passfile_remove();
    catalog_close(br.cat);
    repo_unlock(lock);
    return rc;
}
