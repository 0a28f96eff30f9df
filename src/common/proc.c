#include "common/proc.h"

#include "common/err.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
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

/* Live children, read by proc_kill_all from a signal handler; 0 marks a free slot. A
 * child that leads a process group of its own is stored as -pid: kill() then reaches
 * the whole group. */
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
        if (live[i] == pid || live[i] == -pid)
            live[i] = 0;
}

void proc_kill_all(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t pid = live[i];
        if (pid != 0)
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

/* The program argv0 names: itself when it holds a slash, else the first executable
 * regular file of that name in PATH (as execvp looks); caller frees. NULL with errno set
 * when there is none. */
static char *find_program(const char *argv0)
{
    if (strchr(argv0, '/'))
        return xstrdup(argv0);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    int why = ENOENT;
    for (const char *dir = path;; dir++) {
        size_t len = strcspn(dir, ":");
        /* an empty entry is the current directory */
        char *cand = len ? xasprintf("%.*s/%s", (int)len, dir, argv0) : xstrdup(argv0);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0)
                return cand;
            why = EACCES;
        }
        free(cand);
        dir += len;
        if (!*dir)
            break;
    }
    errno = why;
    return NULL;
}

/* What the child does between fork and execve. */
struct child_plan {
    const char *path;
    char *const *argv;
    char *const *env;
    int in_fd, out_fd, err_fd; /* our ends to become its 0, 1, 2; -1 for none */
    bool stdin_null, stdout_null, new_pgroup;
    pid_t parent;
    int report_fd; /* where an exec failure's errno goes (close-on-exec) */
};

/* Opens /dev/null onto target; async-signal-safe. */
static int null_onto(int target, int mode)
{
    int fd = open("/dev/null", mode | O_CLOEXEC);
    if (fd < 0 || dup2(fd, target) < 0)
        return -1;
    close(fd);
    return 0;
}

/*
 * The child's side of proc_spawn: only async-signal-safe calls (the parent may run
 * threads). It starts with the termination signals blocked, as the parent held them.
 * Never returns.
 */
static void child_exec(const struct child_plan *cp)
{
    /* our handlers must never run here: they would signal the parent's other children */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGXFSZ};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &dfl, NULL);

    /* it dies with us, even by SIGKILL; if we died before the prctl, it goes at once */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != cp->parent)
        _exit(127);
    if (cp->new_pgroup && setpgid(0, 0) < 0)
        goto fail;

    if ((cp->in_fd >= 0 && dup2(cp->in_fd, STDIN_FILENO) < 0) ||
        (cp->stdin_null && null_onto(STDIN_FILENO, O_RDONLY) < 0) ||
        (cp->out_fd >= 0 && dup2(cp->out_fd, STDOUT_FILENO) < 0) ||
        (cp->stdout_null && null_onto(STDOUT_FILENO, O_WRONLY) < 0) ||
        dup2(cp->err_fd, STDERR_FILENO) < 0)
        goto fail;

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(cp->path, cp->argv, cp->env);
fail:;
    int e = errno;
    ssize_t w = write(cp->report_fd, &e, sizeof(e));
    (void)w;
    _exit(127);
}

/* Forks and execs the plan with termination signals held, registering the child before
 * a handler can look for it; returns 0, or an errno value (the exec's own, if it failed). */
