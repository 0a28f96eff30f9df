#ifndef PGVAULT_REPOFILE_H
#define PGVAULT_REPOFILE_H

/*
 * A file of the repository that appears under its final name only once whole: created
 * as "<name>.partial" (O_EXCL, mode 0600, the directory's owner), written through its fd
 * (a chain's fd sink), then committed (fsync, a rename that never replaces an existing
 * file, directory fsync) or aborted (the partial file removed). Whatever fails, only
 * what is ours is removed: the partial file, and the final name only if the rename made
 * it ours. Backup and import write their files this way.
 */
struct repofile;

/* Creates dir/<name>.partial; fails if it exists. */
int repofile_create(const char *dir, const char *name, struct repofile **out);

/* The partial file's descriptor, open for writing. */
int repofile_fd(const struct repofile *f);

/* The partial file's full path (for messages, or to read it back before the commit). */
const char *repofile_path(const struct repofile *f);

/* Makes the file durable under its final name, then frees f. On failure (the final name
 * exists, fsync fails, …) nothing of ours is left behind and the error is set. */
int repofile_commit(struct repofile *f);

/* Closes and removes the partial file and frees f; NULL-safe; the current error (the
 * reason for giving up) is kept. */
void repofile_abort(struct repofile *f);

#endif
