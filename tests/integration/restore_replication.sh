#!/usr/bin/env bash
# A restore that replaces a database names, before it asks and in --json, the logical
# replication slots that dropping the replaced database would destroy with it and the
# subscriptions that would make that drop fail; a database without them gets no such
# warning. On a cluster of its own (wal_level = logical needs a restart).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
private_cluster

as_pg=()
[[ $(id -u) -eq 0 ]] && as_pg=(runuser -u postgres --)
psql_q postgres "ALTER SYSTEM SET wal_level = logical" >/dev/null
"${as_pg[@]}" "$PG_BINDIR/pg_ctl" restart -D "$PG_TMPDIR/data" -w -t 60 -s -m fast >/dev/null
wait_until "the restarted server" "$PG_BINDIR/pg_isready" -q -h "$PGHOST" -p "$PGPORT"
assert_eq "$(psql_q postgres "SHOW wal_level")" logical "wal_level after the restart"

DB=pgv_repl
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT generate_series(1, 100) AS i" >/dev/null
REPO=$SCRATCH/repo
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"

note "no slot, no subscription: no warning"
run_pgvault restore -d "$REPO" -f --db "$DB" latest --json
expect_rc 0 "restore of a database without replication objects"
assert_not_contains "$ERR" "replication" "stderr of a plain restore"
assert_eq "$(json_get "$OUT" "d['replication']")" "[]" "replication in --json"

note "a slot and a subscription: named before the restore, and in --json"
psql_q "$DB" "SELECT pg_catalog.pg_create_logical_replication_slot('pgv_slot', 'pgoutput')" >/dev/null
psql_q "$DB" "CREATE SUBSCRIPTION pgv_sub CONNECTION 'dbname=pgv_nowhere' PUBLICATION p WITH (connect = false)" >/dev/null
run_pgvault restore -d "$REPO" -f --db "$DB" latest --json
note "  exit $RC: $(grep -m1 'replication' <<<"$ERR" || true)"
assert_contains "$ERR" 'logical replication slot "pgv_slot"' "the warning names the slot"
assert_contains "$ERR" 'subscription "pgv_sub"' "the warning names the subscription"
assert_eq "$(json_get "$OUT" "' '.join(d['replication'])")" \
    'logical replication slot "pgv_slot" subscription "pgv_sub"' "replication in --json"
# the subscription makes the drop of the replaced database fail: it is kept, and said so
expect_rc 0 "restore of a database with a subscription"
kept=$(psql_q postgres "SELECT datname FROM pg_database WHERE datname LIKE 'pgvault\_old\_%'")
[[ -n "$kept" ]] || fail "the replaced database (which holds the subscription) is gone"
for k in $kept; do register_db "$k"; done
assert_contains "$ERR" "$kept" "the warning names the replaced database that was kept"
assert_eq "$(psql_q "$DB" "SELECT count(*) FROM t")" 100 "rows of the restored database"

pass
