/*
 * pgvault prune: catalog-driven retention, and the retention that
 * backup applies after a successful run (retention_apply). The decisions come from
 * retention_plan(); this file reads the catalog, prints the plan and carries it out.
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
#include "command/recover.h"
#include "storage/repo.h"
#include "command/prune.h"
#include "policy/retention.h"
#include "common/util.h"

/* What happened to one row when the plan was carried out. */
enum outcome { OUT_NONE = 0, OUT_KEPT, OUT_PRUNED, OUT_MISSING, OUT_LEFTOVER, OUT_ERROR };

static const char *const outcome_names[] = {"", "kept", "pruned", "missing", "removed", "error"};

/* The plan of every database: rows grouped by database, newest first within each. */
struct plan {
    struct retention_row *rows;
    size_t n;
    struct retention_decision *dec; /* per row; failed rows: SKIP */
    bool *leftover;                 /* per row: a failed backup whose file is still there */
    enum outcome *done;             /* per row, after plan_apply */
    bool *refused;                  /* per row: its database's plan was refused */
    size_t nrefused;                /* databases whose plan was refused */
    size_t nplanned;                /* databases planned (refused ones included) */
};

/* The databases whose locks a prune holds: it decides only those. */
struct held {
    char **names;
    struct repo_lock **locks;
    size_t n;
};

static void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->names[i]);
        repo_unlock(h->locks[i]);
    }
    free(h->names);
    free(h->locks);
    memset(h, 0, sizeof(*h));
}

static bool held_has(const struct held *h, const char *db)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->names[i], db) == 0)
            return true;
    return false;
}

static void plan_free(struct plan *pl)
{
    retention_rows_free(pl->rows, pl->n);
    free(pl->dec);
    free(pl->leftover);
    free(pl->done);
    free(pl->refused);
    memset(pl, 0, sizeof(*pl));
}

/* The first error of a run that keeps going is kept in an err_saved (later ones are
 * printed as they happen). */
static void keep_error(struct err_saved *fe)
{
    if (fe->cls == ERR_NONE) {
        err_save(fe);
        return;
    }
    log_error("%s", err_msg());
    err_clear();
}

/* True if dir/name is there to be removed (a symlink counts; a directory does not). */
static bool file_present(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    struct stat st;
    bool present = lstat(path, &st) == 0 && !S_ISDIR(st.st_mode);
    free(path);
    return present;
}

int retention_plan_rows(const struct retention_row *rows, size_t n,
                        const struct retention_policy *pol, time_t now,
                        struct retention_decision *out)
{
    const char *db = n > 0 ? rows[0].db_name : "";
    struct retention_backup *rb = xcalloc(n + 1, sizeof(*rb));
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const struct retention_row *r = &rows[i];
        struct retention_backup *x = &rb[i];
        x->id = r->id;
        x->complete = r->complete;
        x->pinned = r->pinned;
        x->suspect = r->suspect;
        if (time_parse_iso(r->started_at, &x->started) != 0) {
            err_set(ERR_FAILED,
                    "refusing to prune database \"%s\": backup %" PRId64
                    " has an invalid start time \"%s\"",
                    db, r->id, r->started_at);
            goto out;
        }
    }
    rc = retention_plan(db, rb, n, pol, now, out);
out:
    free(rb);
    return rc;
}

/* Decides the rows rows[from..to) of one database. */
static int plan_database(struct plan *pl, const struct retention_policy *pol, size_t from,
                         size_t to, time_t now)
{
    return retention_plan_rows(&pl->rows[from], to - from, pol, now, &pl->dec[from]);
}

/*
 * Reads the rows of db (NULL: all databases) and decides them: only those of the databases
 * in held, unless held is NULL (the caller holds db's lock, or changes nothing). A
 * database whose plan is refused (clock skew) is left undecided and its error kept in fe;
 * other databases go on.
 */
