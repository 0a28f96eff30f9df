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
#include "common/err.h"
#include "config/cli.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/output.h"
#include "postgres/pg.h"
#include "postgres/pgtools.h"
#include "common/proc.h"
#include "common/progress.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/hash.h"
#include "command/recover.h"
#include "storage/repo.h"
#include "command/resolve.h"
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
    bool globals;     /* b is the @globals backup: replayed into the cluster */
    char *path;       /* the backup file */
    char *target;     /* database to replace or create */
    char *fresh;      /* the temporary database loaded first */
    char *old;        /* the name the replaced database gets during the swap */
    const char *mode; /* "swap", "target", "in-place", "globals" */
    char *psql;
    struct pg *admin; /* connection to a maintenance database */
    bool target_exists;
    struct pg_identity *identity; /* the target's, kept by the restored database */
    int64_t target_size;
    int sessions;
    int64_t restore_id;
    int64_t tables_checked, rows_checked;
    char **replication; /* what dropping the replaced database would destroy or be refused for */
    int nreplication;
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

/* A template (template0, template1, any datistemplate) is never a restore's target. */
/* 2. an encrypted backup: a key that opens it (its header, before the payload is read) */
static int check_key(struct restore_run *rr)
{
    char *what = xasprintf("backup %" PRId64, rr->b.id);
    int rc = crypt_unlock(rr->b.encryption, rr->path, rr->keys, what, rr->b.recipients, NULL);
    free(what);
    return rc;
}

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

/* psql's stdin, and when to stop writing to it. */
struct psql_feed {
    struct proc *p;
    volatile sig_atomic_t *cancel;
};

