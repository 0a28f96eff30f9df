/*
 * pgvault check: one Nagios-style line for monitoring, and the plugin exit codes 0 OK,
 * 1 WARNING, 2 CRITICAL. Per database: CRITICAL when there is no complete backup, the newest
 * complete one is older than --max-age hours (default 26: a daily backup may run late), its
 * file is missing or has the wrong size, or the last run failed; WARNING when the newest
 * backup is suspect. Without --db, every database in the catalog, and the worst state wins.
 * WARNING too when the cluster can be reached and holds databases that restores of these
 * left behind (pgvault_tmp_…, pgvault_old_…), with --max-test-age DAYS when no backup
 * of a database was test-restored (pgvault test-restore) within DAYS days, and when the
 * recipients the configuration encrypts to are not those of the database's newest backup
 * (a key rotation, intended or not).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/audit.h"
#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/err.h"
#include "storage/fsutil.h"
#include "common/output.h"
#include "command/recover.h"
#include "common/util.h"
#include "io/crypt.h"

#define CHECK_DEFAULT_MAX_AGE_HOURS 26

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL"};

/* One database's verdict. */
struct check_result {
    char *db;
    enum check_state state;
    char *message; /* "shop: newest backup 5 is 2.1 h old" */
    bool has_complete;
    int64_t newest_id;
    char *newest_started_at;
    long age_s;
    int64_t size_bytes;
    char *tested_at; /* the newest successful test restore, or NULL */
};

/* The state of the newest complete backup's file. */
static enum check_file file_state(const struct settings *set, const struct backup_rec *b)
{
    struct stat st;
    char *path = path_join(set->dir, b->file_name);
    int rc = lstat(path, &st);
    free(path);
    if (rc != 0)
        return CHECK_FILE_MISSING;
    if (!S_ISREG(st.st_mode))
        return CHECK_FILE_NOT_REGULAR;
    return (int64_t)st.st_size == b->size_bytes ? CHECK_FILE_OK : CHECK_FILE_SIZE;
}

/* True if a 'running' row's process is known to be gone: it ran here and its pid is free. */
static bool run_is_dead(const struct backup_rec *b)
{
    char host[HOST_NAME_MAX + 1] = "";
    gethostname(host, sizeof(host) - 1);
    if (!b->host || strcmp(b->host, host) != 0 || b->pid <= 0 || b->pid > INT_MAX)
        return false;
    return kill((pid_t)b->pid, 0) != 0 && errno == ESRCH;
}

static time_t iso_time(const char *s)
{
    time_t t = 0;
    if (s)
        time_parse_iso(s, &t);
    return t;
}

/* True if some non-empty line of a is not a line of b. */
static bool lines_missing(const char *a, const char *b)
{
    for (const char *s = a ? a : ""; *s;) {
        size_t n = strcspn(s, "\n");
        bool found = n == 0;
        for (const char *t = b ? b : ""; *t && !found;) {
            size_t m = strcspn(t, "\n");
            found = m == n && memcmp(s, t, n) == 0;
            t += m + (t[m] == '\n');
        }
        if (!found)
            return true;
        s += n + (s[n] == '\n');
    }
    return false;
}

/* True if the configured recipients, as a backup would record them (OpenPGP's as their
 * keys' fingerprints), are not, as a set, the lines of recorded. */
static bool recipients_differ(const struct settings *set, const char *recorded)
{
    const char *format = crypt_format_of(set->encrypt_to, (size_t)set->n_encrypt_to);
    char *want =
        format ? crypt_recipients_record(format, set->encrypt_to, (size_t)set->n_encrypt_to) : NULL;
    err_clear(); /* a recipient the keyring lacks differs from any backup's */
    bool differ = lines_missing(want, recorded) || lines_missing(recorded, want);
    free(want);
    return differ;
}

