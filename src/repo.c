#include "repo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "util.h"

struct repo_lock {
    int fd;
};

int repo_lock(const char *dir, struct repo_lock **out)
{
    char *path = path_join(dir, ".lock");
    int rc = -1;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_sys(errno, "could not open lock file \"%s\"", path);
        goto out;
    }
    if (fsutil_own_like_dir(fd, dir, path) != 0)
        goto out;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            err_sys(errno, "could not lock \"%s\"", path);
            goto out;
        }
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid > 0)
            err_set(ERR_BUSY, "repository \"%s\" is busy: pgvault process %ld holds its lock", dir,
                    pid);
        else
            err_set(ERR_BUSY, "repository \"%s\" is busy: another process holds its lock", dir);
        err_hint("wait for it to finish; readers (list, show, verify, query) need no lock");
        goto out;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        err_sys(errno, "could not write lock file \"%s\"", path);
        goto out;
    }
    *out = xmalloc(sizeof(**out));
    (*out)->fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
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
