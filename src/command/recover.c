/*
 * Crash recovery: what a killed pgvault left behind becomes 'failed', and its partial
 * files go, before the command that found them does anything else.
 */
#include "command/recover.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/naming.h"
#include "postgres/pg.h"
#include "storage/repo.h"
#include "common/util.h"

#define PARTIAL_SUFFIX ".partial"

/* The database of a partial file's name ("…_YYYYMMDD_HHMMSS[_N].sql[.gz|.zst].partial"), or
 * NULL when name is not one. */
static char *partial_db(const char *name)
{
    size_t len = strlen(name), slen = strlen(PARTIAL_SUFFIX);
    if (len <= slen || strcmp(name + len - slen, PARTIAL_SUFFIX) != 0 || strchr(name, '/'))
        return NULL;
    char *stem = xstrndup(name, len - slen);
    char *db = NULL;
    time_t when;
    const char *compression;
    if (naming_parse_file(stem, &db, &when, &compression, NULL) != 0) {
        free(db);
        db = NULL;
    }
    free(stem);
    return db;
}

bool recover_is_partial_name(const char *name)
{
    char *db = partial_db(name);
    free(db);
    return db != NULL;
}

/* Removes dir/name if it is a regular file (never through a symlink); true if removed.
 * A failure is a warning: recovery must not block the next backup. */
static bool remove_partial(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    struct stat st;
    bool removed = false;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            log_warn("could not stat partial file \"%s\": %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        log_warn("left \"%s\" alone: not a regular file", path);
    } else if (fsutil_unlink(dir, name) != 0) {
        log_warn("%s", err_msg());
        err_clear();
    } else {
        removed = true;
    }
    free(path);
    return removed;
}

