/*
 * pgvault restore: the checksum is verified before any database is
 * touched; the dump is loaded into a fresh database, whose tables and row counts are
 * checked against the catalog; only then are the names swapped in one transaction. The
 * original is never touched before the new database is proven.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "common/err.h"
#include "config/cli.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/output.h"
#include "postgres/pg.h"
#include "postgres/pgtools.h"
#include "common/progress.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/hash.h"
#include "io/loadsink.h"
#include "io/pload.h"
#include "command/recover.h"
#include "storage/repo.h"
#include "command/resolve.h"
#include "command/selection.h"
#include "postgres/loader.h"
#include "command/restore.h"
#include "common/util.h"

/* pgvault's restores in the server's advisory lock space ("pgvr"); the key is the
 * target's name tag */
#define TARGET_LOCK_NS 0x70677672
#define TEMP_COMMENT_PREFIX "pgvault: temporary restore; target="

struct restore_run {
    const struct options *opt;
    const struct settings *set;
    volatile sig_atomic_t *cancel; /* the restore stops when it becomes non-zero */
    struct repo_lock *lock;        /* the repository's */
    struct repo_lock *db_lock;     /* the backup's database's */
    struct catalog *cat;
    struct crypt_keys *keys; /* --identity, for an encrypted backup */
    struct backup_rec b;
    bool globals;         /* b is the @globals backup: replayed into the cluster */
    char *path;           /* the backup file */
    char *target;         /* database to replace or create */
    char *fresh;          /* the temporary database loaded first */
    char *old;            /* the name the replaced database gets during the swap */
    const char *mode;     /* "swap", "target", "in-place", "globals", "test" */
    struct selection sel; /* --table, --schema: the tables whose rows are loaded */
    struct pg *admin;     /* connection to a maintenance database */
    bool target_exists;
    struct pg_identity *identity; /* the target's, kept by the restored database */
    int64_t target_size;
    int sessions;
    int64_t restore_id;
    int64_t tables_checked, rows_checked;
    struct pload_times times; /* of the load; the checks, the swap and the drop after it */
    double check_secs, swap_secs, drop_secs;
    int jobs;           /* loading sessions */
    char **replication; /* what dropping the replaced database would destroy or be refused for */
    int nreplication;
    /* a test restore: into a scratch database (target), checked, then dropped */
    struct restore_test *test;
};

/* The comment that marks a temporary database of ours for target (hex: unambiguous). */
static char *temp_comment(const char *target)
{
    size_t n = strlen(target);
    char *hex = xmalloc(2 * n + 1);
    hex_encode((const unsigned char *)target, n, hex);
    char *c = xasprintf(TEMP_COMMENT_PREFIX "%s;", hex);
    free(hex);
    return c;
}

/*
 * No other restore of the target runs at once, from this repository or any other: a
 * server-side lock, held by the maintenance session (always the same database for a
 * given target) until the restore ends. The temporary database's name is fixed per
 * target, so a second restore would otherwise drop the first one's load.
 */
static int lock_target(struct restore_run *rr)
{
    bool got = false;
    int holder = 0;
    int32_t key = (int32_t)(naming_target_tag(rr->target) & 0x7fffffff);
    if (pg_try_advisory_lock(rr->admin, TARGET_LOCK_NS, key, &got, &holder) != 0)
        return -1;
    if (got)
        return 0;
    if (holder > 0)
        err_set(ERR_BUSY,
                "database \"%s\" is busy: another restore of it is running (server process %d "
                "holds its lock)",
                rr->target, holder);
    else
        err_set(ERR_BUSY, "database \"%s\" is busy: another restore of it is running", rr->target);
    err_hint("two restores of one database never run at once, even from two repositories; "
             "try again when the other one has finished");
    return -1;
}

/* 1. the checksum and size of the file equal the catalog's, before anything else */
static int check_file(struct restore_run *rr)
{
    struct stat st;
    if (lstat(rr->path, &st) != 0 && errno == ENOENT)
        return err_set(ERR_INTEGRITY, "backup file \"%s\" is missing; no database was touched",
                       rr->b.file_name);
    if (lstat(rr->path, &st) == 0 && !S_ISREG(st.st_mode))
        return err_set(ERR_INTEGRITY,
                       "backup file \"%s\" is not a regular file (a symbolic link?); no database "
                       "was touched",
                       rr->b.file_name);
    char sum[HASH_HEX_LEN];
    uint64_t size;
    char *label = xasprintf("restore \"%s\" (backup %" PRId64 "): checksum", rr->target, rr->b.id);
    struct progress *progress =
        progress_start(cli_progress_wanted(rr->opt), label, (uint64_t)rr->b.size_bytes, false, 0);
    free(label);
    /* the file → its size, checksum and progress line */
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&size));
    chain_add(c, filter_hash_new(sum));
    chain_add(c, filter_progress_new(progress));
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    progress_free(progress);
    if (rc != 0)
        return -1;
    if ((int64_t)size != rr->b.size_bytes)
        return err_set(ERR_INTEGRITY,
                       "backup file \"%s\" is %" PRIu64 " bytes, the catalog says %" PRId64
                       "; no database was touched",
                       rr->b.file_name, size, rr->b.size_bytes);
    if (strcmp(sum, rr->b.checksum ? rr->b.checksum : "") != 0)
        return err_set(ERR_INTEGRITY,
                       "checksum mismatch for \"%s\": file has %s, the catalog says %s; no "
                       "database was touched",
                       rr->b.file_name, sum, rr->b.checksum ? rr->b.checksum : "none");
    return 0;
}

