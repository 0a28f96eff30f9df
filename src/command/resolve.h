#ifndef PGVAULT_RESOLVE_H
#define PGVAULT_RESOLVE_H

#include "catalog/catalog.h"
#include "config/config.h"

/*
 * Resolves a <BACKUP> argument through the catalog: a catalog id, a file
 * name or a path of a file inside the repository, or "latest" (the newest complete
 * backup of db, which must then be given). A file that the catalog does not know is
 * refused (ERR_USAGE, with a hint to "pgvault import"); a path outside the repository too.
 */
int backup_resolve(struct catalog *cat, const struct settings *set, const char *db,
                   const char *spec, struct backup_rec *out);

#endif
