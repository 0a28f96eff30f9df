/*
 * pgvault query: read-only SQL on the catalog.
 */
#include "commands.h"
#include "err.h"

int cmd_query(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"query\" is not implemented yet");
}