/* Gathers the facts about one database and judges them. */
static int check_db(struct catalog *cat, const struct settings *set, const char *db, long max_age_s,
                    long max_test_age_s, time_t now, struct check_result *r)
{
    struct backup_rec complete = {0}, last = {0}, any = {0};
    bool has_complete, has_last, has_any;
    struct check_facts f = {.db = db, .max_test_age_s = max_test_age_s};
    struct sbuf msg = {0};
    int rc = -1;

    /* 1. the newest complete backup, the last run that ended, and the newest row */
    if (catalog_newest_backup(cat, db, CATALOG_NEWEST_COMPLETE, &complete, &has_complete) != 0 ||
        catalog_newest_backup(cat, db, CATALOG_NEWEST_FINISHED, &last, &has_last) != 0 ||
        catalog_newest_backup(cat, db, CATALOG_NEWEST_ANY, &any, &has_any) != 0 ||
        catalog_db_last_tested(cat, db, &r->tested_at) != 0)
        goto out;
    f.tested_at = iso_time(r->tested_at);
    if (has_complete) {
        f.has_complete = true;
        f.complete_id = complete.id;
        f.complete_at = iso_time(complete.started_at);
        f.complete_size = complete.size_bytes;
        f.complete_suspect = complete.suspect;
        f.complete_file = file_state(set, &complete);
    }
    if (has_last) {
        f.has_last = true;
        f.last_id = last.id;
        f.last_status = last.status;
        f.last_at = iso_time(last.started_at);
        f.last_error = last.error;
    }
    if (has_any && strcmp(any.status, "running") == 0 && run_is_dead(&any))
        f.interrupted_id = any.id;

    /* 2. the verdict */
    r->db = xstrdup(db);
    r->state = audit_check_db(&f, now, max_age_s, &msg);
    if (has_complete && recipients_differ(set, complete.recipients)) {
        sbuf_printf(&msg, "; the configured encryption recipients differ from backup %" PRId64 "'s",
                    complete.id);
        if (r->state < CHECK_WARNING)
            r->state = CHECK_WARNING;
    }
    r->message = msg.data;
    msg.data = NULL;
    r->has_complete = has_complete;
    r->newest_id = complete.id;
    r->newest_started_at = complete.started_at ? xstrdup(complete.started_at) : NULL;
    r->age_s = has_complete ? (long)(now - f.complete_at) : 0;
    r->size_bytes = complete.size_bytes;
    rc = 0;
out:
    if (rc != 0) {
        free(r->tested_at);
        r->tested_at = NULL;
    }
    sbuf_free(&msg);
    backup_rec_free(&complete);
    backup_rec_free(&last);
    backup_rec_free(&any);
    return rc;
}

/* A monitoring line is one line: control characters become '?'. */
static void put_clean(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* A perfdata label: quoted; quotes, '=' and control characters become '_'. */
static void put_label(const char *db, const char *what)
{
    putchar('\'');
    for (const char *s = db; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\'' || *s == '=' ? '_' : *s);
    printf(" %s'", what);
}

/* "PGVAULT STATE - problems first; then the rest | perfdata" */
static void print_line(enum check_state worst, const struct check_result *r, size_t n,
                       long max_age_s, const char *leftovers)
{
    printf("PGVAULT %s - ", state_names[worst]);
    bool first = true;
    for (int s = CHECK_CRITICAL; s >= CHECK_OK; s--) {
        if (s == CHECK_WARNING && leftovers) {
            fputs(first ? "" : "; ", stdout);
            put_clean(leftovers);
            first = false;
        }
        for (size_t i = 0; i < n; i++) {
            if ((int)r[i].state != s)
                continue;
            if (!first)
                fputs("; ", stdout);
            put_clean(r[i].message);
            first = false;
        }
    }
    /* perfdata for the databases that have a complete backup */
    bool perf = false;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].has_complete)
            continue;
        fputs(perf ? " " : " | ", stdout);
        perf = true;
        put_label(r[i].db, "age");
        printf("=%lds;;%ld;0 ", r[i].age_s, max_age_s);
        put_label(r[i].db, "size");
        printf("=%" PRId64 "B;;;0", r[i].size_bytes);
    }
    putchar('\n');
}

