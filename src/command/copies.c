/*
 * Off-site copies (command/copies.h): uploads of backup files and their read-back, the
 * download that brings a backup back, retention per remote and the catalog's snapshot.
 */
#include "command/copies.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/progress.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/hash.h"
#include "policy/retention.h"
#include "storage/fsutil.h"
#include "storage/repofile.h"

int copies_find(const struct settings *set, const char *name, const struct remote_settings **out)
{
    struct sbuf known = {0};
    for (size_t i = 0; i < set->nremotes; i++) {
        if (strcmp(set->remotes[i].name, name) == 0) {
            *out = &set->remotes[i];
            sbuf_free(&known);
            return 0;
        }
        sbuf_printf(&known, "%s\"%s\"", i ? ", " : "", set->remotes[i].name);
    }
    err_set(ERR_USAGE, "no remote \"%s\" in the configuration", name);
    if (known.len)
        err_hint("the configured remotes are %s", known.data);
    else
        err_hint("define one with remote.%s.url = … in the config file", name);
    sbuf_free(&known);
    return -1;
}

int copies_open(const struct remote_settings *rs, struct remote_handle *h)
{
    h->rs = rs;
    h->conf = (struct remote_conf){
        .name = rs->name,
        .url = rs->url,
        .endpoint = rs->endpoint,
        .region = rs->region,
        .access_key = rs->access_key,
        .secret_key_file = rs->secret_key_file,
        .path_style = rs->path_style,
        .identity_file = rs->identity_file,
        .known_hosts = rs->known_hosts,
        .part_size = rs->part_size > 0 ? rs->part_size : 0,
        .io_timeout = rs->io_timeout > 0 ? (int)rs->io_timeout : 0,
    };
    h->r = NULL;
    return remote_open(&h->conf, &h->r);
}

void copies_close(struct remote_handle *h)
{
    remote_close(h->r);
    h->r = NULL;
}

char *copies_key(const char *db_name, const char *file_name)
{
    char *db = naming_encode_db(db_name);
    char *key = xasprintf("%s/%s", db, file_name);
    free(db);
    return key;
}

void copy_outcomes_free(struct copy_outcome *o, size_t n)
{
    for (size_t i = 0; o && i < n; i++)
        free(o[i].error);
    free(o);
}

/* The progress line of a transfer, fed by the remote's callback. */
static void on_progress(void *arg, int64_t done, int64_t total)
{
    (void)total;
    progress_update(arg, done > 0 ? (uint64_t)done : 0);
}

static struct progress *transfer_progress(bool shown, const char *verb, const char *remote,
                                          const struct backup_rec *b)
{
    char *label = xasprintf("%s \"%s\" %s", verb, remote, b->file_name);
    struct progress *p = progress_start(shown, label, (uint64_t)b->size_bytes, false, 0);
    free(label);
    return p;
}

/* The local file is what the catalog recorded. */
static int check_local_file(const char *path, const struct backup_rec *b,
                            volatile sig_atomic_t *cancel)
{
    char sum[HASH_HEX_LEN];
    uint64_t size;
    if (hash_file(path, sum, &size, cancel) != 0)
        return -1;
    if ((int64_t)size != b->size_bytes || strcmp(sum, b->checksum ? b->checksum : "") != 0)
        return err_set(ERR_INTEGRITY,
                       "backup file \"%s\" does not match the catalog (run pgvault verify); "
                       "not copied",
                       b->file_name);
    return 0;
}

/* The object as the remote now reports it must be the backup: its size and checksum. */
static int read_back(struct remote_handle *h, const char *key, const struct backup_rec *b,
                     struct remote_meta *got)
{
    int rc = remote_stat(h->r, key, got);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return err_set(ERR_FAILED, "remote \"%s\": \"%s\" is missing right after its upload",
                       h->rs->name, key);
    if (got->size != b->size_bytes || strcmp(got->checksum, b->checksum ? b->checksum : "") != 0)
        return err_set(ERR_FAILED,
                       "remote \"%s\": \"%s\" reads back as %" PRId64 " bytes, checksum %s; "
                       "the backup is %" PRId64 " bytes, checksum %s",
                       h->rs->name, key, got->size, got->checksum[0] ? got->checksum : "none",
                       b->size_bytes, b->checksum);
    return 0;
}

