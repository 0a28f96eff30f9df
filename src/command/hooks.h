#ifndef PGVAULT_HOOKS_H
#define PGVAULT_HOOKS_H

#include <stdint.h>

/*
 * pre_backup_hook and post_backup_hook: a command from the configuration, split into an
 * argument vector (no shell, unless the command is "sh -c '…'") and run through proc with
 * a timeout, with what it needs to know about the backup in PGVAULT_* variables.
 */

/* What a hook is told through its environment. */
struct hook_env {
    const char *hook;    /* PGVAULT_HOOK: "pre_backup_hook" or "post_backup_hook" */
    const char *outcome; /* PGVAULT_OUTCOME: "success" or "failure"; "started" before */
    int64_t backup_id;   /* PGVAULT_BACKUP_ID; 0 (empty) when no catalog row was made */
    const char *db;      /* PGVAULT_DB */
    const char *file;    /* PGVAULT_FILE, the full path; NULL (empty) when none */
    int exit_code;       /* PGVAULT_EXIT_CODE; -1 (empty) when not known yet */
    const char *error;   /* PGVAULT_ERROR, the failure's message; NULL (empty) */
};

/*
 * Splits cmd into words as a POSIX shell would, but without any expansion: blanks
 * separate words; '…' keeps everything literally; "…" keeps everything but a backslash
 * before $ ` " \ ; outside quotes a backslash keeps the next character. Returns a
 * NULL-terminated vector (hooks_argv_free), or NULL with ERR_USAGE set for an unterminated
 * quote or a command without words.
 */
char **hooks_split(const char *cmd);
void hooks_argv_free(char **argv);

/*
 * Runs the hook cmd with env added to our environment, stdin and stdout on /dev/null, its
 * stderr captured, for at most timeout_s seconds (then it and its process group are
 * killed). Returns 0 if it exited 0; else -1 with "<env->hook> failed: <reason>" set
 * (ERR_FAILED, or ERR_USAGE when cmd cannot be split).
 */
int hooks_run(const char *cmd, long timeout_s, const struct hook_env *env);

#endif
