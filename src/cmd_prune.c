/*
 * pgvault prune: catalog-driven retention (SPEC section 6).
 */
#include "commands.h"
#include "err.h"

int cmd_prune(const struct options *opt, const struct settings *set)
{
    (void)opt;
    (void)set;
    return err_set(ERR_USAGE, "command \"prune\" is not implemented yet");
}