/* Records the copy's end (complete or failed) and what the remote last answered. */
static void record_copy(struct catalog *cat, struct remote_handle *h, const struct backup_rec *b,
                        const char *key, const struct copy_outcome *o)
{
    char now[25], *detail;
    time_now_iso(now);
    struct err_saved saved;
    err_save(&saved);
    if (o->error)
        detail = xasprintf("%s: %s", key, o->error);
    else
        detail = xasprintf("%s %" PRId64 " bytes in %.1f s", key, o->bytes, o->seconds);
    struct copy_update u = {
        .backup_id = b->id,
        .remote = h->rs->name,
        .location = key,
        .status = o->status,
        .size_bytes = o->error ? -1 : o->bytes,
        .checksum = o->error ? NULL : b->checksum,
        .copied_at = o->error ? NULL : now,
        .error = o->error,
        .action = "copy",
        .outcome = o->error ? "failed" : "ok",
        .detail = detail,
    };
    if (catalog_copy_set(cat, &u) != 0 ||
        catalog_remote_seen(cat, h->rs->name, h->rs->url, now, o->error) != 0)
        log_warn("%s", err_msg());
    err_clear();
    free(detail);
    err_restore(&saved);
}

static int upload_steps(struct catalog *cat, const struct settings *set, struct remote_handle *h,
                        const struct backup_rec *b, const char *key, bool check_local,
                        struct progress *p, volatile sig_atomic_t *cancel)
{
    char *path = path_join(set->dir, b->file_name);
    struct remote_meta meta = {.size = b->size_bytes}, got;
    snprintf(meta.checksum, sizeof(meta.checksum), "%s", b->checksum ? b->checksum : "");
    struct copy_update running = {.backup_id = b->id,
                                  .remote = h->rs->name,
                                  .location = key,
                                  .status = "running",
                                  .size_bytes = -1};
    int rc = -1;
    if ((check_local && check_local_file(path, b, cancel) != 0) ||
        catalog_copy_set(cat, &running) != 0)
        goto out;
    if (remote_put_file(h->r, path, key, &meta, on_progress, p, cancel) != 0 ||
        read_back(h, key, b, &got) != 0)
        goto out;
    rc = 0;
out:
    free(path);
    return rc;
}

int copies_upload(struct catalog *cat, const struct settings *set, struct remote_handle *h,
                  const struct backup_rec *b, bool check_local, bool progress,
                  volatile sig_atomic_t *cancel, struct copy_outcome *out)
{
    char *key = copies_key(b->db_name, b->file_name);
    double t0 = time_mono();
    struct progress *p = transfer_progress(progress, "copy to", h->rs->name, b);
    int rc = upload_steps(cat, set, h, b, key, check_local, p, cancel);
    progress_free(p);
    *out = (struct copy_outcome){.remote = h->rs->name,
                                 .status = rc == 0 ? "complete" : "failed",
                                 .bytes = rc == 0 ? b->size_bytes : 0,
                                 .seconds = time_mono() - t0};
    if (rc != 0) {
        out->error = xstrdup(err_msg());
        out->error_class = (int)err_class();
    }
    record_copy(cat, h, b, key, out);
    free(key);
    return rc;
}

/* One remote's copy after a backup; an error is left set for the caller. */
static int copy_to(struct catalog *cat, const struct settings *set,
                   const struct remote_settings *rs, const struct backup_rec *b, bool progress,
                   volatile sig_atomic_t *cancel, struct copy_outcome *o)
{
    struct remote_handle h;
    if (copies_open(rs, &h) != 0) {
        *o = (struct copy_outcome){.remote = rs->name,
                                   .status = "failed",
                                   .error = xstrdup(err_msg()),
                                   .error_class = (int)err_class()};
        return -1;
    }
    int rc = copies_upload(cat, set, &h, b, false, progress, cancel, o);
    copies_close(&h);
    return rc;
}