static int plan_build(struct catalog *cat, const struct settings *set, const char *db,
                      const struct held *held, struct plan *pl, struct err_saved *fe)
{
    struct retention_policy pol;
    retention_policy_from(set, &pol);
    memset(pl, 0, sizeof(*pl));
    if (catalog_retention_rows(cat, db, &pl->rows, &pl->n) != 0)
        return -1;
    pl->dec = xcalloc(pl->n + 1, sizeof(*pl->dec));
    pl->leftover = xcalloc(pl->n + 1, sizeof(*pl->leftover));
    pl->done = xcalloc(pl->n + 1, sizeof(*pl->done));
    pl->refused = xcalloc(pl->n + 1, sizeof(*pl->refused));
    time_t now = time(NULL);

    for (size_t from = 0, to; from < pl->n; from = to) {
        for (to = from + 1; to < pl->n && strcmp(pl->rows[to].db_name, pl->rows[from].db_name) == 0;
             to++)
            ;
        if (held && !held_has(held, pl->rows[from].db_name))
            continue; /* busy, or new since the locks were taken: not ours to decide */
        pl->nplanned++;
        if (plan_database(pl, &pol, from, to, now) != 0) {
            keep_error(fe);
            pl->nrefused++;
            for (size_t i = from; i < to; i++) {
                pl->refused[i] = true;
                pl->dec[i].action = RETENTION_SKIP;
            }
            continue;
        }
        /* a failed backup's leftover file goes too */
        for (size_t i = from; i < to; i++)
            pl->leftover[i] =
                !pl->rows[i].complete && file_present(set->dir, pl->rows[i].file_name);
    }
    return 0;
}

/* Deletes one removed backup's file and retires its row. */
static int remove_backup(struct catalog *cat, const struct settings *set, struct plan *pl, size_t i,
                         const char *prefix, bool report, struct retention_result *res)
{
    const struct retention_row *r = &pl->rows[i];
    const char *rule = pl->dec[i].reason;
    char at[25];

    /* 1. the row first, marked with the time and the rule: a crash after this leaves a
     *    file that recovery deletes, never a 'complete' row without its file */
    bool present = file_present(set->dir, r->file_name);
    time_now_iso(at);
    char *detail = present ? xasprintf("%s removed: %s", r->file_name, rule)
                           : xasprintf("%s was already missing: %s", r->file_name, rule);
    int rc = catalog_backup_retire(cat, r->id, present ? "pruned" : "missing", at, rule, detail);
    free(detail);
    if (rc != 0)
        return -1;

    /* 2. then the file: only the plain name the catalog recorded, inside the repository */
    if (present && fsutil_unlink(set->dir, r->file_name) != 0)
        return -1;
    if (present) {
        pl->done[i] = OUT_PRUNED;
        res->removed++;
        res->freed_bytes += r->size_bytes;
        if (report)
            printf("%sremoved backup %" PRId64 " %s (%s)\n", prefix, r->id, r->file_name, rule);
    } else {
        pl->done[i] = OUT_MISSING;
        res->missing++;
        if (report)
            printf("%sbackup %" PRId64 " %s was already missing; marked missing (%s)\n", prefix,
                   r->id, r->file_name, rule);
    }
    return 0;
}

/* Deletes the leftover file of a failed backup. */
static int remove_leftover(struct catalog *cat, const struct settings *set, struct plan *pl,
                           size_t i, const char *prefix, bool report, struct retention_result *res)
{
    const struct retention_row *r = &pl->rows[i];
    if (fsutil_unlink(set->dir, r->file_name) != 0)
        return -1;
    pl->done[i] = OUT_LEFTOVER;
    res->leftovers++;
    char *detail = xasprintf("%s removed: leftover of failed backup", r->file_name);
    int rc = catalog_event(cat, "prune", r->id, "ok", detail);
    free(detail);
    if (report)
        printf("%sremoved leftover file %s of failed backup %" PRId64 "\n", prefix, r->file_name,
               r->id);
    return rc;
}

/* A row of a database whose plan was refused: a complete backup there is kept. */
static void count_refused(const struct plan *pl, size_t i, struct retention_result *res)
{
    res->refused = pl->nrefused;
    if (pl->rows[i].complete) {
        res->kept++;
        res->refused_kept++;
    }
}

/* Carries the plan out, going on after a problem (kept in fe); stops when *cancel becomes
 * non-zero. */
static void plan_apply(struct catalog *cat, const struct settings *set, struct plan *pl,
                       const char *prefix, bool report, struct retention_result *res,
                       struct err_saved *fe, volatile sig_atomic_t *cancel)
{
    bool changed = false;
    for (size_t i = 0; i < pl->n; i++) {
        if (*cancel) {
            err_set(ERR_FAILED, "prune interrupted by a signal");
            keep_error(fe);
            break;
        }
        int rc = 0;
        if (pl->refused[i]) {
            count_refused(pl, i, res);
        } else if (pl->dec[i].action == RETENTION_KEEP) {
            pl->done[i] = OUT_KEPT;
            res->kept++;
        } else if (pl->dec[i].action == RETENTION_REMOVE) {
            rc = remove_backup(cat, set, pl, i, prefix, report, res);
            changed = true;
        } else if (pl->leftover[i]) {
            rc = remove_leftover(cat, set, pl, i, prefix, report, res);
            changed = true;
        }
        if (rc != 0) {
            pl->done[i] = OUT_ERROR;
            keep_error(fe);
        }
    }
    /* the removals are durable once the directory is */
    if (changed && fsutil_fsync_dir(set->dir) != 0)
        keep_error(fe);
}

