/*
 * pgvault import: adopt dump files into the catalog.
 */
#include "commands.h"
#include "err.h"

int cmd_import(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"import\" is not implemented yet");
}
