/*
 * pgvault verify: checksum and size of backup files; --deep reads them whole.
 */
#include "commands.h"
#include "err.h"

int cmd_verify(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"verify\" is not implemented yet");
}
