#include "proc.h"

#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STDERR_TAIL 4096
#define CAPTURE_MAX (64 * 1024)
#define MAX_CHILDREN 32

/* Live children, read by proc_kill_all from a signal handler; 0 marks a free slot. */
static volatile sig_atomic_t live[MAX_CHILDREN];

static int live_add(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (live[i] == 0) {
            live[i] = pid;
            return 0;
        }
    return -1;
}

static void live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (live[i] == pid)
            live[i] = 0;
}

void proc_kill_all(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t pid = live[i];
        if (pid > 0)
            kill(pid, sig);
    }
}

/* Moves fd above 2 so that dup2 onto the child's 0..2 always clears close-on-exec. */
static int high_fd(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return nfd;
}

/* An anonymous file for the child's stderr: it never fills up like a pipe would. */
static int stderr_file(void)
{
    int fd = memfd_create("pgvault-stderr", MFD_CLOEXEC);
    if (fd < 0) {
        const char *tmp = getenv("TMPDIR");
        fd = open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    return high_fd(fd);
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    fds[0] = high_fd(fds[0]);
    fds[1] = high_fd(fds[1]);
    return fds[0] < 0 || fds[1] < 0 ? -1 : 0;
}

static bool same_name(const char *a, const char *b)
{
    size_t n = strcspn(b, "=");
    return strncmp(a, b, n) == 0 && a[n] == '=';
}

/* Our environment without PGPASSWORD, with env_extra added or replacing; caller frees. */
static char **child_env(const char *const extra[])
{
    extern char **environ;
    size_t n = 0, k = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = xmalloc((n + m + 1) * sizeof(*env));
    for (size_t i = 0; i < n; i++) {
        /* passwords reach children only through a passfile */
        bool drop = same_name(environ[i], "PGPASSWORD") || same_name(environ[i], "DB_PASSWORD");
        for (size_t j = 0; j < m && !drop; j++)
            drop = same_name(environ[i], extra[j]);
        if (!drop)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        if (strchr(extra[j], '=') && !same_name(extra[j], "PGPASSWORD") &&
            !same_name(extra[j], "DB_PASSWORD"))
            env[k++] = (char *)extra[j];
    env[k] = NULL;
    return env;
}

int proc_spawn(struct proc *p, const char *const argv[], const char *const env_extra[], int flags)
{
    const char *slash = strrchr(argv[0], '/');
    *p = (struct proc){.pid = -1, .out_fd = -1, .in_fd = -1, .err_fd = -1};
    p->name = xstrdup(slash ? slash + 1 : argv[0]);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, rc = -1, e;
    char **env = child_env(env_extra);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t block, old, none, dfl;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);

    /* Capture stderr in an anonymous file, wire up stdin and stdout */
    if ((p->err_fd = stderr_file()) < 0) {
        err_sys(errno, "could not create temporary file for stderr of \"%s\"", p->name);
        goto out;
    }
    if (((flags & PROC_STDIN_PIPE) && make_pipe(in) < 0) ||
        ((flags & PROC_STDOUT_PIPE) && make_pipe(out) < 0)) {
        err_sys(errno, "could not create pipe for \"%s\"", p->name);
        goto out;
    }
    if (flags & PROC_STDIN_PIPE)
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (flags & PROC_STDOUT_PIPE)
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    else if (flags & PROC_STDOUT_NULL)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p->err_fd, STDERR_FILENO);

    /* Give the child an empty signal mask and default SIGPIPE even though we ignore it */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGXFSZ);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    short spawn_flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (flags & PROC_NEW_PGROUP) {
        /* its own group, so that a timeout reaches what it started too */
        posix_spawnattr_setpgroup(&attr, 0);
        spawn_flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, spawn_flags);

    /* Spawn and register with termination signals held, so proc_kill_all cannot miss it */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (strchr(argv[0], '/'))
        e = posix_spawn(&p->pid, argv[0], &fa, &attr, (char *const *)argv, env);
    else
        e = posix_spawnp(&p->pid, argv[0], &fa, &attr, (char *const *)argv, env);
    if (e == 0 && live_add(p->pid) < 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        e = EAGAIN;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        p->pid = -1;
        err_sys(e, "could not execute \"%s\"", argv[0]);
        goto out;
    }
    p->in_fd = in[1];
    p->out_fd = out[0];
    in[1] = out[0] = -1;
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc < 0)
        proc_free(p);
    return rc;
}

void proc_kill(struct proc *p, int sig)
{
    if (p && p->pid > 0 && !p->reaped)
        kill(p->pid, sig);
}

/* Waits for the child; it stays a zombie (its pid cannot be reused) until it has left
 * the table that signal handlers read. */
static int reap(struct proc *p)
{
    siginfo_t info;
    int status;
    while (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOWAIT) < 0)
        if (errno != EINTR)
            goto fail;
    live_remove(p->pid);
    while (waitpid(p->pid, &status, 0) < 0)
        if (errno != EINTR)
            goto fail;
    p->status = status;
    p->reaped = true;
    return 0;
