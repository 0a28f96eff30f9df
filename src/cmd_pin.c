/*
 * pgvault pin / unpin: protect a backup from retention.
 */
#include "commands.h"
#include "err.h"

int cmd_pin(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"pin\" is not implemented yet");
}

int cmd_unpin(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"unpin\" is not implemented yet");
}
