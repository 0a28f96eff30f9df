/* The repository file: partial → commit, or abort; only what is ours is ever removed. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage/fsutil.h"
#include "storage/repofile.h"
#include "unit.h"

static char base[4096];

static char *scratch(const char *name)
{
    char *d = xasprintf("%s/%s", base, name);
    CHECK_INT(mkdir(d, 0700), 0);
    return d;
}

static char *slurp(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return NULL;
    char *buf = xcalloc(1, 256);
    size_t n = fread(buf, 1, 255, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_commit(void)
{
    char *d = scratch("commit");
    struct repofile *f;
    CHECK_INT(repofile_create(d, "a.sql", &f), 0);
    char *want = xasprintf("%s/a.sql.partial", d);
    CHECK_STR(repofile_path(f), want);
    CHECK(fsutil_exists(d, "a.sql.partial"));
    CHECK(!fsutil_exists(d, "a.sql"));
    CHECK_INT(write(repofile_fd(f), "whole", 5), 5);
    struct stat st;
    CHECK_INT(stat(want, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(repofile_commit(f), 0);
    char *text = slurp(d, "a.sql");
    CHECK_STR(text, "whole");
    CHECK(!fsutil_exists(d, "a.sql.partial"));
    free(text);
    free(want);
    free(d);
}

static void test_abort_keeps_the_error(void)
{
    char *d = scratch("abort");
    struct repofile *f;
    CHECK_INT(repofile_create(d, "b.sql", &f), 0);
    CHECK_INT(write(repofile_fd(f), "half", 4), 4);
    err_clear();
    err_set(ERR_FAILED, "pg_dump failed");
    repofile_abort(f);
    CHECK_STR(err_msg(), "pg_dump failed");
    err_clear();
    CHECK(!fsutil_exists(d, "b.sql.partial"));
    CHECK(!fsutil_exists(d, "b.sql"));
    repofile_abort(NULL);
    free(d);
}

/* A partial file that is not ours is neither used nor removed. */
static void test_existing_partial_is_not_ours(void)
{
    char *d = scratch("partial");
    char *p = path_join(d, "c.sql.partial");
    FILE *o = fopen(p, "w");
    fputs("theirs", o);
    fclose(o);
    struct repofile *f = (struct repofile *)1;
    err_clear();
    CHECK_INT(repofile_create(d, "c.sql", &f), -1);
    CHECK(f == NULL);
    CHECK(strstr(err_msg(), "could not create file") != NULL);
    err_clear();
    char *text = slurp(d, "c.sql.partial");
    CHECK_STR(text, "theirs");
    free(text);
    free(p);
    free(d);
}

/* The final name exists: the commit fails, that file is untouched, ours is gone. */
static void test_commit_never_replaces(void)
{
    char *d = scratch("exists");
    struct repofile *f;
    CHECK_INT(repofile_create(d, "e.sql", &f), 0);
    char *p = path_join(d, "e.sql");
    FILE *o = fopen(p, "w");
    fputs("theirs", o);
    fclose(o);
    CHECK_INT(write(repofile_fd(f), "ours", 4), 4);
    err_clear();
    CHECK_INT(repofile_commit(f), -1);
    CHECK(strstr(err_msg(), "could not rename file") != NULL);
    CHECK(strstr(err_msg(), "File exists") != NULL);
    err_clear();
    char *text = slurp(d, "e.sql");
    CHECK_STR(text, "theirs");
    CHECK(!fsutil_exists(d, "e.sql.partial"));
    free(text);
    free(p);
    free(d);
}

int main(void)
{
    const char *tmp = getenv("PGVAULT_TEST_TMP");
    if (!tmp)
        tmp = "/tmp";
    mkdir(tmp, 0700);
    snprintf(base, sizeof(base), "%s/repofile-XXXXXX", tmp);
    if (!mkdtemp(base))
        return 2;
    RUN(test_commit);
    RUN(test_abort_keeps_the_error);
    RUN(test_existing_partial_is_not_ours);
    RUN(test_commit_never_replaces);
    return UNIT_DONE();
}
