/*
 * pgvault push (what a remote lacks), list --remote (its copies) and verify --remote
 * (size and checksum of each object; --deep streams it back and recomputes XXH3-128).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "command/resolve.h"
#include "common/err.h"
#include "common/log.h"
#include "common/output.h"
#include "common/util.h"
#include "config/cli.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/hash.h"
#include "storage/fsutil.h"
#include "storage/repo.h"

/* The remotes a command works on: --remote NAME, else every configured one. */
static int pick_remotes(const struct options *opt, const struct settings *set,
                        const struct remote_settings ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (set->nremotes == 0)
        return err_set(ERR_USAGE, "no remote in the configuration (remote.NAME.url = …)");
    *out = xcalloc(set->nremotes, sizeof(**out));
    if (opt->remote) {
        *n = 1;
        return copies_find(set, opt->remote, &(*out)[0]);
    }
    for (size_t i = 0; i < set->nremotes; i++)
        (*out)[(*n)++] = &set->remotes[i];
    return 0;
}

/* The failures of a run that goes on: counted, the first kept (class ERR_REMOTE when any
 * remote was unreachable, ERR_INTEGRITY when any object was damaged). */
struct failures {
    size_t n;
    bool unreachable, damaged;
    struct err_saved first;
};

static void failure(struct failures *f)
{
    f->n++;
    f->unreachable |= err_class() == ERR_REMOTE;
    f->damaged |= err_class() == ERR_INTEGRITY;
    if (f->first.cls == ERR_NONE)
        err_save(&f->first);
    else
        err_clear();
}

static int failures_result(struct failures *f, const char *what, size_t total)
{
    if (f->n == 0)
        return 0;
    char *why = xstrdup(f->first.msg);
    err_set(f->unreachable ? ERR_REMOTE
            : f->damaged   ? ERR_INTEGRITY
                           : (f->first.cls == ERR_NONE ? ERR_FAILED : f->first.cls),
            "%zu of %zu %s failed; the first: %s", f->n, total, what, why);
    free(why);
    return -1;
}

static void json_outcome(const struct backup_rec *b, const struct copy_outcome *o, bool first)
{
    printf("%s{\"id\":%" PRId64 ",\"db_name\":", first ? "" : ",", b->id);
    json_str(stdout, b->db_name);
    printf(",\"file_name\":");
    json_str(stdout, b->file_name);
    printf(",\"remote\":");
    json_str(stdout, o->remote);
    printf(",\"status\":\"%s\",\"bytes\":%" PRId64 ",\"seconds\":%.3f,\"error\":", o->status,
           o->bytes, o->seconds);
    json_str_or_null(stdout, o->error);
    putchar('}');
}

static void print_outcome(const struct options *opt, const struct backup_rec *b,
                          const struct copy_outcome *o, size_t i)
{
    char sz[16], rate[16];
    if (opt->json) {
        json_outcome(b, o, i == 0);
        return;
    }
    if (o->error) {
        printf("FAILED  %6" PRId64 "  %s → \"%s\": %s\n", b->id, b->file_name, o->remote, o->error);
        return;
    }
    if (log_quiet())
        return;
    fmt_size(o->seconds > 0 ? (uint64_t)((double)o->bytes / o->seconds) : (uint64_t)o->bytes, rate);
    printf("copied  %6" PRId64 "  %s → \"%s\" (%s in %.1f s, %s/s)\n", b->id, b->file_name,
           o->remote, fmt_size((uint64_t)o->bytes, sz), o->seconds, rate);
}

