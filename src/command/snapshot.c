/*
 * The catalog survives the host (command/copies.h): after every command that changed it,
 * a consistent snapshot (VACUUM INTO) goes to every remote as "catalog/catalog.db" and
 * "catalog/catalog-STAMP.db" (the two newest stamped ones are kept: this one and the
 * previous); import --from rebuilds an empty repository from it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command/copies.h"
#include "common/err.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/hash.h"
#include "storage/fsutil.h"
#include "storage/repofile.h"

#define SNAPSHOT_KEY "catalog/catalog.db"
#define STAMPED_PREFIX "catalog/catalog-"
#define STAMPED_KEEP 2

/* The snapshot taken once for every remote that needs it. */
struct snapshot {
    char *path; /* the temporary file beside the catalog */
    struct remote_meta meta;
    char stamp[32]; /* YYYYMMDDTHHMMSSmmmZ */
    char at[25];
};

static int take_snapshot(struct catalog *cat, const struct settings *set, struct snapshot *s,
                         volatile sig_atomic_t *cancel)
{
    s->path = xasprintf("%s.snapshot-%ld", set->catalog, (long)getpid());
    unlink(s->path);
    time_now_iso(s->at);
    /* 2026-12-01T02:00:00.123Z → 20261201T020000123Z */
    size_t k = 0;
    for (const char *p = s->at; *p && k + 1 < sizeof(s->stamp); p++)
        if (*p != '-' && *p != ':' && *p != '.')
            s->stamp[k++] = *p;
    s->stamp[k] = '\0';
    uint64_t size;
    if (catalog_snapshot(cat, s->path) != 0 ||
        hash_file(s->path, s->meta.checksum, &size, cancel) != 0)
        return -1;
    s->meta.size = (int64_t)size;
    return 0;
}

/* Collects the stamped snapshot keys of a remote. */
struct stamped {
    char **keys;
    size_t n;
};

static int collect_stamped(void *arg, const char *key, const struct remote_meta *meta)
{
    struct stamped *st = arg;
    (void)meta;
    st->keys = xrealloc(st->keys, (st->n + 1) * sizeof(*st->keys));
    st->keys[st->n++] = xstrdup(key);
    return 0;
}

static int cmp_key_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* The stamped snapshots of the remote, newest first. */
static int list_stamped(struct remote_handle *h, struct stamped *st)
{
    if (remote_list(h->r, STAMPED_PREFIX, collect_stamped, st) != 0)
        return -1;
    if (st->n > 1)
        qsort(st->keys, st->n, sizeof(*st->keys), cmp_key_desc);
    return 0;
}

static void stamped_free(struct stamped *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->keys[i]);
    free(st->keys);
}

/* Stores the snapshot as its stamped key and as the newest, then drops the stamped ones
 * beyond the newest STAMPED_KEEP. */
static int store_snapshot(struct remote_handle *h, const struct snapshot *s,
                          volatile sig_atomic_t *cancel)
{
    char *stamped = xasprintf(STAMPED_PREFIX "%s.db", s->stamp);
    struct stamped st = {0};
    int rc = remote_put_file(h->r, s->path, stamped, &s->meta, NULL, NULL, cancel);
    if (rc == 0)
        rc = remote_put_file(h->r, s->path, SNAPSHOT_KEY, &s->meta, NULL, NULL, cancel);
    if (rc == 0)
        rc = list_stamped(h, &st);
    for (size_t i = STAMPED_KEEP; rc == 0 && i < st.n; i++)
        rc = remote_remove(h->r, st.keys[i]);
    stamped_free(&st);
    free(stamped);
    return rc;
}

/* True if remote name's last snapshot is newer than the catalog's newest event. */
static bool up_to_date(const struct remote_rec *rows, size_t n, const char *name,
                       const char *last_event)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return rows[i].snapshot_at && strcmp(rows[i].snapshot_at, last_event) > 0;
    return false;
}

/* One remote's snapshot; a failure is recorded on the remote's row and warned about. */
static void snapshot_to(struct catalog *cat, const struct remote_settings *rs,
                        const struct snapshot *s, volatile sig_atomic_t *cancel)
{
    struct remote_handle h;
    int rc = copies_open(rs, &h);
    if (rc == 0)
        rc = store_snapshot(&h, s, cancel);
    copies_close(&h);
    if (rc == 0) {
        rc = catalog_remote_snapshot(cat, rs->name, rs->url, s->at);
    } else {
        char now[25], *why = xstrdup(err_msg());
        err_clear();
        catalog_remote_seen(cat, rs->name, rs->url, time_now_iso(now), why);
        err_clear();
        err_set(ERR_FAILED, "the catalog's snapshot did not reach remote \"%s\": %s", rs->name,
                why);
        free(why);
    }
    if (rc != 0)
        log_warn("%s", err_msg());
    err_clear();
}

