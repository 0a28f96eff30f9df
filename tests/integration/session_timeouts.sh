#!/usr/bin/env bash
# pgvault's own sessions (its libpq connections and the pg_dump / psql it starts) set
# statement_timeout, lock_timeout and idle_in_transaction_session_timeout to 0, so a
# hostile value set on the database (ALTER DATABASE … SET) or on the role (ALTER ROLE
# … SET) never breaks a backup or a restore: both work, and the database's own settings
# are kept.
#
# Role settings are cluster-wide: this test runs on a cluster of its own.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3

DB=pgv_to_db
DB_ROLE=pgv_to_roledb
ROLE=pgv_to_role
REPO=$SCRATCH/repo

# fill DB: tables enough that reading the catalog takes longer than 1 ms.
fill() {
    psql_script "$1" >/dev/null <<'SQL'
SELECT format('CREATE TABLE t%s AS SELECT generate_series(1, %s) AS a', g, g * 10)
FROM generate_series(1, 60) g
\gexec
SQL
}

# set_hostile WHAT: ALTER WHAT SET each of the timeouts to 1 ms.
set_hostile() {
    local s
    for s in statement_timeout lock_timeout idle_in_transaction_session_timeout; do
        psql_q postgres "ALTER $1 SET $s = '1ms'" >/dev/null
    done
}

note "database-level timeouts"
create_db "$DB"
fill "$DB"
set_hostile "DATABASE $DB"
SETTINGS=$(db_settings "$DB")
FP=$(db_fingerprint "$DB")
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of a database with 1 ms timeouts"
PGOPTIONS='-c statement_timeout=0' psql_q "$DB" "DROP TABLE t1" >/dev/null
run_pgvault restore -d "$REPO" -f --db "$DB" latest
expect_rc 0 "restore of a database with 1 ms timeouts"
expect_no_leftover_dbs "restore of $DB"
assert_eq "$(db_fingerprint "$DB")" "$FP" "contents of $DB after the restore"
assert_eq "$(db_settings "$DB")" "$SETTINGS" "the database's own settings after the restore"
run_pgvault restore -d "$REPO" -f --in-place --db "$DB" latest
expect_rc 0 "restore --in-place of a database with 1 ms timeouts"
assert_eq "$(db_fingerprint "$DB")" "$FP" "contents of $DB after --in-place"
# the restored database, with its settings, backs up again
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of the restored database"

note "role-level timeouts for the role pgvault connects as"
psql_q postgres "CREATE ROLE $ROLE SUPERUSER LOGIN" >/dev/null
set_hostile "ROLE $ROLE"
create_db "$DB_ROLE"
fill "$DB_ROLE"
FP=$(db_fingerprint "$DB_ROLE")
run_pgvault backup -d "$REPO" --user "$ROLE" --db "$DB_ROLE"
expect_rc 0 "backup as a role with 1 ms timeouts"
psql_q "$DB_ROLE" "DROP TABLE t1" >/dev/null
run_pgvault restore -d "$REPO" -f --user "$ROLE" --db "$DB_ROLE" latest
expect_rc 0 "restore as a role with 1 ms timeouts"
expect_no_leftover_dbs "restore of $DB_ROLE"
assert_eq "$(db_fingerprint "$DB_ROLE")" "$FP" "contents of $DB_ROLE after the restore"
run_pgvault restore -d "$REPO" -f --in-place --user "$ROLE" --db "$DB_ROLE" latest
expect_rc 0 "restore --in-place as a role with 1 ms timeouts"
assert_eq "$(db_fingerprint "$DB_ROLE")" "$FP" "contents of $DB_ROLE after --in-place"
run_pgvault backup -d "$REPO" --all --user "$ROLE"
expect_rc 0 "backup --all (the globals included) as a role with 1 ms timeouts"

pass
