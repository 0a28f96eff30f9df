#ifndef PGVAULT_PG_H
#define PGVAULT_PG_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* The only module that includes libpq. */
struct pg;

struct pg_table {
    char *schema;
    char *name;
    char relkind;        /* 'r' or 'p' */
    char *parent_schema; /* for a partition: its direct partitioned parent, else NULL */
    char *parent_name;
    bool extension_member; /* created by CREATE EXTENSION */
};

struct pg_dbinfo {
    int server_version_num; /* e.g. 150018 */
    char *server_version;   /* e.g. "15.18 (Debian 15.18-0+deb12u1)" */
    int64_t size_bytes;
    char *encoding;
    char *collate;
    char *ctype;
    char *locale_provider; /* 'c' or 'i' (PostgreSQL 15+), NULL before */
    char *icu_locale;
    char **settings; /* "name=value" from ALTER DATABASE … SET (database-wide, any role) */
    int nsettings;
    struct pg_table *tables;
    int ntables;
};

/* The oldest server pgvault works with (DROP DATABASE … WITH (FORCE) is 13's). */
#define PG_MIN_SERVER_VERSION_NUM 130000

/* 0 for a server of version_num (PQserverVersion) pgvault works with; else -1 with
 * ERR_FAILED naming the server's version (version, or the number when NULL) and the
 * oldest supported. */
int pg_server_supported(int version_num, const char *version);

/* Connects to dbname (or cp->dbname, or libpq's default). ERR_CONNECT on failure with
 * libpq's message (never the password); ERR_FAILED when the server is older than
 * pgvault supports. */
int pg_connect(const struct conn_params *cp, const char *dbname, struct pg **out);
void pg_free(struct pg *pg);

/* The database actually connected to (libpq's PQdb). */
const char *pg_dbname(struct pg *pg);
int pg_server_version_num(struct pg *pg);
/* The server's version text as it reports it ("15.18 (Debian 15.18-0+deb12u1)"). */
const char *pg_server_version(struct pg *pg);

/* Reads server version, size, properties and user tables (relkind r, p; not in
 * pg_catalog/information_schema/pg_toast) of the connected database. */
int pg_dbinfo_read(struct pg *pg, struct pg_dbinfo *out);
void pg_dbinfo_free(struct pg_dbinfo *d);

/* Names of databases that accept connections, not templates and not pgvault's own
 * (NAMING_TMP_PREFIX…, NAMING_OLD_PREFIX…), sorted. */
int pg_list_databases(struct pg *pg, char ***names, int *n);
/* pgvault's own databases (NAMING_TMP_PREFIX…, NAMING_OLD_PREFIX…) that no session is
 * connected to, sorted. */
int pg_leftover_databases(struct pg *pg, char ***names, int *n);

/* What the drop of database db would destroy or be refused for: its logical replication
 * slots (DROP DATABASE drops the inactive ones with it) and its subscriptions (which make
 * the drop fail), as 'logical replication slot "x"' / 'subscription "y"', sorted. */
int pg_replication_dependents(struct pg *pg, const char *db, char ***names, int *n);

/* --- restore support: every identifier is quoted with PQescapeIdentifier --- */

/* Whether a database exists, its size, how many other sessions are connected, and
 * whether it is a template (datistemplate). */
int pg_database_state(struct pg *pg, const char *name, bool *exists, int64_t *size, int *sessions,
                      bool *is_template);

/* CREATE DATABASE name TEMPLATE template0 with the given properties and default
 * tablespace (NULL = server default), then COMMENT ON DATABASE with comment (if not
 * NULL). */
int pg_create_database(struct pg *pg, const char *name, const char *encoding, const char *collate,
                       const char *ctype, const char *locale_provider, const char *icu_locale,
                       const char *tablespace, const char *comment);

/* DROP DATABASE IF EXISTS name WITH (FORCE). */
int pg_drop_database(struct pg *pg, const char *name);

/* Databases whose comment starts with prefix (pgvault's temporary databases). */
int pg_databases_with_comment(struct pg *pg, const char *prefix, char ***names, int *n);

/* Re-applies "name=value" settings as ALTER DATABASE … SET (via set_config in this
 * session and SET … FROM CURRENT, so list values keep their quoting). */
int pg_apply_db_settings(struct pg *pg, const char *db, char *const *settings, int n);

/*
 * What a database is as an object, apart from its contents and its ALTER DATABASE … SET
 * settings: owner, connection limit, comment, default tablespace, privileges (ACL) and
 * ALTER ROLE … IN DATABASE … SET settings. A restore reads it from the database it
 * replaces and gives it to the restored one, in every mode.
 */
struct pg_identity;
int pg_identity_read(struct pg *pg, const char *db, struct pg_identity **out);
/* The default tablespace's name; NULL for a NULL identity. */
const char *pg_identity_tablespace(const struct pg_identity *id);
/* In one transaction: db takes every attribute of id except the tablespace (given at
 * CREATE DATABASE). */
int pg_identity_apply(struct pg *pg, const char *db, const struct pg_identity *id);
void pg_identity_free(struct pg_identity *id);

/*
 * In one transaction: terminate the other sessions of target, rename target to old_name
 * and fresh to target, and give it keep, the identity of the replaced target. With keep
 * NULL there is no target to replace: fresh is renamed and loses its comment. Retries a
 * few times if sessions reconnect.
 */
int pg_swap_databases(struct pg *pg, const char *target, const char *fresh, const char *old_name,
                      const struct pg_identity *keep, int *terminated);

/* Terminates every other session connected to db; returns how many. */
int pg_terminate_sessions(struct pg *pg, const char *db, int *terminated);

/* Takes the session-level advisory lock (ns, key) of the connected database without
 * waiting (it goes with the session). *got says whether it was free; if not, *holder is
 * the server process id of the session holding it (0 if it was released meanwhile). */
int pg_try_advisory_lock(struct pg *pg, int32_t ns, int32_t key, bool *got, int *holder);

/* count(*) of a table: FROM ONLY for relkind 'r', with partitions for 'p'. Returns 1
 * (no error set) when the table or its schema does not exist; -1 with the server's
 * reason when the count fails otherwise (ERR_CONNECT if the connection is lost). */
int pg_count_rows(struct pg *pg, const char *schema, const char *table, char relkind,
                  int64_t *count);

/* What a check statement returned: its number of rows, and its first row's first
 * column ("t" for boolean true; NULL when there is no row, no column, or a NULL). */
struct pg_check_result {
    int rows;
    char *first; /* owned */
};
/* Runs one statement (no parameters; a string holding several is refused by the
 * server) with the search_path of the database and role, and reads its result into r. -1 with the
 * server's message on an error. */
int pg_run_check(struct pg *pg, const char *sql, struct pg_check_result *r);

/* Asks the server to cancel the statement pg_run_check is waiting for, if any: safe in a
 * signal handler (libpq's PQcancel is), so that Ctrl-C does not wait for a long check. */
void pg_cancel_check(void);

#endif
