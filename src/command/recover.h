#ifndef PGVAULT_RECOVER_H
#define PGVAULT_RECOVER_H

#include "catalog/catalog.h"
#include "config/config.h"

/*
 * Crash recovery, run by every command that writes, right after
 * it took the repository lock; one at a time (the recovery lock: when another process is
 * recovering, this returns 0 at once). A run is dead when nobody holds its database's
 * lock (a live backup or restore holds it for as long as its row is 'running'; on NFS,
 * Linux maps flock to POSIX locks that every host sees); each action below is taken
 * under that lock, and a database whose lock is held is left alone:
 * - every backup row still 'running' becomes 'failed' with the error "interrupted
 *   (process PID on HOST is gone)" and its NAME.partial file is removed;
 * - every restore row still 'running' becomes 'failed';
 * - stray partial files (regular files named like a backup, "…_YYYYMMDD_HHMMSS[_N]
 *   .sql[.gz|.zst].partial") are removed; symlinks and other names are left alone.
 * Each action is logged and recorded as an audit event "recover". A row of this very
 * process (same pid and host) is left alone. A file that cannot be removed is a warning,
 * not a failure. Returns 0, or -1 with the error set when the catalog cannot be updated
 * or a lock file cannot be opened.
 */
int recover_repository(struct catalog *cat, const char *dir);

/* A database that a restore left in the cluster. */
struct leftover_db {
    char *name;     /* pgvault_tmp_… or pgvault_old_… */
    char *target;   /* the database the restore was for */
    bool temporary; /* pgvault_tmp_…: the load of an interrupted restore */
};

/*
 * pgvault's own databases in the cluster (the temporary database of an interrupted
 * restore, a database a restore replaced and kept) that no session is connected to and
 * whose target is database db (NULL: any database of the catalog, or any restore target
 * it recorded). Best effort: when the server cannot be reached (within 10 s, unless
 * PGCONNECT_TIMEOUT says otherwise) there are none and no error is set. Never drops one.
 */
void recover_leftover_databases(struct catalog *cat, const struct conn_params *cp, const char *db,
                                struct leftover_db **out, size_t *n);
void leftover_dbs_free(struct leftover_db *l, size_t n);

/* True if name is what a backup's partial file is called (see above). */
bool recover_is_partial_name(const char *name);

#endif
