/*
 * The file:///PATH backend: a directory, typically a mounted NAS or a second disk. An
 * object is the file PATH/KEY, its checksum the sidecar PATH/KEY.xxh3 ("HEX  NAME", as
 * "xxhsum -H2" prints it, so that "xxhsum -c" checks it there). A store is atomic: the
 * sidecar first, then the bytes into a temporary name, fsync, rename, directory fsync.
 * A missing PATH is an unreachable remote (a share that is not mounted); anything else
 * that fails (permissions, a full disk) is a plain failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"
#include "remote/remote.h"

#define SIDECAR ".xxh3"
#define TMP_MARK ".pgvault-tmp-"
enum { CHUNK = 1 << 20 };

struct local_remote {
    struct remote base;
    char *root; /* PATH, without a trailing '/' */
};

static const char *root_of(const struct remote *r)
{
    return ((const struct local_remote *)r)->root;
}

static int local_open(const struct remote_conf *conf, struct remote **out)
{
    const char *path = conf->url + strlen("file://");
    if (path[0] != '/')
        return err_set(ERR_USAGE, "remote \"%s\": url \"%s\" is not file:///ABSOLUTE/PATH",
                       conf->name, conf->url);
    struct local_remote *l = xcalloc(1, sizeof(*l));
    l->root = xstrdup(path);
    size_t n = strlen(l->root);
    while (n > 1 && l->root[n - 1] == '/')
        l->root[--n] = '\0';
    *out = &l->base;
    return 0;
}

static void local_close(struct remote *r)
{
    struct local_remote *l = (struct local_remote *)r;
    free(l->root);
    free(l);
}

/* The remote's directory must exist: a missing one is a share that is not mounted. */
static int reach(const struct remote *r)
{
    struct stat st;
    if (stat(root_of(r), &st) != 0)
        return err_set(ERR_REMOTE, "remote \"%s\": cannot reach directory \"%s\": %s",
                       r->conf->name, root_of(r), strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_REMOTE, "remote \"%s\": \"%s\" is not a directory", r->conf->name,
                       root_of(r));
    return 0;
}

static int check_key(const struct remote *r, const char *key)
{
    if (!*key || key[0] == '/' || strstr(key, "..") || strstr(key, "//"))
        return err_set(ERR_FAILED, "remote \"%s\": invalid object key \"%s\"", r->conf->name, key);
    return 0;
}

/* Creates the directories of key under the root (mode 0700). */
static int make_parents(const struct remote *r, const char *key)
{
    char *path = xasprintf("%s/%s", root_of(r), key);
    int rc = 0;
    size_t base = strlen(root_of(r)) + 1;
    for (char *p = path + base; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            rc = err_sys(errno, "remote \"%s\": could not create directory \"%s\"", r->conf->name,
                         path);
        *p = '/';
        if (rc)
            break;
    }
    free(path);
    return rc;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(errno, "could not write file \"%s\"", path);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of the directory that holds path. */
static int sync_parent(const char *path)
{
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0)
        rc = err_sys(errno, "could not fsync directory \"%s\"", dir);
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

/* Makes tmp durable and renames it to final (same directory), then fsyncs that. */
static int commit_tmp(int fd, const char *tmp, const char *final)
{
    if (fsync(fd) != 0)
        return err_sys(errno, "could not fsync file \"%s\"", tmp);
    if (rename(tmp, final) != 0)
        return err_sys(errno, "could not rename \"%s\" to \"%s\"", tmp, final);
    return sync_parent(final);
}

/* The progress of a store: every buffer counted on its way to the temporary file. */
struct put_progress {
    remote_progress_fn fn;
    void *arg;
    int64_t done, total;
};

static int count_progress(void *ctx, const unsigned char *buf, size_t len)
{
    struct put_progress *pp = ctx;
    (void)buf;
    pp->done += (int64_t)len;
    if (pp->fn)
        pp->fn(pp->arg, pp->done, pp->total);
    return 0;
}

/* A temporary file beside final, created exclusively; *tmp is its path. */
static int create_tmp(const char *final, char **tmp, int *fd)
{
    *tmp = xasprintf("%s%s%ld", final, TMP_MARK, (long)getpid());
    unlink(*tmp); /* a leftover of an earlier run of this pid */
    *fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0)
        return err_sys(errno, "could not create file \"%s\"", *tmp);
    return 0;
}

