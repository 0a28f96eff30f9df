/*
 * pgvault: signals, the command table, and the one place where an error becomes a
 * message and an exit code.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/audit.h"
#include "config/cli.h"
#include "command/commands.h"
#include "command/copies.h"
#include "command/notify.h"
#include "config/config.h"
#include "common/err.h"
#include "common/log.h"
#include "postgres/pg.h"
#include "postgres/pgtools.h"
#include "common/proc.h"

extern char **environ;

volatile sig_atomic_t pgvault_interrupted;

/* SIGINT/SIGTERM: remember it and pass it on to children; the command unwinds itself,
 * removing its partial file and marking its catalog row. */
static void on_signal(int sig)
{
    int saved = errno; /* kill() may set it under the interrupted code's feet */
    pgvault_interrupted = sig;
    proc_kill_all(SIGTERM);
    pg_cancel_check();
    errno = saved;
}

static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const struct {
    enum command cmd;
    int (*run)(const struct options *, const struct settings *);
} commands[] = {
    {CMD_BACKUP, cmd_backup}, {CMD_RESTORE, cmd_restore},
    {CMD_LIST, cmd_list},     {CMD_SHOW, cmd_show},
    {CMD_VERIFY, cmd_verify}, {CMD_PRUNE, cmd_prune},
    {CMD_PIN, cmd_pin},       {CMD_UNPIN, cmd_unpin},
    {CMD_LOG, cmd_log},       {CMD_QUERY, cmd_query},
    {CMD_DIFF, cmd_diff},     {CMD_EXTRACT, cmd_extract},
    {CMD_IMPORT, cmd_import}, {CMD_CHECK, cmd_check},
    {CMD_PUSH, cmd_push},     {CMD_TEST_RESTORE, cmd_test_restore},
    {CMD_REPORT, cmd_report},
};

/* The commands after which the catalog's snapshot goes to the remotes when they changed
 * it (verify only with --remote: a plain verify is a reader). */
static bool changes_catalog(const struct options *opt)
{
    switch (opt->cmd) {
    case CMD_BACKUP:
    case CMD_RESTORE:
    case CMD_PRUNE:
    case CMD_PIN:
    case CMD_UNPIN:
    case CMD_IMPORT:
    case CMD_PUSH:
    case CMD_TEST_RESTORE:
        return !(opt->cmd == CMD_PRUNE && opt->dry_run);
    case CMD_VERIFY:
        return opt->remote != NULL;
    default:
        return false;
    }
}

int main(int argc, char **argv)
{
    struct options opt;
    struct settings set = {0};
    bool have_settings = false;
    int code = 0;

    setup_signals();
    umask(077);
    /* under systemd, stderr is the journal: prefix lines with their level */
    log_setup(false, getenv("JOURNAL_STREAM") != NULL);

    /* 1. parse the command line */
    if (cli_parse(argc, argv, &opt) != 0)
        goto _end;
    log_setup(opt.quiet || opt.json, getenv("JOURNAL_STREAM") != NULL);
    if (opt.cmd == CMD_HELP || opt.help) {
        cli_usage(opt.help ? opt.cmd : CMD_HELP, stdout);
        goto _end;
    }
    if (opt.cmd == CMD_VERSION) {
        printf("pgvault %s\n", PGVAULT_VERSION);
        goto _end;
    }
    /* "restore -l" is "list" */
    if (opt.cmd == CMD_RESTORE && opt.list)
        opt.cmd = CMD_LIST;

    /* 2. resolve the configuration */
    if (config_resolve(&opt, environ, &set) != 0)
        goto _end;
    have_settings = true;
    notify_begin(&opt, &set);

    /* 3. run the command */
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (commands[i].cmd == opt.cmd) {
            code = commands[i].run(&opt, &set);
            if (changes_catalog(&opt))
                copies_snapshot(&set, &pgvault_interrupted);
            goto _end;
        }
    }
    err_set(ERR_USAGE, "command \"%s\" is not implemented yet", cli_command_name(opt.cmd));

_end:
    /* 4. one message, one exit code */
    if (err_is_set() && (code < 0 || code == 0)) {
        log_error("%s", err_msg());
        /* a usage hint is PostgreSQL's bare 'Try "… --help" …' line */
        const char *hint = err_hint_msg();
        if (strncmp(hint, "Try \"", 5) == 0)
            fprintf(stderr, "%s\n", hint);
        else if (hint[0])
            fprintf(stderr, "HINT: %s\n", hint);
        code = (int)err_class();
        /* for a monitoring plugin, bad arguments or configuration are UNKNOWN, not CRITICAL */
        if (opt.cmd == CMD_CHECK && code == ERR_USAGE)
            code = CHECK_UNKNOWN;
    } else if (code < 0) {
        log_error("internal error: command failed without a message");
        code = ERR_FAILED;
    }
    pgtools_passfile_remove();
    /* 5. the mail about this run, when the configuration asks for one */
    if (have_settings) {
        notify_end(&opt, &set, code);
        settings_free(&set);
    }
    fflush(stdout);
    return code;
}
