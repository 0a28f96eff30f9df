#include "command/hooks.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/proc.h"
#include "unit.h"
#include "common/util.h"

static char tmpdir[PATH_MAX];

/* The words of cmd joined with '|', or "ERROR: <message>"; caller frees. */
static char *split(const char *cmd)
{
    err_clear();
    char **argv = hooks_split(cmd);
    if (!argv) {
        char *e = xasprintf("ERROR: %s", err_msg());
        err_clear();
        return e;
    }
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    for (char **a = argv; *a; a++)
        sbuf_printf(&b, "%s%s", a == argv ? "" : "|", *a);
    hooks_argv_free(argv);
    return b.data;
}

#define CHECK_SPLIT(cmd, expected)                                                                 \
    do {                                                                                           \
        char *got_ = split(cmd);                                                                   \
        CHECK_STR(got_, expected);                                                                 \
        free(got_);                                                                                \
    } while (0)

static void test_split(void)
{
    CHECK_SPLIT("curl -fsS -m 10 https://hc-ping.com/UUID",
                "curl|-fsS|-m|10|https://hc-ping.com/UUID");
    CHECK_SPLIT("  /usr/local/bin/notify\t a  b ", "/usr/local/bin/notify|a|b");
    CHECK_SPLIT("\"/opt/my hooks/ping\" \"two words\" x\"y z\"w",
                "/opt/my hooks/ping|two words|xy zw");
    CHECK_SPLIT("sh -c 'test \"$PGVAULT_OUTCOME\" = success || mail -s \"x y\" root'",
                "sh|-c|test \"$PGVAULT_OUTCOME\" = success || mail -s \"x y\" root");
    CHECK_SPLIT("sh -c \"echo \\\"\\$HOME\\\" \\\\ \\n\"", "sh|-c|echo \"$HOME\" \\ \\n");
    CHECK_SPLIT("a\\ b c\\'d ''", "a b|c'd|");
    /* no expansion of any kind */
    CHECK_SPLIT("echo $HOME ~ * `id` $(id) ; | &", "echo|$HOME|~|*|`id`|$(id)|;|||&");
    CHECK_SPLIT("sh -c 'unterminated",
                "ERROR: unterminated quote in hook command: sh -c 'unterminated");
    CHECK_SPLIT("say \"unterminated",
                "ERROR: unterminated quote in hook command: say \"unterminated");
    CHECK_SPLIT("   ", "ERROR: the hook command is empty");
    CHECK_SPLIT(NULL, "ERROR: the hook command is empty");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    struct sbuf b = {0};
    char buf[4096];
    size_t n;
    sbuf_add(&b, "", 0);
    while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        sbuf_add(&b, buf, n);
    if (f)
        fclose(f);
    return b.data;
}

static void test_environment(void)
{
    char *out = xasprintf("%s/env.txt", tmpdir);
    char *cmd = xasprintf("sh -c 'env | grep -E \"^(PGVAULT_|DB_PASSWORD|PGPASSWORD)\" | "
                          "grep -v ^PGVAULT_TEST_ | LC_ALL=C sort > \"$0\"' %s",
                          out);
    struct hook_env env = {
        .hook = "post_backup_hook",
        .outcome = "failure",
        .backup_id = 42,
        .db = "my db",
        .file = "/var/lib/pgvault/my%20db_20261125_153012.sql.gz",
        .exit_code = 5,
        .error = "could not connect",
    };
    setenv("PGVAULT_EXIT_CODE", "stale", 1); /* our own value is replaced, not inherited */
    setenv("DB_PASSWORD", "secret", 1);      /* and no password reaches a hook */
    setenv("PGPASSWORD", "secret", 1);
    err_clear();
    CHECK_INT(hooks_run(cmd, 10, &env), 0);
    char *got = read_file(out);
    CHECK_STR(got, "PGVAULT_BACKUP_ID=42\n"
                   "PGVAULT_DB=my db\n"
                   "PGVAULT_ERROR=could not connect\n"
                   "PGVAULT_EXIT_CODE=5\n"
                   "PGVAULT_FILE=/var/lib/pgvault/my%20db_20261125_153012.sql.gz\n"
                   "PGVAULT_HOOK=post_backup_hook\n"
                   "PGVAULT_OUTCOME=failure\n");
    free(got);

    /* before the backup: no exit code yet; no row: no id */
    struct hook_env pre = {
        .hook = "pre_backup_hook", .outcome = "started", .db = "x", .exit_code = -1};
    CHECK_INT(hooks_run(cmd, 10, &pre), 0);
    got = read_file(out);
    CHECK_STR(got, "PGVAULT_BACKUP_ID=\nPGVAULT_DB=x\nPGVAULT_ERROR=\nPGVAULT_EXIT_CODE=\n"
                   "PGVAULT_FILE=\nPGVAULT_HOOK=pre_backup_hook\nPGVAULT_OUTCOME=started\n");
    free(got);
    unsetenv("PGVAULT_EXIT_CODE");
    unsetenv("DB_PASSWORD");
    unsetenv("PGPASSWORD");
    free(cmd);
    free(out);
}

