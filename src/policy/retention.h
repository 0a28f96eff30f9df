#ifndef PGVAULT_RETENTION_H
#define PGVAULT_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog/catalog.h"
#include "config/config.h"

/*
 * Retention, read from the catalog and never from file times, in two halves:
 * - retention_plan() (retention.c) is a pure function from the backups of one database,
 *   a policy and the current time to a decision with a reason per backup: no I/O, no
 *   clock, so that it can be tested exhaustively;
 * - retention_apply() (command/prune.h) carries a plan out on a repository.
 *
 * The rules, for the complete backups of one database (exact name):
 *   removed when older than `days` days, or not among the newest `count`;
 *   unless protected: pinned; among the newest `min_keep`; the newest backup of each of
 *   the last `keep_daily` UTC days / `keep_weekly` ISO weeks / `keep_monthly` months
 *   that have one. `days` 0 and `count` 0 disable their rule (no age limit, no count
 *   limit). Backups that are not complete are neither counted nor decided.
 * Suspect backups (raw size under half the usual) are decided but never counted: ranks
 * for `count` and `min_keep` count only good (complete, not suspect) backups, so a
 * suspect backup never pushes a good one out. A suspect backup is removed by age like
 * any other, by count only once `count` good backups are newer than it, fills no
 * daily/weekly/monthly slot, and is kept by min-keep only where fewer than `min_keep`
 * good backups exist (the newest suspect ones make up the number).
 */

/* A newest backup dated more than this many seconds after "now" is clock skew. */
#define RETENTION_FUTURE_TOLERANCE 300

struct retention_backup {
    int64_t id;
    time_t started; /* started_at, UTC */
    bool complete;  /* only complete backups count and are decided */
    bool pinned;
    bool suspect; /* raw size under half the usual: decided, but never counted */
};

struct retention_policy {
    long days;  /* -r: remove when older than this many days; 0 = no age limit */
    long count; /* -c: remove when not among the newest COUNT; 0 = no count limit */
    long keep_daily, keep_weekly, keep_monthly;
    long min_keep; /* the newest N are kept whatever their age */
};

enum retention_action {
    RETENTION_SKIP = 0, /* not a complete backup: not decided */
    RETENTION_KEEP,
    RETENTION_REMOVE,
};

/* Why: "within 7 days", "among newest 10", "daily slot 2026-01-05", "weekly slot
 * 2026-W01", "monthly slot 2026-01", "min-keep", "pinned", "no age or count limit";
 * "older than 7 days", "beyond count 10"; for a suspect backup (unless pinned) with
 * "suspect, " in front. Empty for RETENTION_SKIP. */
#define RETENTION_REASON_MAX 64

struct retention_decision {
    enum retention_action action;
    char reason[RETENTION_REASON_MAX];
};

/*
 * Decides every backup of database db (used only in messages): out[i] is the decision
 * for b[i]; b may be in any order (newest is by started, then by id). Returns 0, or -1
 * with ERR_FAILED set, deciding nothing, when the newest complete backup is dated more
 * than RETENTION_FUTURE_TOLERANCE seconds after now.
 */
int retention_plan(const char *db, const struct retention_backup *b, size_t n,
                   const struct retention_policy *p, time_t now, struct retention_decision *out);

/* The policy that settings describe (-r, -c, --keep-*, --min-keep after precedence). */
void retention_policy_from(const struct settings *set, struct retention_policy *p);

#endif
