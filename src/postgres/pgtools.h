#ifndef PGVAULT_PGTOOLS_H
#define PGVAULT_PGTOOLS_H

#include "config/config.h"

/*
 * Finding PostgreSQL's client programs and handing them a password.
 */

/* A client program (pg_dump, pg_dumpall, psql) whose major version is at least the
 * server's: settings' pg_bindir (or PGVAULT_PG_BINDIR) if given, else the same major
 * under /usr/lib/postgresql/N/bin, else the lowest newer one there, else the one on PATH.
 * Sets *path and *version ("15.18 (Debian …)"); ERR_FAILED with a clear hint if none. */
int pgtools_find(const char *tool, int server_version_num, const char *bindir, char **path,
                 char **version);

/* Parses "pg_dump (PostgreSQL) 15.18 (Debian …)" into the major version (15); -1 if not. */
int pgtools_major(const char *version_line);

/*
 * A temporary 0600 passfile holding "*:*:*:*:<password>" for children (PGPASSFILE),
 * created in $TMPDIR or /tmp, when cp has a password. When the password ranks below the
 * user's own passfile (cp->password_below_passfile: it came from the config file), the
 * entries of that file (PGPASSFILE, else ~/.pgpass; used only when libpq would use it: a
 * regular file that group and others cannot access) come first, so that libpq, which
 * takes the first matching line, prefers them. pgtools_passfile_env returns
 * "PGPASSFILE=<path>" or NULL when there is no password, pgtools_passfile_path the path
 * or NULL. Remove it with pgtools_passfile_remove (also safe to call from an atexit
 * path).
 */
struct conn_params;
int pgtools_passfile_create(const struct conn_params *cp);
const char *pgtools_passfile_env(void);
const char *pgtools_passfile_path(void);
void pgtools_passfile_remove(void);

#endif
