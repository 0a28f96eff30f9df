#ifndef PGVAULT_RECOVER_H
#define PGVAULT_RECOVER_H

#include "catalog.h"

/*
 * Crash recovery (SPEC section 4, step 1), run by every command that writes, right after
 * it took the repository lock:
 * - every backup row still 'running' was left by a process that is gone: no pgvault can
 *   be writing while we hold the exclusive lock, whichever host it ran on (the lock is on
 *   the shared directory; Linux maps flock to POSIX locks on NFS). Each becomes 'failed'
 *   with the error "interrupted (process PID on HOST is gone)" and its NAME.partial file
 *   is removed;
 * - stray partial files (regular files named like a backup, "…_YYYYMMDD_HHMMSS[_N]
 *   .sql[.gz].partial") are removed; symlinks and other names are left alone.
 * Each action is logged and recorded as an audit event "recover". A row of this very
 * process (same pid and host) is left alone. A file that cannot be removed is a warning,
 * not a failure. Returns 0, or -1 with the error set when the catalog cannot be updated.
 */
int recover_repository(struct catalog *cat, const char *dir);

/* True if name is what a backup's partial file is called (see above). */
bool recover_is_partial_name(const char *name);

#endif
