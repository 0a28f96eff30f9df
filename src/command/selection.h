#ifndef PGVAULT_SELECTION_H
#define PGVAULT_SELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/options.h"

/*
 * The tables a partial restore (or extract) takes: --table SCHEMA.TABLE and --schema
 * NAME, as the backup's catalog rows name them (exact names; a part in double quotes
 * may hold a dot, "" being one quote).
 */
struct table_rec;

struct selection {
    char **schema, **name; /* --table, split */
    int ntables;
    char **schemas; /* --schema */
    int nschemas;
};

/* Splits the --table values; ERR_USAGE naming a value that is not SCHEMA.TABLE. */
int selection_parse(const struct optlist *tables, const struct optlist *schemas,
                    struct selection *out);

/* Every table and schema named is in the backup (its catalog tables t); else ERR_USAGE
 * naming the first that is not. */
int selection_check(const struct selection *s, const struct table_rec *t, size_t n,
                    int64_t backup_id);

/* Whether a table (schema NULL: public) is selected; an empty selection takes all. */
bool selection_wants(const struct selection *s, const char *schema, const char *name);
bool selection_empty(const struct selection *s);

void selection_free(struct selection *s);

#endif