/* 2. an encrypted backup: a key that opens it (its header, before the payload is read) */
static int check_key(struct restore_run *rr)
{
    char *what = xasprintf("backup %" PRId64, rr->b.id);
    int rc = crypt_unlock(rr->b.encryption, rr->path, rr->keys, what, rr->b.recipients, NULL);
    free(what);
    return rc;
}

/* A template (template0, template1, any datistemplate) is never a restore's target. */
static int refuse_template(const struct restore_run *rr, bool is_template)
{
    if (!is_template && strcmp(rr->target, "template0") != 0 &&
        strcmp(rr->target, "template1") != 0)
        return 0;
    err_set(ERR_USAGE, "refusing to restore into database \"%s\": it is a template database",
            rr->target);
    err_hint("restore into another database with --target NAME");
    return -1;
}

/* 2. ask for "yes" on a terminal unless -f */
static int confirm(struct restore_run *rr)
{
    if (rr->opt->force)
        return 0;
    if (!isatty(STDIN_FILENO)) {
        err_set(ERR_USAGE, "refusing to restore without confirmation: stdin is not a terminal");
        err_hint("run it on a terminal, or add -f to restore without asking");
        return -1;
    }
    char size[16], bsize[16];
    fmt_size((uint64_t)rr->target_size, size);
    fmt_size((uint64_t)rr->b.size_bytes, bsize);
    if (rr->target_exists)
        fprintf(stderr,
                "This replaces database \"%s\" (%s, %d session%s will be terminated)\n"
                "with backup %" PRId64 " of \"%s\" taken %s (%s).\n",
                rr->target, size, rr->sessions, rr->sessions == 1 ? "" : "s", rr->b.id,
                rr->b.db_name, rr->b.started_at, bsize);
    else
        fprintf(stderr, "This creates database \"%s\" from backup %" PRId64 " taken %s (%s).\n",
                rr->target, rr->b.id, rr->b.started_at, bsize);
    fprintf(stderr, "Type \"yes\" to continue: ");
    fflush(stderr);
    char line[64] = "";
    if (!fgets(line, sizeof(line), stdin))
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "yes") != 0)
        return err_set(ERR_FAILED, "restore cancelled: the answer was not \"yes\"");
    return 0;
}

/* The bytes loaded must be the bytes verified: the file may have changed since. */
static int loaded_as_verified(const struct restore_run *rr, const char *sum, uint64_t size)
{
    if (strcmp(sum, rr->b.checksum ? rr->b.checksum : "") == 0 && (int64_t)size == rr->b.size_bytes)
        return 0;
    return err_set(ERR_INTEGRITY,
                   "backup file \"%s\" changed during the restore (checksum %s, the catalog "
                   "says %s); the load was abandoned",
                   rr->b.file_name, sum, rr->b.checksum ? rr->b.checksum : "none");
}

static struct progress *load_progress(const struct restore_run *rr)
{
    char *label = xasprintf("restore \"%s\" (backup %" PRId64 "): load", rr->target, rr->b.id);
    struct progress *progress =
        progress_start(cli_progress_wanted(rr->opt), label, (uint64_t)rr->b.raw_bytes, false, 0);
    free(label);
    return progress;
}

/* The file → its size and checksum → decompression → the progress line → the loader. */
static int feed_dump(struct restore_run *rr, struct loader *l)
{
    struct progress *progress = load_progress(rr);
    char sum[HASH_HEX_LEN];
    uint64_t size;
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&size));
    chain_add(c, filter_hash_new(sum));
    decrypt_add(c, rr->b.encryption, rr->keys, rr->path);
    decompress_add(c, rr->b.compression, rr->path);
    chain_add(c, filter_progress_new(progress));
    chain_add(c, filter_loader_new(l));
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    progress_free(progress);
    return rc == 0 ? loaded_as_verified(rr, sum, size) : -1;
}

/* The file still has the checksum the catalog has (the load read it in parts). */
static int file_unchanged(struct restore_run *rr)
{
    char sum[HASH_HEX_LEN];
    uint64_t size;
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&size));
    chain_add(c, filter_hash_new(sum));
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    return rc == 0 ? loaded_as_verified(rr, sum, size) : -1;
}

static void raw_progress(void *ctx, uint64_t at)
{
    progress_update(ctx, at);
}

/* The main session's read with the parallel load: all but the data of the tables with
 * access points, which the other sessions read from their points; then the file's
 * checksum again, for the bytes loaded must be the bytes verified. */
static int feed_around_data(struct restore_run *rr, struct loader *l, struct pload *pl)
{
    struct progress *progress = load_progress(rr);
    int rc = pload_feed_main(pl, l, raw_progress, progress);
    progress_free(progress);
    return rc == 0 ? file_unchanged(rr) : -1;
}

/* The role a "role \"x\" does not exist" error names, or NULL. */
static char *missing_role(const struct loader_error *e)
{
    const char *q = strstr(e->message, "role \"");
    if (strcmp(e->sqlstate, "42704") != 0 || !q || !strstr(e->message, "\" does not exist"))
        return NULL;
    q += 6;
    const char *end = strstr(q, "\" does not exist");
    return xstrndup(q, (size_t)(end - q));
}

