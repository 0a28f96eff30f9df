#include "pg.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

struct pg {
    PGconn *conn;
};

/* Error text from libpq on one line, without the trailing newline. */
static const char *pg_message(PGconn *conn)
{
    static _Thread_local char buf[512];
    snprintf(buf, sizeof(buf), "%s", conn ? PQerrorMessage(conn) : "out of memory");
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = p[1] ? ' ' : '\0';
    return buf;
}

int pg_connect(const struct conn_params *cp, const char *dbname, struct pg **out)
{
    const char *keys[8];
    const char *vals[8];
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
    ADD("password", cp->password);
    ADD("fallback_application_name", "pgvault");
#undef ADD
    keys[n] = NULL;
    vals[n] = NULL;

    /* expand_dbname = 0: a database named "host=x" is a name, not a connection string */
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        err_set(ERR_CONNECT, "could not connect to database: %s", pg_message(conn));
        PQfinish(conn);
        return -1;
    }
    /* Our own queries must not depend on the database's search_path. */
    PGresult *res = PQexec(conn, "SELECT pg_catalog.set_config('search_path', '', false)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err_set(ERR_CONNECT, "could not set up session: %s", pg_message(conn));
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

/* Runs a query with text parameters; returns the result or NULL with the error set. */
static PGresult *query(struct pg *pg, const char *what, const char *sql, int nparams,
                       const char *const *params)
{
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        enum err_class cls = PQstatus(pg->conn) == CONNECTION_BAD ? ERR_CONNECT : ERR_FAILED;
        err_set(cls, "could not %s: %s", what, pg_message(pg->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

static char *dup_or_null(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

int pg_dbinfo_read(struct pg *pg, struct pg_dbinfo *d)
{
    memset(d, 0, sizeof(*d));
    d->server_version_num = PQserverVersion(pg->conn);

    PGresult *res = query(pg, "read database properties",
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

    /* ALTER DATABASE … SET (for all roles) */
    res = query(pg, "read database settings",
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
    res = query(pg, "list tables",
                "SELECT n.nspname, c.relname, c.relkind::text, pn.nspname, pc.relname"
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
        t->parent_schema = dup_or_null(res, i, 3);
        t->parent_name = dup_or_null(res, i, 4);
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

int pg_list_databases(struct pg *pg, char ***names, int *n)
{
    PGresult *res = query(pg, "list databases",
                          "SELECT datname FROM pg_catalog.pg_database"
                          " WHERE datallowconn AND NOT datistemplate ORDER BY datname",
                          0, NULL);
    if (!res)
        return -1;
    *n = PQntuples(res);
    *names = xcalloc((size_t)*n + 1, sizeof(char *));
    for (int i = 0; i < *n; i++)
        (*names)[i] = xstrdup(PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}
