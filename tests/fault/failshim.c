/*
 * failshim: an LD_PRELOAD library for the fault tests. It counts the calls of one kind
 * of file operation that a process makes and makes the N-th one (and, optionally, the
 * ones after it) fail with a chosen errno, or kills the process with SIGKILL just before
 * the call reaches the kernel.
 *
 * Configured by environment variables, read once at load time:
 *
 *   FAILSHIM_OP      the operations counted, a comma list of
 *                      write   write(2), writev(2)
 *                      pwrite  pwrite(2), pwrite64, pwritev(2)
 *                      fsync   fsync(2), fdatasync(2)
 *                      rename  rename(2), renameat(2), renameat2(2)
 *                    (unset: the shim does nothing and counts nothing)
 *   FAILSHIM_MATCH   count only calls on a path containing this substring (the fd's
 *                    /proc/self/fd link for write/pwrite/fsync, the source or the
 *                    target for rename). Unset: every regular file (and directory, for
 *                    fsync), never a pipe, a socket, a terminal or /dev/null.
 *   FAILSHIM_NTH     the first call to fail (1-based; unset or 0: none fails)
 *   FAILSHIM_TIMES   how many calls fail from the N-th on (default 1; 0: all of them)
 *   FAILSHIM_ERRNO   the error: a name (EIO, ENOSPC, EDQUOT, EROFS, EACCES, EPERM,
 *                    EBADF, EINTR, EFBIG, ENOMEM) or a number; default EIO
 *   FAILSHIM_ACTION  "error" (default) or "kill": SIGKILL the process instead
 *   FAILSHIM_COUNT   a file that receives, at exit, the number of calls counted (a
 *                    dry run tells a crash loop how far it has to go)
 *   FAILSHIM_LOG     a file that receives one line per counted call ("N OP PATH")
 *
 * The shim removes itself (and a sanitizer runtime that was preloaded with it) from
 * LD_PRELOAD at load time, so the children of the process (pg_dump, psql) run without
 * it: only the process under test is counted.
 *
 * With a binary built with AddressSanitizer, preload the sanitizer runtime first:
 *
 *   LD_PRELOAD="$(gcc -print-file-name=libasan.so) /path/libfailshim.so" pgvault …
 *
 * ASan's own interceptors (write, pwrite, writev …) find the next definition with
 * dlsym(RTLD_NEXT), which is then the shim's, so every call still passes through here.
 *
 * Built without sanitizers: it must not depend on the runtime it is preloaded beside.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_PWRITE = 2, OP_FSYNC = 4, OP_RENAME = 8 };

static unsigned ops;      /* OP_* counted */
static const char *match; /* substring filter, or NULL */
static long nth;          /* first failing call, 0: none */
static long times = 1;    /* calls failing from nth on, 0: all */
static int fail_errno = EIO;
static int kill_action;
static const char *count_file;
static const char *log_file;
static long counter; /* calls counted so far (atomic: compression threads write too) */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

static int errno_by_name(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
                 {"EACCES", EACCES}, {"EPERM", EPERM},   {"EBADF", EBADF},   {"EINTR", EINTR},
                 {"EFBIG", EFBIG},   {"ENOMEM", ENOMEM}, {"EEXIST", EEXIST}, {"EXDEV", EXDEV}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].value;
    long v = strtol(s, NULL, 10);
    return v > 0 ? (int)v : EIO;
}

/* Removes every LD_PRELOAD entry, so that children are not counted (nor sanitized). */
static void scrub_preload(void)
{
    unsetenv("LD_PRELOAD");
}

static void resolve(void)
{
#define R(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)
    R(write);
    R(writev);
    R(pwrite);
    R(pwrite64);
    R(pwritev);
    R(fsync);
    R(fdatasync);
    R(rename);
    R(renameat);
    R(renameat2);
#undef R
}

