/*
 * pgvault pin / unpin: protect a backup from retention, or lift that protection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/err.h"
#include "common/output.h"
#include "command/recover.h"
#include "storage/repo.h"
#include "command/resolve.h"
#include "common/util.h"

static void print_result(const struct options *opt, const struct backup_rec *b, bool pin,
                         bool changed)
{
    if (opt->json) {
        printf("{\"id\":%" PRId64 ",\"db_name\":", b->id);
        json_str(stdout, b->db_name);
        printf(",\"file_name\":");
        json_str(stdout, b->file_name);
        printf(",\"pinned\":%s,\"changed\":%s}\n", pin ? "true" : "false",
               changed ? "true" : "false");
        return;
    }
    if (opt->quiet)
        return;
    if (changed)
        printf("backup %" PRId64 " %s %s\n", b->id, b->file_name, pin ? "pinned" : "unpinned");
    else
        printf("backup %" PRId64 " %s was already %s\n", b->id, b->file_name,
               pin ? "pinned" : "not pinned");
}

static int set_pin(const struct options *opt, const struct settings *set, bool pin)
{
    struct repo_lock *lock = NULL, *db_lock = NULL;
    struct catalog *cat = NULL;
    struct backup_rec b = {0};
    int rc = -1;

    /* 1. a write: lock the repository, open its catalog, recover what a crash left */
    struct stat st;
    if (stat(set->catalog, &st) != 0 && errno == ENOENT) {
        err_set(ERR_USAGE, "catalog \"%s\" does not exist", set->catalog);
        err_hint("check -d/--dir or --catalog");
        goto out;
    }
    if (repo_lock(set->dir, &lock) != 0 || catalog_open(set->catalog, 0, &cat) != 0 ||
        recover_repository(cat, set->dir) != 0)
        goto out;

    /* 2. the backup, through the catalog */
    if (backup_resolve(cat, set, set->conn.dbname, opt->args[0], &b) != 0 ||
        repo_lock_db(set->dir, b.db_name, &db_lock) != 0)
        goto out;

    /* 3. only a backup that can still be restored is worth protecting */
    if (pin && strcmp(b.status, "complete") != 0) {
        err_set(ERR_USAGE, "backup %" PRId64 " is %s; only a complete backup can be pinned", b.id,
                b.status);
        goto out;
    }

    /* 4. set the flag and record it in the audit trail, unless it is already so */
    bool changed = b.pinned != pin;
    if (changed) {
        char *detail = xasprintf("%s %s", b.file_name, pin ? "pinned" : "unpinned");
        int urc = catalog_backup_set_pinned(cat, b.id, pin, detail);
        free(detail);
        if (urc != 0)
            goto out;
    }
    print_result(opt, &b, pin, changed);
    rc = 0;
out:
    backup_rec_free(&b);
    catalog_close(cat);
    repo_unlock(db_lock);
    repo_unlock(lock);
    return rc;
}

int cmd_pin(const struct options *opt, const struct settings *set)
{
    return set_pin(opt, set, true);
}

int cmd_unpin(const struct options *opt, const struct settings *set)
{
    return set_pin(opt, set, false);
}