static void snapshot_all(struct catalog *cat, const struct settings *set,
                         volatile sig_atomic_t *cancel)
{
    struct remote_rec *rows = NULL;
    size_t n = 0;
    char last[25];
    struct snapshot s = {0};
    bool taken = false;
    if (catalog_last_event_at(cat, last) != 0 || catalog_remotes(cat, &rows, &n) != 0)
        goto out;
    for (size_t i = 0; i < set->nremotes && !*cancel; i++) {
        if (up_to_date(rows, n, set->remotes[i].name, last))
            continue;
        if (!taken && take_snapshot(cat, set, &s, cancel) != 0)
            goto out;
        taken = true;
        snapshot_to(cat, &set->remotes[i], &s, cancel);
    }
out:
    if (err_is_set())
        log_warn("could not store the catalog's snapshot: %s", err_msg());
    err_clear();
    if (s.path)
        unlink(s.path);
    free(s.path);
    remote_recs_free(rows, n);
}

void copies_snapshot(const struct settings *set, volatile sig_atomic_t *cancel)
{
    struct catalog *cat = NULL;
    if (set->nremotes == 0 || access(set->catalog, F_OK) != 0)
        return;
    struct err_saved saved;
    err_save(&saved);
    if (catalog_open(set->catalog, 0, &cat) == 0)
        snapshot_all(cat, set, cancel);
    else
        log_warn("could not store the catalog's snapshot: %s", err_msg());
    err_clear();
    catalog_close(cat);
    err_restore(&saved);
}

/* --- import --from --- */

/* An existing catalog is replaced only when it holds no backup at all. */
static int require_empty(const struct settings *set)
{
    if (access(set->catalog, F_OK) != 0)
        return 0;
    struct catalog *cat = NULL;
    struct backup_rec *b = NULL;
    size_t n = 0;
    int rc = catalog_open(set->catalog, 0, &cat);
    if (rc == 0)
        rc = catalog_backups(cat, NULL, true, &b, &n);
    backup_recs_free(b, n);
    catalog_close(cat);
    if (rc != 0)
        return -1;
    if (n > 0) {
        err_set(ERR_USAGE, "catalog \"%s\" already records %zu backups", set->catalog, n);
        err_hint("import --from rebuilds the catalog of an empty repository only; name a new "
                 "directory with -d");
        return -1;
    }
    char *wal = xasprintf("%s-wal", set->catalog), *shm = xasprintf("%s-shm", set->catalog);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    if (unlink(set->catalog) != 0)
        return err_sys(errno, "could not remove the empty catalog \"%s\"", set->catalog);
    return 0;
}

/* The key of the newest snapshot on the remote, and what the remote holds of it. */
static int newest_snapshot(struct remote_handle *h, char **key, struct remote_meta *meta)
{
    int rc = remote_stat(h->r, SNAPSHOT_KEY, meta);
    if (rc <= 0) {
        *key = xstrdup(SNAPSHOT_KEY);
        return rc;
    }
    struct stamped st = {0};
    rc = list_stamped(h, &st);
    if (rc == 0 && st.n == 0)
        rc = err_set(ERR_FAILED, "remote \"%s\" holds no catalog snapshot (%s)", h->rs->name,
                     SNAPSHOT_KEY);
    if (rc == 0 && (rc = remote_stat(h->r, st.keys[0], meta)) == 1)
        rc = err_set(ERR_FAILED, "remote \"%s\": \"%s\" vanished", h->rs->name, st.keys[0]);
    if (rc == 0)
        *key = xstrdup(st.keys[0]);
    stamped_free(&st);
    return rc;
}

/* Downloads key into dir/name (partial, checked against meta, committed). */
static int download_checked(struct remote_handle *h, const char *key,
                            const struct remote_meta *meta, const char *dir, const char *name,
                            volatile sig_atomic_t *cancel)
{
    struct repofile *f;
    char sum[HASH_HEX_LEN];
    uint64_t size = 0;
    if (repofile_create(dir, name, &f) != 0)
        return -1;
    int rc = copies_get_file(h, key, f, NULL, cancel, &size, sum);
    if (rc == 0 &&
        ((int64_t)size != meta->size || (meta->checksum[0] && strcmp(sum, meta->checksum) != 0)))
        rc = err_set(ERR_INTEGRITY,
                     "remote \"%s\": \"%s\" does not match its recorded size and checksum",
                     h->rs->name, key);
    if (rc != 0) {
        repofile_abort(f);
        return -1;
    }
    return repofile_commit(f);
}

