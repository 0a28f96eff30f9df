#include "storage/repofile.h"

#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage/fsutil.h"

struct repofile {
    char *dir;
    char *name;    /* the final name */
    char *partial; /* <name>.partial */
    char *path;    /* dir/<name>.partial */
    int fd;
};

static void repofile_free(struct repofile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->dir);
    free(f->name);
    free(f->partial);
    free(f->path);
    free(f);
}

int repofile_create(const char *dir, const char *name, struct repofile **out)
{
    struct repofile *f = xcalloc(1, sizeof(*f));
    f->dir = xstrdup(dir);
    f->name = xstrdup(name);
    f->partial = xasprintf("%s.partial", name);
    f->path = path_join(dir, f->partial);
    *out = NULL;
    if (fsutil_create_excl(dir, f->partial, &f->fd) != 0) {
        repofile_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

int repofile_fd(const struct repofile *f)
{
    return f->fd;
}

const char *repofile_path(const struct repofile *f)
{
    return f->path;
}

int repofile_commit(struct repofile *f)
{
    if (fsutil_fsync(f->fd, f->path) != 0) {
        repofile_abort(f);
        return -1;
    }
    close(f->fd);
    f->fd = -1;
    /* removes the partial file, and the final name only if it became ours, on failure */
    int rc = fsutil_commit_partial(f->dir, f->partial, f->name);
    repofile_free(f);
    return rc;
}

void repofile_abort(struct repofile *f)
{
    if (!f)
        return;
    struct err_saved why;
    err_save(&why);
    close(f->fd);
    f->fd = -1;
    fsutil_unlink(f->dir, f->partial);
    err_restore(&why);
    repofile_free(f);
}