/* "refused to prune 2 databases (newest backup dated in the future): kept all 5 of
 * their backups" */
static void print_refused(const struct retention_result *res, const char *prefix, bool dry_run)
{
    bool one = res->refused == 1;
    printf("%srefused to prune %zu database%s (newest backup dated in the future): %s all "
           "%zu of %s backup%s\n",
           prefix, res->refused, one ? "" : "s", dry_run ? "keep" : "kept", res->refused_kept,
           one ? "its" : "their", res->refused_kept == 1 ? "" : "s");
}

static void print_summary(const struct retention_result *res, const char *prefix, bool dry_run)
{
    char sz[16];
    const char *remove = dry_run ? "would remove" : "removed";
    const char *keep = dry_run ? "keep" : "kept";
    size_t kept = res->kept - res->refused_kept;
    bool nothing = res->removed + res->missing + res->leftovers == 0;
    /* the future-date guard refused every database there is: say so, and only that */
    if (res->refused > 0 && nothing && kept == 0) {
        print_refused(res, prefix, dry_run);
        return;
    }
    if (nothing) {
        printf("%snothing to remove, %s %zu backup%s\n", prefix, keep, kept, kept == 1 ? "" : "s");
    } else {
        printf("%s%s %zu backup%s (%s)", prefix, remove, res->removed, res->removed == 1 ? "" : "s",
               fmt_size((uint64_t)res->freed_bytes, sz));
        if (res->missing)
            printf(", %zu already missing", res->missing);
        if (res->leftovers)
            printf(", %zu leftover file%s of failed backups", res->leftovers,
                   res->leftovers == 1 ? "" : "s");
        printf(", %s %zu\n", keep, kept);
    }
    if (res->refused > 0)
        print_refused(res, prefix, dry_run);
}

int retention_apply(struct catalog *cat, const struct settings *set, const char *db,
                    const char *prefix, bool report, volatile sig_atomic_t *cancel,
                    struct retention_result *res)
{
    struct plan pl;
    struct err_saved fe = {0};
    memset(res, 0, sizeof(*res));
    if (plan_build(cat, set, db, NULL, &pl, &fe) != 0) {
        if (fe.cls != ERR_NONE)
            err_restore(&fe);
        return -1;
    }
    plan_apply(cat, set, &pl, prefix, report, res, &fe, cancel);
    plan_free(&pl);
    if (report)
        print_summary(res, prefix, false);
    return err_restore(&fe);
}

/* What a plan would do, counted as a result (for --dry-run). */
static void plan_count(const struct plan *pl, struct retention_result *res)
{
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < pl->n; i++) {
        if (pl->refused[i]) {
            count_refused(pl, i, res);
        } else if (pl->dec[i].action == RETENTION_KEEP) {
            res->kept++;
        } else if (pl->dec[i].action == RETENTION_REMOVE) {
            res->removed++;
            res->freed_bytes += pl->rows[i].size_bytes;
        } else if (pl->leftover[i]) {
            res->leftovers++;
        }
    }
}

/* The reason shown for the complete backups of a database whose plan was refused. */
#define REFUSED_REASON "refused: newest backup dated in the future"

/* True if row i appears in the plan's listing. */
static bool listed(const struct plan *pl, size_t i)
{
    return pl->dec[i].action != RETENTION_SKIP || pl->leftover[i] ||
           (pl->refused[i] && pl->rows[i].complete);
}

static bool kept(const struct plan *pl, size_t i)
{
    return pl->dec[i].action == RETENTION_KEEP || pl->refused[i];
}

static const char *action_of(const struct plan *pl, size_t i)
{
    return kept(pl, i) ? "KEEP" : "REMOVE";
}

static const char *reason_of(const struct plan *pl, size_t i)
{
    if (pl->refused[i])
        return REFUSED_REASON;
    return pl->dec[i].action == RETENTION_SKIP ? "leftover of failed backup" : pl->dec[i].reason;
}

