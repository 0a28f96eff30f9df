#ifndef PGVAULT_PG_H
#define PGVAULT_PG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* The only module that includes libpq. */
struct pg;

struct pg_table {
    char *schema;
    char *name;
    char relkind;        /* 'r' or 'p' */
    char *parent_schema; /* for a partition: its direct partitioned parent, else NULL */
    char *parent_name;
};

struct pg_dbinfo {
    int server_version_num; /* e.g. 150018 */
    char *server_version;   /* e.g. "15.18 (Debian 15.18-0+deb12u1)" */
    int64_t size_bytes;
    char *encoding;
    char *collate;
    char *ctype;
    char **settings; /* "name=value" from ALTER DATABASE … SET (database-wide, any role) */
    int nsettings;
    struct pg_table *tables;
    int ntables;
};

/* Connects to dbname (or cp->dbname, or libpq's default). ERR_CONNECT on failure with
 * libpq's message (never the password). */
int pg_connect(const struct conn_params *cp, const char *dbname, struct pg **out);
void pg_free(struct pg *pg);

/* The database actually connected to (libpq's PQdb). */
const char *pg_dbname(struct pg *pg);
int pg_server_version_num(struct pg *pg);

/* Reads server version, size, properties and user tables (relkind r, p; not in
 * pg_catalog/information_schema/pg_toast) of the connected database. */
int pg_dbinfo_read(struct pg *pg, struct pg_dbinfo *out);
void pg_dbinfo_free(struct pg_dbinfo *d);

/* Names of databases that accept connections, not templates, sorted. */
int pg_list_databases(struct pg *pg, char ***names, int *n);

#endif