/* The backups to push to a remote: those named, else all it lacks. */
static int push_list(struct catalog *cat, const struct options *opt, const struct settings *set,
                     const char *remote, struct backup_rec **b, size_t *n)
{
    if (opt->nargs == 0)
        return catalog_copies_lacking(cat, remote, opt->db, b, n);
    *b = xcalloc((size_t)opt->nargs, sizeof(**b));
    *n = 0;
    const char *db = opt->db ? opt->db : set->conn.dbname;
    for (int i = 0; i < opt->nargs; i++) {
        if (backup_resolve(cat, set, db, opt->args[i], &(*b)[*n]) != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

/* One copy, under its database's lock (retention must not remove the file meanwhile). */
static int push_one(struct catalog *cat, const struct options *opt, const struct settings *set,
                    struct remote_handle *h, const struct backup_rec *b, struct copy_outcome *o)
{
    struct repo_lock *lock = NULL;
    *o = (struct copy_outcome){.remote = h->rs->name, .status = "failed"};
    if (repo_lock_db(set->dir, b->db_name, &lock) != 0) {
        o->error = xstrdup(err_msg());
        return -1;
    }
    int rc = copies_upload(cat, set, h, b, true, cli_progress_wanted(opt), &pgvault_interrupted, o);
    repo_unlock(lock);
    return rc;
}

struct push_run {
    struct catalog *cat;
    const struct options *opt;
    const struct settings *set;
    struct failures f;
    size_t total, printed;
};

static void push_remote(struct push_run *pr, const struct remote_settings *rs)
{
    struct remote_handle h;
    struct backup_rec *b = NULL;
    size_t n = 0;
    if (copies_open(rs, &h) != 0 || push_list(pr->cat, pr->opt, pr->set, rs->name, &b, &n) != 0) {
        pr->total++;
        failure(&pr->f);
        goto out;
    }
    for (size_t i = 0; i < n && !pgvault_interrupted; i++) {
        struct copy_outcome o;
        pr->total++;
        if (push_one(pr->cat, pr->opt, pr->set, &h, &b[i], &o) != 0)
            failure(&pr->f);
        print_outcome(pr->opt, &b[i], &o, pr->printed++);
        free(o.error);
    }
    if (n == 0 && !pr->opt->json && !log_quiet())
        printf("remote \"%s\" has every backup\n", rs->name);
out:
    backup_recs_free(b, n);
    copies_close(&h);
}

int cmd_push(const struct options *opt, const struct settings *set)
{
    struct push_run pr = {.opt = opt, .set = set};
    const struct remote_settings **remotes = NULL;
    struct repo_lock *lock = NULL;
    size_t nremotes = 0;
    int rc = -1;
    if (pick_remotes(opt, set, &remotes, &nremotes) != 0 || fsutil_require_repo(set->dir) != 0 ||
        repo_lock(set->dir, &lock) != 0 || catalog_open(set->catalog, 0, &pr.cat) != 0)
        goto out;
    if (opt->json)
        printf("{\"copies\":[");
    for (size_t i = 0; i < nremotes && !pgvault_interrupted; i++)
        push_remote(&pr, remotes[i]);
    if (opt->json)
        printf("],\"outcome\":\"%s\",\"failed\":%zu}\n", pr.f.n ? "failed" : "complete", pr.f.n);
    if (pgvault_interrupted) {
        err_clear();
        err_set(ERR_FAILED, "push interrupted by a signal");
        goto out;
    }
    rc = failures_result(&pr.f, "copies", pr.total);
out:
    catalog_close(pr.cat);
    repo_unlock(lock);
    free(remotes);
    return rc;
}

/* --- list --remote --- */

static void copy_json(const struct copy_rec *c, bool first)
{
    printf("%s{\"id\":%" PRId64 ",\"db_name\":", first ? "" : ",", c->backup_id);
    json_str(stdout, c->db_name);
    const char *names[] = {"file_name", "remote",    "location",    "status",
                           "checksum",  "copied_at", "verified_at", "error"};
    const char *vals[] = {c->file_name, c->remote,    c->location,    c->status,
                          c->checksum,  c->copied_at, c->verified_at, c->error};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        printf(",\"%s\":", names[i]);
        json_str_or_null(stdout, vals[i]);
        if (i == 3)
            c->size_bytes >= 0 ? printf(",\"size_bytes\":%" PRId64, c->size_bytes)
                               : printf(",\"size_bytes\":null");
    }
    putchar('}');
}

static void copy_csv(const struct copy_rec *c)
{
    printf("%" PRId64 ",", c->backup_id);
    const char *vals[] = {c->db_name,  c->file_name, c->remote,      c->location, c->status,
                          c->checksum, c->copied_at, c->verified_at, c->error};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        csv_field(stdout, vals[i]);
        if (i == 4)
            c->size_bytes >= 0 ? printf(",%" PRId64, c->size_bytes) : printf(",");
        putchar(i + 1 < sizeof(vals) / sizeof(vals[0]) ? ',' : '\n');
    }
}

static void copy_table(const struct copy_rec *c, int w)
{
    char sz[16];
    printf("%6" PRId64 "  %-*s  %10s  %-20.19s  %-9s  %s\n", c->backup_id, w, c->file_name,
           c->size_bytes >= 0 ? fmt_size((uint64_t)c->size_bytes, sz) : "-",
           c->copied_at ? c->copied_at : "-", c->status, c->error ? c->error : "");
}

static void print_copies(const struct options *opt, const struct copy_rec *c, size_t n)
{
    int w = (int)strlen("FILE");
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(c[i].file_name) > w)
            w = (int)strlen(c[i].file_name);
    if (opt->csv)
        puts("id,db_name,file_name,remote,location,status,size_bytes,checksum,copied_at,"
             "verified_at,error");
    else if (opt->json)
        putchar('[');
    else if (n > 0)
        printf("%6s  %-*s  %10s  %-20s  %-9s  %s\n", "ID", w, "FILE", "SIZE", "COPIED (UTC)",
               "STATUS", "ERROR");
    for (size_t i = 0; i < n; i++) {
        if (opt->json)
            copy_json(&c[i], i == 0);
        else if (opt->csv)
            copy_csv(&c[i]);
        else
            copy_table(&c[i], w);
    }
    if (opt->json)
        puts("]");
}

