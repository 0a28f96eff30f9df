#ifndef PGVAULT_PROC_H
#define PGVAULT_PROC_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * The only module that starts, waits for and kills child processes. Children get an
 * argument vector (fork and execve, never a shell), an environment built from ours
 * minus PGPASSWORD plus the given extras, and their stderr is captured in an anonymous
 * temporary file so that a failure can quote it. A child dies with us (PR_SET_PDEATHSIG:
 * SIGKILL when the thread that started it ends, even by kill -9); start children from
 * the main thread.
 */
enum {
    PROC_STDOUT_PIPE = 1 << 0, /* p->out_fd reads the child's stdout */
    PROC_STDIN_PIPE = 1 << 1,  /* p->in_fd writes the child's stdin */
    PROC_STDOUT_NULL = 1 << 2, /* child's stdout goes to /dev/null */
    PROC_NEW_PGROUP = 1 << 3,  /* child leads a process group of its own */
};

struct proc {
    pid_t pid;
    int out_fd; /* -1 unless PROC_STDOUT_PIPE */
    int in_fd;  /* -1 unless PROC_STDIN_PIPE */
    int err_fd; /* captured stderr */
    int status; /* wait status once reaped */
    bool reaped;
    bool group; /* it leads a process group of its own (PROC_NEW_PGROUP) */
    char *name; /* basename of argv[0], for messages */
};

/* Starts argv[0] (an absolute path or a name looked up in PATH). env_extra: NULL-terminated
 * "NAME=value" strings added to (or replacing in) the inherited environment. */
int proc_spawn(struct proc *p, const char *const argv[], const char *const env_extra[], int flags);

/* Sends sig to the child if it still runs (to its whole group with PROC_NEW_PGROUP). */
void proc_kill(struct proc *p, int sig);

/* Closes our pipe ends, waits for the child. Returns 0 if it exited 0, else -1 with
 * "<name> failed with exit code N: <its stderr>" or
 * "<name> terminated unexpectedly by signal N: <its stderr>" (no ": …" when stderr was
 * empty). */
int proc_wait(struct proc *p);

/* The child's captured stderr (last 4 KiB), trimmed; caller frees. */
char *proc_stderr(struct proc *p);

/* The child's whole captured stderr from its first byte, as written (caller fcloses);
 * NULL with the error set. */
FILE *proc_stderr_open(struct proc *p);

/* Closes everything; kills (SIGKILL) and reaps a child still running. NULL-safe. */
void proc_free(struct proc *p);

/* Runs argv to completion and returns its stdout (up to 64 KiB) in *out; 0 on exit 0. */
int proc_run_capture(const char *const argv[], const char *const env_extra[], char **out);

/*
 * Runs argv (stdin and stdout on /dev/null, stderr captured) in a process group of its
 * own and waits at most timeout_s seconds; then the group gets SIGTERM, and SIGKILL 5 s
 * later. Returns 0 if it exited 0, else -1 with proc_wait's message, or with
 * "<name> did not finish within N s and was killed".
 */
int proc_run_timeout(const char *const argv[], const char *const env_extra[], long timeout_s);

/* Like proc_run_timeout, but the child reads input (len bytes) on its stdin; input
 * larger than a pipe holds (64 KiB) may wait for the child to read it. */
int proc_run_input(const char *const argv[], const char *input, size_t len, long timeout_s);

/* Sends sig to every running child (and the whole group of those that lead one), for
 * the signal handler to forward a termination. */
void proc_kill_all(int sig);

#endif
