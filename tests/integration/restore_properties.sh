#!/usr/bin/env bash
# What a plain pg_dump (without --create) leaves out and a restore into a fresh
# database must carry over by itself (a fresh database with the recorded properties and,
# beyond those, what an administrator expects):
# (1) the database's owner, comment, connection limit, privileges, locale provider
# and per-role settings (ALTER ROLE … IN DATABASE … SET) survive a safe-swap restore;
# (2) a database whose settings include default_transaction_read_only = on (common for
# archive databases) can be restored, keeps the setting, and leaves nothing behind.
# Every property is compared and all differences are reported together.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3

DB=pgv_rp
DB_RO=pgv_rp_readonly
ROLE=pgv_rp_owner
REPO=$SCRATCH/repo

# Roles are cluster-wide: one left by an earlier failed run goes first.
drop_db "$DB"
psql_q postgres "SET client_min_messages = warning; DROP ROLE IF EXISTS $ROLE" >/dev/null
psql_q postgres "CREATE ROLE $ROLE LOGIN" >/dev/null

# 1. Database properties that live outside the dump.
icu=$(psql_q postgres "SELECT count(*) > 0 FROM pg_collation WHERE collprovider = 'i'")
locale_clause=
if [[ $icu == t ]]; then
    locale_clause="LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' TEMPLATE template0"
fi
register_db "$DB"
psql_script postgres -v db="$DB" -v role="$ROLE" >/dev/null <<SQL
CREATE DATABASE :"db" OWNER :"role" CONNECTION LIMIT 7 $locale_clause;
COMMENT ON DATABASE :"db" IS 'owned by the application';
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE :"db" TO :"role";
ALTER ROLE :"role" IN DATABASE :"db" SET work_mem = '5MB';
ALTER DATABASE :"db" SET search_path = app, public;
SQL
psql_script "$DB" -v role="$ROLE" >/dev/null <<'SQL'
CREATE SCHEMA app AUTHORIZATION :"role";
CREATE TABLE app.t (id int PRIMARY KEY, name text);
INSERT INTO app.t SELECT g, 'name ' || g FROM generate_series(1, 2000) g;
CREATE INDEX t_name ON app.t (name);
SQL

# props DB: one line per property of the database, as the server sees it.
props() {
    psql_q postgres "
SELECT x FROM pg_database d, LATERAL (VALUES
       (1, 'owner=' || pg_get_userbyid(d.datdba)),
       (2, 'encoding=' || pg_encoding_to_char(d.encoding)),
       (3, 'collate=' || d.datcollate), (4, 'ctype=' || d.datctype),
       (5, 'locale_provider=' || d.datlocprovider::text),
       (6, 'icu_locale=' || coalesce(d.daticulocale, '<none>')),
       (7, 'connection_limit=' || d.datconnlimit),
       (8, 'acl=' || coalesce(d.datacl::text, '<default>')),
       (9, 'comment=' || coalesce(shobj_description(d.oid, 'pg_database'), '<none>')),
       (10, 'db_settings=' || coalesce((SELECT array_to_string(s.setconfig, ';')
                                        FROM pg_db_role_setting s
                                        WHERE s.setdatabase = d.oid AND s.setrole = 0), '<none>')),
       (11, 'role_settings=' || coalesce((SELECT string_agg(pg_get_userbyid(s.setrole) || ':' ||
                                                            array_to_string(s.setconfig, ';'), ',')
                                          FROM pg_db_role_setting s
                                          WHERE s.setdatabase = d.oid AND s.setrole <> 0), '<none>'))
       ) AS v(n, x)
WHERE d.datname = '$1' ORDER BY n"
}

props "$DB" >"$SCRATCH/props.before"
FP=$(db_fingerprint "$DB")
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of $DB"
psql_q "$DB" "DELETE FROM app.t WHERE id > 10" >/dev/null
run_pgvault restore -d "$REPO" -f --db "$DB" latest
expect_rc 0 "restore of $DB"
expect_no_leftover_dbs "restore of $DB"
assert_eq "$(db_fingerprint "$DB")" "$FP" "contents of $DB after the restore"
props "$DB" >"$SCRATCH/props.after"
problems=$(diff "$SCRATCH/props.before" "$SCRATCH/props.after" |
    awk '/^</ {sub(/^< /, ""); b[++nb] = $0} /^>/ {sub(/^> /, ""); a[++na] = $0}
         END {for (i = 1; i <= nb; i++) printf "  before: %s\n  after:  %s\n", b[i], a[i]}' || true)

# 2. default_transaction_read_only = on.
note "database with default_transaction_read_only = on"
create_db "$DB_RO"
psql_q "$DB_RO" "CREATE TABLE t AS SELECT generate_series(1, 100) AS a" >/dev/null
psql_q postgres "ALTER DATABASE $DB_RO SET default_transaction_read_only = on" >/dev/null
FP_RO=$(db_fingerprint "$DB_RO")
run_pgvault backup -d "$REPO" --db "$DB_RO"
expect_rc 0 "backup of $DB_RO"
# It changes (an administrator lifts the setting for a session, writes, and sets it back).
PGOPTIONS='-c default_transaction_read_only=off' psql_q "$DB_RO" "DELETE FROM t WHERE a > 50" >/dev/null
run_pgvault restore -d "$REPO" -f --db "$DB_RO" latest
ro_rc=$RC
ro_err=$ERR
ro_left=$(new_pgvault_dbs)
for d in $ro_left; do register_db "$d"; done
if [[ $ro_rc -ne 0 ]]; then
    problems+="
  restore of a database with default_transaction_read_only = on exited $ro_rc: $ro_err"
else
    [[ $(db_fingerprint "$DB_RO") == "$FP_RO" ]] ||
        problems+="
  $DB_RO after the restore differs from the backup"
fi
[[ -z "$ro_left" ]] || problems+="
  database(s) left behind by the restore of $DB_RO: $(tr '\n' ' ' <<<"$ro_left")"

# The role goes last (the databases that reference it go first).
drop_db "$DB"
for d in $(new_pgvault_dbs); do drop_db "$d"; done
psql_q postgres "DROP ROLE IF EXISTS $ROLE" >/dev/null || true

[[ -z "$problems" ]] || fail "database properties not carried over by the restore:
$problems"
pass
