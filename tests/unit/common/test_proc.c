#include "common/err.h"
#include "common/proc.h"
#include "unit.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* Reads fd to end of file; caller frees. */
static char *read_all(int fd)
{
    struct sbuf b = {0};
    char buf[4096];
    ssize_t n;
    sbuf_add(&b, "", 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            sbuf_add(&b, buf, (size_t)n);
    return b.data;
}

static void test_stdout_pipe(void)
{
    struct proc p;
    const char *argv[] = {"echo", "hello", "world", NULL};
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDOUT_PIPE), 0);
    CHECK_STR(p.name, "echo");
    CHECK(p.in_fd == -1 && p.out_fd >= 0 && p.err_fd >= 0);
    char *out = read_all(p.out_fd);
    CHECK_STR(out, "hello world\n");
    CHECK_INT(proc_wait(&p), 0);
    CHECK(p.reaped);
    CHECK_INT(p.out_fd, -1);
    free(out);
    proc_free(&p);
}

static void test_stdin_pipe(void)
{
    struct proc p;
    const char *argv[] = {"/bin/cat", NULL};
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDIN_PIPE | PROC_STDOUT_PIPE), 0);
    CHECK_STR(p.name, "cat");
    CHECK_INT(write(p.in_fd, "line 1\nline 2\n", 14), 14);
    close(p.in_fd);
    p.in_fd = -1;
    char *out = read_all(p.out_fd);
    CHECK_STR(out, "line 1\nline 2\n");
    CHECK_INT(proc_wait(&p), 0);
    free(out);
    proc_free(&p);

    /* without a pipe, stdin is /dev/null: cat ends at once */
    char *text = NULL;
    const char *cat[] = {"cat", NULL};
    CHECK_INT(proc_run_capture(cat, NULL, &text), 0);
    CHECK_STR(text, "");
    free(text);
}

/* Runs sh -c script and checks the error text. */
static void check_failure(const char *script, const char *want)
{
    struct proc p;
    const char *argv[] = {"sh", "-c", script, NULL};
    err_clear();
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDOUT_NULL), 0);
    CHECK_INT(proc_wait(&p), -1);
    CHECK_STR(err_msg(), want);
    CHECK_INT(err_class(), ERR_FAILED);
    err_clear();
    proc_free(&p);
}

static void test_exit_code(void)
{
    check_failure("echo boom >&2; exit 3", "sh failed with exit code 3: boom");
    check_failure("exit 2", "sh failed with exit code 2");
    check_failure("printf '\\n  first\\n\\n\\tsecond  \\r\\nthird' >&2; echo out; exit 1",
                  "sh failed with exit code 1: first; second; third");
    check_failure("echo ignored; kill -9 $$", "sh terminated unexpectedly by signal 9");
    check_failure("echo dying >&2; kill -TERM $$",
                  "sh terminated unexpectedly by signal 15: dying");
}

static void test_kill(void)
{
    struct proc p;
    const char *argv[] = {"sleep", "30", NULL};
    CHECK_INT(proc_spawn(&p, argv, NULL, 0), 0);
    proc_kill(&p, SIGTERM);
    err_clear();
    CHECK_INT(proc_wait(&p), -1);
    CHECK_STR(err_msg(), "sleep terminated unexpectedly by signal 15");
    err_clear();
    proc_kill(&p, SIGTERM); /* reaped: a no-op */
    proc_free(&p);

    /* the signal handler's path */
    struct proc a, b;
    CHECK_INT(proc_spawn(&a, argv, NULL, 0), 0);
    CHECK_INT(proc_spawn(&b, argv, NULL, 0), 0);
    proc_kill_all(SIGINT);
    CHECK_INT(proc_wait(&a), -1);
    CHECK_STR(err_msg(), "sleep terminated unexpectedly by signal 2");
    err_clear();
    CHECK_INT(proc_wait(&b), -1);
    err_clear();
    proc_free(&a);
    proc_free(&b);
}