int copies_after_backup(struct catalog *cat, const struct settings *set, const struct backup_rec *b,
                        bool progress, volatile sig_atomic_t *cancel, struct copy_outcome **outs,
                        size_t *n)
{
    struct err_saved first = {0};
    bool unreachable = false;
    *outs = xcalloc(set->nremotes + 1, sizeof(**outs));
    *n = set->nremotes;
    for (size_t i = 0; i < set->nremotes; i++) {
        if (copy_to(cat, set, &set->remotes[i], b, progress, cancel, &(*outs)[i]) == 0)
            continue;
        enum err_class cls = err_class();
        unreachable |= cls == ERR_REMOTE;
        char *why = xstrdup(err_msg());
        err_clear();
        err_set(cls == ERR_NONE ? ERR_FAILED : cls,
                "backup %" PRId64 " is complete, but its copy to remote \"%s\" failed: %s", b->id,
                set->remotes[i].name, why);
        free(why);
        if (first.cls == ERR_NONE)
            err_save(&first);
        else
            err_clear();
    }
    if (first.cls == ERR_NONE)
        return 0;
    if (unreachable)
        first.cls = ERR_REMOTE;
    return err_restore(&first);
}

bool copies_needs_fetch(const struct settings *set, const struct backup_rec *b)
{
    return strcmp(b->status, "complete") != 0 || !fsutil_exists(set->dir, b->file_name);
}

/* The remote to fetch b from: from, else the first configured one with a complete copy. */
static int fetch_source(struct catalog *cat, const struct settings *set, const char *from,
                        const struct backup_rec *b, const struct remote_settings **rs)
{
    if (from)
        return copies_find(set, from, rs);
    struct copy_rec *c = NULL;
    size_t n = 0;
    if (catalog_copies(cat, NULL, b->db_name, &c, &n) != 0)
        return -1;
    *rs = NULL;
    for (size_t i = 0; i < set->nremotes && !*rs; i++)
        for (size_t j = 0; j < n && !*rs; j++)
            if (c[j].backup_id == b->id && strcmp(c[j].status, "complete") == 0 &&
                strcmp(c[j].remote, set->remotes[i].name) == 0)
                *rs = &set->remotes[i];
    copy_recs_free(c, n);
    if (*rs)
        return 0;
    return err_set(ERR_INTEGRITY,
                   "backup file \"%s\" is missing and no configured remote has a complete copy "
                   "of backup %" PRId64 "; no database was touched",
                   b->file_name, b->id);
}

int copies_get_file(struct remote_handle *h, const char *key, const struct repofile *f,
                    struct progress *p, volatile sig_atomic_t *cancel, uint64_t *size,
                    char sum[HASH_HEX_LEN])
{
    *size = 0;
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(size));
    chain_add(c, filter_hash_new(sum));
    chain_add(c, filter_fd_new(repofile_fd(f), repofile_path(f)));
    int rc = remote_get(h->r, key, c, on_progress, p, cancel);
    chain_free(c);
    return rc;
}

/* Streams the object into the partial file, measuring its size and checksum. */
static int download(struct remote_handle *h, const char *key, const struct repofile *f,
                    const struct backup_rec *b, bool shown, volatile sig_atomic_t *cancel)
{
    char sum[HASH_HEX_LEN];
    uint64_t size = 0;
    struct progress *p = transfer_progress(shown, "download from", h->rs->name, b);
    int rc = copies_get_file(h, key, f, p, cancel, &size, sum);
    progress_free(p);
    if (rc != 0)
        return -1;
    if ((int64_t)size != b->size_bytes || strcmp(sum, b->checksum ? b->checksum : "") != 0)
        return err_set(ERR_INTEGRITY,
                       "the copy of backup %" PRId64 " on remote \"%s\" does not match the "
                       "catalog (%" PRIu64 " bytes, checksum %s; the catalog says %" PRId64
                       " bytes, %s); no database was touched",
                       b->id, h->rs->name, size, sum, b->size_bytes, b->checksum);
    return 0;
}

