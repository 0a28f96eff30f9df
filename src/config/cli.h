#ifndef PGVAULT_CLI_H
#define PGVAULT_CLI_H

#include <stdio.h>

#include "config/options.h"

/*
 * Parses argv into *opt (which it first resets to "nothing given").
 * Returns 0, or -1 with an ERR_USAGE error set naming the bad option and a hint
 * 'Try "pgvault [COMMAND] --help" for more information.' Numeric options are range
 * checked here; conflicting options are rejected here.
 * "pgvault -h|--help" gives cmd = CMD_HELP; "pgvault COMMAND -h|--help" gives that cmd
 * with opt->help set. "pgvault --version|-V" gives CMD_VERSION.
 */
int cli_parse(int argc, char **argv, struct options *opt);

/* Prints the usage of one command (or the overview for CMD_NONE/CMD_HELP). */
void cli_usage(enum command cmd, FILE *out);

/* The command's name as typed ("backup"), or "pgvault" for none. */
const char *cli_command_name(enum command cmd);

/* Whether a command shows progress: --progress forces it and --no-progress stops it;
 * otherwise only when stderr is a terminal and neither --quiet nor --json was given. */
bool cli_progress_wanted(const struct options *opt);

#endif