int copies_restore_catalog(const struct settings *set, const char *from,
                           volatile sig_atomic_t *cancel)
{
    const struct remote_settings *rs;
    struct remote_handle h = {0};
    struct remote_meta meta;
    char *key = NULL, *dir = path_dir(set->catalog);
    const char *slash = strrchr(set->catalog, '/');
    int rc = -1;
    if (copies_find(set, from, &rs) != 0 || require_empty(set) != 0 || copies_open(rs, &h) != 0)
        goto out;
    if (newest_snapshot(&h, &key, &meta) != 0 ||
        download_checked(&h, key, &meta, dir, slash ? slash + 1 : set->catalog, cancel) != 0)
        goto out;
    if (!log_quiet())
        log_info("catalog rebuilt from remote \"%s\" (%s, %" PRId64 " bytes)", from, key,
                 meta.size);
    rc = 0;
out:
    copies_close(&h);
    free(key);
    free(dir);
    return rc;
}

/* Complete backups whose file is gone become 'missing': a restore fetches them. */
static int mark_remote_only(struct catalog *cat, const struct settings *set)
{
    struct backup_rec *b = NULL;
    size_t n = 0;
    int rc = catalog_backups(cat, NULL, false, &b, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!fsutil_exists(set->dir, b[i].file_name))
            rc = catalog_backup_set_status(cat, b[i].id, "'complete'", "missing", "import",
                                           "file not in the repository: remote copies only");
    backup_recs_free(b, n);
    return rc;
}

/* The backup objects of a remote that the catalog does not know. */
struct unknown_objects {
    struct catalog *cat;
    char **keys;
    struct remote_meta *meta;
    size_t n;
    int rc;
};

static int collect_unknown(void *arg, const char *key, const struct remote_meta *meta)
{
    struct unknown_objects *u = arg;
    const char *name = strrchr(key, '/');
    char *db;
    time_t when;
    const char *compression, *encryption;
    bool known = true;
    if (strncmp(key, "catalog/", 8) == 0 || !name ||
        naming_parse_file(name + 1, &db, &when, &compression, &encryption) != 0)
        return 0;
    free(db);
    if (catalog_file_known(u->cat, name + 1, &known) != 0) {
        u->rc = -1;
        return 1;
    }
    if (!known) {
        u->keys = xrealloc(u->keys, (u->n + 1) * sizeof(*u->keys));
        u->meta = xrealloc(u->meta, (u->n + 1) * sizeof(*u->meta));
        u->keys[u->n] = xstrdup(key);
        u->meta[u->n++] = *meta;
    }
    return 0;
}

int copies_remote_only(struct catalog *cat, const struct settings *set, const char *from,
                       volatile sig_atomic_t *cancel, char ***paths, size_t *n)
{
    const struct remote_settings *rs;
    struct remote_handle h = {0};
    struct unknown_objects u = {.cat = cat};
    int rc = -1;
    *paths = NULL;
    *n = 0;
    if (copies_find(set, from, &rs) != 0 || mark_remote_only(cat, set) != 0 ||
        copies_open(rs, &h) != 0)
        goto out;
    if (remote_list(h.r, "", collect_unknown, &u) != 0 || u.rc != 0)
        goto out;
    *paths = xcalloc(u.n + 1, sizeof(**paths));
    for (size_t i = 0; i < u.n; i++) {
        const char *name = strrchr(u.keys[i], '/') + 1;
        if (download_checked(&h, u.keys[i], &u.meta[i], set->dir, name, cancel) != 0)
            goto out;
        (*paths)[(*n)++] = path_join(set->dir, name);
    }
    rc = 0;
out:
    for (size_t i = 0; i < u.n; i++)
        free(u.keys[i]);
    free(u.keys);
    free(u.meta);
    copies_close(&h);
    return rc;
}

void copies_adopted(struct catalog *cat, const struct settings *set, const char *from,
                    char *const *paths, size_t n)
{
    (void)set;
    char now[25];
    time_now_iso(now);
    for (size_t i = 0; i < n; i++) {
        struct backup_rec b;
        const char *name = strrchr(paths[i], '/') + 1;
        if (catalog_backup_by_file(cat, name, &b) != 0) {
            err_clear(); /* refused by import: said so there */
            continue;
        }
        char *key = copies_key(b.db_name, b.file_name);
        struct copy_update u = {.backup_id = b.id,
                                .remote = from,
                                .location = key,
                                .status = "complete",
                                .size_bytes = b.size_bytes,
                                .checksum = b.checksum,
                                .copied_at = now,
                                .action = "copy",
                                .outcome = "ok",
                                .detail = "adopted from the remote by import --from"};
        if (catalog_copy_set(cat, &u) != 0)
            log_warn("%s", err_msg());
        err_clear();
        free(key);
        backup_rec_free(&b);
    }
}