fail:
    live_remove(p->pid);
    return err_sys(errno, "could not wait for \"%s\"", p->name);
}

int proc_wait(struct proc *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->in_fd = p->out_fd = -1;
    if (p->pid <= 0)
        return err_set(ERR_FAILED, "no child process to wait for");
    if (!p->reaped && reap(p) < 0)
        return -1;

    if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)
        return 0;
    char *tail = proc_stderr(p);
    const char *sep = *tail ? ": " : "";
    if (WIFEXITED(p->status))
        err_set(ERR_FAILED, "%s failed with exit code %d%s%s", p->name, WEXITSTATUS(p->status), sep,
                tail);
    else
        err_set(ERR_FAILED, "%s terminated unexpectedly by signal %d%s%s", p->name,
                WTERMSIG(p->status), sep, tail);
    free(tail);
    return -1;
}

char *proc_stderr(struct proc *p)
{
    struct sbuf b = {0};
    char buf[STDERR_TAIL + 1];
    struct stat st;
    sbuf_add(&b, "", 0);
    if (p->err_fd < 0 || fstat(p->err_fd, &st) < 0)
        return b.data;
    off_t off = st.st_size > STDERR_TAIL ? st.st_size - STDERR_TAIL : 0;
    ssize_t n = pread(p->err_fd, buf, STDERR_TAIL, off);
    if (n <= 0)
        return b.data;
    buf[n] = '\0';

    /* Skip a line cut by the window, then join the non-empty lines with "; ". */
    char *line = buf, *save = NULL;
    if (off > 0 && memchr(buf, '\n', (size_t)n))
        line = strchr(buf, '\n') + 1;
    for (char *l = strtok_r(line, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
        for (char *c = l; *c; c++)
            if ((unsigned char)*c < ' ' || *c == 0x7f)
                *c = ' ';
        while (*l == ' ')
            l++;
        size_t len = strlen(l);
        while (len > 0 && l[len - 1] == ' ')
            len--;
        if (len == 0)
            continue;
        if (b.len)
            sbuf_puts(&b, "; ");
        sbuf_add(&b, l, len);
    }
    return b.data;
}

void proc_free(struct proc *p)
{
    /* name is set by proc_spawn and cleared here: a zeroed or freed struct is a no-op */
    if (!p || !p->name)
        return;
    if (p->pid > 0 && !p->reaped) {
        kill(p->pid, SIGKILL);
        reap(p);
    }
    int *fds[] = {&p->in_fd, &p->out_fd, &p->err_fd};
    for (int i = 0; i < 3; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    free(p->name);
    p->name = NULL;
}

int proc_run_capture(const char *const argv[], const char *const env_extra[], char **out)
{
    struct proc p;
    struct sbuf b = {0};
    char buf[8192];
    int rc = -1;
    *out = NULL;
    if (proc_spawn(&p, argv, env_extra, PROC_STDOUT_PIPE) < 0)
        return -1;
    sbuf_add(&b, "", 0);
    for (;;) {
        ssize_t n = read(p.out_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(errno, "could not read output of \"%s\"", p.name);
            goto out;
        }
        if (n == 0)
            break;
        /* beyond the cap, keep draining so the child can finish */
        if (b.len < CAPTURE_MAX)
            sbuf_add(&b, buf, (size_t)n < CAPTURE_MAX - b.len ? (size_t)n : CAPTURE_MAX - b.len);
    }
    if (proc_wait(&p) < 0)
        goto out;
    *out = b.data;
    b.data = NULL;
    rc = 0;
out:
    sbuf_free(&b);
    proc_free(&p);
    return rc;
}

/* Polls (WNOWAIT: the child stays a zombie, so its pid and group id stay taken) until
 * the child has exited or the monotonic deadline passes; true if it exited. */
static bool exited_by(struct proc *p, double deadline)
{
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof(info));
        if (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == p->pid)
            return true;
        if (time_mono() >= deadline)
            return false;
        /* hooks are rare and short: a 20 ms tick costs nothing */
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}

int proc_run_timeout(const char *const argv[], const char *const env_extra[], long timeout_s)
{
    struct proc p;
    if (proc_spawn(&p, argv, env_extra, PROC_STDOUT_NULL | PROC_NEW_PGROUP) < 0)
        return -1;
    int rc;
    if (exited_by(&p, time_mono() + (double)timeout_s)) {
        rc = proc_wait(&p);
    } else {
        /* too late: the whole group gets SIGTERM, then SIGKILL for what is left */
        kill(-p.pid, SIGTERM);
        exited_by(&p, time_mono() + 5.0);
        kill(-p.pid, SIGKILL);
        proc_wait(&p);
        err_clear();
        rc =
            err_set(ERR_FAILED, "%s did not finish within %ld s and was killed", p.name, timeout_s);
    }
    proc_free(&p);
    return rc;
}
