#ifndef PGVAULT_RECOVER_H
#define PGVAULT_RECOVER_H

#include "catalog.h"

/*
 * Crash recovery (SPEC section 4, step 1), run by every command that writes, right after
 * it took the repository lock; one at a time (the recovery lock: when another process is
 * recovering, this returns 0 at once). A run is dead when nobody holds its database's
 * lock (a live backup or restore holds it for as long as its row is 'running'; on NFS,
 * Linux maps flock to POSIX locks that every host sees); each action below is taken
 * under that lock, and a database whose lock is held is left alone:
 * - every backup row still 'running' becomes 'failed' with the error "interrupted
 *   (process PID on HOST is gone)" and its NAME.partial file is removed;
 * - every restore row still 'running' becomes 'failed';
 * - stray partial files (regular files named like a backup, "…_YYYYMMDD_HHMMSS[_N]
 *   .sql[.gz].partial") are removed; symlinks and other names are left alone.
 * Each action is logged and recorded as an audit event "recover". A row of this very
 * process (same pid and host) is left alone. A file that cannot be removed is a warning,
 * not a failure. Returns 0, or -1 with the error set when the catalog cannot be updated
 * or a lock file cannot be opened.
 */
int recover_repository(struct catalog *cat, const char *dir);

/* True if name is what a backup's partial file is called (see above). */
bool recover_is_partial_name(const char *name);

#endif