static int fork_exec(struct proc *p, struct child_plan *cp)
{
    int report[2], e = 0;
    if (pipe2(report, O_CLOEXEC) < 0)
        return errno;
    cp->report_fd = report[1];
    cp->parent = getpid();

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(cp);
    if (pid < 0) {
        e = errno;
    } else {
        /* also here, so that a signal to the group cannot come before the child's setpgid */
        if (cp->new_pgroup)
            setpgid(pid, pid);
        p->pid = pid;
        p->group = cp->new_pgroup;
        if (live_add(p->group ? -pid : pid) < 0)
            e = EAGAIN;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);

    /* the report pipe closes at a successful exec; an errno comes through on failure */
    if (pid > 0) {
        int child_errno = 0;
        ssize_t n;
        while ((n = read(report[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
            ;
        if (n == (ssize_t)sizeof(child_errno) && e == 0)
            e = child_errno;
        if (e != 0) {
            kill(pid, SIGKILL);
            live_remove(pid);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            p->pid = -1;
        }
    }
    close(report[0]);
    return e;
}

int proc_spawn(struct proc *p, const char *const argv[], const char *const env_extra[], int flags)
{
    const char *slash = strrchr(argv[0], '/');
    *p = (struct proc){.pid = -1, .out_fd = -1, .in_fd = -1, .err_fd = -1};
    p->name = xstrdup(slash ? slash + 1 : argv[0]);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, rc = -1;
    char **env = child_env(env_extra);
    char *path = NULL;

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

    /* The program is looked up here: the child may only make async-signal-safe calls */
    if (!(path = find_program(argv[0]))) {
        err_sys(errno, "could not execute \"%s\"", argv[0]);
        goto out;
    }
    struct child_plan cp = {
        .path = path,
        .argv = (char *const *)argv,
        .env = env,
        .in_fd = in[0],
        .out_fd = out[1],
        .err_fd = p->err_fd,
        .stdin_null = !(flags & PROC_STDIN_PIPE),
        .stdout_null = (flags & PROC_STDOUT_NULL) && !(flags & PROC_STDOUT_PIPE),
        /* its own group, so that a timeout or our termination reaches what it started */
        .new_pgroup = flags & PROC_NEW_PGROUP,
    };
    int e = fork_exec(p, &cp);
    if (e != 0) {
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
    free(path);
    free(env);
    if (rc < 0)
        proc_free(p);
    return rc;
}

void proc_kill(struct proc *p, int sig)
{
    if (p && p->pid > 0 && !p->reaped)
        kill(p->group ? -p->pid : p->pid, sig);
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

FILE *proc_stderr_open(struct proc *p)
{
    int fd = dup(p->err_fd);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        err_sys(errno, "could not read the captured stderr of \"%s\"", p->name);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rewind(f);
    return f;
}

void proc_free(struct proc *p)
{
    /* name is set by proc_spawn and cleared here: a zeroed or freed struct is a no-op */
    if (!p || !p->name)
        return;
    if (p->pid > 0 && !p->reaped) {
        kill(p->group ? -p->pid : p->pid, SIGKILL);
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

/* Waits at most timeout_s for p (which leads a group of its own), then ends the group. */
static int wait_timeout(struct proc *p, long timeout_s)
{
    if (exited_by(p, time_mono() + (double)timeout_s))
        return proc_wait(p);
    /* too late: the whole group gets SIGTERM, then SIGKILL for what is left */
    kill(-p->pid, SIGTERM);
    exited_by(p, time_mono() + 5.0);
    kill(-p->pid, SIGKILL);
    proc_wait(p);
    err_clear();
    return err_set(ERR_FAILED, "%s did not finish within %ld s and was killed", p->name, timeout_s);
}

int proc_run_timeout(const char *const argv[], const char *const env_extra[], long timeout_s)
{
    struct proc p;
    if (proc_spawn(&p, argv, env_extra, PROC_STDOUT_NULL | PROC_NEW_PGROUP) < 0)
        return -1;
    int rc = wait_timeout(&p, timeout_s);
    proc_free(&p);
    return rc;
}

int proc_run_input(const char *const argv[], const char *input, size_t len, long timeout_s)
{
    struct proc p;
    if (proc_spawn(&p, argv, NULL, PROC_STDIN_PIPE | PROC_STDOUT_NULL | PROC_NEW_PGROUP) < 0)
        return -1;
    /* a child that stops reading early says why by its exit status */
    while (len > 0) {
        ssize_t n = write(p.in_fd, input, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        input += n;
        len -= (size_t)n;
    }
    close(p.in_fd);
    p.in_fd = -1;
    int rc = wait_timeout(&p, timeout_s);
    proc_free(&p);
    return rc;
}