/* Writes the sidecar final.xxh3 atomically. */
static int put_sidecar(const char *final, const char *checksum)
{
    char *side = xasprintf("%s%s", final, SIDECAR);
    const char *name = strrchr(final, '/') + 1;
    char *line = xasprintf("%s  %s\n", checksum, name);
    char *tmp = NULL;
    int fd = -1;
    int rc = create_tmp(side, &tmp, &fd);
    if (rc == 0)
        rc = write_all(fd, line, strlen(line), tmp);
    if (rc == 0)
        rc = commit_tmp(fd, tmp, side);
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(line);
    free(side);
    return rc;
}

static int pump(struct chain *c, int fd, const char *path, struct put_progress *pp,
                volatile sig_atomic_t *cancel);

/* Copies path into the open temporary file, reporting progress on the way. */
static int copy_into(int fd, const char *tmp, const char *path, struct put_progress *pp,
                     volatile sig_atomic_t *cancel)
{
    int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return err_sys(errno, "could not open file \"%s\"", path);
    struct chain *c = chain_new();
    chain_add(c, filter_fd_new(fd, tmp));
    int rc = pump(c, in, path, pp, cancel);
    chain_free(c);
    close(in);
    return rc;
}

static int local_put_file(struct remote *r, const char *path, const char *key,
                          const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                          volatile sig_atomic_t *cancel)
{
    if (reach(r) != 0 || check_key(r, key) != 0 || make_parents(r, key) != 0)
        return -1;
    char *final = xasprintf("%s/%s", root_of(r), key);
    char *tmp = NULL;
    int fd = -1;
    struct put_progress pp = {.fn = progress, .arg = arg, .total = meta->size};
    int rc = put_sidecar(final, meta->checksum[0] ? meta->checksum : "-");
    if (rc == 0)
        rc = create_tmp(final, &tmp, &fd);
    if (rc == 0)
        rc = copy_into(fd, tmp, path, &pp, cancel);
    if (rc == 0)
        rc = commit_tmp(fd, tmp, final);
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    if (rc != 0) {
        /* a sidecar without its object (or beside an older one) would only mislead */
        char *side = xasprintf("%s%s", final, SIDECAR);
        unlink(side);
        free(side);
        err_wrap(ERR_NONE, "remote \"%s\": could not store \"%s\"", r->conf->name, key);
    }
    free(tmp);
    free(final);
    return rc;
}

