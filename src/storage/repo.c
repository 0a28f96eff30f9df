/*
 * The repository's locks: DIR/.lock shared or exclusive, one exclusive lock per database
 * under DIR/.locks/, and the recovery lock (see repo.h).
 */
#include "storage/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"
#include "common/naming.h"
#include "common/util.h"

#define LOCKS_DIR ".locks"
/* a leading '.' is always encoded in a database's part of a name: no database has it */
#define RECOVERY_LOCK ".recovery.lock"

struct repo_lock {
    int fd;
};

/* The pid an exclusive holder wrote into the lock file, or 0. */
static long holder_pid(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

/*
 * Opens (creating) the lock file path in the repository dir and flocks it with op, without
 * waiting. Returns 0 with *out set; 1 when another process holds it (*holder: the pid it
 * wrote, or 0); -1 with the error set.
 */
static int lock_path(const char *dir, const char *path, int op, struct repo_lock **out,
                     long *holder)
{
    *out = NULL;
    *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(errno, "could not open lock file \"%s\"", path);
    /* run as root in a repository of another user: the owner's runs must open it too */
    if (fsutil_own_like_dir(fd, dir, path) != 0) {
        close(fd);
        return -1;
    }
    if (flock(fd, op | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            *holder = holder_pid(fd);
        close(fd);
        return e == EWOULDBLOCK ? 1 : err_sys(e, "could not lock \"%s\"", path);
    }
    /* the pid is for the messages of refused commands only: a read-only file has none */
    if (op == LOCK_EX) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
            /* opened read-only: the lock holds all the same */
        }
    }
    *out = xmalloc(sizeof(**out));
    (*out)->fd = fd;
    return 0;
}

/* DIR/.locks/name, the directory created (mode 0700) when missing; never through a
 * symbolic link. Returns the path or NULL with the error set. */
static char *locks_path(const char *dir, const char *name)
{
    char *ldir = path_join(dir, LOCKS_DIR);
    char *path = NULL;
    struct stat st;
    if (mkdir(ldir, 0700) == 0) {
        int dfd = open(ldir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
            int own = fsutil_own_like_dir(dfd, dir, ldir);
            close(dfd);
            if (own != 0)
                goto out;
        }
    } else if (errno != EEXIST) {
        err_sys(errno, "could not create lock directory \"%s\"", ldir);
        goto out;
    }
    if (lstat(ldir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        err_set(ERR_FAILED, "could not use lock directory \"%s\": not a directory", ldir);
        goto out;
    }
    path = path_join(ldir, name);
out:
    free(ldir);
    return path;
}

static int busy(const char *dir, long pid)
{
    if (pid > 0)
        err_set(ERR_BUSY, "repository \"%s\" is busy: pgvault process %ld holds its lock", dir,
                pid);
    else
        err_set(ERR_BUSY, "repository \"%s\" is busy: another process holds its lock", dir);
    err_hint("wait for it to finish; readers (list, show, verify, query) need no lock");
    return -1;
}

int repo_lock(const char *dir, struct repo_lock **out)
{
    char *path = path_join(dir, ".lock");
    long pid;
    int rc = lock_path(dir, path, LOCK_SH, out, &pid);
    free(path);
    return rc == 1 ? busy(dir, pid) : rc;
}

int repo_lock_exclusive(const char *dir, struct repo_lock **out)
{
    char *path = path_join(dir, ".lock");
    long pid;
    int rc = lock_path(dir, path, LOCK_EX, out, &pid);
    if (rc == 1) {
        /* held shared (commands at work on their databases) or exclusive (one pid) */
        struct repo_lock *probe = NULL;
        if (lock_path(dir, path, LOCK_SH, &probe, &pid) == 0) {
            repo_unlock(probe);
            err_set(ERR_BUSY, "repository \"%s\" is busy: other pgvault commands are using it",
                    dir);
            err_hint("this command needs the repository to itself: run it when no backup, "
                     "restore, prune or pin is running");
            rc = -1;
        } else {
            err_clear();
            rc = busy(dir, pid);
        }
    }
    free(path);
    return rc;
}

/* The lock of database db: 0, 1 (held elsewhere, *pid its holder) or -1. */
static int db_lock(const char *dir, const char *db, struct repo_lock **out, long *pid)
{
    *out = NULL;
    *pid = 0;
    char *enc = naming_encode_db(db);
    char *name = xasprintf("%s.lock", enc);
    char *path = locks_path(dir, name);
    int rc = path ? lock_path(dir, path, LOCK_EX, out, pid) : -1;
    free(path);
    free(name);
    free(enc);
    return rc;
}

int repo_trylock_db(const char *dir, const char *db, struct repo_lock **out)
{
    long pid;
    return db_lock(dir, db, out, &pid);
}

int repo_lock_db(const char *dir, const char *db, struct repo_lock **out)
{
    long pid;
    int rc = db_lock(dir, db, out, &pid);
    if (rc != 1)
        return rc;
    if (pid > 0)
        err_set(ERR_BUSY,
                "database \"%s\" is busy: pgvault process %ld holds its lock in repository \"%s\"",
                db, pid, dir);
    else
        err_set(ERR_BUSY,
                "database \"%s\" is busy: another process holds its lock in repository \"%s\"", db,
                dir);
    err_hint("wait for it to finish; the other databases are not locked, and readers "
             "(list, show, verify, query) need no lock");
    return -1;
}

int repo_trylock_recovery(const char *dir, struct repo_lock **out)
{
    char *path = locks_path(dir, RECOVERY_LOCK);
    long pid;
    int rc = path ? lock_path(dir, path, LOCK_EX, out, &pid) : -1;
    free(path);
    return rc;
}

void repo_unlock(struct repo_lock *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}
