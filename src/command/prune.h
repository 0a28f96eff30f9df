#ifndef PGVAULT_COMMAND_PRUNE_H
#define PGVAULT_COMMAND_PRUNE_H

/* Carrying a retention plan out on a repository: prune's work, which backup does too
 * after each successful backup. The plan itself is policy/retention.h's. */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "policy/retention.h"

/* What retention_apply did to one repository. */
struct retention_result {
    size_t kept;         /* complete backups kept (refused_kept included) */
    size_t refused;      /* databases whose plan was refused (newest dated in the future) */
    size_t refused_kept; /* their complete backups, all kept */
    size_t removed;      /* backups whose file was deleted; rows now 'pruned' */
    size_t missing;      /* backups whose file was already gone; rows now 'missing' */
    size_t leftovers;    /* files of failed backups removed */
    int64_t freed_bytes;
};

/*
 * Decides the rows of one database as prune does (rows as catalog_retention_rows returns
 * them, of one database): out[i] is rows[i]'s decision. Returns 0, or -1 with the error
 * set, deciding nothing, when a start time cannot be read or the plan is refused (the
 * newest backup dated in the future).
 */
int retention_plan_rows(const struct retention_row *rows, size_t n,
                        const struct retention_policy *pol, time_t now,
                        struct retention_decision *out);

/*
 * Applies retention to database db (NULL: every database in the catalog) of the
 * repository dir, whose lock the caller holds: deletes each removed backup's file and
 * marks its row 'pruned' (or 'missing' when the file was already gone) with the time
 * and the rule, removes the leftover files of failed backups, and records an audit
 * event for each. report: print one line per removal on stdout (prefix before each).
 * Stops between removals once *cancel is non-zero. Keeps going after a problem; returns
 * 0, or -1 with the first error set.
 */
int retention_apply(struct catalog *cat, const struct settings *set, const char *db,
                    const char *prefix, bool report, volatile sig_atomic_t *cancel,
                    struct retention_result *res);

#endif