int copies_list(const struct options *opt, const struct settings *set)
{
    const struct remote_settings *rs;
    struct catalog *cat = NULL;
    struct copy_rec *c = NULL;
    size_t n = 0;
    int rc = -1;
    if (copies_find(set, opt->remote, &rs) != 0 || fsutil_require_repo(set->dir) != 0 ||
        catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0 ||
        catalog_copies(cat, rs->name, opt->db, &c, &n) != 0)
        goto out;
    size_t shown = opt->all_status ? n : copies_only_complete(c, n);
    print_copies(opt, c, shown);
    if (shown == 0 && !opt->json && !opt->csv)
        log_info("no copies on remote \"%s\"", rs->name);
    rc = 0;
out:
    copy_recs_free(c, n);
    catalog_close(cat);
    return rc;
}

/* --- verify --remote --- */

/* Streams the object back and recomputes its size and checksum; nothing touches disk. */
static int deep_check(struct remote_handle *h, const struct copy_rec *c, bool progress)
{
    char sum[HASH_HEX_LEN];
    uint64_t size = 0;
    (void)progress;
    struct chain *ch = chain_new();
    chain_add(ch, filter_size_new(&size));
    chain_add(ch, filter_hash_new(sum));
    int rc = remote_get(h->r, c->location, ch, NULL, NULL, &pgvault_interrupted);
    chain_free(ch);
    if (rc != 0)
        return -1;
    if ((int64_t)size != c->backup_size || strcmp(sum, c->backup_checksum) != 0)
        return err_set(ERR_INTEGRITY,
                       "the bytes of \"%s\" on remote \"%s\" are %" PRIu64
                       " bytes, checksum %s; the catalog says %" PRId64 " bytes, %s",
                       c->location, h->rs->name, size, sum, c->backup_size, c->backup_checksum);
    return 0;
}

/* The object's size and recorded checksum, then (--deep) its bytes. *gone: it is missing. */
static int check_copy(struct remote_handle *h, const struct copy_rec *c, bool deep, bool *gone)
{
    struct remote_meta m;
    *gone = false;
    int rc = remote_stat(h->r, c->location, &m);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *gone = true;
        return err_set(ERR_INTEGRITY, "\"%s\" is missing on remote \"%s\"", c->location,
                       h->rs->name);
    }
    if (m.size != c->backup_size || strcmp(m.checksum, c->backup_checksum) != 0)
        return err_set(ERR_INTEGRITY,
                       "\"%s\" on remote \"%s\" is %" PRId64 " bytes, checksum %s; the catalog "
                       "says %" PRId64 " bytes, %s",
                       c->location, h->rs->name, m.size, m.checksum[0] ? m.checksum : "none",
                       c->backup_size, c->backup_checksum);
    return deep ? deep_check(h, c, false) : 0;
}

/* The copy row after a check: verified, or failed/missing with the reason. */
static void record_check(struct catalog *cat, const struct options *opt, const struct copy_rec *c,
                         int rc, bool gone)
{
    char now[25];
    time_now_iso(now);
    struct err_saved saved;
    err_save(&saved);
    bool unreachable = rc != 0 && saved.cls == ERR_REMOTE;
    struct copy_update u = {.backup_id = c->backup_id,
                            .remote = c->remote,
                            .status = rc == 0 ? "complete"
                                      : gone  ? "missing"
                                              : "failed",
                            .size_bytes = -1,
                            .verified_at = rc == 0 ? now : NULL,
                            .error = rc == 0 ? NULL : saved.msg,
                            .action = "verify",
                            .outcome = rc == 0 ? "ok" : "failed",
                            .detail = rc == 0 ? (opt->deep ? "deep: ok" : "ok") : saved.msg};
    /* an unreachable remote says nothing about the copy itself */
    if (!unreachable && catalog_copy_set(cat, &u) != 0)
        log_warn("%s", err_msg());
    err_clear();
    err_restore(&saved);
}