/* A statement of the dump failed: the load stops, saying which and why. */
static int load_failed(void *ctx, const struct loader_error *e)
{
    (void)ctx;
    char text[900];
    char *role = missing_role(e);
    if (role) {
        struct loader_error named = *e;
        char *msg = xasprintf("role \"%s\" does not exist on this server", role);
        named.message = msg;
        loader_error_text(&named, text, sizeof(text));
        free(msg);
        err_set(ERR_FAILED, "restore failed: %s", text);
        err_hint("nothing was replaced; restore @globals first, or use --no-owner");
        free(role);
        return -1;
    }
    loader_error_text(e, text, sizeof(text));
    err_set(ERR_FAILED, "restore failed: %s", text);
    err_hint("nothing was replaced");
    return -1;
}

static bool load_wants(void *ctx, const char *schema, const char *name)
{
    return selection_wants(ctx, schema, name);
}

/*
 * After a failed load: when the file is damaged (its stream does not decompress, or a
 * CRC-32 or zstd checksum does not match), that is the cause to report (exit 3), not
 * what the damaged bytes made the server say first, which depends on where the damage
 * fell and on which session met it. The whole stream is decompressed once more to know.
 */
static void blame_damage(struct restore_run *rr)
{
    struct err_saved load_error;
    err_save(&load_error);
    struct chain *c = chain_new();
    decrypt_add(c, rr->b.encryption, rr->keys, rr->path);
    decompress_add(c, rr->b.compression, rr->path);
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    if (rc != 0 && err_class() == ERR_INTEGRITY) {
        err_hint("nothing was replaced; the load stopped at: %s", load_error.msg);
        return;
    }
    err_clear();
    err_restore(&load_error);
}

/* The loader of the main session; with more than one session, out of a transaction. */
static struct loader *main_loader(struct restore_run *rr, struct pg *pg, struct pload *pl)
{
    struct loader_options o = {
        .single_transaction = rr->jobs <= 1,
        .no_owner = rr->opt->no_owner,
        .no_privileges = rr->opt->no_privileges,
        .want_table = selection_empty(&rr->sel) ? NULL : load_wants,
        .on_error = load_failed,
        .ctx = &rr->sel,
        .route = pload_route,
        .route_ctx = pl,
        .cancel = rr->cancel,
    };
    return loader_new(pg, &o);
}

/*
 * 3. load the dump into db over libpq. With one session, in one transaction: if reading
 * or inflating fails mid-way, or on a signal, it is never committed. With several (the
 * parallel load of io/pload.h), out of a transaction, synchronous_commit off: the
 * database is new and dropped on any failure, and the swap's commit makes it durable.
 */
static int load(struct restore_run *rr, const char *db)
{
    struct access_point *pts = NULL;
    size_t npts = 0;
    struct pg *pg = NULL;
    if ((rr->jobs > 1 && catalog_access_points(rr->cat, rr->b.id, &pts, &npts) != 0) ||
        pg_connect(&rr->set->conn, db, &pg) != 0) {
        access_points_free(pts, npts);
        return -1;
    }
    struct pload_config pc = {
        .conn = &rr->set->conn,
        .db = db,
        .jobs = rr->jobs,
        .path = rr->path,
        .compression = rr->b.compression,
        .encryption = rr->b.encryption,
        .keys = rr->keys,
        .points = pts,
        .npoints = npts,
        .want_table = selection_empty(&rr->sel) ? NULL : load_wants,
        .want_ctx = &rr->sel,
        .cancel = rr->cancel,
        .on_error = load_failed,
    };
    struct pload *pl = pload_new(&pc);
    struct loader *l = main_loader(rr, pg, pl);
    static const char async[] = "SET synchronous_commit = off;\n";
    int rc = rr->jobs > 1 ? loader_feed(l, async, sizeof(async) - 1) : 0;
    loader_set_line(l, 1); /* the dump's lines, for the messages */
    if (rc == 0)
        rc = pload_segmented(pl) ? feed_around_data(rr, l, pl) : feed_dump(rr, l);
    if (rc == 0)
        rc = loader_finish(l);
    if (rc == 0)
        rc = pload_finish(pl);
    pload_times(pl, &rr->times);
    loader_free(l);
    pload_free(pl);
    access_points_free(pts, npts);
    if (*rr->cancel) {
        err_clear();
        return err_set(ERR_FAILED, "restore interrupted by a signal");
    }
    if (rc != 0 && err_class() != ERR_INTEGRITY && err_class() != ERR_CONNECT)
        blame_damage(rr);
    return rc;
}

