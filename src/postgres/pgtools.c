#include "postgres/pgtools.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "common/err.h"
#include "common/proc.h"
#include "common/util.h"

#define DEBIAN_PG_ROOT "/usr/lib/postgresql"

int pgtools_major(const char *line)
{
    const char *p = strstr(line, ") ");
    if (!p)
        return -1;
    p += 2;
    char *end;
    long major = strtol(p, &end, 10);
    if (end == p || major < 7 || major > 999)
        return -1;
    return (int)major;
}

/* Runs "<path> --version" and returns its version text (after "(PostgreSQL) "). */
static int tool_version(const char *path, char **version, int *major)
{
    const char *argv[] = {path, "--version", NULL};
    char *out = NULL;
    if (proc_run_capture(argv, NULL, &out) != 0) {
        free(out);
        return -1;
    }
    out[strcspn(out, "\n")] = '\0';
    *major = pgtools_major(out);
    if (*major < 0) {
        err_set(ERR_FAILED, "could not parse the version of \"%s\": \"%s\"", path, out);
        free(out);
        return -1;
    }
    const char *v = strstr(out, ") ");
    *version = xstrdup(v + 2);
    free(out);
    return 0;
}

static bool is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Candidate majors installed the Debian way, each with tool present. */
static int debian_best(const char *tool, int want_major, char **path)
{
    DIR *d = opendir(DEBIAN_PG_ROOT);
    if (!d)
        return -1;
    int best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long m;
        if (parse_int(e->d_name, 7, 999, &m) != 0 || m < want_major)
            continue;
        char *p = xasprintf("%s/%ld/bin/%s", DEBIAN_PG_ROOT, m, tool);
        if (is_executable(p) && (best < 0 || m < best))
            best = (int)m;
        free(p);
    }
    closedir(d);
    if (best < 0)
        return -1;
    *path = xasprintf("%s/%d/bin/%s", DEBIAN_PG_ROOT, best, tool);
    return 0;
}

int pgtools_find(const char *tool, int server_version_num, const char *bindir, char **path,
                 char **version)
{
    int want = server_version_num / 10000;
    char *cand = NULL;
    int major = -1;

    if (bindir) {
        cand = xasprintf("%s/%s", bindir, tool);
        if (!is_executable(cand)) {
            err_set(ERR_FAILED, "could not find \"%s\" in \"%s\"", tool, bindir);
            goto fail;
        }
    } else if (debian_best(tool, want, &cand) != 0) {
        cand = xstrdup(tool); /* PATH */
    }
    if (tool_version(cand, version, &major) != 0) {
        if (!bindir && strchr(cand, '/') == NULL) {
            err_clear();
            err_set(ERR_FAILED, "no %s for PostgreSQL %d or newer is installed", tool, want);
            err_hint("install the package postgresql-client-%d", want);
        }
        goto fail;
    }
    if (major < want) {
        err_set(ERR_FAILED, "%s \"%s\" is version %d, older than the server (%d)", tool, cand,
                major, want);
        err_hint("install the package postgresql-client-%d", want);
        free(*version);
        *version = NULL;
        goto fail;
    }
    *path = cand;
    return 0;
fail:
    free(cand);
    return -1;
}

static char passfile_path[PATH_MAX];
static char passfile_env[PATH_MAX + 16];

/* Appends the user's own passfile to b, when libpq would read it; a file it cannot read
 * is skipped, as libpq skips it. */
static void add_user_passfile(struct sbuf *b)
{
    const char *env = getenv("PGPASSFILE");
    char *path = NULL;
    if (env && *env) {
        path = xstrdup(env);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            struct passwd *pw = getpwuid(geteuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home)
            return;
        path = xasprintf("%s/.pgpass", home);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    free(path);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & (S_IRWXG | S_IRWXO)) &&
        st.st_size <= 1024 * 1024) {
        char buf[8192];
        ssize_t n;
        size_t start = b->len;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            sbuf_add(b, buf, (size_t)n);
        explicit_bzero(buf, sizeof(buf));
        if (b->len > start && b->data[b->len - 1] != '\n')
            sbuf_add(b, "\n", 1);
    }
    close(fd);
}

int pgtools_passfile_create(const struct conn_params *cp)
{
    const char *password = cp->password;
    if (!password || passfile_path[0])
        return 0;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(passfile_path, sizeof(passfile_path), "%s/pgvault-pass-XXXXXX", tmp);
    mode_t old = umask(077);
    int fd = mkostemp(passfile_path, O_CLOEXEC);
    umask(old);
    if (fd < 0) {
        int e = errno;
        passfile_path[0] = '\0';
        return err_sys(e, "could not create password file in \"%s\"", tmp);
    }
    /* .pgpass syntax: ':' and '\' in a field are escaped with '\' */
    struct sbuf b = {0};
    if (cp->password_below_passfile)
        add_user_passfile(&b);
    sbuf_puts(&b, "*:*:*:*:");
    for (const char *p = password; *p; p++) {
        if (*p == ':' || *p == '\\')
            sbuf_add(&b, "\\", 1);
        sbuf_add(&b, p, 1);
    }
    sbuf_puts(&b, "\n");
    ssize_t w = write(fd, b.data, b.len);
    int e = errno;
    explicit_bzero(b.data, b.len);
    bool ok = w == (ssize_t)b.len;
    sbuf_free(&b);
    if (fchmod(fd, 0600) != 0 || close(fd) != 0 || !ok) {
        pgtools_passfile_remove();
        return err_sys(ok ? errno : e, "could not write password file");
    }
    snprintf(passfile_env, sizeof(passfile_env), "PGPASSFILE=%s", passfile_path);
    return 0;
}

const char *pgtools_passfile_env(void)
{
    return passfile_path[0] ? passfile_env : NULL;
}

const char *pgtools_passfile_path(void)
{
    return passfile_path[0] ? passfile_path : NULL;
}

void pgtools_passfile_remove(void)
{
    if (passfile_path[0]) {
        unlink(passfile_path);
        passfile_path[0] = '\0';
        passfile_env[0] = '\0';
    }
}
