#include "command/notify.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command/hooks.h"
#include "common/capture.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mail.h"
#include "common/proc.h"
#include "common/util.h"
#include "config/cli.h"

#define SENDMAIL_TIMEOUT_S 60
#define SUBJECT_DBS_MAX 3 /* more are counted, not named */

/* The run being reported: whether a mail may follow, and the databases it named. */
static struct {
    bool active;
    char **dbs;
    size_t ndbs;
} run;

/* Commands whose runs are reported. */
static bool notifies(const struct options *opt)
{
    switch (opt->cmd) {
    case CMD_BACKUP:
    case CMD_TEST_RESTORE:
    case CMD_VERIFY:
        return true;
    case CMD_PRUNE:
        return !opt->dry_run;
    default:
        return false;
    }
}

void notify_begin(const struct options *opt, const struct settings *set)
{
    if (!set->notify_email || !notifies(opt) || opt->help)
        return;
    run.active = true;
    if (capture_start() != 0)
        log_warn("could not keep the output for the notification mail; it will lack it");
}

void notify_db(const char *db)
{
    if (!run.active || !db)
        return;
    for (size_t i = 0; i < run.ndbs; i++)
        if (strcmp(run.dbs[i], db) == 0)
            return;
    run.dbs = xrealloc(run.dbs, (run.ndbs + 1) * sizeof(*run.dbs));
    run.dbs[run.ndbs++] = xstrdup(db);
}

/* What the run concerned: "all databases", the databases it named, or the one selected. */
static char *subject_dbs(const struct options *opt, const struct settings *set)
{
    if (opt->all)
        return xstrdup(opt->cmd == CMD_VERIFY ? "all backups" : "all databases");
    if (run.ndbs > SUBJECT_DBS_MAX)
        return xasprintf("%zu databases", run.ndbs);
    if (run.ndbs > 0) {
        struct sbuf b = {0};
        for (size_t i = 0; i < run.ndbs; i++)
            sbuf_printf(&b, "%s%s", i ? ", " : "", run.dbs[i]);
        return b.data;
    }
    if (opt->cmd == CMD_VERIFY && !opt->db)
        return opt->nargs == 1 ? xasprintf("backup %s", opt->args[0])
                               : xasprintf("%d backups", opt->nargs);
    const char *db = opt->db ? opt->db : set->conn.dbname;
    if (db)
        return xstrdup(db);
    return xstrdup(opt->cmd == CMD_PRUNE ? "all databases" : "default database");
}

/* The body: the outcome, the error and its hint, what the run printed, where it ran. */
static char *body_text(const struct options *opt, const struct settings *set, int code,
                       const char *host, const char *dbs)
{
    struct sbuf b = {0};
    size_t dropped;
    const char *printed = capture_text(&dropped);
    sbuf_printf(&b, "pgvault %s of %s on %s: %s (exit code %d)\n\n", cli_command_name(opt->cmd),
                dbs, host, code == 0 ? "OK" : "FAILED", code);
    if (code != 0 && err_is_set()) {
        sbuf_printf(&b, "Error: %s\n", err_msg());
        if (err_hint_msg()[0])
            sbuf_printf(&b, "HINT: %s\n", err_hint_msg());
        sbuf_puts(&b, "\n");
    }
    sbuf_printf(&b, "What it printed:\n%s", printed[0] ? printed : "(nothing)\n");
    if (dropped > 0)
        sbuf_printf(&b, "[… %zu more bytes left out]\n", dropped);
    sbuf_printf(&b, "\n-- \npgvault %s; repository %s; config %s\n", PGVAULT_VERSION, set->dir,
                set->config_file ? set->config_file : "none");
    return b.data;
}

/* Runs sendmail_path with the message on its stdin. */
static int send_mail(const struct settings *set, const char *message)
{
    char **argv = hooks_split(set->sendmail_path);
    if (!argv)
        return err_wrap(ERR_USAGE, "invalid sendmail_path");
    int rc =
        proc_run_input((const char *const *)argv, message, strlen(message), SENDMAIL_TIMEOUT_S);
    hooks_argv_free(argv);
    return rc;
}

static void run_free(void)
{
    for (size_t i = 0; i < run.ndbs; i++)
        free(run.dbs[i]);
    free(run.dbs);
    run.dbs = NULL;
    run.ndbs = 0;
    run.active = false;
}

/* The whole message: headers from the configuration and the outcome, then the body. */
static char *compose(const struct options *opt, const struct settings *set, int code)
{
    char host[HOST_NAME_MAX + 1] = "";
    gethostname(host, sizeof(host) - 1);
    char *dbs = subject_dbs(opt, set);
    char *body = body_text(opt, set, code, host, dbs);
    char *subject = xasprintf("[pgvault] %s: %s %s %s", host, dbs, cli_command_name(opt->cmd),
                              code == 0 ? "OK" : "FAILED");
    char *from = set->notify_from ? xstrdup(set->notify_from) : xasprintf("pgvault@%s", host);
    struct mail m = {.from = from,
                     .to = set->notify_email,
                     .subject = subject,
                     .body = body,
                     .date = time(NULL)};
    char *message = mail_compose(&m);
    free(from);
    free(subject);
    free(body);
    free(dbs);
    return message;
}

void notify_end(const struct options *opt, const struct settings *set, int code)
{
    if (!run.active)
        return;
    /* 1. the message, from what the run printed and the error main reported */
    char *message = code != 0 || set->notify_always ? compose(opt, set, code) : NULL;
    capture_stop();

    /* 2. sendmail; a mail that cannot be sent is a warning, the exit code stays */
    if (message) {
        struct err_saved saved;
        err_save(&saved);
        if (send_mail(set, message) != 0)
            log_warn("could not send the notification mail to %s: %s", set->notify_email,
                     err_msg());
        err_clear();
        err_restore(&saved);
    }
    free(message);
    run_free();
}