static void test_free(void)
{
    proc_free(NULL);
    struct proc zero = {0};
    proc_free(&zero);
    CHECK(fcntl(0, F_GETFD) >= 0); /* did not close our stdin */

    struct proc p;
    const char *argv[] = {"sleep", "30", NULL};
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDIN_PIPE | PROC_STDOUT_PIPE), 0);
    pid_t pid = p.pid;
    proc_free(&p);
    CHECK_INT(kill(pid, 0), -1); /* killed and reaped: no zombie left */
    CHECK_INT(errno, ESRCH);
    proc_free(&p); /* twice is harmless */
}

static void test_missing_program(void)
{
    struct proc p;
    const char *argv[] = {"pgvault-no-such-program", "x", NULL};
    /* an unreadable PATH entry would turn ENOENT into EACCES */
    char *path = xstrdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/usr/bin:/bin", 1);
    err_clear();
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDOUT_PIPE), -1);
    setenv("PATH", path, 1);
    free(path);
    CHECK_STR(err_msg(),
              "could not execute \"pgvault-no-such-program\": No such file or directory");
    err_clear();
    proc_free(&p);

    const char *abs[] = {"/nonexistent/pg_dump", NULL};
    char *out = (char *)"unchanged";
    CHECK_INT(proc_run_capture(abs, NULL, &out), -1);
    CHECK(out == NULL);
    CHECK_STR(err_msg(), "could not execute \"/nonexistent/pg_dump\": No such file or directory");
    err_clear();
}

static void test_environment(void)
{
    setenv("PGPASSWORD", "hunter2", 1);
    setenv("PGVAULT_TEST_OLD", "old", 1);
    setenv("PGVAULT_TEST_KEEP", "kept", 1);
    const char *argv[] = {"env", NULL};
    const char *extra[] = {"PGVAULT_TEST_OLD=new", "PGVAULT_TEST_ADDED=a=b", "PGPASSWORD=smuggled",
                           "PGPASSFILE=/tmp/pass", NULL};
    char *out = NULL;
    CHECK_INT(proc_run_capture(argv, extra, &out), 0);
    CHECK(out && strstr(out, "PGPASSWORD") == NULL);
    CHECK(out && strstr(out, "hunter2") == NULL);
    CHECK(out && strstr(out, "smuggled") == NULL);
    CHECK(out && strstr(out, "\nPGVAULT_TEST_OLD=new\n") != NULL);
    CHECK(out && strstr(out, "PGVAULT_TEST_OLD=old") == NULL);
    CHECK(out && strstr(out, "\nPGVAULT_TEST_ADDED=a=b\n") != NULL);
    CHECK(out && strstr(out, "PGVAULT_TEST_KEEP=kept\n") != NULL);
    CHECK(out && strstr(out, "PGPASSFILE=/tmp/pass\n") != NULL);
    free(out);
    /* our own environment is untouched */
    CHECK_STR(getenv("PGPASSWORD"), "hunter2");
    CHECK_STR(getenv("PGVAULT_TEST_OLD"), "old");

    /* also without any extras */
    CHECK_INT(proc_run_capture(argv, NULL, &out), 0);
    CHECK(out && strstr(out, "PGPASSWORD") == NULL);
    CHECK(out && strstr(out, "PGVAULT_TEST_OLD=old\n") != NULL);
    free(out);
    unsetenv("PGPASSWORD");
}

