/*
 * pgvault show: everything the catalog knows about one backup.
 */
#include "commands.h"
#include "err.h"

int cmd_show(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"show\" is not implemented yet");
}