/* Marks the dead 'running' rows 'failed' and removes their partial files. */
static int recover_rows(struct catalog *cat, const char *dir, const char *host)
{
    struct backup_rec *rows = NULL;
    size_t n = 0;
    int rc = -1;
    if (catalog_running_backups(cat, &rows, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct backup_rec *b = &rows[i];
        const char *bhost = b->host && b->host[0] ? b->host : "an unknown host";
        /* our own run is alive by definition; another one is alive while it holds its
         * database's lock (whichever host it runs on: the lock is on the shared
         * directory), and stays locked out while we mark it */
        if (b->pid == (int64_t)getpid() && strcmp(bhost, host) == 0)
            continue;
        struct repo_lock *lock = NULL;
        int held = repo_trylock_db(dir, b->db_name, &lock);
        if (held < 0)
            goto out;
        if (held == 1)
            continue;

        char *partial = xasprintf("%s" PARTIAL_SUFFIX, b->file_name);
        bool removed = remove_partial(dir, partial);
        /* killed between the rename and the catalog update: the file was never catalogued
         * complete, so it is a leftover too (the name was free when the run chose it) */
        if (!removed && remove_partial(dir, b->file_name)) {
            free(partial);
            partial = xstrdup(b->file_name);
            removed = true;
        }
        char *error = xasprintf("interrupted (process %" PRId64 " on %s is gone)", b->pid, bhost);
        char *detail =
            xasprintf("backup %" PRId64 " of \"%s\" marked failed: %s%s%s", b->id, b->db_name,
                      error, removed ? "; removed " : "", removed ? partial : "");
        struct timespec now;
        char at[25];
        clock_gettime(CLOCK_REALTIME, &now);
        time_iso_ms(&now, at);
        int urc = catalog_backup_interrupted(cat, b->id, at, error, detail);
        repo_unlock(lock);
        if (urc == 0)
            log_info("recovered: %s", detail);
        free(partial);
        free(error);
        free(detail);
        if (urc != 0)
            goto out;
    }
    rc = 0;
out:
    backup_recs_free(rows, n);
    return rc;
}

/*
 * Prune marks a row 'pruned' before it deletes the file, so that a crash in between
 * never leaves a 'complete' row without its file; the file such a crash leaves is
 * deleted here.
 */
static void remove_if_pruned(struct catalog *cat, const char *dir, const char *name)
{
    char *db = NULL;
    time_t when;
    const char *compression;
    if (naming_parse_file(name, &db, &when, &compression, NULL) != 0)
        return;
    free(db);
    struct backup_rec b;
    if (catalog_backup_by_file(cat, name, &b) != 0) {
        err_clear();
        return;
    }
    /* under the database's lock: a prune under way deletes the file itself */
    struct repo_lock *lock = NULL;
    if (strcmp(b.status, "pruned") == 0 && repo_trylock_db(dir, b.db_name, &lock) == 0 &&
        fsutil_unlink(dir, name) == 0) {
        char *detail = xasprintf("removed file %s of pruned backup", name);
        log_info("recovered: %s", detail);
        if (catalog_event(cat, "recover", b.id, "ok", detail) != 0)
            log_warn("%s", err_msg());
        free(detail);
    }
    repo_unlock(lock);
    err_clear();
    backup_rec_free(&b);
}

/* Removes partial files that no running row explains. */
static int recover_strays(struct catalog *cat, const char *dir, const char *host)
{
    /* the partial file of our own running row, if any, stays */
    struct backup_rec *rows = NULL;
    size_t n = 0;
    if (catalog_running_backups(cat, &rows, &n) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("could not open directory \"%s\": %s", dir, strerror(errno));
        backup_recs_free(rows, n);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *db = partial_db(e->d_name);
        if (!db) {
            remove_if_pruned(cat, dir, e->d_name);
            continue;
        }
        /* a backup of that database under way (its lock held) owns its partial file */
        struct repo_lock *lock = NULL;
        int held = repo_trylock_db(dir, db, &lock);
        free(db);
        if (held != 0) {
            if (held < 0) {
                log_warn("%s", err_msg());
                err_clear();
            }
            continue;
        }
        bool ours = false;
        for (size_t i = 0; i < n && !ours; i++) {
            size_t flen = strlen(rows[i].file_name);
            ours = rows[i].pid == (int64_t)getpid() && rows[i].host &&
                   strcmp(rows[i].host, host) == 0 &&
                   strncmp(e->d_name, rows[i].file_name, flen) == 0 &&
                   strcmp(e->d_name + flen, PARTIAL_SUFFIX) == 0;
        }
        bool removed = !ours && remove_partial(dir, e->d_name);
        repo_unlock(lock);
        if (!removed)
            continue;
        char *detail = xasprintf("removed stray partial file %s", e->d_name);
        log_info("recovered: %s", detail);
        if (catalog_event(cat, "recover", 0, "ok", detail) != 0) {
            log_warn("%s", err_msg());
            err_clear();
        }
        free(detail);
    }
    closedir(d);
    backup_recs_free(rows, n);
    return 0;
}

/* Marks 'failed' the restores left 'running' by a process that is gone: those of a
 * database whose lock nobody holds. */
static int recover_restores(struct catalog *cat, const char *dir)
{
    char **dbs = NULL;
    size_t n = 0;
    int rc = -1;
    if (catalog_running_restore_dbs(cat, &dbs, &n) != 0)
        return -1;
    struct timespec now;
    char at[25];
    clock_gettime(CLOCK_REALTIME, &now);
    time_iso_ms(&now, at);
    for (size_t i = 0; i < n; i++) {
        struct repo_lock *lock = NULL;
        int held = repo_trylock_db(dir, dbs[i], &lock);
        if (held < 0)
            goto out;
        int urc = held == 0 ? catalog_restores_interrupted(cat, dbs[i], at) : 0;
        repo_unlock(lock);
        if (urc != 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(dbs[i]);
    free(dbs);
    return rc;
}

int recover_repository(struct catalog *cat, const char *dir)
{
    char host[HOST_NAME_MAX + 1] = "";
    gethostname(host, sizeof(host) - 1);

    /* 0. one recovery at a time: one under way in another process does this one's work */
    struct repo_lock *mutex = NULL;
    int busy = repo_trylock_recovery(dir, &mutex);
    if (busy != 0)
        return busy < 0 ? -1 : 0;

    /* 1. rows left 'running' by a process that is gone; 2. restores likewise; 3. partial
     *    files without such a row, and files of pruned rows */
    int rc = -1;
    if (recover_rows(cat, dir, host) == 0 && recover_restores(cat, dir) == 0 &&
        recover_strays(cat, dir, host) == 0)
        rc = 0;
    repo_unlock(mutex);
    return rc;
}

void leftover_dbs_free(struct leftover_db *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].name);
        free(l[i].target);
    }
    free(l);
}