static void print_check(const struct options *opt, const struct copy_rec *c, size_t i, int rc,
                        double secs)
{
    if (opt->json) {
        printf("%s{\"id\":%" PRId64 ",\"file_name\":", i ? "," : "", c->backup_id);
        json_str(stdout, c->file_name);
        printf(",\"remote\":");
        json_str(stdout, c->remote);
        printf(",\"deep\":%s,\"ok\":%s,\"size_bytes\":%" PRId64 ",\"duration_ms\":%.0f,\"error\":",
               opt->deep ? "true" : "false", rc == 0 ? "true" : "false", c->backup_size,
               secs * 1000);
        json_str_or_null(stdout, rc == 0 ? NULL : err_msg());
        putchar('}');
    } else if (rc == 0) {
        if (!log_quiet())
            printf("ok      %6" PRId64 "  %s on \"%s\"%s\n", c->backup_id, c->file_name, c->remote,
                   opt->deep ? " (deep)" : "");
    } else {
        printf("FAILED  %6" PRId64 "  %s on \"%s\": %s\n", c->backup_id, c->file_name, c->remote,
               err_msg());
    }
}

/* The copies to check: complete ones, or with BACKUP arguments those backups' copies. */
static bool selected(const struct options *opt, const struct copy_rec *c, const int64_t *ids,
                     size_t nids)
{
    if (strcmp(c->status, "pruned") == 0)
        return false;
    if (nids == 0)
        return strcmp(c->status, "complete") == 0;
    for (size_t i = 0; i < nids; i++)
        if (ids[i] == c->backup_id)
            return true;
    (void)opt;
    return false;
}

static int resolve_ids(struct catalog *cat, const struct options *opt, const struct settings *set,
                       int64_t **ids, size_t *n)
{
    *ids = xcalloc((size_t)opt->nargs + 1, sizeof(**ids));
    *n = 0;
    const char *db = opt->db ? opt->db : set->conn.dbname;
    for (int i = 0; i < opt->nargs; i++) {
        struct backup_rec b;
        if (backup_resolve(cat, set, db, opt->args[i], &b) != 0)
            return -1;
        (*ids)[(*n)++] = b.id;
        backup_rec_free(&b);
    }
    return 0;
}

static void verify_copies(struct catalog *cat, const struct options *opt, struct remote_handle *h,
                          const struct copy_rec *c, size_t n, const int64_t *ids, size_t nids,
                          struct failures *f, size_t *total)
{
    for (size_t i = 0; i < n && !pgvault_interrupted; i++) {
        if (!selected(opt, &c[i], ids, nids))
            continue;
        double t0 = time_mono();
        bool gone;
        int rc = check_copy(h, &c[i], opt->deep, &gone);
        record_check(cat, opt, &c[i], rc, gone);
        print_check(opt, &c[i], (*total)++, rc, time_mono() - t0);
        if (rc != 0)
            failure(f);
    }
}

int copies_verify(const struct options *opt, const struct settings *set)
{
    const struct remote_settings *rs;
    struct remote_handle h = {0};
    struct catalog *cat = NULL;
    struct copy_rec *c = NULL;
    struct failures f = {0};
    int64_t *ids = NULL;
    size_t n = 0, nids = 0, total = 0;
    int rc = -1;
    if (copies_find(set, opt->remote, &rs) != 0 || fsutil_require_repo(set->dir) != 0 ||
        catalog_open(set->catalog, 0, &cat) != 0 || resolve_ids(cat, opt, set, &ids, &nids) != 0 ||
        catalog_copies(cat, rs->name, NULL, &c, &n) != 0 || copies_open(rs, &h) != 0)
        goto out;
    if (opt->json)
        putchar('[');
    verify_copies(cat, opt, &h, c, n, ids, nids, &f, &total);
    if (opt->json)
        puts("]");
    if (total == 0 && !opt->json)
        log_info("no copies to verify on remote \"%s\"", rs->name);
    rc = failures_result(&f, "copies", total);
out:
    copies_close(&h);
    free(ids);
    copy_recs_free(c, n);
    catalog_close(cat);
    return rc;
}
