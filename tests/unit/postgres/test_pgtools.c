#include "config/config.h"
#include "postgres/pgtools.h"
#include "unit.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[4096];

static void write_mode(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

/* The temporary passfile's content, or "" when there is none. */
static char *passfile_text(void)
{
    const char *path = pgtools_passfile_path();
    static char buf[4096];
    buf[0] = '\0';
    if (!path)
        return buf;
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    return buf;
}

static void test_passfile_merges_user_entries_first(void)
{
    char *home = xasprintf("%s/home", tmpdir);
    mkdir(home, 0700);
    char *pgpass = xasprintf("%s/.pgpass", home);
    setenv("HOME", home, 1);
    unsetenv("PGPASSFILE");
    setenv("TMPDIR", tmpdir, 1);

    /* from the config file: the user's ~/.pgpass comes first */
    write_mode(pgpass, "db1:5432:shop:bk:from-pgpass", 0600);
    struct conn_params cp = {.password = "cfg:pw", .password_below_passfile = true};
    CHECK_INT(pgtools_passfile_create(&cp), 0);
    CHECK_STR(passfile_text(), "db1:5432:shop:bk:from-pgpass\n*:*:*:*:cfg\\:pw\n");
    char *made = xstrdup(pgtools_passfile_path());
    pgtools_passfile_remove();
    CHECK(access(made, F_OK) != 0);
    free(made);

    /* a ~/.pgpass that libpq would ignore (group-readable) is ignored */
    chmod(pgpass, 0640);
    CHECK_INT(pgtools_passfile_create(&cp), 0);
    CHECK_STR(passfile_text(), "*:*:*:*:cfg\\:pw\n");
    pgtools_passfile_remove();

    /* PGPASSFILE names the user's file instead of ~/.pgpass */
    char *other = xasprintf("%s/other.pass", tmpdir);
    write_mode(other, "*:*:*:*:from-pgpassfile\n", 0600);
    setenv("PGPASSFILE", other, 1);
    CHECK_INT(pgtools_passfile_create(&cp), 0);
    CHECK_STR(passfile_text(), "*:*:*:*:from-pgpassfile\n*:*:*:*:cfg\\:pw\n");
    pgtools_passfile_remove();
    unsetenv("PGPASSFILE");

    /* DB_PASSWORD / PGPASSWORD rank above the passfile: only their line */
    chmod(pgpass, 0600);
    struct conn_params high = {.password = "env", .password_below_passfile = false};
    CHECK_INT(pgtools_passfile_create(&high), 0);
    CHECK_STR(passfile_text(), "*:*:*:*:env\n");
    pgtools_passfile_remove();

    /* no password: no file */
    struct conn_params none = {0};
    CHECK_INT(pgtools_passfile_create(&none), 0);
    CHECK(pgtools_passfile_path() == NULL);
    free(home);
    free(pgpass);
    free(other);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/pgtools-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_passfile_merges_user_entries_first);
    return UNIT_DONE();
}