/* Marks a copy that did not download intact failed, with the reason. */
static void copy_bad(struct catalog *cat, const struct remote_settings *rs,
                     const struct backup_rec *b)
{
    struct err_saved saved;
    err_save(&saved);
    struct copy_update u = {.backup_id = b->id,
                            .remote = rs->name,
                            .status = "failed",
                            .size_bytes = -1,
                            .error = saved.msg,
                            .action = "download",
                            .outcome = "failed",
                            .detail = saved.msg};
    catalog_copy_set(cat, &u);
    err_restore(&saved);
}

/* Gives the verified download its final name, replacing a local file that the catalog
 * recorded (one that is missing or damaged, since the restore asked for the copy). */
static int commit_download(const struct settings *set, struct repofile *f,
                           const struct backup_rec *b)
{
    if (fsutil_exists(set->dir, b->file_name) && fsutil_unlink(set->dir, b->file_name) != 0) {
        repofile_abort(f);
        return -1;
    }
    return repofile_commit(f);
}

int copies_fetch(struct catalog *cat, const struct settings *set, const char *from,
                 struct backup_rec *b, bool progress, volatile sig_atomic_t *cancel)
{
    const struct remote_settings *rs;
    struct remote_handle h = {0};
    struct repofile *f = NULL;
    char *key = copies_key(b->db_name, b->file_name);
    int rc = -1;
    if (fetch_source(cat, set, from, b, &rs) != 0 || copies_open(rs, &h) != 0)
        goto out;
    if (!progress && !log_quiet())
        log_info("downloading backup %" PRId64 " from remote \"%s\"", b->id, rs->name);
    if (repofile_create(set->dir, b->file_name, &f) != 0)
        goto out;
    if (download(&h, key, f, b, progress, cancel) != 0) {
        if (err_class() == ERR_INTEGRITY)
            copy_bad(cat, rs, b);
        repofile_abort(f);
        goto out;
    }
    if (commit_download(set, f, b) != 0)
        goto out;
    char *detail = xasprintf("%s from remote \"%s\"", b->file_name, rs->name);
    rc = catalog_backup_set_status(cat, b->id, "'complete', 'missing', 'pruned'", "complete",
                                   "download", detail);
    free(detail);
    if (rc == 0) {
        free(b->status);
        b->status = xstrdup("complete");
    }
out:
    copies_close(&h);
    free(key);
    return rc;
}

/* --- retention on the remotes --- */

/* The rules of remote rs: its own keys, those of set where it has none. */
static void remote_policy(const struct settings *set, const struct remote_settings *rs,
                          struct retention_policy *p)
{
    retention_policy_from(set, p);
    long *dst[] = {&p->days,        &p->count,        &p->keep_daily,
                   &p->keep_weekly, &p->keep_monthly, &p->min_keep};
    const long src[] = {rs->retention_days, rs->keep_count,   rs->keep_daily,
                        rs->keep_weekly,    rs->keep_monthly, rs->min_keep};
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        if (src[i] >= 0)
            *dst[i] = src[i];
}

/* Removes one copy the plan does not keep: the object, then the row 'pruned'. */
static int remove_copy(struct catalog *cat, struct remote_handle *h, const struct copy_rec *c,
                       const char *reason)
{
    if (remote_remove(h->r, c->location) != 0)
        return -1;
    char *detail = xasprintf("removed %s (%s)", c->location, reason);
    struct copy_update u = {.backup_id = c->backup_id,
                            .remote = c->remote,
                            .status = "pruned",
                            .size_bytes = -1,
                            .action = "prune",
                            .outcome = "ok",
                            .detail = detail};
    int rc = catalog_copy_set(cat, &u);
    free(detail);
    return rc;
}

