#!/usr/bin/env bash
# pgvault's own databases: backup --all never backs up a temporary
# (pgvault_tmp_*) or replaced (pgvault_old_*) database that a restore left behind; check
# warns about them (WARNING, exit 1), naming them, and prune names them and how to drop
# them, without dropping them. Only the leftovers of this repository's databases (and
# restore targets) are reported, never one a session is connected to.
#
# backup --all sees the whole cluster, so the test has a cluster of its own.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster
require_cmd sqlite3 python3

repo=$SCRATCH/repo
db=pgvleft_app
create_db "$db"
psql_q "$db" "CREATE TABLE t (i int); INSERT INTO t SELECT generate_series(1, 42)" >/dev/null
tag=$(pgv_tag "$db")
tmp=pgvault_tmp_$tag
old=pgvault_old_${tag}_20200101000000
other=pgvault_tmp_$(pgv_tag pgvleft_not_in_this_repository)
for d in "$tmp" "$old" "$other"; do
    create_db "$d"
    psql_q "$d" "CREATE TABLE half_loaded (i int)" >/dev/null
done

note "backup --all leaves pgvault's own databases out"
run_pgvault backup --all -d "$repo" --no-progress
expect_rc 0 "backup --all"
assert_eq "$(catalog_q "$repo" "SELECT group_concat(db_name, '|') FROM (SELECT db_name FROM backups ORDER BY db_name)")" \
    "@globals|$db|postgres" "the databases backed up"
assert_contains "$OUT" "all 3 backups complete: the cluster's globals and 2 databases" "summary"

note "check warns about the leftovers of this repository's databases"
run_pgvault check -d "$repo"
expect_rc 1 "check with leftover databases"
assert_match "$OUT" "^PGVAULT WARNING - " "check state"
assert_contains "$OUT" "leftover databases of interrupted restores: $old, $tmp" "check names them"
assert_not_contains "$OUT" "$other" "a leftover of a database this repository does not know"
assert_eq "$ERR" "" "check stderr"
run_pgvault check -d "$repo" --json
expect_rc 1 "check --json with leftover databases"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["state"] == "WARNING", d
assert d["leftover_databases"] == sys.argv[1:], d
' "$old" "$tmp" || fail "check --json: $OUT"

note "prune names them and how to drop them, and drops nothing"
run_pgvault prune -d "$repo" -c 10
expect_rc 0 "prune with leftover databases"
assert_contains "$ERR" "pgvault: warning: database \"$tmp\" was left by an interrupted restore of \"$db\"" \
    "prune names the temporary database"
assert_contains "$ERR" "pgvault: warning: database \"$old\" was replaced and kept by a restore of \"$db\"" \
    "prune names the replaced database"
assert_contains "$ERR" "DROP DATABASE \"$tmp\"" "prune says how to drop it"
assert_not_contains "$ERR" "$other" "prune: a leftover of another repository"
run_pgvault prune -d "$repo" -c 10 --dry-run
expect_rc 0 "prune --dry-run with leftover databases"
assert_contains "$ERR" "\"$tmp\"" "prune --dry-run names them too"
for d in "$tmp" "$old" "$other"; do
    assert_eq "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '$d'")" 1 \
        "$d still exists"
done

note "a database in use (a restore loading into it) is no leftover"
psql_q postgres "DROP DATABASE \"$old\"" >/dev/null
"$PSQL" -X -q -d "$tmp" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
in_use() {
    [[ "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$tmp'")" -ge 1 ]]
}
wait_until "a session on $tmp" in_use
run_pgvault check -d "$repo"
expect_rc 0 "check while the temporary database is in use"
kill "$sleeper" 2>/dev/null || true
wait "$sleeper" 2>/dev/null || true

note "without a reachable server, check and prune say nothing of leftovers"
run_pgvault check -d "$repo" --host /nonexistent
expect_rc 0 "check without a server"
run_pgvault prune -d "$repo" -c 10 --host /nonexistent
expect_rc 0 "prune without a server"
assert_eq "$ERR" "" "prune without a server: stderr"

pass