/* One line per backup: id, file, date, KEEP or REMOVE, and why. */
static void plan_print_table(const struct plan *pl)
{
    size_t w = strlen("FILE");
    for (size_t i = 0; i < pl->n; i++)
        if (listed(pl, i) && strlen(pl->rows[i].file_name) > w)
            w = strlen(pl->rows[i].file_name);
    printf("%6s  %-*s  %-19s  %-6s  %s\n", "ID", (int)w, "FILE", "DATE (UTC)", "ACTION", "REASON");
    for (size_t i = 0; i < pl->n; i++) {
        if (!listed(pl, i))
            continue;
        const struct retention_row *r = &pl->rows[i];
        char date[20];
        snprintf(date, sizeof(date), "%.19s", r->started_at);
        if (date[10] == 'T')
            date[10] = ' ';
        printf("%6" PRId64 "  %-*s  %-19s  %-6s  %s\n", r->id, (int)w, r->file_name, date,
               action_of(pl, i), reason_of(pl, i));
    }
}

static void plan_print_json(const struct plan *pl, const struct retention_result *res, bool dry_run)
{
    printf("{\"dry_run\":%s,\"kept\":%zu,\"removed\":%zu,\"missing\":%zu,\"leftovers\":%zu,"
           "\"freed_bytes\":%" PRId64 ",\"refused_databases\":%zu,\"backups\":[",
           dry_run ? "true" : "false", res->kept, res->removed, res->missing, res->leftovers,
           res->freed_bytes, res->refused);
    bool first = true;
    for (size_t i = 0; i < pl->n; i++) {
        if (!listed(pl, i))
            continue;
        const struct retention_row *r = &pl->rows[i];
        printf("%s{\"id\":%" PRId64 ",\"db_name\":", first ? "" : ",", r->id);
        json_str(stdout, r->db_name);
        printf(",\"file_name\":");
        json_str(stdout, r->file_name);
        printf(",\"started_at\":");
        json_str_or_null(stdout, r->started_at);
        printf(",\"status\":");
        json_str(stdout, r->complete ? "complete" : "failed");
        printf(",\"pinned\":%s,\"suspect\":%s,\"action\":\"%s\",\"reason\":",
               r->pinned ? "true" : "false", r->suspect ? "true" : "false",
               kept(pl, i) ? "keep" : "remove");
        json_str(stdout, reason_of(pl, i));
        printf(",\"outcome\":");
        json_str_or_null(stdout, dry_run ? NULL : outcome_names[pl->done[i]]);
        putchar('}');
        first = false;
    }
    puts("]}");
}

/* One warning per database that a restore of db (NULL: of any database of the catalog)
 * left in the cluster, with the statement that drops it; nothing when the server cannot
 * be reached. */
static void report_leftovers(struct catalog *cat, const struct settings *set, const char *db)
{
    struct leftover_db *lo = NULL;
    size_t n = 0;
    recover_leftover_databases(cat, &set->conn, db, &lo, &n);
    for (size_t i = 0; i < n; i++)
        log_warn("database \"%s\" was %s \"%s\"; if no restore is running, drop it: DROP "
                 "DATABASE \"%s\"",
                 lo[i].name,
                 lo[i].temporary ? "left by an interrupted restore of"
                                 : "replaced and kept by a restore of",
                 lo[i].target, lo[i].name);
    leftover_dbs_free(lo, n);
}

/*
 * Takes the lock of db, or (db NULL) of every database in the catalog, without waiting. A
 * database whose lock another command holds is left out, its error (ERR_BUSY) kept in fe;
 * the others go on. Returns -1 only when the catalog cannot be read.
 */
static int lock_databases(struct catalog *cat, const struct settings *set, const char *db,
                          struct held *h, struct err_saved *fe)
{
    char **names = NULL;
    size_t n = 0;
    memset(h, 0, sizeof(*h));
    if (db) {
        names = xcalloc(1, sizeof(*names));
        names[n++] = xstrdup(db);
    } else if (catalog_db_names(cat, &names, &n) != 0) {
        return -1;
    }
    h->names = xcalloc(n + 1, sizeof(*h->names));
    h->locks = xcalloc(n + 1, sizeof(*h->locks));
    for (size_t i = 0; i < n; i++) {
        if (repo_lock_db(set->dir, names[i], &h->locks[h->n]) != 0) {
            keep_error(fe);
            free(names[i]);
            continue;
        }
        h->names[h->n++] = names[i];
    }
    free(names);
    return 0;
}