static void test_chatty_stderr(void)
{
    /* over 1 MiB on stderr must not block the child, and only the tail is quoted */
    struct proc p;
    const char *argv[] = {"sh", "-c",
                          "i=0; while [ $i -lt 24000 ]; do "
                          "echo 'noise noise noise noise noise noise noise noise' >&2; "
                          "i=$((i+1)); done; echo done; echo last words >&2; exit 4",
                          NULL};
    CHECK_INT(proc_spawn(&p, argv, NULL, PROC_STDOUT_PIPE), 0);
    char *out = read_all(p.out_fd);
    CHECK_STR(out, "done\n");
    err_clear();
    CHECK_INT(proc_wait(&p), -1);
    CHECK(strncmp(err_msg(), "sh failed with exit code 4: noise", 33) == 0);
    char *tail = proc_stderr(&p);
    CHECK(strlen(tail) <= 4096 + 2 * 4096 / 50);
    CHECK(strstr(tail, "\n") == NULL);
    size_t tl = strlen(tail);
    CHECK(tl > 10 && strcmp(tail + tl - 10, "last words") == 0);
    CHECK(strncmp(tail, "noise noise", 11) == 0); /* the cut first line was dropped */
    free(tail);
    free(out);
    err_clear();
    proc_free(&p);
}

static void test_run_capture(void)
{
    char *out = NULL;
    const char *printf_argv[] = {"printf", "a b\\nc", NULL};
    CHECK_INT(proc_run_capture(printf_argv, NULL, &out), 0);
    CHECK_STR(out, "a b\nc");
    free(out);

    /* the output is capped at 64 KiB, the rest drained */
    const char *big[] = {"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; echo end >&2", NULL};
    CHECK_INT(proc_run_capture(big, NULL, &out), 0);
    CHECK_INT(strlen(out), 65536);
    free(out);

    const char *fail[] = {"sh", "-c", "echo partial; echo bad >&2; exit 5", NULL};
    err_clear();
    CHECK_INT(proc_run_capture(fail, NULL, &out), -1);
    CHECK(out == NULL);
    CHECK_STR(err_msg(), "sh failed with exit code 5: bad");
    err_clear();
}

static void test_child_state(void)
{
    /* the caller ignores SIGPIPE; the child gets the default back and no blocked signals */
    signal(SIGPIPE, SIG_IGN);
    char *out = NULL;
    const char *argv[] = {"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status", NULL};
    CHECK_INT(proc_run_capture(argv, NULL, &out), 0);
    char *ign = out ? strstr(out, "SigIgn:") : NULL, *blk = out ? strstr(out, "SigBlk:") : NULL;
    CHECK(ign && blk);
    if (ign && blk) {
        unsigned long long ig = strtoull(ign + 7, NULL, 16), bl = strtoull(blk + 7, NULL, 16);
        CHECK((ig & (1ULL << (SIGPIPE - 1))) == 0);
        CHECK_INT(bl, 0);
    }
    free(out);

    /* a second child does not inherit the first one's pipe: cat still sees end of file */
    struct proc cat, other;
    const char *cat_argv[] = {"cat", NULL}, *sleep_argv[] = {"sleep", "3", NULL};
    CHECK_INT(proc_spawn(&cat, cat_argv, NULL, PROC_STDIN_PIPE | PROC_STDOUT_PIPE), 0);
    CHECK_INT(proc_spawn(&other, sleep_argv, NULL, PROC_STDOUT_NULL), 0);
    CHECK_INT(write(cat.in_fd, "x", 1), 1);
    close(cat.in_fd);
    cat.in_fd = -1;
    double start = time_mono();
    char *text = read_all(cat.out_fd);
    CHECK_STR(text, "x");
    CHECK(time_mono() - start < 2.5);
    CHECK_INT(proc_wait(&cat), 0);
    free(text);
    proc_free(&cat);
    proc_free(&other);
}

int main(void)
{
    alarm(60); /* a hang is a failure */
    RUN(test_stdout_pipe);
    RUN(test_stdin_pipe);
    RUN(test_exit_code);
    RUN(test_kill);
    RUN(test_free);
    RUN(test_missing_program);
    RUN(test_environment);
    RUN(test_chatty_stderr);
    RUN(test_run_capture);
    RUN(test_child_state);
    return UNIT_DONE();
}
