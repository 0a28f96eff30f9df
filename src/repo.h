#ifndef PGVAULT_REPO_H
#define PGVAULT_REPO_H

/*
 * The repository's advisory lock: every command that writes holds an exclusive flock on
 * DIR/.lock for its whole run, without waiting. The holder's pid is written into the file
 * so that a refused writer can name it.
 */
struct repo_lock;

/* Takes the lock or fails at once with ERR_BUSY naming the holder's pid. */
int repo_lock(const char *dir, struct repo_lock **out);
/* Releases the lock (closing the file); NULL-safe. */
void repo_unlock(struct repo_lock *l);

#endif