/* 4. every table of the catalog is there with its row count, and no table is missing */
static int check_counts(struct restore_run *rr, const char *db)
{
    struct pg *pg = NULL;
    struct table_rec *t = NULL;
    struct pg_dbinfo info = {0};
    size_t n = 0;
    int rc = -1;
    double t0 = time_mono();
    if (pg_connect(&rr->set->conn, db, &pg) != 0 || pg_dbinfo_read(pg, &info) != 0)
        goto out;
    if (catalog_backup_tables(rr->cat, rr->b.id, &t, &n) != 0)
        goto out;
    rr->tables_checked = rr->rows_checked = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t count;
        if (*rr->cancel) {
            err_set(ERR_FAILED, "restore interrupted by a signal");
            goto out;
        }
        int crc = pg_count_rows(pg, t[i].schema_name, t[i].table_name, t[i].relkind, &count);
        if (crc < 0) {
            /* the table is there but could not be counted: that cause, not "missing" */
            err_wrap(ERR_NONE, "could not check the restored database \"%s\"", rr->target);
            goto out;
        }
        if (crc > 0) {
            err_set(ERR_INTEGRITY, "table %s.%s of the backup is missing after the load",
                    t[i].schema_name, t[i].table_name);
            goto out;
        }
        bool wanted = selection_wants(&rr->sel, t[i].schema_name, t[i].table_name);
        if (!wanted && t[i].relkind == 'p')
            continue; /* its rows are its partitions', selected or not */
        if (!wanted && count != 0) {
            err_set(ERR_INTEGRITY, "table %s.%s has %" PRId64 " rows after the load, none expected",
                    t[i].schema_name, t[i].table_name, count);
            goto out;
        }
        if (wanted && count != t[i].row_count) {
            err_set(ERR_INTEGRITY,
                    "table %s.%s has %" PRId64 " rows after the load, the catalog says %" PRId64,
                    t[i].schema_name, t[i].table_name, count, t[i].row_count);
            goto out;
        }
        rr->tables_checked++;
        /* a partitioned table's rows are its partitions': the total counts them once, as
         * the backup's row_count does */
        if (t[i].relkind != 'p' && wanted)
            rr->rows_checked += count;
    }
    /* tables of the database, not counting those an extension created but did not dump */
    int64_t tables = 0;
    for (int i = 0; i < info.ntables; i++) {
        bool listed = false;
        for (size_t k = 0; info.tables[i].extension_member && k < n && !listed; k++)
            listed = strcmp(t[k].schema_name, info.tables[i].schema) == 0 &&
                     strcmp(t[k].table_name, info.tables[i].name) == 0;
        if (!info.tables[i].extension_member || listed)
            tables++;
    }
    if (tables != rr->b.table_count) {
        err_set(ERR_INTEGRITY, "%" PRId64 " tables after the load, the catalog says %" PRId64,
                tables, rr->b.table_count);
        goto out;
    }
    rc = 0;
out:
    table_recs_free(t, n);
    pg_dbinfo_free(&info);
    pg_free(pg);
    rr->check_secs = time_mono() - t0;
    return rc;
}

/* Creates db with the properties recorded at backup time, in the default tablespace of
 * the database it replaces (settings come after the load). */
static int create_db(struct restore_run *rr, const char *db, const char *comment)
{
    return pg_create_database(rr->admin, db, rr->b.encoding, rr->b.collate, rr->b.ctype,
                              rr->b.locale_provider, rr->b.icu_locale,
                              pg_identity_tablespace(rr->identity), comment);
}

static int apply_settings(struct restore_run *rr, const char *db)
{
    char **settings = NULL;
    int n = 0;
    if (catalog_backup_settings(rr->cat, rr->b.id, &settings, &n) != 0)
        return -1;
    int rc = pg_apply_db_settings(rr->admin, db, settings, n);
    for (int i = 0; i < n; i++)
        free(settings[i]);
    free(settings);
    return rc;
}

