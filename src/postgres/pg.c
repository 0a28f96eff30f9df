#include "postgres/pg.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/naming.h"
#include "postgres/internal.h"
#include "postgres/pgtools.h"
#include "common/util.h"

/* Error text from libpq on one line, without the trailing newline. */
const char *pgx_message(PGconn *conn)
{
    static _Thread_local char buf[512];
    snprintf(buf, sizeof(buf), "%s", conn ? PQerrorMessage(conn) : "out of memory");
    /* one line: line breaks and tabs become single spaces */
    char *w = buf;
    for (char *p = buf; *p; p++) {
        char c = (*p == '\n' || *p == '\t') ? ' ' : *p;
        if (c == ' ' && (w == buf || w[-1] == ' '))
            continue;
        *w++ = c;
    }
    while (w > buf && w[-1] == ' ')
        w--;
    *w = '\0';
    return buf;
}

int pg_server_supported(int version_num, const char *version)
{
    if (version_num >= PG_MIN_SERVER_VERSION_NUM)
        return 0;
    char num[16];
    snprintf(num, sizeof(num), "%d", version_num);
    int min = PG_MIN_SERVER_VERSION_NUM / 10000;
    err_set(ERR_FAILED, "PostgreSQL %s is not supported: pgvault needs PostgreSQL %d or newer",
            version ? version : num, min);
    err_hint("upgrade the server to PostgreSQL %d or newer", min);
    return -1;
}

int pg_connect(const struct conn_params *cp, const char *dbname, struct pg **out)
{
    const char *keys[9];
    const char *vals[9];
    char *options = conn_options();
    int n = 0;
#define ADD(k, v)                                                                                  \
    do {                                                                                           \
        if (v) {                                                                                   \
            keys[n] = k;                                                                           \
            vals[n++] = v;                                                                         \
        }                                                                                          \
    } while (0)
    ADD("host", cp->host);
    ADD("port", cp->port);
    ADD("user", cp->user);
    ADD("dbname", dbname ? dbname : cp->dbname);
    /* a password below the user's passfile is offered through the merged passfile */
    if (cp->password_below_passfile && pgtools_passfile_path())
        ADD("passfile", pgtools_passfile_path());
    else
        ADD("password", cp->password);
    ADD("fallback_application_name", "pgvault");
    ADD("options", options);
#undef ADD
    keys[n] = NULL;
    vals[n] = NULL;

    /* expand_dbname = 0: a database named "host=x" is a name, not a connection string */
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    free(options);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *name = conn && PQdb(conn) ? PQdb(conn) : "";
        err_set(ERR_CONNECT, "could not connect to database \"%s\": %s", name, pgx_message(conn));
        PQfinish(conn);
        return -1;
    }
    if (pg_server_supported(PQserverVersion(conn), PQparameterStatus(conn, "server_version")) !=
        0) {
        err_wrap(ERR_NONE, "could not use database \"%s\"", PQdb(conn));
        PQfinish(conn);
        return -1;
    }
    /* Our own queries must not depend on the database's search_path. */
    PGresult *res = PQexec(conn, "SELECT pg_catalog.set_config('search_path', '', false)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err_set(ERR_CONNECT, "could not set up session: %s", pgx_message(conn));
        PQclear(res);
        PQfinish(conn);
        return -1;
    }
    PQclear(res);
    *out = xcalloc(1, sizeof(**out));
    (*out)->conn = conn;
    return 0;
}

void pg_free(struct pg *pg)
{
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg);
}

const char *pg_dbname(struct pg *pg)
{
    return PQdb(pg->conn);
}

int pg_server_version_num(struct pg *pg)
{
    return PQserverVersion(pg->conn);
}

const char *pg_server_version(struct pg *pg)
{
    const char *v = PQparameterStatus(pg->conn, "server_version");
    return v ? v : "";
}