/* Reads the 32 hex digits at the start of the sidecar, "" when there is none. */
static void read_sidecar(const char *final, char out[33])
{
    char *side = xasprintf("%s%s", final, SIDECAR);
    out[0] = '\0';
    int fd = open(side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    free(side);
    if (fd < 0)
        return;
    char buf[33];
    ssize_t n = read(fd, buf, 32);
    close(fd);
    if (n != 32)
        return;
    buf[32] = '\0';
    if (strspn(buf, "0123456789abcdef") == 32)
        memcpy(out, buf, 33);
}

static int stat_path(const struct remote *r, const char *final, struct remote_meta *out)
{
    struct stat st;
    if (lstat(final, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        return err_sys(errno, "remote \"%s\": could not stat \"%s\"", r->conf->name, final);
    }
    if (!S_ISREG(st.st_mode))
        return 1;
    out->size = (int64_t)st.st_size;
    read_sidecar(final, out->checksum);
    return 0;
}

static int local_stat(struct remote *r, const char *key, struct remote_meta *out)
{
    if (reach(r) != 0 || check_key(r, key) != 0)
        return -1;
    char *final = xasprintf("%s/%s", root_of(r), key);
    int rc = stat_path(r, final, out);
    free(final);
    return rc;
}

/* Reads fd to its end into the chain, reporting progress; then finishes the chain. */
static int pump(struct chain *c, int fd, const char *path, struct put_progress *pp,
                volatile sig_atomic_t *cancel)
{
    unsigned char *buf = xmalloc_io(CHUNK);
    int rc = -1;
    for (;;) {
        if (cancel && *cancel) {
            err_set(ERR_FAILED, "interrupted");
            goto out;
        }
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(errno, "could not read file \"%s\"", path);
            goto out;
        }
        if (n == 0)
            break;
        if (chain_write(c, buf, (size_t)n) != 0)
            goto out;
        count_progress(pp, buf, (size_t)n);
    }
    rc = chain_finish(c);
out:
    free(buf);
    return rc;
}

static int local_get(struct remote *r, const char *key, struct chain *c,
                     remote_progress_fn progress, void *arg, volatile sig_atomic_t *cancel)
{
    if (reach(r) != 0 || check_key(r, key) != 0)
        return -1;
    char *final = xasprintf("%s/%s", root_of(r), key);
    int rc = -1;
    int fd = open(final, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_sys(errno, "remote \"%s\": could not open \"%s\"", r->conf->name, final);
    } else {
        struct put_progress pp = {.fn = progress, .arg = arg, .total = (int64_t)st.st_size};
        rc = pump(c, fd, final, &pp, cancel);
    }
    if (fd >= 0)
        close(fd);
    free(final);
    return rc;
}

static int unlink_missing_ok(const struct remote *r, const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        return err_sys(errno, "remote \"%s\": could not remove \"%s\"", r->conf->name, path);
    return 0;
}

static int local_remove(struct remote *r, const char *key)
{
    if (reach(r) != 0 || check_key(r, key) != 0)
        return -1;
    char *final = xasprintf("%s/%s", root_of(r), key);
    char *side = xasprintf("%s%s", final, SIDECAR);
    int rc = unlink_missing_ok(r, final);
    if (rc == 0)
        rc = unlink_missing_ok(r, side);
    if (rc == 0)
        rc = sync_parent(final);
    free(side);
    free(final);
    return rc;
}

/* What a walk of the tree needs: the listing's callback and its filter. */
struct walk {
    const struct remote *r;
    const char *prefix;
    remote_list_fn fn;
    void *arg;
};

static bool is_object_name(const char *name)
{
    size_t n = strlen(name);
    size_t s = strlen(SIDECAR);
    if (name[0] == '.' || strstr(name, TMP_MARK))
        return false;
    return !(n > s && strcmp(name + n - s, SIDECAR) == 0);
}

static int walk_dir(struct walk *w, const char *rel);

/* One entry of a directory: a subdirectory is walked, an object reported. */
static int walk_entry(struct walk *w, const char *rel, const char *name)
{
    char *key = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
    char *path = xasprintf("%s/%s", root_of(w->r), key);
    struct stat st;
    int rc = 0;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = walk_dir(w, key);
    } else if (is_object_name(name) && strncmp(key, w->prefix, strlen(w->prefix)) == 0) {
        struct remote_meta meta = {0};
        if (stat_path(w->r, path, &meta) == 0 && w->fn(w->arg, key, &meta) != 0)
            rc = 1;
    }
    free(path);
    free(key);
    return rc;
}

static int walk_dir(struct walk *w, const char *rel)
{
    char *path = *rel ? xasprintf("%s/%s", root_of(w->r), rel) : xstrdup(root_of(w->r));
    DIR *d = opendir(path);
    if (!d) {
        int rc = err_sys(errno, "remote \"%s\": could not list \"%s\"", w->r->conf->name, path);
        free(path);
        return rc;
    }
    free(path);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = walk_entry(w, rel, e->d_name);
    closedir(d);
    return rc;
}

static int local_list(struct remote *r, const char *prefix, remote_list_fn fn, void *arg)
{
    if (reach(r) != 0)
        return -1;
    struct walk w = {.r = r, .prefix = prefix ? prefix : "", .fn = fn, .arg = arg};
    return walk_dir(&w, "") < 0 ? -1 : 0;
}

const struct remote_ops remote_local_ops = {
    .scheme = "file",
    .open = local_open,
    .put_file = local_put_file,
    .stat = local_stat,
    .get = local_get,
    .remove = local_remove,
    .list = local_list,
    .close = local_close,
};