/* Drops temporary databases that an earlier, killed restore of this target left. */
static int drop_leftovers(struct restore_run *rr)
{
    char *comment = temp_comment(rr->target);
    char **names = NULL;
    int n = 0;
    int rc = pg_databases_with_comment(rr->admin, comment, &names, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        /* the comment and the name together: never a database that merely carries it */
        if (strncmp(names[i], "pgvault_tmp_", 12) != 0)
            continue;
        log_info("dropping database \"%s\" left by an interrupted restore", names[i]);
        rc = pg_drop_database(rr->admin, names[i]);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(comment);
    return rc;
}

/* The safe swap: load beside, check, then swap names in one transaction. */
static int restore_swap(struct restore_run *rr)
{
    char *comment = temp_comment(rr->target);
    int rc = -1, terminated = 0;

    if (drop_leftovers(rr) != 0 || create_db(rr, rr->fresh, comment) != 0)
        goto out;
    if (load(rr, rr->fresh) != 0 || check_counts(rr, rr->fresh) != 0 ||
        apply_settings(rr, rr->fresh) != 0)
        goto fail;
    /* the new database is proven: put it in place */
    double t0 = time_mono();
    if (pg_swap_databases(rr->admin, rr->target, rr->fresh, rr->old, rr->identity, &terminated) !=
        0)
        goto fail;
    rr->swap_secs = time_mono() - t0;
    t0 = time_mono();
    if (rr->target_exists) {
        if (rr->opt->keep_old)
            log_info("the replaced database was kept as \"%s\"", rr->old);
        else if (pg_drop_database(rr->admin, rr->old) != 0) {
            log_warn("restore complete, but the replaced database \"%s\" could not be dropped: "
                     "%s",
                     rr->old, err_msg());
            err_clear();
        }
        rr->drop_secs = time_mono() - t0;
    }
    if (terminated)
        log_info("terminated %d session%s connected to \"%s\"", terminated,
                 terminated == 1 ? "" : "s", rr->target);
    rc = 0;
    goto out;
fail:
    /* before the swap, the original was never touched: only the new database goes */
    {
        struct err_saved cause;
        err_save(&cause);
        pg_drop_database(rr->admin, rr->fresh);
        err_restore(&cause);
    }
out:
    free(comment);
    return rc;
}

/* A test restore: load into the scratch database, check it, drop it whatever happened. */
static int restore_scratch(struct restore_run *rr)
{
    if (rr->target_exists)
        return err_set(ERR_FAILED,
                       "database \"%s\" exists: a test restore never uses an existing "
                       "database",
                       rr->target);
    char *comment = xasprintf("pgvault: test restore of backup %" PRId64, rr->b.id);
    int rc = create_db(rr, rr->target, comment);
    free(comment);
    if (rc != 0)
        return -1;
    if (load(rr, rr->target) != 0 || check_counts(rr, rr->target) != 0 ||
        apply_settings(rr, rr->target) != 0)
        rc = -1;
    else if (*rr->cancel)
        rc = err_set(ERR_FAILED, "test restore interrupted by a signal");
    else
        rc = rr->test->check(rr->test->ctx, rr->target);
    /* the scratch database goes, whatever happened; the first error stays the cause */
    struct err_saved cause;
    err_save(&cause);
    if (pg_drop_database(rr->admin, rr->target) != 0) {
        if (rc == 0)
            return err_wrap(ERR_FAILED,
                            "the test restore passed, but its scratch database "
                            "\"%s\" could not be dropped",
                            rr->target);
        log_warn("could not drop the scratch database \"%s\": %s", rr->target, err_msg());
        err_clear();
    }
    err_restore(&cause);
    return rc;
}

/*
 * A failure of --in-place after the target was dropped: the message says that the
 * database is gone (or what is left of it), and the hint, which replaces any other (a
 * load's "nothing was replaced" would be wrong here), says how to get it back.
 */
static int in_place_failed(const struct restore_run *rr, const char *state)
{
    if (rr->target_exists)
        err_wrap(ERR_NONE, "database \"%s\" was dropped by --in-place and %s", rr->target, state);
    else
        err_wrap(ERR_NONE, "database \"%s\" %s", rr->target, state);
    struct err_saved saved;
    err_save(&saved);
    saved.hint[0] = '\0';
    err_restore(&saved);
    err_hint("the backup is intact: remove the cause, then restore backup %" PRId64
             " again (with --target NAME to load it under another name)",
             rr->b.id);
    return -1;
}

/* --in-place: the origin's drop, create, load, for hosts without room for two copies. */
static int restore_in_place(struct restore_run *rr)
{
    int terminated = 0;
    if (rr->target_exists) {
        /* before the drop, prove that this server can create the database at all (a
         * locale it lacks, a tablespace gone): an empty one, under the temporary name */
        char *comment = temp_comment(rr->target);
        int probe = drop_leftovers(rr) != 0 ? -1 : create_db(rr, rr->fresh, comment);
        free(comment);
        if (probe != 0)
            return err_wrap(ERR_NONE,
                            "database \"%s\" was not dropped: --in-place could not "
                            "create it again on this server",
                            rr->target);
        if (pg_drop_database(rr->admin, rr->fresh) != 0)
            return -1;
        if (pg_terminate_sessions(rr->admin, rr->target, &terminated) != 0 ||
            pg_drop_database(rr->admin, rr->target) != 0)
            return -1;
    }
    if (create_db(rr, rr->target, NULL) != 0)
        return rr->target_exists ? in_place_failed(rr, "could not be created again: it is gone")
                                 : -1;
    if (load(rr, rr->target) != 0 || check_counts(rr, rr->target) != 0 ||
        apply_settings(rr, rr->target) != 0 ||
        (rr->identity && pg_identity_apply(rr->admin, rr->target, rr->identity) != 0))
        return in_place_failed(rr, "is incomplete");
    return 0;
}

/* What the replay of a globals backup met, statement by statement. */
#define REPLAY_TEXT_MAX 300 /* bytes of a statement quoted in a message */
#define REPLAY_ROLES_MAX 10 /* existing roles named in the warning */

struct replay_report {
    const struct settings *set;
    int failed;        /* failed statements, but for CREATE ROLE of a role that exists */
    struct sbuf first; /* the first of them: line, statement, error */
    int existing;      /* CREATE ROLE statements whose role exists */
    struct sbuf roles; /* the first REPLAY_ROLES_MAX of their names */
};

/* Appends at most max bytes of s to b, on one line: control characters become spaces. */
static void add_one_line(struct sbuf *b, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    for (size_t i = 0; i < n; i++) {
        char c = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? ' ' : s[i];
        sbuf_add(b, &c, 1);
    }
}

/* A failed statement of the replay: an existing role is noted, any other failure is
 * counted (the first one kept); the replay goes on either way. */
static int replay_error(void *ctx, const struct loader_error *e)
{
    struct replay_report *rep = ctx;
    size_t n = strlen(e->statement);
    while (n > 0 && (e->statement[n - 1] == ';' || e->statement[n - 1] == ' ' ||
                     e->statement[n - 1] == '\n'))
        n--;
    if (strcmp(e->sqlstate, "42710") == 0 && strncasecmp(e->statement, "CREATE ROLE ", 12) == 0) {
        /* duplicate_object on CREATE ROLE: the role exists; the ALTER ROLE after it gives
         * it the backup's attributes */
        if (rep->existing++ < REPLAY_ROLES_MAX) {
            if (rep->roles.len)
                sbuf_puts(&rep->roles, ", ");
            add_one_line(&rep->roles, e->statement + 12, n > 12 ? n - 12 < 64 ? n - 12 : 64 : 0);
        }
        return 0;
    }
    if (rep->failed++ > 0)
        return 0;
    sbuf_printf(&rep->first, "line %ld", e->line);
    if (n) {
        sbuf_puts(&rep->first, ", \"");
        add_one_line(&rep->first, e->statement, n < REPLAY_TEXT_MAX ? n : REPLAY_TEXT_MAX);
        sbuf_puts(&rep->first, n > REPLAY_TEXT_MAX ? "…\"" : "\"");
    }
    sbuf_puts(&rep->first, ": ");
    add_one_line(&rep->first, e->message, REPLAY_TEXT_MAX);
    return 0;
}

/* \connect in a globals dump: the replay goes on in that database. */
static int replay_connect(void *ctx, const char *db, struct pg **pg)
{
    struct replay_report *rep = ctx;
    return pg_connect(&rep->set->conn, db, pg);
}

/* After the replay: any failed statement fails the restore, roles that existed are a
 * warning. */
static int replay_verdict(struct replay_report *rep)
{
    if (rep->failed > 0) {
        if (rep->failed > 1)
            sbuf_printf(&rep->first, " (and %d more failed statement%s)", rep->failed - 1,
                        rep->failed == 2 ? "" : "s");
        err_set(ERR_FAILED, "could not replay the globals backup: %s", rep->first.data);
        err_hint("the statements that did not fail were replayed; fix the cause and restore "
                 "the globals backup again (roles that exist are kept)");
        return -1;
    }
    if (rep->existing > 0)
        log_warn("%d role%s of the globals backup already existed and %s the backup's "
                 "attributes now: %s%s",
                 rep->existing, rep->existing == 1 ? "" : "s", rep->existing == 1 ? "has" : "have",
                 rep->roles.data, rep->existing > REPLAY_ROLES_MAX ? ", …" : "");
    return 0;
}

/*
 * The @globals backup (roles, tablespaces), replayed statement by statement outside a
 * transaction (CREATE TABLESPACE cannot run in one). A role that exists is a warning;
 * any other failed statement fails the restore, naming the first.
 */
static int restore_globals(struct restore_run *rr)
{
    struct replay_report rep = {.set = rr->set};
    struct pg *pg = NULL;
    if (pg_connect(&rr->set->conn, "postgres", &pg) != 0)
        return -1;
    struct loader_options o = {
        .on_error = replay_error, .on_connect = replay_connect, .ctx = &rep, .cancel = rr->cancel};
    struct loader *l = loader_new(pg, &o);
    /* the file → decryption → decompression → the loader */
    struct chain *c = chain_new();
    decrypt_add(c, rr->b.encryption, rr->keys, rr->path);
    decompress_add(c, rr->b.compression, rr->path);
    chain_add(c, filter_loader_new(l));
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    if (rc == 0)
        rc = loader_finish(l);
    loader_free(l);
    if (rc == 0)
        rc = replay_verdict(&rep);
    sbuf_free(&rep.first);
    sbuf_free(&rep.roles);
    return rc;
}

static void print_result(const struct restore_run *rr, bool ok, double secs)
{
    if (rr->opt->json) {
        printf("{\"outcome\":\"%s\",\"restore_id\":%" PRId64 ",\"backup_id\":%" PRId64
               ",\"file_name\":",
               ok ? "complete" : "failed", rr->restore_id, rr->b.id);
        json_str(stdout, rr->b.file_name);
        printf(",\"target_db\":");
        json_str(stdout, rr->target);
        printf(",\"mode\":\"%s\",\"tables_checked\":%" PRId64 ",\"rows_checked\":%" PRId64
               ",\"duration_ms\":%.0f,\"jobs\":%d,\"timings\":{\"pre_data_s\":%.3f,"
               "\"data_s\":%.3f,\"post_data_s\":%.3f,\"check_s\":%.3f,\"swap_s\":%.3f,"
               "\"drop_s\":%.3f},\"kept_old\":",
               rr->mode, rr->tables_checked, rr->rows_checked, secs * 1000, rr->jobs,
               rr->times.pre_data, rr->times.data, rr->times.post_data, rr->check_secs,
               rr->swap_secs, rr->drop_secs);
        json_str_or_null(stdout, rr->target_exists && rr->opt->keep_old ? rr->old : NULL);
        printf(",\"replication\":[");
        for (int i = 0; i < rr->nreplication; i++) {
            if (i)
                putchar(',');
            json_str(stdout, rr->replication[i]);
        }
        printf("],\"error\":");
        json_str_or_null(stdout, ok ? NULL : err_msg());
        puts("}");
        return;
    }
    if (ok && !log_quiet() && strcmp(rr->mode, "globals") == 0)
        printf("restore %" PRId64 " complete: backup %" PRId64
               " (%s) replayed into the cluster (roles and tablespaces), %.1f s\n",
               rr->restore_id, rr->b.id, rr->b.file_name, secs);
    else if (ok && !log_quiet())
        printf("restore %" PRId64 " complete: backup %" PRId64 " (%s) into \"%s\"\n"
               "  %" PRId64 " tables and %" PRId64 " rows checked against the catalog, %.1f s\n",
               rr->restore_id, rr->b.id, rr->b.file_name, rr->target, rr->tables_checked,
               rr->rows_checked, secs);
}

/* Takes the repository lock, recovers what a killed run left, writes the passfile. */
static int open_repository(struct restore_run *rr)
{
    const struct settings *set = rr->set;
    if (repo_lock(set->dir, &rr->lock) != 0 || catalog_open(set->catalog, 0, &rr->cat) != 0 ||
        recover_repository(rr->cat, set->dir) != 0)
        return -1;
    return pgtools_passfile_create(&set->conn);
}

/* --table and --schema name tables of the backup, before anything is touched. */
static int check_selection(struct restore_run *rr)
{
    if (selection_parse(&rr->opt->tables, &rr->opt->schemas, &rr->sel) != 0)
        return -1;
    if (selection_empty(&rr->sel))
        return 0;
    if (rr->globals)
        return err_set(ERR_USAGE, "--table and --schema cannot be used with the @globals backup");
    struct table_rec *t = NULL;
    size_t n = 0;
    int rc = catalog_backup_tables(rr->cat, rr->b.id, &t, &n);
    if (rc == 0)
        rc = selection_check(&rr->sel, t, n, rr->b.id);
    table_recs_free(t, n);
    return rc;
}

/* With --from, or when the file is not here (or the backup is recorded missing, or pruned
 * here but kept on a remote) and remotes are configured: the file is downloaded from a
 * complete copy first, and the backup is complete again. */
static int fetch_from_remote(struct restore_run *rr)
{
    const char *st = rr->b.status;
    bool fetchable =
        strcmp(st, "complete") == 0 || strcmp(st, "missing") == 0 || strcmp(st, "pruned") == 0;
    if (!fetchable ||
        (!rr->opt->from && (rr->set->nremotes == 0 || !copies_needs_fetch(rr->set, &rr->b))))
        return 0;
    return copies_fetch(rr->cat, rr->set, rr->opt->from, &rr->b, cli_progress_wanted(rr->opt),
                        rr->cancel);
}

/* Resolves <BACKUP> to a complete backup and locks its database (retention must not
 * remove the file under us). */
static int resolve_backup(struct restore_run *rr)
{
    const struct options *opt = rr->opt;
    const char *db = opt->db ? opt->db : rr->set->conn.dbname;
    const char *spec = opt->nargs > 0 ? opt->args[0] : "latest";
    if (backup_resolve(rr->cat, rr->set, db, spec, &rr->b) != 0 ||
        repo_lock_db(rr->set->dir, rr->b.db_name, &rr->db_lock) != 0)
        return -1;
    if (fetch_from_remote(rr) != 0)
        return -1;
    if (strcmp(rr->b.status, "complete") != 0)
        return err_set(ERR_USAGE, "backup %" PRId64 " is %s, not complete: it cannot be restored",
                       rr->b.id, rr->b.status);
    rr->globals = strcmp(rr->b.db_name, NAMING_GLOBALS_DB) == 0;
    rr->path = path_join(rr->set->dir, rr->b.file_name);
    return check_selection(rr);
}

/* The target and the mode; the names the temporary and the replaced database get. */
static int name_databases(struct restore_run *rr)
{
    const struct options *opt = rr->opt;
    if (rr->globals && opt->target)
        /* roles and tablespaces belong to the cluster: there is no database to name */
        return err_set(ERR_USAGE,
                       "--target cannot be used with the @globals backup %" PRId64
                       ": its roles and tablespaces belong to the whole cluster",
                       rr->b.id);
    if (opt->target && !naming_db_ok(opt->target)) {
        err_set(ERR_USAGE, "database name \"%.63s…\" is longer than 63 bytes", opt->target);
        err_hint("PostgreSQL would truncate it to another name");
        return -1;
    }
    if (rr->test && rr->globals)
        return err_set(ERR_USAGE,
                       "backup %" PRId64 " is the @globals backup: roles and tablespaces "
                       "belong to the whole cluster and cannot be test-restored",
                       rr->b.id);
    rr->target = rr->test ? naming_test_db(rr->b.db_name)
                          : xstrdup(opt->target ? opt->target : rr->b.db_name);
    rr->mode = rr->test        ? "test"
               : rr->globals   ? "globals"
               : opt->in_place ? "in-place"
               : opt->target   ? "target"
                               : "swap";
    uint64_t tag = naming_target_tag(rr->target);
    char stamp[16];
    time_t now = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", gmtime(&now));
    rr->fresh = xasprintf("pgvault_tmp_%016" PRIx64, tag);
    rr->old = xasprintf("pgvault_old_%016" PRIx64 "_%s", tag, stamp);
    return 0;
}

/* The restore's catalog row, 'running' until record_finish. */
static int record_start(struct restore_run *rr)
{
    char started[25];
    time_now_iso(started);
    return catalog_restore_begin(rr->cat, rr->b.id, rr->target, rr->mode, started, &rr->restore_id);
}

/* Connects to a maintenance database and takes the target's server-side lock; reads
 * what will be replaced (not a template). */
/*
 * Names, before the confirmation, what the drop of the replaced database would take with
 * it: DROP DATABASE drops its logical replication slots (a subscriber elsewhere then loses
 * its place in the stream), and its subscriptions make the drop fail (the replaced database
 * is then kept, and said so).
 */
static int warn_replication(struct restore_run *rr)
{
    bool drops = rr->target_exists && !rr->globals && (rr->opt->in_place || !rr->opt->keep_old);
    if (!drops)
        return 0;
    if (pg_replication_dependents(rr->admin, rr->target, &rr->replication, &rr->nreplication) != 0)
        return -1;
    if (rr->nreplication == 0)
        return 0;
    struct sbuf list = {0};
    for (int i = 0; i < rr->nreplication; i++)
        sbuf_printf(&list, "%s%s", i ? ", " : "", rr->replication[i]);
    log_warn("database \"%s\" has %s: dropping the replaced database destroys its logical "
             "replication slots, and its subscriptions make that drop fail (the replaced "
             "database is then kept)",
             rr->target, list.data);
    sbuf_free(&list);
    return 0;
}

static int inspect_target(struct restore_run *rr)
{
    const char *maint = strcmp(rr->target, "postgres") == 0 ? "template1" : "postgres";
    if (pg_connect(&rr->set->conn, maint, &rr->admin) != 0 || lock_target(rr) != 0)
        return -1;
    bool is_template = false;
    if (!rr->globals && (pg_database_state(rr->admin, rr->target, &rr->target_exists,
                                           &rr->target_size, &rr->sessions, &is_template) != 0 ||
                         refuse_template(rr, is_template) != 0))
        return -1;
    return warn_replication(rr);
}

/* Loads the backup the way its mode says; the restored database keeps what the target is
 * as an object (owner, ACL, settings …). */
static int restore_by_mode(struct restore_run *rr)
{
    if (rr->target_exists && pg_identity_read(rr->admin, rr->target, &rr->identity) != 0)
        return -1;
    if (rr->globals)
        return restore_globals(rr);
    if (rr->test)
        return restore_scratch(rr);
    if (rr->opt->in_place)
        return restore_in_place(rr);
    return restore_swap(rr);
}

/* Ends the catalog row and writes the audit event; the restore's error (hint included)
 * stays the one main prints. */
static void record_finish(struct restore_run *rr, int rc)
{
    char finished[25];
    time_now_iso(finished);
    struct err_saved saved;
    err_save(&saved);
    const char *msg = rc == 0 ? NULL : saved.msg;
    catalog_restore_finish(rr->cat, rr->restore_id, rc == 0 ? "complete" : "failed", finished,
                           rr->tables_checked, rr->rows_checked, msg);
    if (rc == 0 && rr->test)
        catalog_backup_restore_tested(rr->cat, rr->b.id, finished);
    char *detail =
        xasprintf("into \"%s\" (%s)%s%s", rr->target, rr->mode, msg ? ": " : "", msg ? msg : "");
    catalog_event(rr->cat, "restore", rr->b.id, rc == 0 ? "ok" : "failed", detail);
    free(detail);
    err_clear();
    if (rc != 0)
        err_restore(&saved);
}

static void restore_run_free(struct restore_run *rr)
{
    crypt_keys_free(rr->keys);
    pgtools_passfile_remove();
    pg_identity_free(rr->identity);
    selection_free(&rr->sel);
    pg_free(rr->admin);
    backup_rec_free(&rr->b);
    catalog_close(rr->cat);
    repo_unlock(rr->db_lock);
    repo_unlock(rr->lock);
    free(rr->path);
    free(rr->target);
    free(rr->fresh);
    free(rr->old);
    for (int i = 0; i < rr->nreplication; i++)
        free(rr->replication[i]);
    free(rr->replication);
}

/* The outcome of a test restore, for its command to print. */
static void test_outcome(const struct restore_run *rr, struct restore_test *t)
{
    t->restore_id = rr->restore_id;
    t->backup_id = rr->b.id;
    t->db_name = rr->b.db_name ? xstrdup(rr->b.db_name) : NULL;
    t->file_name = rr->b.file_name ? xstrdup(rr->b.file_name) : NULL;
    t->scratch = rr->target ? xstrdup(rr->target) : NULL;
    t->tables_checked = rr->tables_checked;
    t->rows_checked = rr->rows_checked;
}

static int restore_main(const struct options *opt, const struct settings *set,
                        struct restore_test *test)
{
    struct restore_run rr = {.opt = opt,
                             .set = set,
                             .cancel = &pgvault_interrupted,
                             .test = test,
                             .keys = crypt_keys_new(set->identity_file),
                             /* --in-place loads in one transaction: a failure leaves no
                              * half-loaded database under the real name */
                             .jobs = opt->in_place ? 1 : (int)set->restore_jobs};
    double t0 = time_mono();
    int rc = -1;

    /* 1. lock and recover the repository; resolve the backup and lock its database */
    if (open_repository(&rr) != 0 || resolve_backup(&rr) != 0)
        goto out;

    /* 2. name the databases; from here on the catalog records the restore */
    if (name_databases(&rr) != 0 || record_start(&rr) != 0)
        goto out;

    /* 3. the file's checksum, then a key that opens it, before any database is touched */
    rc = check_file(&rr);
    if (rc == 0)
        rc = check_key(&rr);

    /* 4. what will be replaced */
    if (rc == 0)
        rc = inspect_target(&rr);

    /* 5. confirmation (the globals and a test restore replace no database) */
    if (rc == 0 && !rr.globals && !rr.test)
        rc = confirm(&rr);

    /* 6. load, check, swap */
    if (rc == 0)
        rc = restore_by_mode(&rr);

    /* 7. the catalog and the audit trail remember every restore, good or bad */
    record_finish(&rr, rc);
    if (!test)
        print_result(&rr, rc == 0, time_mono() - t0);
out:
    if (test)
        test_outcome(&rr, test);
    restore_run_free(&rr);
    return rc;
}

int cmd_restore(const struct options *opt, const struct settings *set)
{
    return restore_main(opt, set, NULL);
}

int restore_test_run(const struct options *opt, const struct settings *set, struct restore_test *t)
{
    return restore_main(opt, set, t);
}

void restore_test_free(struct restore_test *t)
{
    free(t->db_name);
    free(t->file_name);
    free(t->scratch);
}
