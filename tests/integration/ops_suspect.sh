#!/usr/bin/env bash
# The size anomaly check: a backup whose raw size is under half the
# median of that database's last five complete backups is flagged suspect: a warning on
# stderr (the backup itself succeeds), suspect = 1 in the catalog, "!" in list, true in
# list --json, 1 in the metrics, WARNING from check. A normal backup is not flagged.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 python3

DB=pgv_ops_suspect
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order number ' || g FROM generate_series(1, 50000) g;
SQL
REPO=$SCRATCH/repo
PROM=$SCRATCH/pgvault.prom

note "three ordinary backups: none suspect"
for i in 1 2 3; do
    run_pgvault backup -d "$REPO" --db "$DB" --metrics-file "$PROM"
    expect_rc 0 "backup $i"
    assert_not_contains "$ERR" "suspect" "backup $i: no warning"
done
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE suspect = 1")" 0 "no suspect"
assert_contains "$(cat "$PROM")" "pgvault_last_backup_suspect{db=\"$DB\"} 0" "metrics: not suspect"

note "most rows deleted: the fourth backup is suspect"
psql_q "$DB" "DELETE FROM orders WHERE id > 1000" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB" --metrics-file "$PROM"
expect_rc 0 "a suspect backup still succeeds"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_match "$ERR" "^pgvault: warning: backup $id of \"$DB\" is suspect: [0-9]+ raw bytes" \
    "warning on stderr"
assert_eq "$(catalog_q "$REPO" "SELECT suspect FROM backups WHERE id = $id")" 1 "catalog flag"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE suspect = 1")" 1 "only one"
assert_eq "$(catalog_q "$REPO" "SELECT row_count FROM backups WHERE id = $id")" 1000 "rows"

run_pgvault list -d "$REPO" --db "$DB"
expect_rc 0 "list"
line=$(grep -E "^ +$id " <<<"$OUT") || fail "backup $id not listed: $OUT"
assert_contains "$line" "complete!" "list marks the suspect backup"
n=$(grep -c 'complete!' <<<"$OUT" || true)
assert_eq "$n" 1 "only the suspect backup is marked"

run_pgvault list -d "$REPO" --db "$DB" --json
expect_rc 0 "list --json"
printf '%s' "$OUT" | python3 -c '
import json, sys
rows = {r["id"]: r for r in json.load(sys.stdin)}
want = int(sys.argv[1])
assert rows[want]["suspect"] is True, rows[want]
assert all(r["suspect"] is False for i, r in rows.items() if i != want), rows
' "$id" || fail "list --json: $OUT"

assert_contains "$(cat "$PROM")" "pgvault_last_backup_suspect{db=\"$DB\"} 1" "metrics: suspect"

run_pgvault check -d "$REPO" --db "$DB"
expect_rc 1 "check warns about a suspect backup"
assert_contains "$(tr '[:upper:]' '[:lower:]' <<<"$OUT")" "suspect" "check names the reason"

note "retention never lets a suspect backup push good ones out (count rules count good ones)"
DB2=pgv_ops_suspect_ret
create_db "$DB2"
psql_script "$DB2" >/dev/null <<'SQL'
CREATE TABLE t (i int PRIMARY KEY, note text);
INSERT INTO t SELECT g, 'row number ' || g FROM generate_series(1, 20000) g;
SQL
REPO2=$SCRATCH/repo_retention
for i in 1 2 3; do
    run_pgvault backup -d "$REPO2" --db "$DB2"
    expect_rc 0 "good backup $i"
done
good=$(catalog_q "$REPO2" "SELECT max(id) FROM backups")
psql_q "$DB2" "DELETE FROM t WHERE i > 100" >/dev/null
run_pgvault backup -d "$REPO2" --db "$DB2" -c 1
expect_rc 0 "backup -c 1 after most rows were deleted"
bad=$(catalog_q "$REPO2" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO2" "SELECT suspect FROM backups WHERE id = $bad")" 1 "new backup suspect"
assert_eq "$(catalog_q "$REPO2" "SELECT group_concat(id || ':' || status, ' ') FROM (SELECT id, status FROM backups ORDER BY id)")" \
    "$((good - 2)):pruned $((good - 1)):pruned $good:complete $bad:complete" \
    "the newest good backup survives -c 1"
assert_eq "$(catalog_q "$REPO2" "SELECT row_count FROM backups WHERE id = $good")" 20000 "its rows"
[[ -f "$REPO2/$(catalog_q "$REPO2" "SELECT file_name FROM backups WHERE id = $good")" ]] ||
    fail "the good backup's file was deleted"
run_pgvault prune -d "$REPO2" -c 1 --dry-run
expect_rc 0 "prune --dry-run"
assert_match "$OUT" "$bad +[^ ]+ +[0-9-]+ [0-9:]+ +KEEP +suspect, within 7 days" "dry run names the suspect"

pass