__attribute__((constructor)) static void failshim_init(void)
{
    resolve();
    const char *s = getenv("FAILSHIM_OP");
    if (s) {
        char *copy = strdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "write") == 0)
                ops |= OP_WRITE;
            else if (strcmp(t, "pwrite") == 0)
                ops |= OP_PWRITE;
            else if (strcmp(t, "fsync") == 0)
                ops |= OP_FSYNC;
            else if (strcmp(t, "rename") == 0)
                ops |= OP_RENAME;
        }
        free(copy);
    }
    match = getenv("FAILSHIM_MATCH");
    if (match && !*match)
        match = NULL;
    if ((s = getenv("FAILSHIM_NTH")))
        nth = strtol(s, NULL, 10);
    if ((s = getenv("FAILSHIM_TIMES")))
        times = strtol(s, NULL, 10);
    if ((s = getenv("FAILSHIM_ERRNO")))
        fail_errno = errno_by_name(s);
    s = getenv("FAILSHIM_ACTION");
    kill_action = s && strcmp(s, "kill") == 0;
    count_file = getenv("FAILSHIM_COUNT");
    log_file = getenv("FAILSHIM_LOG");
    scrub_preload();
}

/* Appends a line to a file with raw system calls (no stdio, no recursion). */
static void append_line(const char *path, const char *line)
{
    int fd =
        (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    syscall(SYS_write, fd, line, strlen(line));
    syscall(SYS_close, fd);
}

__attribute__((destructor)) static void failshim_fini(void)
{
    if (count_file && ops) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%ld\n", __atomic_load_n(&counter, __ATOMIC_SEQ_CST));
        int fd = (int)syscall(SYS_openat, AT_FDCWD, count_file,
                              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            syscall(SYS_write, fd, buf, strlen(buf));
            syscall(SYS_close, fd);
        }
    }
}

/* True if a call on fd counts: its path holds the filter, or (without one) it is a
 * regular file, or a directory for fsync. The path is left in path. */
static int fd_counts(int fd, bool dir_ok, char *path, size_t size)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, size - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    if (match)
        return strstr(path, match) != NULL;
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0)
        return 0;
    return S_ISREG(st.st_mode) || (dir_ok && S_ISDIR(st.st_mode));
}

/* Counts one call; returns 1 if it must fail (errno set), after killing if asked. */
static int hit(unsigned op, const char *opname, const char *path)
{
    (void)op;
    long k = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    if (log_file) {
        char line[4200];
        snprintf(line, sizeof(line), "%ld %s %s\n", k, opname, path);
        append_line(log_file, line);
    }
    if (nth <= 0 || k < nth || (times > 0 && k >= nth + times))
        return 0;
    if (kill_action) {
        syscall(SYS_kill, getpid(), SIGKILL);
        for (;;)
            pause();
    }
    errno = fail_errno;
    return 1;
}

static int check_fd(unsigned op, const char *opname, int fd)
{
    if (!(ops & op))
        return 0;
    char path[4096];
    if (!fd_counts(fd, op == OP_FSYNC, path, sizeof(path)))
        return 0;
    return hit(op, opname, path);
}

static int check_rename(const char *from, const char *to)
{
    if (!(ops & OP_RENAME))
        return 0;
    if (match && !strstr(from, match) && !strstr(to, match))
        return 0;
    char both[4200];
    snprintf(both, sizeof(both), "%s -> %s", from, to);
    return hit(OP_RENAME, "rename", both);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!real_write)
        resolve();
    if (check_fd(OP_WRITE, "write", fd))
        return -1;
    return real_write(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!real_writev)
        resolve();
    if (check_fd(OP_WRITE, "writev", fd))
        return -1;
    return real_writev(fd, iov, cnt);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!real_pwrite)
        resolve();
    if (check_fd(OP_PWRITE, "pwrite", fd))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    if (!real_pwrite64)
        resolve();
    if (check_fd(OP_PWRITE, "pwrite64", fd))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!real_pwritev)
        resolve();
    if (check_fd(OP_PWRITE, "pwritev", fd))
        return -1;
    return real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd)
{
    if (!real_fsync)
        resolve();
    if (check_fd(OP_FSYNC, "fsync", fd))
        return -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    if (!real_fdatasync)
        resolve();
    if (check_fd(OP_FSYNC, "fdatasync", fd))
        return -1;
    return real_fdatasync(fd);
}

int rename(const char *from, const char *to)
{
    if (!real_rename)
        resolve();
    if (check_rename(from, to))
        return -1;
    return real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
    if (!real_renameat)
        resolve();
    if (check_rename(from, to))
        return -1;
    return real_renameat(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
    if (!real_renameat2)
        resolve();
    if (check_rename(from, to))
        return -1;
    return real_renameat2(fd1, from, fd2, to, flags);
}
