/*
 * pgvault check: one Nagios-style line for monitoring.
 */
#include "commands.h"
#include "err.h"

int cmd_check(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"check\" is not implemented yet");
}