static void print_json(enum check_state worst, const struct check_result *r, size_t n,
                       long max_age_h, const char *problem, const struct leftover_db *lo,
                       size_t nlo)
{
    printf("{\"state\":\"%s\",\"code\":%d,\"max_age_hours\":%ld,\"message\":", state_names[worst],
           (int)worst, max_age_h);
    json_str_or_null(stdout, problem);
    printf(",\"leftover_databases\":[");
    for (size_t i = 0; i < nlo; i++) {
        if (i)
            putchar(',');
        json_str(stdout, lo[i].name);
    }
    putchar(']');
    printf(",\"databases\":[");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"db_name\":", i ? "," : "");
        json_str(stdout, r[i].db);
        printf(",\"state\":\"%s\",\"message\":", state_names[r[i].state]);
        json_str(stdout, r[i].message);
        printf(",\"restore_tested_at\":");
        json_str_or_null(stdout, r[i].tested_at);
        if (r[i].has_complete) {
            printf(",\"newest_id\":%" PRId64 ",\"newest_started_at\":", r[i].newest_id);
            json_str_or_null(stdout, r[i].newest_started_at);
            printf(",\"age_seconds\":%ld,\"size_bytes\":%" PRId64 "}", r[i].age_s, r[i].size_bytes);
        } else {
            printf(",\"newest_id\":null,\"newest_started_at\":null,\"age_seconds\":null,"
                   "\"size_bytes\":null}");
        }
    }
    puts("]}");
}

/* Everything one check gathers, from the catalog to the verdict. */
struct check_run {
    long max_age_h, max_age_s;
    long max_test_age_s; /* 0: not asked */
    time_t now;
    struct catalog *cat;
    char **dbs; /* the databases to judge */
    size_t ndbs;
    struct check_result *res; /* res[0..nres): their verdicts */
    size_t nres;
    enum check_state worst;
    char *problem; /* a CRITICAL that concerns the whole repository */
    struct leftover_db *lo;
    size_t nlo;
    char *leftovers; /* the WARNINGs that concern the cluster or the remotes */
};

/* The error just set becomes the repository's problem (and is cleared); returns -1. */
static int problem_from_error(struct check_run *cr)
{
    cr->problem = xstrdup(err_msg());
    err_clear();
    return -1;
}

/* Opens the catalog read-only; a missing or unreadable one is the problem. */
static int open_catalog(struct check_run *cr, const struct settings *set)
{
    struct stat st;
    if (stat(set->catalog, &st) != 0 && errno == ENOENT) {
        cr->problem =
            xasprintf("no catalog at \"%s\": no backup was ever made there", set->catalog);
        return -1;
    }
    if (catalog_open(set->catalog, CATALOG_READONLY, &cr->cat) != 0)
        return problem_from_error(cr);
    return 0;
}

/* The database asked for, else every one in the catalog; none at all is the problem. */
static int select_databases(struct check_run *cr, const struct options *opt,
                            const struct settings *set)
{
    if (opt->db) {
        cr->dbs = xcalloc(1, sizeof(*cr->dbs));
        cr->dbs[0] = xstrdup(opt->db);
        cr->ndbs = 1;
    } else if (catalog_db_names(cr->cat, &cr->dbs, &cr->ndbs) != 0) {
        return problem_from_error(cr);
    }
    if (cr->ndbs == 0) {
        cr->problem = xasprintf("no backups in the catalog \"%s\"", set->catalog);
        return -1;
    }
    return 0;
}

/* Judges each database; the worst state wins. */
static int judge_databases(struct check_run *cr, const struct settings *set)
{
    cr->res = xcalloc(cr->ndbs, sizeof(*cr->res));
    for (size_t i = 0; i < cr->ndbs; i++) {
        struct check_result *r = &cr->res[cr->nres];
        if (check_db(cr->cat, set, cr->dbs[i], cr->max_age_s, cr->max_test_age_s, cr->now, r) != 0)
            return problem_from_error(cr);
        if (r->state > cr->worst)
            cr->worst = r->state;
        cr->nres++;
    }
    return 0;
}

/* Databases that restores of these left in the cluster, when it can be reached: a
 * WARNING. */
static void find_leftovers(struct check_run *cr, const struct options *opt,
                           const struct settings *set)
{
    recover_leftover_databases(cr->cat, &set->conn, opt->db, &cr->lo, &cr->nlo);
    if (cr->nlo == 0)
        return;
    struct sbuf sb = {0};
    sbuf_puts(&sb, "leftover databases of interrupted restores: ");
    for (size_t i = 0; i < cr->nlo; i++)
        sbuf_printf(&sb, "%s%s", i ? ", " : "", cr->lo[i].name);
    sbuf_puts(&sb, " (see \"pgvault prune\" to drop them)");
    cr->leftovers = sb.data;
    if (cr->worst < CHECK_WARNING)
        cr->worst = CHECK_WARNING;
}