/* Runs a query with text parameters; returns the result or NULL with the error set. */
PGresult *pgx_query(struct pg *pg, const char *what, const char *sql, int nparams,
                    const char *const *params)
{
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
        enum err_class cls = PQstatus(pg->conn) == CONNECTION_BAD ? ERR_CONNECT : ERR_FAILED;
        err_set(cls, "could not %s: %s", what, pgx_message(pg->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

char *pgx_dup_or_null(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

int pg_dbinfo_read(struct pg *pg, struct pg_dbinfo *d)
{
    memset(d, 0, sizeof(*d));
    d->server_version_num = PQserverVersion(pg->conn);

    PGresult *res =
        pgx_query(pg, "read database properties",
                  "SELECT pg_catalog.current_setting('server_version'),"
                  " pg_catalog.pg_database_size(d.oid),"
                  " pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype"
                  " FROM pg_catalog.pg_database d"
                  " WHERE d.datname = pg_catalog.current_database()",
                  0, NULL);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return err_set(ERR_FAILED, "could not read database properties: database not found");
    }
    d->server_version = xstrdup(PQgetvalue(res, 0, 0));
    d->size_bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    d->encoding = xstrdup(PQgetvalue(res, 0, 2));
    d->collate = xstrdup(PQgetvalue(res, 0, 3));
    d->ctype = xstrdup(PQgetvalue(res, 0, 4));
    PQclear(res);

    /* the locale provider (15+; the ICU locale column is datlocale from 17) */
    if (d->server_version_num >= 150000) {
        res =
            pgx_query(pg, "read the locale provider",
                      d->server_version_num >= 170000
                          ? "SELECT datlocprovider::text, datlocale FROM pg_catalog.pg_database"
                            " WHERE datname = pg_catalog.current_database()"
                          : "SELECT datlocprovider::text, daticulocale FROM pg_catalog.pg_database"
                            " WHERE datname = pg_catalog.current_database()",
                      0, NULL);
        if (!res)
            goto fail;
        if (PQntuples(res) == 1) {
            d->locale_provider = pgx_dup_or_null(res, 0, 0);
            d->icu_locale = pgx_dup_or_null(res, 0, 1);
        }
        PQclear(res);
    }

    /* ALTER DATABASE … SET (for all roles) */
    res = pgx_query(pg, "read database settings",
                    "SELECT pg_catalog.unnest(s.setconfig) FROM pg_catalog.pg_db_role_setting s"
                    " JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase"
                    " WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0",
                    0, NULL);
    if (!res)
        goto fail;
    d->nsettings = PQntuples(res);
    d->settings = xcalloc((size_t)d->nsettings + 1, sizeof(char *));
    for (int i = 0; i < d->nsettings; i++)
        d->settings[i] = xstrdup(PQgetvalue(res, i, 0));
    PQclear(res);

    /* user tables and partitioned tables, with each partition's parent */
    res = pgx_query(pg, "list tables",
                    "SELECT n.nspname, c.relname, c.relkind::text, pn.nspname, pc.relname,"
                    " EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid ="
                    "  'pg_catalog.pg_class'::pg_catalog.regclass AND dep.objid = c.oid"
                    "  AND dep.deptype = 'e')"
                    " FROM pg_catalog.pg_class c"
                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                    " LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid AND c.relispartition"
                    " LEFT JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent"
                    " LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace"
                    " WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'"
                    " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
                    " ORDER BY 1, 2",
                    0, NULL);
    if (!res)
        goto fail;
    d->ntables = PQntuples(res);
    d->tables = xcalloc((size_t)d->ntables + 1, sizeof(struct pg_table));
    for (int i = 0; i < d->ntables; i++) {
        struct pg_table *t = &d->tables[i];
        t->schema = xstrdup(PQgetvalue(res, i, 0));
        t->name = xstrdup(PQgetvalue(res, i, 1));
        t->relkind = PQgetvalue(res, i, 2)[0];
        t->parent_schema = pgx_dup_or_null(res, i, 3);
        t->parent_name = pgx_dup_or_null(res, i, 4);
        t->extension_member = PQgetvalue(res, i, 5)[0] == 't';
    }
    PQclear(res);
    return 0;

fail:
    pg_dbinfo_free(d);
    return -1;
}

void pg_dbinfo_free(struct pg_dbinfo *d)
{
    free(d->server_version);
    free(d->encoding);
    free(d->collate);
    free(d->ctype);
    free(d->locale_provider);
    free(d->icu_locale);
    for (int i = 0; i < d->nsettings; i++)
        free(d->settings[i]);
    free(d->settings);
    for (int i = 0; i < d->ntables; i++) {
        free(d->tables[i].schema);
        free(d->tables[i].name);
        free(d->tables[i].parent_schema);
        free(d->tables[i].parent_name);
    }
    free(d->tables);
    memset(d, 0, sizeof(*d));
}

/* The first column of every row, as a NULL-terminated array; clears res. */
int pgx_take_names(PGresult *res, char ***names, int *n)
{
    *n = PQntuples(res);
    *names = xcalloc((size_t)*n + 1, sizeof(char *));
    for (int i = 0; i < *n; i++)
        (*names)[i] = xstrdup(PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}

/* The names that a query with pgvault's own prefixes as $1 and $2 returns. */
static int names_with_prefixes(struct pg *pg, const char *what, const char *sql, char ***names,
                               int *n)
{
    const char *params[] = {NAMING_TMP_PREFIX, NAMING_OLD_PREFIX};
    PGresult *res = pgx_query(pg, what, sql, 2, params);
    if (!res)
        return -1;
    return pgx_take_names(res, names, n);
}

int pg_list_databases(struct pg *pg, char ***names, int *n)
{
    return names_with_prefixes(pg, "list databases",
                               "SELECT datname FROM pg_catalog.pg_database"
                               " WHERE datallowconn AND NOT datistemplate"
                               "  AND NOT pg_catalog.starts_with(datname, $1)"
                               "  AND NOT pg_catalog.starts_with(datname, $2) ORDER BY datname",
                               names, n);
}

int pg_leftover_databases(struct pg *pg, char ***names, int *n)
{
    return names_with_prefixes(pg, "list leftover databases",
                               "SELECT d.datname FROM pg_catalog.pg_database d"
                               " WHERE (pg_catalog.starts_with(d.datname, $1)"
                               "  OR pg_catalog.starts_with(d.datname, $2))"
                               "  AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a"
                               "   WHERE a.datid = d.oid) ORDER BY d.datname",
                               names, n);
}

int pg_replication_dependents(struct pg *pg, const char *db, char ***names, int *n)
{
    const char *params[] = {db};
    PGresult *res =
        pgx_query(pg, "list the replication slots and subscriptions of the database",
                  "SELECT 'logical replication slot \"' || s.slot_name || '\"'"
                  "  FROM pg_catalog.pg_replication_slots s WHERE s.database = $1"
                  " UNION ALL "
                  "SELECT 'subscription \"' || u.subname || '\"' FROM pg_catalog.pg_subscription u"
                  "  JOIN pg_catalog.pg_database d ON d.oid = u.subdbid WHERE d.datname = $1"
                  " ORDER BY 1",
                  1, params);
    if (!res)
        return -1;
    return pgx_take_names(res, names, n);
}

/* Runs a statement whose text holds already-quoted identifiers and literals. */
int pgx_command(struct pg *pg, const char *what, const char *sql)
{
    PGresult *res = pgx_query(pg, what, sql, 0, NULL);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* PQescapeIdentifier into a malloc'd string (NULL on failure, with the error set). */
char *pgx_ident(struct pg *pg, const char *name)
{
    char *q = PQescapeIdentifier(pg->conn, name, strlen(name));
    if (!q) {
        err_set(ERR_FAILED, "could not quote identifier: %s", pgx_message(pg->conn));
        return NULL;
    }
    char *r = xstrdup(q);
    PQfreemem(q);
    return r;
}

char *pgx_literal(struct pg *pg, const char *s)
{
    char *q = PQescapeLiteral(pg->conn, s, strlen(s));
    if (!q) {
        err_set(ERR_FAILED, "could not quote literal: %s", pgx_message(pg->conn));
        return NULL;
    }
    char *r = xstrdup(q);
    PQfreemem(q);
    return r;
}

int pg_count_rows(struct pg *pg, const char *schema, const char *table, char relkind,
                  int64_t *count)
{
    char *s = pgx_ident(pg, schema), *t = pgx_ident(pg, table);
    int rc = -1;
    if (!s || !t)
        goto out;
    char *sql = xasprintf("SELECT count(*) FROM %s%s.%s", relkind == 'p' ? "" : "ONLY ", s, t);
    char *what = xasprintf("count the rows of table %s.%s", s, t);
    PGresult *res = pgx_query(pg, what, sql, 0, NULL);
    free(what);
    free(sql);
    if (!res) {
        /* undefined_table, invalid_schema_name: it is not there */
        if (strcmp(pg->sqlstate, "42P01") == 0 || strcmp(pg->sqlstate, "3F000") == 0) {
            err_clear();
            rc = 1;
        }
        goto out;
    }
    *count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    rc = 0;
out:
    free(s);
    free(t);
    return rc;
}

int pg_try_advisory_lock(struct pg *pg, int32_t ns, int32_t key, bool *got, int *holder)
{
    char a[16], b[16];
    snprintf(a, sizeof(a), "%" PRId32, ns);
    snprintf(b, sizeof(b), "%" PRId32, key);
    const char *params[] = {a, b};
    PGresult *res = pgx_query(
        pg, "take a lock", "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)", 2, params);
    if (!res)
        return -1;
    *got = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    *holder = 0;
    if (*got)
        return 0;
    /* (a two-int4 key is classid, objid and objsubid 2 in pg_locks) */
    res =
        pgx_query(pg, "read who holds a lock",
                  "SELECT l.pid FROM pg_catalog.pg_locks l"
                  " JOIN pg_catalog.pg_database d ON d.oid = l.database"
                  " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
                  " AND l.classid = $1::int4::pg_catalog.oid AND l.objid = $2::int4::pg_catalog.oid"
                  " AND d.datname = pg_catalog.current_database() LIMIT 1",
                  2, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        *holder = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* The cancel request of the check statement running now; the signal handler reads it. */
static PGcancel *volatile running_check;

void pg_cancel_check(void)
{
    PGcancel *c = running_check;
    char buf[256];
    if (c)
        PQcancel(c, buf, sizeof(buf));
}

int pg_run_check(struct pg *pg, const char *sql, struct pg_check_result *r)
{
    *r = (struct pg_check_result){0};
    /* the user's statement sees the database as its users do, not our empty search_path */
    if (pgx_command(pg, "reset the search path", "RESET search_path") != 0)
        return -1;
    PGcancel *cancel = PQgetCancel(pg->conn);
    running_check = cancel;
    PGresult *res = PQexecParams(pg->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    running_check = NULL;
    PQfreeCancel(cancel);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        /* the server's own words, without the statement it quotes (LINE n: …) */
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        enum err_class cls = PQstatus(pg->conn) == CONNECTION_BAD ? ERR_CONNECT : ERR_FAILED;
        if (msg)
            err_set(cls, "%s", msg);
        else
            err_set(cls, "%s", pgx_message(pg->conn));
        PQclear(res);
        return -1;
    }
    r->rows = PQntuples(res);
    if (r->rows > 0 && PQnfields(res) > 0)
        r->first = pgx_dup_or_null(res, 0, 0);
    PQclear(res);
    return 0;
}