static void test_failures(void)
{
    struct hook_env env = {.hook = "pre_backup_hook", .outcome = "started", .exit_code = -1};

    err_clear();
    CHECK_INT(hooks_run("sh -c 'echo not the primary >&2; exit 3'", 10, &env), -1);
    CHECK_STR(err_msg(), "pre_backup_hook failed: sh failed with exit code 3: not the primary");
    CHECK_INT(err_class(), ERR_FAILED);

    err_clear();
    CHECK_INT(hooks_run("/nonexistent/hook arg", 10, &env), -1);
    CHECK_STR(err_msg(), "pre_backup_hook failed: could not execute \"/nonexistent/hook\": No such "
                         "file or directory");

    err_clear();
    CHECK_INT(hooks_run("sh -c 'kill -TERM $$'", 10, &env), -1);
    CHECK_STR(err_msg(), "pre_backup_hook failed: sh terminated unexpectedly by signal 15");

    err_clear();
    CHECK_INT(hooks_run("say 'hello", 10, &env), -1);
    CHECK_STR(err_msg(), "pre_backup_hook failed: unterminated quote in hook command: say 'hello");
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
}

/* True if pid is gone or a zombie (killed, not yet reaped by its new parent). */
static bool dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *stat = read_file(path);
    char *end = strrchr(stat, ')');
    bool gone = !*stat || (end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
    free(stat);
    return gone;
}

static void test_timeout(void)
{
    /* the hook and what it started in the background are killed after the timeout */
    char *pidfile = xasprintf("%s/bg.pid", tmpdir);
    char *cmd = xasprintf("sh -c 'sleep 60 & echo $! > \"$0\"; sleep 60' %s", pidfile);
    struct hook_env env = {.hook = "post_backup_hook", .outcome = "success", .exit_code = 0};
    double t0 = time_mono();
    err_clear();
    CHECK_INT(hooks_run(cmd, 1, &env), -1);
    double took = time_mono() - t0;
    CHECK_STR(err_msg(), "post_backup_hook failed: sh did not finish within 1 s and was killed");
    CHECK(took >= 0.9 && took < 5);
    char *pid = read_file(pidfile);
    CHECK(atoi(pid) > 0);
    for (int i = 0; i < 100 && atoi(pid) > 0 && !dead(atoi(pid)); i++)
        usleep(10000);
    CHECK(atoi(pid) > 0 && dead(atoi(pid)));
    free(pid);

    /* a hook that ignores SIGTERM gets SIGKILL 5 s later */
    err_clear();
    t0 = time_mono();
    CHECK_INT(hooks_run("sh -c 'trap \"\" TERM; sleep 60'", 1, &env), -1);
    took = time_mono() - t0;
    CHECK(took >= 5.5 && took < 10);
    CHECK_STR(err_msg(), "post_backup_hook failed: sh did not finish within 1 s and was killed");
    err_clear();
    free(cmd);
    free(pidfile);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_hooks.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 1;
    }
    RUN(test_split);
    RUN(test_environment);
    RUN(test_failures);
    RUN(test_timeout);
    char *rm = xasprintf("%s/env.txt", tmpdir);
    unlink(rm);
    free(rm);
    rm = xasprintf("%s/bg.pid", tmpdir);
    unlink(rm);
    free(rm);
    rmdir(tmpdir);
    return UNIT_DONE();
}