/* True if the repository has no catalog: then there is nothing to prune, and it says so. */
static bool no_catalog(const struct options *opt, const struct settings *set)
{
    struct stat st;
    if (stat(set->catalog, &st) == 0 || errno != ENOENT)
        return false;
    if (opt->json)
        printf("{\"dry_run\":%s,\"kept\":0,\"removed\":0,\"missing\":0,\"leftovers\":0,"
               "\"freed_bytes\":0,\"refused_databases\":0,\"backups\":[]}\n",
               opt->dry_run ? "true" : "false");
    else
        log_info("nothing to prune: catalog \"%s\" does not exist", set->catalog);
    return true;
}

/* A dry run only reads; a real one locks the repository, recovers it, and locks each
 * database it prunes (one that is busy is left for next time, its error kept in fe). */
static int open_catalog(const struct options *opt, const struct settings *set,
                        struct repo_lock **lock, struct catalog **cat, struct held *held,
                        struct err_saved *fe)
{
    if (opt->dry_run)
        return catalog_open(set->catalog, CATALOG_READONLY, cat);
    if (repo_lock(set->dir, lock) != 0 || catalog_open(set->catalog, 0, cat) != 0 ||
        recover_repository(*cat, set->dir) != 0)
        return -1;
    return lock_databases(*cat, set, opt->db, held, fe);
}

/* --dry-run: the plan with its reasons, and what it would do. */
static void print_plan(const struct options *opt, struct plan *pl, struct retention_result *res)
{
    plan_count(pl, res);
    if (opt->json) {
        plan_print_json(pl, res, true);
    } else if (pl->n > 0) {
        plan_print_table(pl);
        print_summary(res, "dry run: ", true);
    }
}

/* Carries the plan out and says what it did. */
static void carry_out(struct catalog *cat, const struct options *opt, const struct settings *set,
                      struct plan *pl, struct retention_result *res, struct err_saved *fe,
                      volatile sig_atomic_t *cancel)
{
    bool report = !opt->json && !log_quiet();
    plan_apply(cat, set, pl, "", report, res, fe, cancel);
    if (opt->json)
        plan_print_json(pl, res, false);
    else if (report && pl->nplanned > 0)
        print_summary(res, "", false);
}

int cmd_prune(const struct options *opt, const struct settings *set)
{
    volatile sig_atomic_t *cancel = &pgvault_interrupted;
    struct repo_lock *lock = NULL;
    struct held held = {0};
    struct catalog *cat = NULL;
    struct plan pl = {0};
    struct err_saved fe = {0};
    struct retention_result res = {0};
    int rc = -1;

    /* 1. the repository must exist; one without a catalog has nothing to prune */
    if (fsutil_require_repo(set->dir) != 0)
        return -1;
    if (no_catalog(opt, set))
        return 0;

    /* 2. open the catalog, with the locks a real run needs */
    if (open_catalog(opt, set, &lock, &cat, &held, &fe) != 0)
        goto out;

    /* 3. decide every backup of the selected database(s) */
    if (plan_build(cat, set, opt->db, opt->dry_run ? NULL : &held, &pl, &fe) != 0)
        goto out;
    if (pl.n == 0 && !opt->json)
        log_info("no backups%s%s%s in the catalog", opt->db ? " of database \"" : "",
                 opt->db ? opt->db : "", opt->db ? "\"" : "");

    /* 4. print the plan, or carry it out */
    if (opt->dry_run)
        print_plan(opt, &pl, &res);
    else
        carry_out(cat, opt, set, &pl, &res, &fe, cancel);

    /* 5. each remote's copies, under its own rules (the local ones where it has none) */
    if (copies_retention(cat, set, opt->db, "remote: ", !opt->json && !log_quiet(), opt->dry_run,
                         cancel) != 0)
        keep_error(&fe);

    /* 6. name the databases that restores left in the cluster; never drop them here */
    report_leftovers(cat, set, opt->db);
    rc = 0;
out:
    if (rc == 0) {
        rc = err_restore(&fe);
    } else if (fe.cls != ERR_NONE) {
        /* a later fatal error is the one main prints; the earlier one still shows */
        log_error("%s", fe.msg);
    }
    plan_free(&pl);
    catalog_close(cat);
    held_free(&held);
    repo_unlock(lock);
    return rc;
}
