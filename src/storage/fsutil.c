#include "storage/fsutil.h"

#include "common/err.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The names we create, rename and remove are single entries of the repository. */
static int check_name(const char *name)
{
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_set(ERR_FAILED, "invalid file name \"%s\"", name);
    return 0;
}

/* Creates one directory level as 0700, or accepts an existing directory as it is. */
static int mkdir_one(const char *path)
{
    struct stat st;
    if (mkdir(path, 0700) == 0) {
        /* the umask may have narrowed the mode */
        if (chmod(path, 0700) < 0)
            return err_sys(errno, "could not change mode of directory \"%s\"", path);
        return 0;
    }
    if (errno != EEXIST)
        return err_sys(errno, "could not create directory \"%s\"", path);
    if (stat(path, &st) < 0)
        return err_sys(errno, "could not stat \"%s\"", path);
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_FAILED, "\"%s\" exists but is not a directory", path);
    return 0;
}

int fsutil_mkdir_repo(const char *path)
{
    if (!*path)
        return err_set(ERR_FAILED, "empty directory name");
    char *p = xstrdup(path);
    int rc = 0;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s == '/' && s[-1] != '/') {
            *s = '\0';
            rc = mkdir_one(p);
            *s = '/';
        }
    }
    if (rc == 0)
        rc = mkdir_one(p);
    free(p);
    return rc;
}

int fsutil_require_repo(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return err_set(ERR_FAILED, "repository \"%s\" does not exist", dir);
        return err_sys(errno, "could not stat repository \"%s\"", dir);
    }
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_FAILED, "repository \"%s\" is not a directory", dir);
    return 0;
}

int fsutil_create_excl(const char *dir, const char *name, int *fd)
{
    *fd = -1;
    if (check_name(name) < 0)
        return -1;
    char *path = path_join(dir, name);
    int rc = -1;
    /* O_EXCL makes a symlink planted at path fail with EEXIST instead of being followed */
    int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) {
        err_sys(errno, "could not create file \"%s\"", path);
        goto out;
    }
    /* the umask must neither widen nor narrow the mode; the owner is the directory's */
    if (fchmod(f, 0600) < 0)
        err_sys(errno, "could not change mode of file \"%s\"", path);
    if (err_is_set() || fsutil_own_like_dir(f, dir, path) < 0) {
        close(f);
        unlink(path);
        goto out;
    }
    *fd = f;
    rc = 0;
out:
    free(path);
    return rc;
}

int fsutil_fsync(int fd, const char *path)
{
    if (fsync(fd) < 0)
        return err_sys(errno, "could not fsync file \"%s\"", path);
    return 0;
}

int fsutil_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(errno, "could not open directory \"%s\"", dir);
    int rc = 0;
    /* some file systems cannot fsync a directory and say so with EINVAL */
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = err_sys(errno, "could not fsync directory \"%s\"", dir);
    close(fd);
    return rc;
}

int fsutil_rename_durable(const char *dir, const char *from, const char *to, bool *renamed)
{
    *renamed = false;
    if (check_name(from) < 0 || check_name(to) < 0)
        return -1;
    char *src = path_join(dir, from), *dst = path_join(dir, to);
    int rc = -1;
    if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) < 0) {
        /* without RENAME_NOREPLACE support, link() refuses an existing target too */
        if ((errno != EINVAL && errno != ENOSYS) || link(src, dst) < 0) {
            err_sys(errno, "could not rename file \"%s\" to \"%s\"", src, dst);
            goto out;
        }
        *renamed = true;
        if (unlink(src) < 0) {
            err_sys(errno, "could not remove file \"%s\"", src);
            goto out;
        }
    }
    *renamed = true;
    rc = fsutil_fsync_dir(dir);
out:
    free(src);
    free(dst);
    return rc;
}

int fsutil_commit_partial(const char *dir, const char *partial, const char *final)
{
    bool renamed;
    if (fsutil_rename_durable(dir, partial, final, &renamed) == 0)
        return 0;
    /* the cleanup's own failures must not hide why the rename failed */
    struct err_saved saved;
    err_save(&saved);
    fsutil_unlink(dir, partial);
    if (renamed)
        fsutil_unlink(dir, final);
    return err_restore(&saved);
}

int fsutil_unlink(const char *dir, const char *name)
{
    if (check_name(name) < 0)
        return -1;
    char *path = path_join(dir, name);
    int rc = 0;
    if (unlink(path) < 0 && errno != ENOENT)
        rc = err_sys(errno, "could not remove file \"%s\"", path);
    free(path);
    return rc;
}

bool fsutil_exists(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    struct stat st;
    bool found = lstat(path, &st) == 0;
    free(path);
    return found;
}

int fsutil_own_like_dir(int fd, const char *dir, const char *path)
{
    if (geteuid() != 0)
        return 0;
    struct stat st;
    if (stat(dir, &st) < 0)
        return err_sys(errno, "could not stat directory \"%s\"", dir);
    if (st.st_uid == 0)
        return 0;
    if (fchown(fd, st.st_uid, st.st_gid) < 0)
        return err_sys(errno, "could not give file \"%s\" to the owner of directory \"%s\"", path,
                       dir);
    return 0;
}

char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    while (slash > path && slash[-1] == '/')
        slash--;
    return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n == 0)
        return xstrdup(name);
    while (*name == '/')
        name++;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return xasprintf("%.*s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" : "/", name);
}

/* Only a regular file (or nothing) at path may be replaced: never a device, a FIFO or a
 * symlink, which the rename would turn into a regular file (lstat: a link is not followed). */
static int check_replaceable(const char *path, const char *what)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return err_sys(errno, "could not stat %s \"%s\"", what, path);
    }
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_FAILED, "%s \"%s\" is not a regular file; refusing to replace it", what,
                       path);
    return 0;
}

/* Writes the temporary file open at fd (named tmp) and closes it. */
static int write_temporary(int fd, const char *tmp, mode_t mode, const char *what,
                           int (*write)(FILE *f, void *ctx), void *ctx)
{
    FILE *f = NULL;
    int rc = -1;
    if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
        err_sys(errno, "could not write %s \"%s\"", what, tmp);
        goto out;
    }
    if (write(f, ctx) != 0)
        goto out;
    if (fflush(f) != 0 || ferror(f)) {
        err_sys(errno, "could not write %s \"%s\"", what, tmp);
        goto out;
    }
    rc = fsutil_fsync(fd, tmp);
out:
    if (f)
        fclose(f);
    else
        close(fd);
    return rc;
}

int fsutil_replace_file(const char *path, mode_t mode, const char *what,
                        int (*write)(FILE *f, void *ctx), void *ctx)
{
    const char *slash = strrchr(path, '/');
    char *dir = path_dir(path);
    char *tmp = xasprintf("%s/.%s.XXXXXX", dir, slash ? slash + 1 : path);
    int fd = -1, rc = -1;

    if (check_replaceable(path, what) != 0)
        goto out;
    /* a temporary file beside the target, so that the rename is atomic */
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        err_sys(errno, "could not create a temporary file beside %s \"%s\"", what, path);
        goto out;
    }
    if (write_temporary(fd, tmp, mode, what, write, ctx) != 0)
        goto out_unlink;
    /* then it replaces the old one at once, and durably (checked again: it may have
     * changed while the file was written) */
    if (check_replaceable(path, what) != 0)
        goto out_unlink;
    if (rename(tmp, path) != 0) {
        err_sys(errno, "could not rename %s \"%s\" to \"%s\"", what, tmp, path);
        goto out_unlink;
    }
    rc = fsutil_fsync_dir(dir);
    goto out;

out_unlink:
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    return rc;
}
