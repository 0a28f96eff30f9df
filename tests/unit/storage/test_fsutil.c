#include "common/err.h"
#include "storage/fsutil.h"
#include "unit.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[4096];

/* A fresh directory for one test; caller frees. */
static char *scratch(const char *name)
{
    char *d = xasprintf("%s/%s", base, name);
    CHECK_INT(mkdir(d, 0700), 0);
    return d;
}

static int mode_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = path_join(dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static char *read_file(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    char buf[256] = "";
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return xstrdup("(missing)");
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return xstrdup(buf);
}

static void test_path_join(void)
{
    const char *cases[][3] = {{"dir", "x", "dir/x"},
                              {"dir/", "x", "dir/x"},
                              {"dir//", "x", "dir/x"},
                              {"/", "x", "/x"},
                              {"/a/b", "c.sql", "/a/b/c.sql"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = path_join(cases[i][0], cases[i][1]);
        CHECK_STR(p, cases[i][2]);
        free(p);
    }
}

static void test_mkdir_repo(void)
{
    char *d = scratch("mkdir");
    mode_t old = umask(0);
    char *deep = xasprintf("%s/a/b/c/", d);
    CHECK_INT(fsutil_mkdir_repo(deep), 0);
    const char *levels[] = {"a", "a/b", "a/b/c"};
    for (int i = 0; i < 3; i++) {
        char *p = path_join(d, levels[i]);
        CHECK_INT(mode_of(p), 0700);
        free(p);
    }
    /* an existing directory is accepted and left as it is */
    CHECK_INT(chmod(d, 0755), 0);
    CHECK_INT(fsutil_mkdir_repo(d), 0);
    CHECK_INT(mode_of(d), 0755);
    CHECK_INT(fsutil_mkdir_repo(deep), 0);

    /* a narrowing umask does not change the mode either */
    umask(0277);
    char *other = xasprintf("%s/x/y", d);
    CHECK_INT(fsutil_mkdir_repo(other), 0);
    CHECK_INT(mode_of(other), 0700);
    umask(old);

    /* a file in the way is an error */
    write_file(d, "file", "x");
    char *f = path_join(d, "file");
    char *under = xasprintf("%s/sub", f);
    err_clear();
    CHECK_INT(fsutil_mkdir_repo(f), -1);
    char *want = xasprintf("\"%s\" exists but is not a directory", f);
    CHECK_STR(err_msg(), want);
    err_clear();
    CHECK_INT(fsutil_mkdir_repo(under), -1);
    CHECK_STR(err_msg(), want);
    err_clear();
    CHECK_INT(fsutil_mkdir_repo(""), -1);
    err_clear();
    free(want);
    free(under);
    free(f);
    free(other);
    free(deep);
    free(d);
}

static void test_path_dir(void)
{
    const char *cases[][2] = {{"a/b", "a"},  {"/x", "/"},        {"x", "."},
                              {"a//b", "a"}, {"/a/b/c", "/a/b"}, {"//x", "/"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = path_dir(cases[i][0]);
        CHECK_STR(d, cases[i][1]);
        free(d);
    }
}

/* As root, a file created in a directory that belongs to another user is that user's. */
static void test_own_like_dir(void)
{
    if (geteuid() != 0)
        return;
    char *d = scratch("owned");
    CHECK_INT(chown(d, 65534, 65534), 0);
    int fd = -1;
    CHECK_INT(fsutil_create_excl(d, "f", &fd), 0);
    struct stat st;
    CHECK_INT(fstat(fd, &st), 0);
    CHECK_INT((int)st.st_uid, 65534);
    CHECK_INT((int)st.st_gid, 65534);
    close(fd);
    fsutil_unlink(d, "f");
    /* a directory of root's: nothing changes */
    CHECK_INT(chown(d, 0, 0), 0);
    CHECK_INT(fsutil_create_excl(d, "g", &fd), 0);
    CHECK_INT(fstat(fd, &st), 0);
    CHECK_INT((int)st.st_uid, 0);
    close(fd);
    fsutil_unlink(d, "g");
    free(d);
}

static void test_require_repo(void)
{
    char *d = scratch("require");
    CHECK_INT(fsutil_require_repo(d), 0);
    char *missing = xasprintf("%s/missing", d);
    err_clear();
    CHECK_INT(fsutil_require_repo(missing), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    char *want = xasprintf("repository \"%s\" does not exist", missing);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    write_file(d, "file", "x");
    char *file = path_join(d, "file");
    CHECK_INT(fsutil_require_repo(file), -1);
    want = xasprintf("repository \"%s\" is not a directory", file);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    free(file);
    free(missing);
    free(d);
}

static void test_create_excl(void)
{
    char *d = scratch("create");
    mode_t old = umask(0);
    int fd = -1;
    CHECK_INT(fsutil_create_excl(d, "a.partial", &fd), 0);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_INT(write(fd, "data", 4), 4);
    CHECK_INT(fsutil_fsync(fd, "a.partial"), 0);
    close(fd);
    char *p = path_join(d, "a.partial");
    CHECK_INT(mode_of(p), 0600);
    free(p);

    umask(0777);
    CHECK_INT(fsutil_create_excl(d, "b.partial", &fd), 0);
    close(fd);
    p = path_join(d, "b.partial");
    CHECK_INT(mode_of(p), 0600);
    free(p);
    umask(old);

    /* an existing file is refused and left alone */
    err_clear();
    CHECK_INT(fsutil_create_excl(d, "a.partial", &fd), -1);
    CHECK_INT(fd, -1);
    char *want = xasprintf("could not create file \"%s/a.partial\": File exists", d);
    CHECK_STR(err_msg(), want);
    free(want);
    char *text = read_file(d, "a.partial");
    CHECK_STR(text, "data");
    free(text);

    /* a planted symlink is never followed, dangling or not */
    write_file(d, "victim", "precious");
    char *link_path = path_join(d, "link");
    char *dangling = path_join(d, "dangling");
    CHECK_INT(symlink("victim", link_path), 0);
    CHECK_INT(symlink("created-through-link", dangling), 0);
    err_clear();
    CHECK_INT(fsutil_create_excl(d, "link", &fd), -1);
    CHECK(strstr(err_msg(), "File exists") != NULL);
    err_clear();
    CHECK_INT(fsutil_create_excl(d, "dangling", &fd), -1);
    text = read_file(d, "victim");
    CHECK_STR(text, "precious");
    free(text);
    CHECK(!fsutil_exists(d, "created-through-link"));

    /* names are single directory entries */
    err_clear();
    CHECK_INT(fsutil_create_excl(d, "../escape", &fd), -1);
    CHECK_STR(err_msg(), "invalid file name \"../escape\"");
    err_clear();
    free(link_path);
    free(dangling);
    free(d);
}

static void test_rename(void)
{
    char *d = scratch("rename");
    write_file(d, "new.partial", "new");
    write_file(d, "taken", "old");

    /* an existing target is never replaced, and the source stays */
    err_clear();
    bool renamed = true;
    CHECK_INT(fsutil_rename_durable(d, "new.partial", "taken", &renamed), -1);
    CHECK(!renamed);
    char *want =
        xasprintf("could not rename file \"%s/new.partial\" to \"%s/taken\": File exists", d, d);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    char *text = read_file(d, "taken");
    CHECK_STR(text, "old");
    free(text);
    text = read_file(d, "new.partial");
    CHECK_STR(text, "new");
    free(text);

    CHECK_INT(fsutil_rename_durable(d, "new.partial", "final", &renamed), 0);
    CHECK(renamed);
    CHECK(!fsutil_exists(d, "new.partial"));
    text = read_file(d, "final");
    CHECK_STR(text, "new");
    free(text);

    CHECK_INT(fsutil_rename_durable(d, "missing", "other", &renamed), -1);
    CHECK(!renamed);
    CHECK(strstr(err_msg(), "No such file or directory") != NULL);
    err_clear();
    CHECK_INT(fsutil_rename_durable(d, "final", "a/b", &renamed), -1);
    err_clear();
    free(d);
}

static void test_commit_partial(void)
{
    char *d = scratch("commit");
    write_file(d, "new.partial", "new");
    write_file(d, "taken", "not ours");

    /* a name that is taken stays as it is; only our partial file goes */
    err_clear();
    CHECK_INT(fsutil_commit_partial(d, "new.partial", "taken"), -1);
    CHECK(strstr(err_msg(), "File exists") != NULL);
    err_clear();
    char *text = read_file(d, "taken");
    CHECK_STR(text, "not ours");
    free(text);
    CHECK(!fsutil_exists(d, "new.partial"));

    write_file(d, "new.partial", "new");
    CHECK_INT(fsutil_commit_partial(d, "new.partial", "final"), 0);
    CHECK(!fsutil_exists(d, "new.partial"));
    text = read_file(d, "final");
    CHECK_STR(text, "new");
    free(text);
    free(d);
}

static void test_unlink_exists_fsync(void)
{
    char *d = scratch("unlink");
    write_file(d, "f", "x");
    CHECK(fsutil_exists(d, "f"));
    CHECK_INT(fsutil_unlink(d, "f"), 0);
    CHECK(!fsutil_exists(d, "f"));
    CHECK_INT(fsutil_unlink(d, "f"), 0);
    CHECK_INT(fsutil_unlink(d, ".."), -1);
    err_clear();

    /* exists does not follow symlinks */
    char *l = path_join(d, "l");
    CHECK_INT(symlink("nowhere", l), 0);
    CHECK(fsutil_exists(d, "l"));
    CHECK_INT(fsutil_unlink(d, "l"), 0);
    CHECK(!fsutil_exists(d, "l"));
    free(l);

    CHECK_INT(fsutil_fsync_dir(d), 0);
    char *missing = path_join(d, "missing");
    CHECK_INT(fsutil_fsync_dir(missing), -1);
    char *want = xasprintf("could not open directory \"%s\": No such file or directory", missing);
    CHECK_STR(err_msg(), want);
    err_clear();
    CHECK_INT(fsutil_fsync(-1, "x"), -1);
    CHECK_STR(err_msg(), "could not fsync file \"x\": Bad file descriptor");
    err_clear();
    free(want);
    free(missing);
    free(d);
}

int main(void)
{
    const char *tmp = getenv("PGVAULT_TEST_TMP");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return perror(tmp), 1;
    snprintf(base, sizeof(base), "%s/fsutil.XXXXXX", tmp);
    if (!mkdtemp(base))
        return perror(base), 1;

    RUN(test_path_join);
    RUN(test_mkdir_repo);
    RUN(test_path_dir);
    RUN(test_own_like_dir);
    RUN(test_require_repo);
    RUN(test_create_excl);
    RUN(test_rename);
    RUN(test_commit_partial);
    RUN(test_unlink_exists_fsync);

    char *cmd = xasprintf("rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    free(cmd);
    return UNIT_DONE();
}
