/*
 * pgvault log: the audit trail.
 */
#include "commands.h"
#include "err.h"

int cmd_log(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"log\" is not implemented yet");
}
