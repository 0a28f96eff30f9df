/*
 * pgvault restore: checksum-verified safe restore (SPEC section 5).
 */
#include "commands.h"
#include "err.h"

int cmd_restore(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"restore\" is not implemented yet");
}
