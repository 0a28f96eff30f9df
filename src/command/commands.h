#ifndef PGVAULT_COMMANDS_H
#define PGVAULT_COMMANDS_H

#include <signal.h>

#include "config/config.h"
#include "config/options.h"

/*
 * One entry point per command. Each returns an exit code (0..5), or -1
 * with the error set for main to print and map to its exit code.
 */
int cmd_backup(const struct options *opt, const struct settings *set);
int cmd_restore(const struct options *opt, const struct settings *set);
int cmd_list(const struct options *opt, const struct settings *set);
int cmd_show(const struct options *opt, const struct settings *set);
int cmd_verify(const struct options *opt, const struct settings *set);
int cmd_prune(const struct options *opt, const struct settings *set);
int cmd_pin(const struct options *opt, const struct settings *set);
int cmd_unpin(const struct options *opt, const struct settings *set);
int cmd_log(const struct options *opt, const struct settings *set);
int cmd_query(const struct options *opt, const struct settings *set);
int cmd_diff(const struct options *opt, const struct settings *set);
int cmd_extract(const struct options *opt, const struct settings *set);
int cmd_import(const struct options *opt, const struct settings *set);
int cmd_check(const struct options *opt, const struct settings *set);
int cmd_push(const struct options *opt, const struct settings *set);
int cmd_test_restore(const struct options *opt, const struct settings *set);
int cmd_report(const struct options *opt, const struct settings *set);

/* Set by main's SIGINT/SIGTERM handler; long loops poll it. */
extern volatile sig_atomic_t pgvault_interrupted;

#endif
