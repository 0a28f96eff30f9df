#include "command/resolve.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

/* True if the directory part of path is the repository directory itself. */
static bool in_repository(const char *dir, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *parent = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
    char a[PATH_MAX], b[PATH_MAX];
    bool same = realpath(parent, a) && realpath(dir, b) && strcmp(a, b) == 0;
    free(parent);
    return same;
}

int backup_resolve(struct catalog *cat, const struct settings *set, const char *db,
                   const char *spec, struct backup_rec *out)
{
    long id;
    memset(out, 0, sizeof(*out));

    /* 1. "latest": the newest complete backup of the database, here or (its file gone)
     *    as a complete copy on a remote */
    if (strcmp(spec, "latest") == 0) {
        if (!db) {
            err_set(ERR_USAGE, "\"latest\" needs a database");
            err_hint("name it with --db NAME or DB_NAME");
            return -1;
        }
        bool found = false;
        if (catalog_newest_restorable(cat, db, out, &found) != 0)
            return -1;
        if (!found)
            return err_set(ERR_USAGE, "no complete backup of database \"%s\" in the catalog", db);
        return 0;
    }

    /* 2. a catalog id */
    if (parse_int(spec, 1, LONG_MAX, &id) == 0)
        return catalog_backup_get(cat, id, out);

    /* 3. a file name, or a path to a file in the repository */
    const char *name = spec;
    const char *slash = strrchr(spec, '/');
    if (slash) {
        if (!in_repository(set->dir, spec)) {
            err_set(ERR_USAGE, "\"%s\" is not in the repository \"%s\"", spec, set->dir);
            err_hint("copy it into the repository and run \"pgvault import\" on it");
            return -1;
        }
        name = slash + 1;
    }
    if (catalog_backup_by_file(cat, name, out) != 0) {
        err_clear();
        err_set(ERR_USAGE, "backup \"%s\" is not in the catalog", name);
        err_hint("\"pgvault list --all-status\" shows the catalog; \"pgvault import FILE\" adopts "
                 "a dump made elsewhere");
        return -1;
    }
    return 0;
}