/* The tag in a name PREFIX<16 hex>[_…]; false if name is not of that shape. */
static bool name_tag_of(const char *name, const char *prefix, uint64_t *tag)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0)
        return false;
    const char *h = name + plen;
    for (int i = 0; i < 16; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    if (h[16] != '\0' && h[16] != '_')
        return false;
    *tag = strtoull(h, NULL, 16);
    return true;
}

/* The databases whose leftovers concern this catalog: db, or every database and target. */
static void leftover_scope(struct catalog *cat, const char *db, char ***names, size_t *n)
{
    char **targets = NULL;
    size_t nt = 0;
    *names = NULL;
    *n = 0;
    if (db) {
        *names = xcalloc(1, sizeof(**names));
        (*names)[(*n)++] = xstrdup(db);
        return;
    }
    if (catalog_db_names(cat, names, n) != 0 || catalog_restore_targets(cat, &targets, &nt) != 0)
        err_clear();
    *names = xrealloc(*names, (*n + nt + 1) * sizeof(**names));
    for (size_t i = 0; i < nt; i++)
        (*names)[(*n)++] = targets[i];
    free(targets);
}

void recover_leftover_databases(struct catalog *cat, const struct conn_params *cp, const char *db,
                                struct leftover_db **out, size_t *n)
{
    struct pg *pg = NULL;
    char **found = NULL, **scope = NULL;
    int nfound = 0;
    size_t nscope = 0;
    *out = NULL;
    *n = 0;

    /* 1. the cluster's databases of ours that nobody uses, over the maintenance database */
    setenv("PGCONNECT_TIMEOUT", "10", 0);
    int crc = pg_connect(cp, cp->dbname ? cp->dbname : "postgres", &pg);
    if (crc != 0 && !cp->dbname) {
        err_clear();
        crc = pg_connect(cp, "template1", &pg);
    }
    if (crc != 0 || pg_leftover_databases(pg, &found, &nfound) != 0)
        goto out;

    /* 2. those whose tag is the tag of one of our databases */
    leftover_scope(cat, db, &scope, &nscope);
    *out = xcalloc((size_t)nfound + 1, sizeof(**out));
    for (int i = 0; i < nfound; i++) {
        uint64_t tag;
        bool tmp = name_tag_of(found[i], NAMING_TMP_PREFIX, &tag);
        if (!tmp && !name_tag_of(found[i], NAMING_OLD_PREFIX, &tag))
            continue;
        for (size_t k = 0; k < nscope; k++) {
            if (naming_target_tag(scope[k]) != tag)
                continue;
            (*out)[*n] = (struct leftover_db){
                .name = xstrdup(found[i]), .target = xstrdup(scope[k]), .temporary = tmp};
            (*n)++;
            break;
        }
    }
out:
    err_clear(); /* best effort: an unreachable server has nothing to report */
    pg_free(pg);
    for (int i = 0; i < nfound; i++)
        free(found[i]);
    free(found);
    for (size_t i = 0; i < nscope; i++)
        free(scope[i]);
    free(scope);
}
