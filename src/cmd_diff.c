/*
 * pgvault diff: tables and row counts of two backups compared.
 */
#include "commands.h"
#include "err.h"

int cmd_diff(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"diff\" is not implemented yet");
}
