#!/usr/bin/env bash
# README's first command, tests/demo.sh, as a new user runs it against a real server
# (PGHOST set) without DB_NAME: it backs up the database the connection reaches by
# default (PGDATABASE, else the user name, as libpq picks it) instead of failing on a
# "pgvault_demo" that does not exist, and restores it beside the original; a default
# database that does not exist stops the demo at once with a one-line hint. On a
# cluster of its own (the demo restores "<db>_pgvault_demo" databases).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster
top=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
unset DB_NAME DB_USER PGDATABASE

# demo [VAR=VALUE…]: runs the demo with the test's pgvault, output in $OUT, code in $RC
demo() {
    RC=0
    OUT=$(env PGVAULT="$PGVAULT_BIN" BACKUP_DIR="$SCRATCH/repo$#" "$@" sh "$top/tests/demo.sh" \
        </dev/null 2>&1) || RC=$?
}

note "PGDATABASE names the database"
DB=pgv_demo_shop
create_db "$DB"
register_db "${DB}_pgvault_demo"
psql_q "$DB" "CREATE TABLE orders AS SELECT generate_series(1, 42) AS id" >/dev/null
demo PGDATABASE="$DB"
[[ $RC -eq 0 ]] || fail "demo with PGDATABASE=$DB: exit $RC:
$OUT"
assert_contains "$OUT" "== a real server: database $DB (DB_NAME names another)" "the database chosen"
assert_not_contains "$OUT" "pgvault_demo does not exist" "no made-up database"
assert_contains "$OUT" "backup 1 complete" "the backup"
assert_eq "$(psql_q "${DB}_pgvault_demo" "SELECT count(*) FROM orders")" 42 "the restored copy"

note "no PGDATABASE: the user's name, as libpq does (PGUSER=postgres: database postgres)"
register_db postgres_pgvault_demo
demo
[[ $RC -eq 0 ]] || fail "demo without PGDATABASE: exit $RC:
$OUT"
assert_contains "$OUT" "== a real server: database postgres" "the user's database"
assert_contains "$OUT" "into \"postgres_pgvault_demo\"" "restored beside it"

note "a default database that does not exist: one hint, at once"
demo PGDATABASE=pgv_demo_absent
assert_eq "$RC" 1 "exit code of the demo"
assert_contains "$OUT" 'database "pgv_demo_absent" does not exist' "pgvault's error"
assert_contains "$OUT" 'demo: the backup of database "pgv_demo_absent" failed (above); set DB_NAME' \
    "the hint"
assert_not_contains "$OUT" "== pgvault list" "the demo stops at once"

note "DB_NAME still wins"
demo PGDATABASE=pgv_demo_absent DB_NAME="$DB"
[[ $RC -eq 0 ]] || fail "demo with DB_NAME: exit $RC:
$OUT"
assert_contains "$OUT" "== a real server: database $DB" "DB_NAME"
pass
