/*
 * The database-level operations of a restore, over the libpq adapter (pg.c): a
 * database's state, create and drop, its ALTER DATABASE settings, its identity (owner,
 * privileges, comment, tablespace, per-role settings) read before and given back after,
 * and the swap of a restored database into place.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/naming.h"
#include "common/util.h"
#include "postgres/internal.h"
#include "postgres/pg.h"

int pg_database_state(struct pg *pg, const char *name, bool *exists, int64_t *size, int *sessions,
                      bool *is_template)
{
    const char *params[] = {name};
    PGresult *res = pgx_query(pg, "read database state",
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
    char *id = pgx_ident(pg, name), *e = NULL, *c = NULL, *t = NULL, *m = NULL, *u = NULL,
         *s = NULL;
    int rc = -1;
    bool icu = locale_provider && strcmp(locale_provider, "i") == 0 && icu_locale;
    if (!id || (encoding && !(e = pgx_literal(pg, encoding))) ||
        (collate && !(c = pgx_literal(pg, collate))) || (ctype && !(t = pgx_literal(pg, ctype))) ||
        (icu && !(u = pgx_literal(pg, icu_locale))) ||
        (tablespace && strcmp(tablespace, "pg_default") != 0 && !(s = pgx_ident(pg, tablespace))))
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
    if (pgx_command(pg, "create database", sql.data) != 0)
        goto out;
    if (comment) {
        if (!(m = pgx_literal(pg, comment)))
            goto out;
        sql.len = 0;
        sbuf_printf(&sql, "COMMENT ON DATABASE %s IS %s", id, m);
        if (pgx_command(pg, "comment on database", sql.data) != 0)
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
    char *id = pgx_ident(pg, name);
    if (!id)
        return -1;
    char *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", id);
    int rc = pgx_command(pg, "drop database", sql);
    free(sql);
    free(id);
    return rc;
}

int pg_databases_with_comment(struct pg *pg, const char *prefix, char ***names, int *n)
{
    const char *params[] = {prefix};
    PGresult *res = pgx_query(pg, "list databases",
                              "SELECT d.datname FROM pg_catalog.pg_database d"
                              " JOIN pg_catalog.pg_shdescription s ON s.objoid = d.oid"
                              "  AND s.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass"
                              " WHERE pg_catalog.starts_with(s.description, $1)",
                              1, params);
    if (!res)
        return -1;
    return pgx_take_names(res, names, n);
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
    char *nid = pgx_ident(pg, name);
    int rc = -1;
    if (!nid)
        goto out;
    char *alter;
    if (acts_on_our_session(name)) {
        /* a scalar: the literal stores the same text, and our own session never runs with
         * the backup's 1 ms statement_timeout or a role it would switch to */
        char *lit = pgx_literal(pg, eq + 1);
        if (!lit)
            goto out;
        alter = xasprintf("%s SET %s TO %s", alter_prefix, nid, lit);
        free(lit);
    } else {
        PGresult *res = pgx_query(pg, "apply a setting",
                                  "SELECT pg_catalog.set_config($1, $2, true)", 2, params);
        if (!res)
            goto out;
        PQclear(res);
        alter = xasprintf("%s SET %s FROM CURRENT", alter_prefix, nid);
    }
    rc = pgx_command(pg, "apply a setting", alter);
    free(alter);
out:
    free(nid);
    free(name);
    return rc;
}