/* The complete copies of one database (rows [from, to) of c) under the remote's rules. */
struct remote_prune {
    struct catalog *cat;
    struct remote_handle *h;
    const struct retention_policy *policy;
    const char *prefix;
    bool report, dry_run;
    struct err_saved first;
};

static void keep_first(struct remote_prune *rp)
{
    if (rp->first.cls == ERR_NONE)
        err_save(&rp->first);
    else {
        log_warn("%s", err_msg());
        err_clear();
    }
}

static void prune_db(struct remote_prune *rp, struct copy_rec *c, size_t n)
{
    struct retention_backup *rb = xcalloc(n + 1, sizeof(*rb));
    struct retention_decision *dec = xcalloc(n + 1, sizeof(*dec));
    for (size_t i = 0; i < n; i++) {
        rb[i].id = c[i].backup_id;
        rb[i].complete = true;
        rb[i].pinned = c[i].pinned;
        rb[i].suspect = c[i].suspect;
        if (!c[i].started_at || time_parse_iso(c[i].started_at, &rb[i].started) != 0)
            rb[i].started = 0;
    }
    if (retention_plan(c[0].db_name, rb, n, rp->policy, time(NULL), dec) != 0) {
        keep_first(rp);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (dec[i].action != RETENTION_REMOVE)
            continue;
        if (rp->report)
            printf("%s%s copy of backup %" PRId64 " (%s) on \"%s\": %s\n", rp->prefix,
                   rp->dry_run ? "would remove" : "removed", c[i].backup_id, c[i].file_name,
                   c[i].remote, dec[i].reason);
        if (!rp->dry_run && remove_copy(rp->cat, rp->h, &c[i], dec[i].reason) != 0)
            keep_first(rp);
    }
    free(rb);
    free(dec);
}

size_t copies_only_complete(struct copy_rec *c, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].status, "complete") == 0) {
            struct copy_rec t = c[k];
            c[k++] = c[i];
            c[i] = t;
        }
    }
    return k;
}

static int cmp_copy_db(const void *x, const void *y)
{
    const struct copy_rec *a = x, *b = y;
    int c = strcmp(a->db_name, b->db_name);
    return c ? c : -strcmp(a->started_at ? a->started_at : "", b->started_at ? b->started_at : "");
}

static void prune_remote(struct remote_prune *rp, const char *db, volatile sig_atomic_t *cancel)
{
    struct copy_rec *c = NULL;
    size_t n = 0;
    if (catalog_copies(rp->cat, rp->h->rs->name, db, &c, &n) != 0) {
        keep_first(rp);
        return;
    }
    size_t k = copies_only_complete(c, n);
    if (k > 1)
        qsort(c, k, sizeof(*c), cmp_copy_db);
    for (size_t i = 0, j; i < k && !*cancel; i = j) {
        for (j = i + 1; j < k && strcmp(c[j].db_name, c[i].db_name) == 0; j++)
            ;
        prune_db(rp, c + i, j - i);
    }
    copy_recs_free(c, n);
}

int copies_retention(struct catalog *cat, const struct settings *set, const char *db,
                     const char *prefix, bool report, bool dry_run, volatile sig_atomic_t *cancel)
{
    struct err_saved first = {0};
    for (size_t i = 0; i < set->nremotes && !*cancel; i++) {
        struct retention_policy policy;
        struct remote_handle h;
        remote_policy(set, &set->remotes[i], &policy);
        if (copies_open(&set->remotes[i], &h) != 0) {
            if (first.cls == ERR_NONE)
                err_save(&first);
            continue;
        }
        struct remote_prune rp = {.cat = cat,
                                  .h = &h,
                                  .policy = &policy,
                                  .prefix = prefix,
                                  .report = report,
                                  .dry_run = dry_run};
        prune_remote(&rp, db, cancel);
        copies_close(&h);
        if (first.cls == ERR_NONE && rp.first.cls != ERR_NONE)
            first = rp.first;
    }
    return err_restore(&first);
}
