#include "postgres/pg.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/naming.h"
#include "postgres/pgtools.h"
#include "common/util.h"

struct pg {
    PGconn *conn;
    char sqlstate[6]; /* of the last query that failed */
};

/* Error text from libpq on one line, without the trailing newline. */
static const char *pg_message(PGconn *conn)
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
        err_set(ERR_CONNECT, "could not connect to database \"%s\": %s", name, pg_message(conn));
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

const char *pg_server_version(struct pg *pg)
{
    const char *v = PQparameterStatus(pg->conn, "server_version");
    return v ? v : "";
}

/* Runs a query with text parameters; returns the result or NULL with the error set. */
static PGresult *query(struct pg *pg, const char *what, const char *sql, int nparams,
                       const char *const *params)
{
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
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

    /* the locale provider (15+; the ICU locale column is datlocale from 17) */
    if (d->server_version_num >= 150000) {
        res = query(pg, "read the locale provider",
                    d->server_version_num >= 170000
                        ? "SELECT datlocprovider::text, datlocale FROM pg_catalog.pg_database"
                          " WHERE datname = pg_catalog.current_database()"
                        : "SELECT datlocprovider::text, daticulocale FROM pg_catalog.pg_database"
                          " WHERE datname = pg_catalog.current_database()",
                    0, NULL);
        if (!res)
            goto fail;
        if (PQntuples(res) == 1) {
            d->locale_provider = dup_or_null(res, 0, 0);
            d->icu_locale = dup_or_null(res, 0, 1);
        }
        PQclear(res);
    }

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
        t->parent_schema = dup_or_null(res, i, 3);
        t->parent_name = dup_or_null(res, i, 4);
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
static int take_names(PGresult *res, char ***names, int *n)
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
    PGresult *res = query(pg, what, sql, 2, params);
    if (!res)
        return -1;
    return take_names(res, names, n);
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
        query(pg, "list the replication slots and subscriptions of the database",
              "SELECT 'logical replication slot \"' || s.slot_name || '\"'"
              "  FROM pg_catalog.pg_replication_slots s WHERE s.database = $1"
              " UNION ALL "
              "SELECT 'subscription \"' || u.subname || '\"' FROM pg_catalog.pg_subscription u"
              "  JOIN pg_catalog.pg_database d ON d.oid = u.subdbid WHERE d.datname = $1"
              " ORDER BY 1",
              1, params);
    if (!res)
        return -1;
    return take_names(res, names, n);
}