int pg_apply_db_settings(struct pg *pg, const char *db, char *const *settings, int n)
{
    char *dbid = pgx_ident(pg, db);
    if (!dbid)
        return -1;
    char *prefix = xasprintf("ALTER DATABASE %s", dbid);
    int rc = pgx_command(pg, "apply database settings", "BEGIN");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = apply_setting(pg, prefix, settings[i]);
    if (rc == 0)
        rc = pgx_command(pg, "apply database settings", "COMMIT");
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
    PGresult *res = pgx_query(pg, "terminate sessions", sql, 1, params);
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
    PGresult *res = pgx_query(
        pg, "read the identity of the database",
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
    id->comment = pgx_dup_or_null(res, 0, 2);
    id->tablespace = xstrdup(PQgetvalue(res, 0, 3));
    id->has_acl = PQgetvalue(res, 0, 4)[0] == 't';
    PQclear(res);

    /* privileges, entry by entry, in the ACL's order */
    id->acl =
        pgx_query(pg, "read the privileges of the database",
                  "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident("
                  " pg_catalog.pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable"
                  " FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a"
                  " WHERE d.datname = $1",
                  1, params);
    if (!id->acl)
        goto fail;

    /* ALTER ROLE … IN DATABASE … SET */
    id->roles = pgx_query(pg, "read the per-role settings of the database",
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
    char *t = pgx_ident(pg, db), *c = NULL;
    struct sbuf sql = {0};
    int rc = -1;
    if (!t || (id && id->comment && !(c = pgx_literal(pg, id->comment))))
        goto out;
    sbuf_printf(&sql, "COMMENT ON DATABASE %s IS %s", t, c ? c : "NULL");
    if (pgx_command(pg, "keep the comment", sql.data) != 0)
        goto out;
    if (!id) {
        rc = 0;
        goto out;
    }
    sql.len = 0;
    sbuf_printf(&sql, "ALTER DATABASE %s OWNER TO %s", t, id->owner);
    if (pgx_command(pg, "keep the owner", sql.data) != 0)
        goto out;
    sql.len = 0;
    sbuf_printf(&sql, "ALTER DATABASE %s CONNECTION LIMIT %s", t, id->conn_limit);
    if (pgx_command(pg, "keep the connection limit", sql.data) != 0)
        goto out;

    /* privileges: none but the entries of the replaced ACL, the owner's included */
    if (id->has_acl) {
        sql.len = 0;
        sbuf_printf(&sql, "REVOKE ALL ON DATABASE %s FROM PUBLIC, %s", t, id->owner);
        if (pgx_command(pg, "keep the privileges", sql.data) != 0)
            goto out;
    }
    for (int i = 0; i < PQntuples(id->acl); i++) {
        sql.len = 0;
        sbuf_printf(&sql, "GRANT %s ON DATABASE %s TO %s%s", PQgetvalue(id->acl, i, 1), t,
                    PQgetvalue(id->acl, i, 0),
                    PQgetvalue(id->acl, i, 2)[0] == 't' ? " WITH GRANT OPTION" : "");
        if (pgx_command(pg, "keep the privileges", sql.data) != 0)
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
    if (pgx_command(pg, "keep the identity of the database", "BEGIN") != 0)
        return -1;
    if (apply_identity(pg, db, id) != 0 ||
        pgx_command(pg, "keep the identity of the database", "COMMIT") != 0) {
        PQclear(PQexec(pg->conn, "ROLLBACK"));
        return -1;
    }
    return 0;
}

int pg_swap_databases(struct pg *pg, const char *target, const char *fresh, const char *old_name,
                      const struct pg_identity *keep, int *terminated)
{
    bool target_exists = keep != NULL;
    char *t = pgx_ident(pg, target), *f = pgx_ident(pg, fresh), *o = pgx_ident(pg, old_name);
    char *r1 = NULL, *r2 = NULL;
    int rc = -1;
    *terminated = 0;
    if (!t || !f || !o)
        goto out;
    r1 = xasprintf("ALTER DATABASE %s RENAME TO %s", t, o);
    r2 = xasprintf("ALTER DATABASE %s RENAME TO %s", f, t);
    for (int attempt = 1;; attempt++) {
        int killed = 0;
        if (pgx_command(pg, "begin the swap", "BEGIN") != 0)
            goto out;
        bool ok = (!target_exists || (pg_terminate_sessions(pg, target, &killed) == 0 &&
                                      pgx_command(pg, "rename the old database", r1) == 0)) &&
                  pgx_command(pg, "rename the restored database", r2) == 0 &&
                  apply_identity(pg, target, keep) == 0 &&
                  pgx_command(pg, "commit the swap", "COMMIT") == 0;
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