/* Adds one WARNING to those that concern more than a database. */
static void add_warning(struct check_run *cr, char *text)
{
    if (cr->leftovers) {
        char *both = xasprintf("%s; %s", cr->leftovers, text);
        free(cr->leftovers);
        free(text);
        text = both;
    }
    cr->leftovers = text;
    if (cr->worst < CHECK_WARNING)
        cr->worst = CHECK_WARNING;
}

/* When remote name last answered, from the catalog; NULL when never. */
static const char *last_ok(const struct remote_rec *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return rows[i].last_ok_at;
    return NULL;
}

/* Each remote: the backups it lacks, and whether it answered within --max-age: WARNINGs. */
static void check_remotes(struct check_run *cr, const struct options *opt,
                          const struct settings *set)
{
    struct remote_rec *rows = NULL;
    size_t nrows = 0;
    if (set->nremotes == 0 || catalog_remotes(cr->cat, &rows, &nrows) != 0) {
        err_clear();
        return;
    }
    for (size_t i = 0; i < set->nremotes; i++) {
        const char *name = set->remotes[i].name, *ok = last_ok(rows, nrows, name);
        struct backup_rec *b = NULL;
        size_t n = 0;
        if (catalog_copies_lacking(cr->cat, name, opt->db, &b, &n) == 0 && n > 0)
            add_warning(cr, xasprintf("remote \"%s\" lacks %zu backup%s (\"pgvault push\" "
                                      "copies them)",
                                      name, n, n == 1 ? "" : "s"));
        err_clear();
        backup_recs_free(b, n);
        if (!ok)
            add_warning(cr, xasprintf("remote \"%s\" was never reached", name));
        else if (cr->now - iso_time(ok) > cr->max_age_s)
            add_warning(cr, xasprintf("remote \"%s\" not reached for %.1f h (since %.19s)", name,
                                      (double)(cr->now - iso_time(ok)) / 3600, ok));
    }
    remote_recs_free(rows, nrows);
}

/* One line (or one JSON object); a problem of the repository is CRITICAL. */
static void print_verdict(struct check_run *cr, const struct options *opt)
{
    if (cr->problem)
        cr->worst = CHECK_CRITICAL;
    if (opt->json) {
        print_json(cr->worst, cr->res, cr->nres, cr->max_age_h, cr->problem, cr->lo, cr->nlo);
    } else if (cr->problem) {
        printf("PGVAULT CRITICAL - ");
        put_clean(cr->problem);
        putchar('\n');
    } else {
        print_line(cr->worst, cr->res, cr->nres, cr->max_age_s, cr->leftovers);
    }
}

static void check_run_free(struct check_run *cr)
{
    for (size_t i = 0; i < cr->nres; i++) {
        free(cr->res[i].db);
        free(cr->res[i].message);
        free(cr->res[i].newest_started_at);
        free(cr->res[i].tested_at);
    }
    free(cr->res);
    for (size_t i = 0; i < cr->ndbs; i++)
        free(cr->dbs[i]);
    free(cr->dbs);
    free(cr->problem);
    free(cr->leftovers);
    leftover_dbs_free(cr->lo, cr->nlo);
    catalog_close(cr->cat);
}

int cmd_check(const struct options *opt, const struct settings *set)
{
    struct check_run cr = {
        .max_age_h = opt->max_age_hours > 0 ? opt->max_age_hours : CHECK_DEFAULT_MAX_AGE_HOURS,
        .max_test_age_s = opt->max_test_age_days > 0 ? opt->max_test_age_days * 86400 : 0,
        .now = time(NULL),
        .worst = CHECK_OK,
    };
    cr.max_age_s = cr.max_age_h * 3600;

    /* 1. the catalog; one that cannot be read is itself CRITICAL */
    if (open_catalog(&cr, set) != 0)
        goto done;

    /* 2. the databases: the one asked for, else every one in the catalog */
    if (select_databases(&cr, opt, set) != 0)
        goto done;

    /* 3. judge each; the worst state wins */
    if (judge_databases(&cr, set) != 0)
        goto done;

    /* 4. databases that restores of these left in the cluster, when it can be reached */
    find_leftovers(&cr, opt, set);

    /* 5. the remotes: backups they lack, and whether they answered within --max-age */
    check_remotes(&cr, opt, set);

done:
    /* 6. one line (or one JSON object), and the state as the exit code */
    print_verdict(&cr, opt);
    enum check_state worst = cr.worst;
    check_run_free(&cr);
    return (int)worst;
}
