#ifndef PGVAULT_FSUTIL_H
#define PGVAULT_FSUTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Creates the repository directory (and parents) if missing; a directory it creates is
 * mode 0700. Fails if path exists and is not a directory. */
int fsutil_mkdir_repo(const char *path);

/* Fails (exit code 1) unless the repository directory dir exists: readers check it first,
 * so that a mistyped -d is an error naming it, not an empty repository. */
int fsutil_require_repo(const char *dir);

/* Opens dir/name for writing with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600. */
int fsutil_create_excl(const char *dir, const char *name, int *fd);

/* fsync with error reporting naming path. */
int fsutil_fsync(int fd, const char *path);

/* rename(dir/from, dir/to) refusing to replace an existing file, then fsync dir.
 * *renamed says whether dir/to became ours: false when the rename itself failed (an
 * existing dir/to is then untouched), true when only the directory fsync failed. */
int fsutil_rename_durable(const char *dir, const char *from, const char *to, bool *renamed);

/* Gives the finished partial file dir/partial its final name durably. On failure it
 * removes only what is ours: the partial file, and the final name only if the rename
 * made it ours; a file already at dir/final is never touched. */
int fsutil_commit_partial(const char *dir, const char *partial, const char *final);

/* fsync the directory itself. */
int fsutil_fsync_dir(const char *dir);

/* Unlinks dir/name; a missing file is not an error. */
int fsutil_unlink(const char *dir, const char *name);

/* True if dir/name exists (lstat). */
bool fsutil_exists(const char *dir, const char *name);

/* When running as root, gives the file open at fd (named path in messages) to the owner
 * of directory dir unless that is root, so that files created in a repository that
 * belongs to another user (the packaged postgres) stay readable by that user. */
int fsutil_own_like_dir(int fd, const char *dir, const char *path);

/*
 * Replaces the file at path at once: write(f, ctx) fills a temporary file beside it
 * (mkstemp, then mode), which is fsynced and renamed over path, and the directory
 * fsynced. Only a regular file (or nothing) at path is replaced: a device, FIFO or
 * symlink is refused and left as it is. what names the file in errors ("metrics
 * file"). write returns 0, or -1 with the error set. Returns 0, or -1 with the error
 * set and the temporary file removed.
 */
int fsutil_replace_file(const char *path, mode_t mode, const char *what,
                        int (*write)(FILE *f, void *ctx), void *ctx);

/* Joins dir and name with one '/'; caller frees. */
char *path_join(const char *dir, const char *name);

/* The directory part of path ("." without a slash, "/" for a name in the root); caller
 * frees. */
char *path_dir(const char *path);

#endif