/* Runs a statement whose text holds already-quoted identifiers and literals. */
static int command(struct pg *pg, const char *what, const char *sql)
{
    PGresult *res = query(pg, what, sql, 0, NULL);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* PQescapeIdentifier into a malloc'd string (NULL on failure, with the error set). */
static char *ident(struct pg *pg, const char *name)
{
    char *q = PQescapeIdentifier(pg->conn, name, strlen(name));
    if (!q) {
        err_set(ERR_FAILED, "could not quote identifier: %s", pg_message(pg->conn));
        return NULL;
    }
    char *r = xstrdup(q);
    PQfreemem(q);
    return r;
}

static char *literal(struct pg *pg, const char *s)
{
    char *q = PQescapeLiteral(pg->conn, s, strlen(s));
    if (!q) {
        err_set(ERR_FAILED, "could not quote literal: %s", pg_message(pg->conn));
        return NULL;
    }
    char *r = xstrdup(q);
    PQfreemem(q);
    return r;
}

int pg_database_state(struct pg *pg, const char *name, bool *exists, int64_t *size, int *sessions,
                      bool *is_template)
{
    const char *params[] = {name};
    PGresult *res = query(pg, "read database state",
                          "SELECT pg_catalog.pg_database_size(d.oid),"
                          " (SELECT count(*) FROM pg_catalog.pg_stat_activity a"
                          "   WHERE a.datid = d.oid AND a.pid <> pg_catalog.pg_backend_pid()),"
                          " d.datistemplate"
                          " FROM pg_catalog.pg_database d WHERE d.datname = $1",
                          1, params);
    if (!res)
        return -1;
    *exists = PQntuples(res) == 1;
    *size = *exists ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    *sessions = *exists ? atoi(PQgetvalue(res, 0, 1)) : 0;
    *is_template = *exists && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return 0;
}

int pg_create_database(struct pg *pg, const char *name, const char *encoding, const char *collate,
                       const char *ctype, const char *locale_provider, const char *icu_locale,
                       const char *tablespace, const char *comment)
{
    struct sbuf sql = {0};
    char *id = ident(pg, name), *e = NULL, *c = NULL, *t = NULL, *m = NULL, *u = NULL, *s = NULL;
    int rc = -1;
    bool icu = locale_provider && strcmp(locale_provider, "i") == 0 && icu_locale;
    if (!id || (encoding && !(e = literal(pg, encoding))) ||
        (collate && !(c = literal(pg, collate))) || (ctype && !(t = literal(pg, ctype))) ||
        (icu && !(u = literal(pg, icu_locale))) ||
        (tablespace && strcmp(tablespace, "pg_default") != 0 && !(s = ident(pg, tablespace))))
        goto out;
    sbuf_printf(&sql, "CREATE DATABASE %s TEMPLATE template0", id);
    /* pg_default is template0's own: naming it would need CREATE on it, which a role
     * allowed to create databases need not have */
    if (s)
        sbuf_printf(&sql, " TABLESPACE %s", s);
    if (e)
        sbuf_printf(&sql, " ENCODING %s", e);
    if (c)
        sbuf_printf(&sql, " LC_COLLATE %s", c);
    if (t)
        sbuf_printf(&sql, " LC_CTYPE %s", t);
    if (u)
        sbuf_printf(&sql, " LOCALE_PROVIDER icu ICU_LOCALE %s", u);
    if (command(pg, "create database", sql.data) != 0)
        goto out;
    if (comment) {
        if (!(m = literal(pg, comment)))
            goto out;
        sql.len = 0;
        sbuf_printf(&sql, "COMMENT ON DATABASE %s IS %s", id, m);
        if (command(pg, "comment on database", sql.data) != 0)
            goto out;
    }
    rc = 0;
out:
    sbuf_free(&sql);
    free(id);
    free(e);
    free(c);
    free(t);
    free(m);
    free(u);
    free(s);
    return rc;
}

int pg_drop_database(struct pg *pg, const char *name)
{
    char *id = ident(pg, name);
    if (!id)
        return -1;
    char *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", id);
    int rc = command(pg, "drop database", sql);
    free(sql);
    free(id);
    return rc;
}

int pg_databases_with_comment(struct pg *pg, const char *prefix, char ***names, int *n)
{
    const char *params[] = {prefix};
    PGresult *res = query(pg, "list databases",
                          "SELECT d.datname FROM pg_catalog.pg_database d"
                          " JOIN pg_catalog.pg_shdescription s ON s.objoid = d.oid"
                          "  AND s.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass"
                          " WHERE pg_catalog.starts_with(s.description, $1)",
                          1, params);
    if (!res)
        return -1;
    return take_names(res, names, n);
}

/*
 * Inside a transaction: "<alter_prefix> SET name FROM CURRENT" after a transaction-local
 * set_config, so that list values keep their quoting and a setting such as
 * default_transaction_read_only never touches this session; the settings that would act
 * on this very transaction (acts_on_our_session) go in as literals instead.
 */
/* Settings that, set in our own transaction, would change what that transaction can do:
 * the timeouts (a database restored with statement_timeout = 1ms) and the role. */
static bool acts_on_our_session(const char *name)
{
    size_t n = strlen(name);
    return (n > 8 && strcmp(name + n - 8, "_timeout") == 0) || strcmp(name, "role") == 0 ||
           strcmp(name, "session_authorization") == 0;
}

static int apply_setting(struct pg *pg, const char *alter_prefix, const char *setting)
{
    const char *eq = strchr(setting, '=');
    if (!eq)
        return 0;
    char *name = xstrndup(setting, (size_t)(eq - setting));
    const char *params[] = {name, eq + 1};
    char *nid = ident(pg, name);
    int rc = -1;
    if (!nid)
        goto out;
    char *alter;
    if (acts_on_our_session(name)) {
        /* a scalar: the literal stores the same text, and our own session never runs with
         * the backup's 1 ms statement_timeout or a role it would switch to */
        char *lit = literal(pg, eq + 1);
        if (!lit)
            goto out;
        alter = xasprintf("%s SET %s TO %s", alter_prefix, nid, lit);
        free(lit);
    } else {
        PGresult *res =
            query(pg, "apply a setting", "SELECT pg_catalog.set_config($1, $2, true)", 2, params);
        if (!res)
            goto out;
        PQclear(res);
        alter = xasprintf("%s SET %s FROM CURRENT", alter_prefix, nid);
    }
    rc = command(pg, "apply a setting", alter);
    free(alter);
out:
    free(nid);
    free(name);
    return rc;
}

int pg_apply_db_settings(struct pg *pg, const char *db, char *const *settings, int n)
{
    char *dbid = ident(pg, db);
    if (!dbid)
        return -1;
    char *prefix = xasprintf("ALTER DATABASE %s", dbid);
    int rc = command(pg, "apply database settings", "BEGIN");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = apply_setting(pg, prefix, settings[i]);
    if (rc == 0)
        rc = command(pg, "apply database settings", "COMMIT");
    else
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    free(prefix);
    free(dbid);
    return rc;
}

int pg_terminate_sessions(struct pg *pg, const char *db, int *terminated)
{
    const char *params[] = {db};
    /* wait up to 5 s for each backend to exit (PostgreSQL 14+) */
    const char *sql = pg_server_version_num(pg) >= 140000
                          ? "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, "
                            "5000)) FROM pg_catalog.pg_stat_activity"
                            " WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()"
                          : "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))"
                            " FROM pg_catalog.pg_stat_activity"
                            " WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()";
    PGresult *res = query(pg, "terminate sessions", sql, 1, params);
    if (!res)
        return -1;
    *terminated = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

struct pg_identity {
    char *owner; /* quoted identifier */
    char *conn_limit;
    char *comment; /* NULL: none */
    char *tablespace;
    bool has_acl;    /* false: the default privileges (datacl NULL) */
    PGresult *acl;   /* grantee (quoted, or PUBLIC), privilege, grantable: the ACL's order */
    PGresult *roles; /* role (quoted), "name=value" */
};

int pg_identity_read(struct pg *pg, const char *db, struct pg_identity **out)
{
    const char *params[] = {db};
    struct pg_identity *id = xcalloc(1, sizeof(*id));
    *out = NULL;
    PGresult *res =
        query(pg, "read the identity of the database",
              "SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.datdba)),"
              " d.datconnlimit, pg_catalog.shobj_description(d.oid, 'pg_database'), t.spcname,"
              " d.datacl IS NOT NULL FROM pg_catalog.pg_database d"
              " JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1",
              1, params);
    if (!res)
        goto fail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        err_set(ERR_FAILED, "could not read the identity of database \"%s\": it does not exist",
                db);
        goto fail;
    }
    id->owner = xstrdup(PQgetvalue(res, 0, 0));
    id->conn_limit = xstrdup(PQgetvalue(res, 0, 1));
    id->comment = dup_or_null(res, 0, 2);
    id->tablespace = xstrdup(PQgetvalue(res, 0, 3));
    id->has_acl = PQgetvalue(res, 0, 4)[0] == 't';
    PQclear(res);

    /* privileges, entry by entry, in the ACL's order */
    id->acl = query(pg, "read the privileges of the database",
                    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident("
                    " pg_catalog.pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable"
                    " FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a"
                    " WHERE d.datname = $1",
                    1, params);
    if (!id->acl)
        goto fail;

    /* ALTER ROLE … IN DATABASE … SET */
    id->roles = query(pg, "read the per-role settings of the database",
                      "SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(s.setrole)),"
                      " pg_catalog.unnest(s.setconfig) FROM pg_catalog.pg_db_role_setting s"
                      " JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase"
                      " WHERE d.datname = $1 AND s.setrole <> 0",
                      1, params);
    if (!id->roles)
        goto fail;
    *out = id;
    return 0;
fail:
    pg_identity_free(id);
    return -1;
}

const char *pg_identity_tablespace(const struct pg_identity *id)
{
    return id ? id->tablespace : NULL;
}

void pg_identity_free(struct pg_identity *id)
{
    if (!id)
        return;
    free(id->owner);
    free(id->conn_limit);
    free(id->comment);
    free(id->tablespace);
    PQclear(id->acl);
    PQclear(id->roles);
    free(id);
}

/*
 * Inside a transaction: database db takes identity id (owner, connection limit,
 * comment, privileges, per-role settings). With id NULL (it replaces nothing), it only
 * loses the comment it was created with.
 */
static int apply_identity(struct pg *pg, const char *db, const struct pg_identity *id)
{
    char *t = ident(pg, db), *c = NULL;
    struct sbuf sql = {0};
    int rc = -1;
    if (!t || (id && id->comment && !(c = literal(pg, id->comment))))
        goto out;
    sbuf_printf(&sql, "COMMENT ON DATABASE %s IS %s", t, c ? c : "NULL");
    if (command(pg, "keep the comment", sql.data) != 0)
        goto out;
    if (!id) {
        rc = 0;
        goto out;
    }
    sql.len = 0;
    sbuf_printf(&sql, "ALTER DATABASE %s OWNER TO %s", t, id->owner);
    if (command(pg, "keep the owner", sql.data) != 0)
        goto out;
    sql.len = 0;
    sbuf_printf(&sql, "ALTER DATABASE %s CONNECTION LIMIT %s", t, id->conn_limit);
    if (command(pg, "keep the connection limit", sql.data) != 0)
        goto out;

    /* privileges: none but the entries of the replaced ACL, the owner's included */
    if (id->has_acl) {
        sql.len = 0;
        sbuf_printf(&sql, "REVOKE ALL ON DATABASE %s FROM PUBLIC, %s", t, id->owner);
        if (command(pg, "keep the privileges", sql.data) != 0)
            goto out;
    }
    for (int i = 0; i < PQntuples(id->acl); i++) {
        sql.len = 0;
        sbuf_printf(&sql, "GRANT %s ON DATABASE %s TO %s%s", PQgetvalue(id->acl, i, 1), t,
                    PQgetvalue(id->acl, i, 0),
                    PQgetvalue(id->acl, i, 2)[0] == 't' ? " WITH GRANT OPTION" : "");
        if (command(pg, "keep the privileges", sql.data) != 0)
            goto out;
    }

    for (int i = 0; i < PQntuples(id->roles); i++) {
        sql.len = 0;
        sbuf_printf(&sql, "ALTER ROLE %s IN DATABASE %s", PQgetvalue(id->roles, i, 0), t);
        if (apply_setting(pg, sql.data, PQgetvalue(id->roles, i, 1)) != 0)
            goto out;
    }
    rc = 0;
out:
    sbuf_free(&sql);
    free(t);
    free(c);
    return rc;
}

int pg_identity_apply(struct pg *pg, const char *db, const struct pg_identity *id)
{
    if (command(pg, "keep the identity of the database", "BEGIN") != 0)
        return -1;
    if (apply_identity(pg, db, id) != 0 ||
        command(pg, "keep the identity of the database", "COMMIT") != 0) {
        PQclear(PQexec(pg->conn, "ROLLBACK"));
        return -1;
    }
    return 0;
}

int pg_swap_databases(struct pg *pg, const char *target, const char *fresh, const char *old_name,
                      const struct pg_identity *keep, int *terminated)
{
    bool target_exists = keep != NULL;
    char *t = ident(pg, target), *f = ident(pg, fresh), *o = ident(pg, old_name);
    char *r1 = NULL, *r2 = NULL;
    int rc = -1;
    *terminated = 0;
    if (!t || !f || !o)
        goto out;
    r1 = xasprintf("ALTER DATABASE %s RENAME TO %s", t, o);
    r2 = xasprintf("ALTER DATABASE %s RENAME TO %s", f, t);
    for (int attempt = 1;; attempt++) {
        int killed = 0;
        if (command(pg, "begin the swap", "BEGIN") != 0)
            goto out;
        bool ok = (!target_exists || (pg_terminate_sessions(pg, target, &killed) == 0 &&
                                      command(pg, "rename the old database", r1) == 0)) &&
                  command(pg, "rename the restored database", r2) == 0 &&
                  apply_identity(pg, target, keep) == 0 &&
                  command(pg, "commit the swap", "COMMIT") == 0;
        *terminated += killed;
        if (ok)
            break;
        PQclear(PQexec(pg->conn, "ROLLBACK"));
        /* a session that connected in between makes the rename fail: try again */
        if (attempt >= 5 || PQstatus(pg->conn) == CONNECTION_BAD)
            goto out;
        err_clear();
    }
    rc = 0;
out:
    free(t);
    free(f);
    free(o);
    free(r1);
    free(r2);
    return rc;
}

int pg_count_rows(struct pg *pg, const char *schema, const char *table, char relkind,
                  int64_t *count)
{
    char *s = ident(pg, schema), *t = ident(pg, table);
    int rc = -1;
    if (!s || !t)
        goto out;
    char *sql = xasprintf("SELECT count(*) FROM %s%s.%s", relkind == 'p' ? "" : "ONLY ", s, t);
    char *what = xasprintf("count the rows of table %s.%s", s, t);
    PGresult *res = query(pg, what, sql, 0, NULL);
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
    PGresult *res = query(pg, "take a lock",
                          "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)", 2, params);
    if (!res)
        return -1;
    *got = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    *holder = 0;
    if (*got)
        return 0;
    /* (a two-int4 key is classid, objid and objsubid 2 in pg_locks) */
    res = query(pg, "read who holds a lock",
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
