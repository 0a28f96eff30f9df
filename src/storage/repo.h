#ifndef PGVAULT_REPO_H
#define PGVAULT_REPO_H

/*
 * The repository's advisory locks (flock), none of which is ever waited for:
 * - DIR/.lock, repository-wide: every command that writes holds it shared for its whole
 *   run; catalog-wide maintenance that must have the repository to itself (import)
 *   holds it exclusive;
 * - DIR/.locks/<db>.lock, one per database (<db> encoded as in backup file names):
 *   backup, restore, prune and pin of database X hold X's lock exclusive, so that a
 *   restore of X never waits for a backup of Y, while two backups of X never run at
 *   once and prune never removes a file that a restore of X is reading;
 * - DIR/.locks/.recovery.lock: one crash recovery at a time.
 * An exclusive holder writes its pid into the file so that a refused command can name it.
 */
struct repo_lock;

/* Takes DIR/.lock shared, or fails at once with ERR_BUSY naming the exclusive holder. */
int repo_lock(const char *dir, struct repo_lock **out);
/* Takes DIR/.lock exclusive, or fails at once with ERR_BUSY. */
int repo_lock_exclusive(const char *dir, struct repo_lock **out);
/* Takes the lock of database db, or fails at once with ERR_BUSY naming the holder. */
int repo_lock_db(const char *dir, const char *db, struct repo_lock **out);
/* Like repo_lock_db, but returns 1 without an error (and *out NULL) when another process
 * holds the lock: what crash recovery asks to tell a live run from a dead one. */
int repo_trylock_db(const char *dir, const char *db, struct repo_lock **out);
/* Takes the recovery lock; 1 without an error when another process is recovering. */
int repo_trylock_recovery(const char *dir, struct repo_lock **out);
/* Releases a lock (closing the file); NULL-safe. */
void repo_unlock(struct repo_lock *l);

#endif
