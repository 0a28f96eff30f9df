#include "command/hooks.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/proc.h"
#include "common/util.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char **hooks_split(const char *cmd)
{
    size_t n = 0, cap = 4;
    char **argv = xmalloc(cap * sizeof(*argv));
    const char *s = cmd ? cmd : "";
    struct sbuf w = {0};

    for (;;) {
        while (is_blank(*s))
            s++;
        if (!*s)
            break;
        /* one word: runs of plain, quoted and escaped characters up to a blank */
        sbuf_add(&w, "", 0);
        while (*s && !is_blank(*s)) {
            if (*s == '\'') {
                const char *end = strchr(s + 1, '\'');
                if (!end)
                    goto unterminated;
                sbuf_add(&w, s + 1, (size_t)(end - s - 1));
                s = end + 1;
            } else if (*s == '"') {
                for (s++; *s != '"'; s++) {
                    if (!*s)
                        goto unterminated;
                    if (*s == '\\' && s[1] && strchr("$`\"\\", s[1]))
                        s++;
                    sbuf_add(&w, s, 1);
                }
                s++;
            } else if (*s == '\\' && s[1]) {
                sbuf_add(&w, s + 1, 1);
                s += 2;
            } else {
                sbuf_add(&w, s++, 1);
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            argv = xrealloc(argv, cap * sizeof(*argv));
        }
        argv[n++] = w.data;
        w = (struct sbuf){0};
    }
    argv[n] = NULL;
    if (n == 0) {
        hooks_argv_free(argv);
        err_set(ERR_USAGE, "the hook command is empty");
        return NULL;
    }
    return argv;

unterminated:
    argv[n] = NULL;
    hooks_argv_free(argv);
    sbuf_free(&w);
    err_set(ERR_USAGE, "unterminated quote in hook command: %s", cmd);
    return NULL;
}

void hooks_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

int hooks_run(const char *cmd, long timeout_s, const struct hook_env *env)
{
    const char *name = env->hook ? env->hook : "hook";
    char **argv = hooks_split(cmd);
    if (!argv)
        return err_wrap(ERR_NONE, "%s failed", name);

    /* the backup it is about, in PGVAULT_* variables (empty when not known) */
    char *vars[] = {
        xasprintf("PGVAULT_HOOK=%s", name),
        xasprintf("PGVAULT_OUTCOME=%s", env->outcome ? env->outcome : ""),
        env->backup_id > 0 ? xasprintf("PGVAULT_BACKUP_ID=%" PRId64, env->backup_id)
                           : xstrdup("PGVAULT_BACKUP_ID="),
        xasprintf("PGVAULT_DB=%s", env->db ? env->db : ""),
        xasprintf("PGVAULT_FILE=%s", env->file ? env->file : ""),
        env->exit_code >= 0 ? xasprintf("PGVAULT_EXIT_CODE=%d", env->exit_code)
                            : xstrdup("PGVAULT_EXIT_CODE="),
        xasprintf("PGVAULT_ERROR=%s", env->error ? env->error : ""),
        /* a bare name removes the variable: the origin's password is not the hook's
         * business (proc already removes PGPASSWORD) */
        xstrdup("DB_PASSWORD"),
        NULL,
    };

    int rc = proc_run_timeout((const char *const *)argv, (const char *const *)vars, timeout_s);
    if (rc != 0)
        err_wrap(ERR_FAILED, "%s failed", name);
    for (char **v = vars; *v; v++)
        free(*v);
    hooks_argv_free(argv);
    return rc;
}