/* Writes a chunk of the dump to psql's stdin. */
static int feed_psql(void *ctx, const unsigned char *buf, size_t len)
{
    struct psql_feed *f = ctx;
    struct proc *p = f->p;
    while (len > 0) {
        ssize_t n = write(p->in_fd, buf, len);
        if (n < 0) {
            if (errno == EINTR && !*f->cancel)
                continue;
            if (errno == EPIPE)
                return err_set(ERR_FAILED, "psql stopped reading its input");
            return err_sys(errno, "could not write to psql");
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The file → its size and checksum → decompression → the progress line → psql's stdin;
 * the bytes loaded must be the bytes verified (the file may have changed since). */
static int feed_dump(struct restore_run *rr, struct proc *p)
{
    char *label = xasprintf("restore \"%s\" (backup %" PRId64 "): load", rr->target, rr->b.id);
    struct progress *progress =
        progress_start(cli_progress_wanted(rr->opt), label, (uint64_t)rr->b.raw_bytes, false, 0);
    free(label);
    char sum[HASH_HEX_LEN];
    uint64_t size;
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&size));
    chain_add(c, filter_hash_new(sum));
    decrypt_add(c, rr->b.encryption, rr->keys, rr->path);
    decompress_add(c, rr->b.compression, rr->path);
    chain_add(c, filter_progress_new(progress));
    struct psql_feed feed = {p, rr->cancel};
    chain_add(c, filter_callback_new(feed_psql, &feed));
    int rc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    progress_free(progress);
    /* the bytes loaded must be the bytes verified: the file may have changed since */
    if (rc == 0 && (strcmp(sum, rr->b.checksum ? rr->b.checksum : "") != 0 ||
                    (int64_t)size != rr->b.size_bytes))
        rc = err_set(ERR_INTEGRITY,
                     "backup file \"%s\" changed during the restore (checksum %s, the catalog "
                     "says %s); the load was abandoned",
                     rr->b.file_name, sum, rr->b.checksum ? rr->b.checksum : "none");
    return rc;
}

/*
 * 3. load the dump into db: psql -X -q -v ON_ERROR_STOP=1 --single-transaction fed by
 * in-process inflate. If reading fails mid-way, psql is terminated BEFORE its input is
 * closed: psql would commit a COPY that ends early at end of input.
 */
static int load(struct restore_run *rr, const char *db, bool single_transaction)
{
    char *connstr = conn_string(&rr->set->conn, db);
    char *dbarg = xasprintf("--dbname=%s", connstr);
    const char *argv[] = {rr->psql,
                          "-X",
                          "-q",
                          "--no-password",
                          "-v",
                          "ON_ERROR_STOP=1",
                          single_transaction ? "--single-transaction" : "-v",
                          dbarg,
                          NULL};
    if (!single_transaction)
        argv[6] = "ON_ERROR_STOP=1"; /* keep the vector's shape: "-v X -v X" is harmless */
    const char *env[] = {pgtools_passfile_env(), NULL};
    struct proc p;
    int rc = -1;
    if (proc_spawn(&p, argv, env, PROC_STDIN_PIPE | PROC_STDOUT_NULL) != 0)
        goto out;
    int rrc = feed_dump(rr, &p);
    struct err_saved reason;
    err_save(&reason);
    /* stop psql BEFORE its input closes: at end of input it would commit */
    if (rrc != 0 || *rr->cancel)
        proc_kill(&p, SIGTERM);
    int wrc = proc_wait(&p);
    if (*rr->cancel) {
        err_clear();
        err_set(ERR_FAILED, "restore interrupted by a signal");
    } else if (rrc != 0) {
        err_restore(&reason); /* we stopped psql: the reader's reason is the cause */
    } else if (wrc != 0) {
        /* the user's name for it: the temporary database is ours, not theirs */
        err_wrap(ERR_FAILED, "could not load backup %" PRId64 " into database \"%s\"", rr->b.id,
                 rr->target);
        err_hint("nothing was replaced; a missing role needs the @globals backup restored first "
                 "(or a backup taken without --with-owners)");
    }
    if (wrc != 0 || rrc != 0 || *rr->cancel)
        goto out;
    rc = 0;
out:
    proc_free(&p);
    free(dbarg);
    free(connstr);
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
        if (count != t[i].row_count) {
            err_set(ERR_INTEGRITY,
                    "table %s.%s has %" PRId64 " rows after the load, the catalog says %" PRId64,
                    t[i].schema_name, t[i].table_name, count, t[i].row_count);
            goto out;
        }
        rr->tables_checked++;
        /* a partitioned table's rows are its partitions': the total counts them once, as
         * the backup's row_count does */
        if (t[i].relkind != 'p')
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
    if (load(rr, rr->fresh, true) != 0 || check_counts(rr, rr->fresh) != 0 ||
        apply_settings(rr, rr->fresh) != 0)
        goto fail;
    /* the new database is proven: put it in place */
    if (pg_swap_databases(rr->admin, rr->target, rr->fresh, rr->old, rr->identity, &terminated) !=
        0)
        goto fail;
    if (rr->target_exists) {
        if (rr->opt->keep_old)
            log_info("the replaced database was kept as \"%s\"", rr->old);
        else if (pg_drop_database(rr->admin, rr->old) != 0) {
            log_warn("restore complete, but the replaced database \"%s\" could not be dropped: "
                     "%s",
                     rr->old, err_msg());
            err_clear();
        }
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
    if (load(rr, rr->target, true) != 0 || check_counts(rr, rr->target) != 0 ||
        apply_settings(rr, rr->target) != 0 ||
        (rr->identity && pg_identity_apply(rr->admin, rr->target, rr->identity) != 0))
        return in_place_failed(rr, "is incomplete");
    return 0;
}

/*
 * What psql said while replaying a globals backup, statement by statement. With
 * VERBOSITY=verbose and ECHO=errors it writes "psql:<stdin>:LINE: SEVERITY:  SQLSTATE:
 * message" (then DETAIL, LOCATION … lines) and, after an error, "psql:<stdin>:LINE:
 * STATEMENT:  text" with the statement's further lines on lines of their own.
 */
#define REPLAY_PREFIX "psql:<stdin>:"
#define REPLAY_TEXT_MAX 300 /* bytes of a statement quoted in a message */
#define REPLAY_ROLES_MAX 10 /* existing roles named in the warning */

struct replay_report {
    int failed;        /* failed statements, but for CREATE ROLE of a role that exists */
    struct sbuf first; /* the first of them: line, statement, error */
    int existing;      /* CREATE ROLE statements whose role exists */
    struct sbuf roles; /* the first REPLAY_ROLES_MAX of their names */
};

/* One error of the replay while it is being read. */
struct replay_error {
    bool pending;
    bool in_statement; /* the lines without prefix continue the statement */
    long line;
    char sqlstate[6]; /* "" for an error of psql itself */
    struct sbuf msg, statement;
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

/* "ERROR:  42710: role …": the SQLSTATE (5 characters) and where the message starts. */
static const char *replay_sqlstate(const char *rest, char code[6])
{
    const char *sep = strstr(rest, ":  ");
    if (!sep)
        return NULL;
    const char *c = sep + 3;
    for (int i = 0; i < 5; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z')))
            return NULL;
    if (c[5] != ':' || c[6] != ' ')
        return NULL;
    memcpy(code, c, 5);
    code[5] = '\0';
    return c + 7;
}

/* The statement without its leading blanks and trailing ";" and blanks. */
static char *replay_statement(const struct replay_error *e)
{
    const char *s = e->statement.data ? e->statement.data : "";
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ';' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return xstrndup(s, n);
}

/* Files the error just read: an existing role, or a statement that failed. */
static void replay_finish(struct replay_report *rep, struct replay_error *e)
{
    if (!e->pending)
        return;
    char *stmt = replay_statement(e);
    if (strcmp(e->sqlstate, "42710") == 0 && strncasecmp(stmt, "CREATE ROLE ", 12) == 0) {
        /* duplicate_object on CREATE ROLE: the role exists; the ALTER ROLE after it
         * gives it the backup's attributes */
        if (rep->existing++ < REPLAY_ROLES_MAX) {
            if (rep->roles.len)
                sbuf_puts(&rep->roles, ", ");
            add_one_line(&rep->roles, stmt + 12, 64);
        }
    } else if (rep->failed++ == 0) {
        sbuf_printf(&rep->first, "line %ld", e->line);
        if (*stmt) {
            sbuf_puts(&rep->first, ", \"");
            add_one_line(&rep->first, stmt, REPLAY_TEXT_MAX);
            if (strlen(stmt) > REPLAY_TEXT_MAX)
                sbuf_puts(&rep->first, "…");
            sbuf_puts(&rep->first, "\"");
        }
        sbuf_puts(&rep->first, ": ");
        add_one_line(&rep->first, e->msg.data ? e->msg.data : "", REPLAY_TEXT_MAX);
    }
    free(stmt);
    e->pending = e->in_statement = false;
    e->msg.len = e->statement.len = 0;
    if (e->msg.data)
        e->msg.data[0] = '\0';
    if (e->statement.data)
        e->statement.data[0] = '\0';
}

/* Reads psql's stderr of a replay into rep. */
static void replay_scan(FILE *f, struct replay_report *rep)
{
    struct replay_error e = {0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        char *end = NULL;
        long line = -1;
        if (strncmp(buf, REPLAY_PREFIX, strlen(REPLAY_PREFIX)) == 0) {
            line = strtol(buf + strlen(REPLAY_PREFIX), &end, 10);
            if (end == buf + strlen(REPLAY_PREFIX) || strncmp(end, ": ", 2) != 0)
                line = -1;
        }
        if (line < 0) {
            /* DETAIL, LOCATION …, or the next line of the statement */
            if (e.pending && e.in_statement) {
                sbuf_puts(&e.statement, " ");
                sbuf_puts(&e.statement, buf);
            }
            continue;
        }
        const char *rest = end + 2;
        char code[6];
        const char *msg = replay_sqlstate(rest, code);
        if (e.pending && !msg && line == e.line && !e.in_statement) {
            /* "STATEMENT:  text" of the error just read */
            const char *label = strstr(rest, ":  ");
            sbuf_puts(&e.statement, label ? label + 3 : rest);
            e.in_statement = true;
            continue;
        }
        replay_finish(rep, &e);
        /* SQLSTATE classes 00, 01, 02 are success, warning, no data: not errors */
        if (msg && code[0] == '0' && code[1] >= '0' && code[1] <= '2')
            continue;
        e.pending = true;
        e.line = line;
        snprintf(e.sqlstate, sizeof(e.sqlstate), "%s", msg ? code : "");
        sbuf_puts(&e.msg, msg ? msg : rest);
    }
    replay_finish(rep, &e);
    free(buf);
    sbuf_free(&e.msg);
    sbuf_free(&e.statement);
}

/*
 * The @globals backup (roles, tablespaces), replayed with psql statement by statement
 * (CREATE TABLESPACE cannot run in a transaction). A role that exists is a warning;
 * any other failed statement fails the restore, naming the first.
 */
static int restore_globals(struct restore_run *rr)
{
    char *connstr = conn_string(&rr->set->conn, "postgres");
    char *dbarg = xasprintf("--dbname=%s", connstr);
    const char *argv[] = {
        rr->psql,      "-X", "-q", "--no-password", "-v", "VERBOSITY=verbose", "-v",
        "ECHO=errors", "-f", "-",  dbarg,           NULL};
    const char *env[] = {pgtools_passfile_env(), NULL};
    struct proc p;
    struct replay_report rep = {0};
    int rc = -1;
    if (proc_spawn(&p, argv, env, PROC_STDIN_PIPE | PROC_STDOUT_NULL) != 0)
        goto out;
    /* the file → decryption → decompression → psql */
    struct chain *c = chain_new();
    decrypt_add(c, rr->b.encryption, rr->keys, rr->path);
    decompress_add(c, rr->b.compression, rr->path);
    struct psql_feed feed = {&p, rr->cancel};
    chain_add(c, filter_callback_new(feed_psql, &feed));
    int rrc = chain_pump_file(c, rr->path, rr->cancel);
    chain_free(c);
    if (rrc != 0)
        proc_kill(&p, SIGTERM);
    int wrc = proc_wait(&p);
    if (rrc != 0 || wrc != 0)
        goto out;
    FILE *f = proc_stderr_open(&p);
    if (!f)
        goto out;
    replay_scan(f, &rep);
    fclose(f);
    if (rep.failed > 0) {
        if (rep.failed > 1)
            sbuf_printf(&rep.first, " (and %d more failed statement%s)", rep.failed - 1,
                        rep.failed == 2 ? "" : "s");
        err_set(ERR_FAILED, "could not replay the globals backup: %s", rep.first.data);
        err_hint("the statements that did not fail were replayed; fix the cause and restore "
                 "the globals backup again (roles that exist are kept)");
        goto out;
    }
    if (rep.existing > 0)
        log_warn("%d role%s of the globals backup already existed and %s the backup's "
                 "attributes now: %s%s",
                 rep.existing, rep.existing == 1 ? "" : "s", rep.existing == 1 ? "has" : "have",
                 rep.roles.data, rep.existing > REPLAY_ROLES_MAX ? ", …" : "");
    rc = 0;
out:
    sbuf_free(&rep.first);
    sbuf_free(&rep.roles);
    proc_free(&p);
    free(dbarg);
    free(connstr);
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
               ",\"duration_ms\":%.0f,\"kept_old\":",
               rr->mode, rr->tables_checked, rr->rows_checked, secs * 1000);
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

/* Resolves <BACKUP> to a complete backup and locks its database (retention must not
 * remove the file under us). */
static int resolve_backup(struct restore_run *rr)
{
    const struct options *opt = rr->opt;
    const char *db = opt->db ? opt->db : rr->set->conn.dbname;
    if (backup_resolve(rr->cat, rr->set, db, opt->args[0], &rr->b) != 0 ||
        repo_lock_db(rr->set->dir, rr->b.db_name, &rr->db_lock) != 0)
        return -1;
    if (strcmp(rr->b.status, "complete") != 0)
        return err_set(ERR_USAGE, "backup %" PRId64 " is %s, not complete: it cannot be restored",
                       rr->b.id, rr->b.status);
    rr->globals = strcmp(rr->b.db_name, NAMING_GLOBALS_DB) == 0;
    rr->path = path_join(rr->set->dir, rr->b.file_name);
    return 0;
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
    rr->target = xstrdup(opt->target ? opt->target : rr->b.db_name);
    rr->mode = rr->globals     ? "globals"
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
 * what will be replaced (not a template) and finds a psql at least as new as the
 * server. */
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
    if (warn_replication(rr) != 0)
        return -1;
    char *psql_version = NULL;
    int rc = pgtools_find("psql", pg_server_version_num(rr->admin), rr->set->pg_bindir, &rr->psql,
                          &psql_version);
    free(psql_version);
    return rc;
}

/* Loads the backup the way its mode says; the restored database keeps what the target is
 * as an object (owner, ACL, settings …). */
static int restore_by_mode(struct restore_run *rr)
{
    if (rr->target_exists && pg_identity_read(rr->admin, rr->target, &rr->identity) != 0)
        return -1;
    if (rr->globals)
        return restore_globals(rr);
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
    pg_free(rr->admin);
    backup_rec_free(&rr->b);
    catalog_close(rr->cat);
    repo_unlock(rr->db_lock);
    repo_unlock(rr->lock);
    free(rr->path);
    free(rr->target);
    free(rr->fresh);
    free(rr->old);
    free(rr->psql);
    for (int i = 0; i < rr->nreplication; i++)
        free(rr->replication[i]);
    free(rr->replication);
}

int cmd_restore(const struct options *opt, const struct settings *set)
{
    struct restore_run rr = {.opt = opt,
                             .set = set,
                             .cancel = &pgvault_interrupted,
                             .keys = crypt_keys_new(set->identity_file)};
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

    /* 4. what will be replaced, and a psql at least as new as the server */
    if (rc == 0)
        rc = inspect_target(&rr);

    /* 5. confirmation (the globals replace no database) */
    if (rc == 0 && !rr.globals)
        rc = confirm(&rr);

    /* 6. load, check, swap */
    if (rc == 0)
        rc = restore_by_mode(&rr);

    /* 7. the catalog and the audit trail remember every restore, good or bad */
    record_finish(&rr, rc);
    print_result(&rr, rc == 0, time_mono() - t0);
out:
    restore_run_free(&rr);
    return rc;
}
