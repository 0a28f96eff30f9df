/*
 * runstat: runs a command and reports, on one line, what it cost -- the process alone
 * as well as the process with its children. Part of tests/bench (not of pgvault).
 *
 *   runstat OUTFILE COMMAND [ARG]...
 *
 * OUTFILE receives "key=value" pairs separated by blanks:
 *   wall        elapsed seconds (CLOCK_MONOTONIC, from fork to exit)
 *   self_cpu    user+system seconds of the process itself, all its threads, without
 *               its children: read from /proc/PID/stat (utime, stime) while the
 *               process is a zombie (waitid WNOWAIT), i.e. its final values
 *   kids_cpu    user+system seconds of the children it waited for (cutime, cstime of
 *               the same read): for pgvault, pg_dump or psql
 *   tree_cpu    user+system of the whole tree from wait4's rusage (what GNU time's
 *               %U + %S report)
 *   self_hwm_kb the process's own peak RSS (VmHWM of /proc/PID/status, sampled every
 *               few milliseconds until it exits; the high-water mark only grows)
 *   tree_rss_kb wait4's ru_maxrss: the largest peak RSS of the process or any child it
 *               waited for -- the number GNU time's %M prints
 *   rc          exit status (128+N for signal N)
 * The command's stdin, stdout and stderr are runstat's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long read_hwm(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* utime, stime, cutime, cstime (clock ticks) of /proc/PID/stat */
static int read_times(pid_t pid, double t[4])
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold blanks */
    if (!p)
        return -1;
    p++;
    /* after ")": field 3 (state) ... field 14 utime, 15 stime, 16 cutime, 17 cstime */
    double hz = (double)sysconf(_SC_CLK_TCK);
    char *save = NULL;
    int field = 3;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (field >= 14 && field <= 17)
            t[field - 14] = strtod(tok, NULL) / hz;
        if (field == 17)
            return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runstat OUTFILE COMMAND [ARG]...\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "runstat: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    long hwm = 0;
    int interval_ms = 2;
    for (;;) {
        long h = read_hwm(pid);
        if (h > hwm)
            hwm = h;
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
            int r = poll(&pfd, 1, interval_ms);
            if (r > 0)
                break;
        } else {
            siginfo_t si = {0};
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
                break;
            usleep((useconds_t)interval_ms * 1000);
        }
        /* sample often at first (short commands), then every 20 ms */
        if (now() - t0 > 0.5)
            interval_ms = 20;
    }
    siginfo_t si = {0};
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 && errno == EINTR)
        ;
    double wall = now() - t0;
    double t[4] = {0, 0, 0, 0};
    int have_times = read_times(pid, t) == 0;
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double tree = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (have_times)
        fprintf(out, "wall=%.3f self_cpu=%.2f self_user=%.2f self_sys=%.2f kids_cpu=%.2f ", wall,
                t[0] + t[1], t[0], t[1], t[2] + t[3]);
    else
        fprintf(out, "wall=%.3f self_cpu=NA self_user=NA self_sys=NA kids_cpu=NA ", wall);
    fprintf(out, "tree_cpu=%.2f self_hwm_kb=%ld tree_rss_kb=%ld rc=%d\n", tree, hwm, ru.ru_maxrss,
            rc);
    fclose(out);
    return rc;
}
