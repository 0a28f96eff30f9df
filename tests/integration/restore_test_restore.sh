#!/usr/bin/env bash
# pgvault test-restore proves a backup through the normal restore path into a scratch
# database of its own, which it always drops: (a) success, with a --check-sql file whose
# statements hide ";" in strings and comments, recorded as mode 'test' with the backup's
# restore_tested_at; (b) each way a check statement fails (false, no row, several rows,
# an error, not a boolean) exits 1 naming the statement's line; (c) a corrupted file and
# a count mismatch exit 3; (d) SIGTERM during a long check stops at once; (e) usage;
# (f) check --max-test-age with and without a recent test. Nothing is ever left behind.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 python3

DB=pgv_trst
REPO=$SCRATCH/repo
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE players (id int PRIMARY KEY, name text);
INSERT INTO players SELECT g, 'p' || g FROM generate_series(1, 500) g;
CREATE TABLE games (id int);
INSERT INTO games SELECT generate_series(1, 20);
SQL
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
# what test restores may leave: databases named for this test's database
scratch_dbs() {
    psql_q postgres "SELECT datname FROM pg_catalog.pg_database
                     WHERE datname LIKE 'pgvault\\_tmp\\_$(pgv_tag "$DB")%'"
}
expect_no_scratch() {
    local left
    left=$(scratch_dbs)
    [[ -z "$left" ]] || fail "$1: scratch database(s) left behind: $left"
}

# (a) success: the statements, with ";" inside strings, identifiers and comments
note "(a) a test restore whose checks pass"
cat >"$SCRATCH/ok.sql" <<'SQL'
-- players are all there; a comment with a ; in it
SELECT count(*) = 500 FROM players;
/* a block /* nested ; */ comment */
SELECT 'a;b' = 'a;b' AND "name" IS NOT NULL FROM players WHERE id = 1;
SELECT $x$ ; $x$ = ' ; '
SQL
run_pgvault test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/ok.sql"
expect_rc 0 "test-restore with passing checks"
assert_contains "$OUT" "2 tables and 520 rows checked against the catalog" "summary counts"
assert_contains "$OUT" "3 checks of" "summary names the checks"
assert_contains "$OUT" "dropped" "summary says the scratch database went"
expect_no_scratch "(a)"
RID=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$RID" "mode || ' ' || status || ' ' || backup_id")" \
    "test complete $BID" "restores row of the test"
assert_match "$(restore_col "$REPO" "$RID" target_db)" "^pgvault_tmp_$(pgv_tag "$DB")_test_[0-9a-f]{8}\$" \
    "the scratch database's name"
TESTED=$(catalog_q "$REPO" "SELECT coalesce(restore_tested_at, '') FROM backups WHERE id = $BID")
assert_match "$TESTED" '^20[0-9]{2}-' "restore_tested_at after a successful test"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'restore'
                                AND outcome = 'ok' AND detail LIKE '%(test)%'")" 1 "the event"
run_pgvault test-restore -d "$REPO" --db "$DB" --json "$BID"
expect_rc 0 "test-restore --json"
assert_eq "$(json_get "$OUT" "d['outcome'] + ' ' + d['mode'] + ' ' + str(d['backup_id'])")" \
    "complete test $BID" "JSON outcome"
assert_eq "$(json_get "$OUT" "d['rows_checked']")" 520 "JSON rows_checked"
expect_no_scratch "(a) json"

# (b) failing checks: exit 1, one line naming the statement's line, nothing left
catalog_q "$REPO" "UPDATE backups SET restore_tested_at = NULL WHERE id = $BID"
check_fails() { # FILE-CONTENT EXPECTED-TEXT WHAT
    printf '%s\n' "$1" >"$SCRATCH/bad.sql"
    run_pgvault test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/bad.sql"
    note "  $3: exit $RC: ${ERR%%$'\n'*}"
    expect_rc 1 "$3"
    expect_error_line "$3"
    assert_contains "${ERR%%$'\n'*}" "check \"$SCRATCH/bad.sql\" line $2" "$3: the line"
    expect_no_scratch "$3"
    assert_eq "$(restore_col "$REPO" "$(last_restore_id "$REPO")" "mode || ' ' || status")" \
        "test failed" "$3: restores row"
}
note "(b) failing checks"
check_fails $'SELECT true;\n\n-- the next one fails\nSELECT count(*) = 7 FROM players;' \
    "4 failed: its first column is false" "a false check"
check_fails $'SELECT true FROM players WHERE id < 0;' "1 failed: it returned no row" "no row"
check_fails $'SELECT true;\nSELECT true FROM games;' "2 failed: it returned 20 rows" "several rows"
check_fails $'SELECT true;\n  SELECT count(*) > 0\n  FROM no_such_table;' \
    "2 failed: relation \"no_such_table\" does not exist" \
    "an error"
check_fails $'SELECT count(*) FROM players;' "1 failed: its first column is \"500\"" "a count"
check_fails $'SELECT NULL::boolean;' "1 failed: its first column is NULL" "a NULL"
assert_eq "$(catalog_q "$REPO" "SELECT coalesce(restore_tested_at, 'none') FROM backups")" none \
    "a failed test sets no restore_tested_at"

# (c) integrity: a count the load does not reproduce, then a corrupted file: exit 3
note "(c) a count mismatch and a corrupted backup"
catalog_q "$REPO" "UPDATE backup_tables SET row_count = 499 WHERE table_name = 'players'"
run_pgvault test-restore -d "$REPO" --db "$DB"
expect_rc 3 "test-restore with a count mismatch"
expect_error_line "count mismatch"
assert_contains "$ERR" "table public.players has 500 rows after the load, the catalog says 499" \
    "the mismatch"
expect_no_scratch "(c) count mismatch"
catalog_q "$REPO" "UPDATE backup_tables SET row_count = 500 WHERE table_name = 'players'"
FILE=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
cp "$FILE" "$SCRATCH/good.gz"
flip_byte "$FILE" 100
run_pgvault test-restore -d "$REPO" --db "$DB" latest
expect_rc 3 "test-restore of a corrupted backup"
expect_error_line "corrupted backup"
assert_contains "$ERR" "checksum mismatch" "the corruption"
expect_no_scratch "(c) corrupted"
cp "$SCRATCH/good.gz" "$FILE"

# (d) SIGTERM while a check runs: cancelled at once, the scratch database dropped
note "(d) SIGTERM during a long check"
printf 'SELECT pg_sleep(120) IS NOT NULL;\n' >"$SCRATCH/slow.sql"
"$PGVAULT_BIN" test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/slow.sql" \
    </dev/null >"$SCRATCH/slow.out" 2>"$SCRATCH/slow.err" &
PID=$!
sleeping() {
    [[ $(psql_q postgres "SELECT count(*) FROM pg_catalog.pg_stat_activity
                          WHERE query LIKE 'SELECT pg_sleep(120)%'
                            AND datname LIKE 'pgvault\\_tmp\\_$(pgv_tag "$DB")%'") != 0 ]]
}
wait_until "the slow check to run" sleeping
T0=$SECONDS
kill -TERM "$PID"
RC=0
wait "$PID" || RC=$?
((SECONDS - T0 < 20)) || fail "(d) SIGTERM took $((SECONDS - T0)) s to stop the test restore"
assert_eq "$RC" 1 "(d) exit code after SIGTERM"
assert_contains "$(cat "$SCRATCH/slow.err")" "interrupted by a signal" "(d) the message"
expect_no_scratch "(d) SIGTERM"

# (e) usage: exit 2, before anything is restored
note "(e) usage"
NR=$(catalog_q "$REPO" "SELECT count(*) FROM restores")
run_pgvault test-restore -d "$REPO" --db "$DB" latest latest
expect_rc 2 "two backups"
run_pgvault test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/none.sql"
expect_rc 2 "a missing check file"
assert_contains "$ERR" "could not open check file" "missing check file message"
printf "SELECT 'unterminated;\n" >"$SCRATCH/open.sql"
run_pgvault test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/open.sql"
expect_rc 2 "an unterminated string"
assert_contains "$ERR" "starts on line 1 does not end" "unterminated string message"
run_pgvault test-restore -d "$REPO" --db "$DB" --in-place
expect_rc 2 "a restore option"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM restores")" "$NR" "no restore for usage errors"

# (f) check --max-test-age: never tested, tested long ago, tested now
note "(f) check --max-test-age"
run_pgvault check -d "$REPO" --db "$DB" --max-test-age 30
expect_rc 1 "check of a never tested database"
assert_contains "$OUT" "PGVAULT WARNING - $DB: never test-restored (max 30 d)" "never tested"
catalog_q "$REPO" "UPDATE backups SET restore_tested_at = '2020-01-01T00:00:00.000Z'"
run_pgvault check -d "$REPO" --db "$DB" --max-test-age 30
expect_rc 1 "check of a database tested long ago"
assert_match "$OUT" "$DB: last test restore [0-9.]+ d ago \\(max 30 d\\)" "tested long ago"
run_pgvault check -d "$REPO" --db "$DB"
expect_rc 0 "check without --max-test-age"
run_pgvault test-restore -d "$REPO" --db "$DB" -q
expect_rc 0 "test-restore -q"
assert_eq "$OUT" "" "test-restore -q prints nothing"
run_pgvault check -d "$REPO" --db "$DB" --max-test-age 30 --json
expect_rc 0 "check after a recent test"
assert_match "$(json_get "$OUT" "d['databases'][0]['restore_tested_at']")" '^20[0-9]{2}-' \
    "check --json names the last test"
run_pgvault check -d "$REPO" --db "$DB" --max-test-age 0
expect_rc 3 "--max-test-age 0 is out of range (UNKNOWN)"

# a scratch database that a killed run (kill -9) left: check names it as DB's
note "(f) a leftover scratch database"
LEFT=pgvault_tmp_$(pgv_tag "$DB")_test_0badf00d
register_db "$LEFT"
psql_q postgres "CREATE DATABASE $LEFT" >/dev/null
run_pgvault check -d "$REPO" --db "$DB" --max-test-age 30
expect_rc 1 "check with a leftover scratch database"
assert_contains "$OUT" "leftover databases of interrupted restores: $LEFT" "the leftover"
drop_db "$LEFT"

# (g) --all: the latest backup of every database of the catalog, one failing
note "(g) test-restore --all"
DB2=pgv_trst_two
create_db "$DB2"
psql_q "$DB2" "CREATE TABLE x AS SELECT generate_series(1, 7) AS a" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB2"
expect_rc 0 "backup of $DB2"
run_pgvault test-restore -d "$REPO" --all
expect_rc 0 "test-restore --all"
assert_contains "$OUT" "of \"$DB\" restores" "--all tests $DB"
assert_contains "$OUT" "of \"$DB2\" restores" "--all tests $DB2"
assert_contains "$OUT" "all 2 test restores complete" "--all summary"
FILE2=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE db_name = '$DB2'")
flip_byte "$FILE2" 50
run_pgvault test-restore -d "$REPO" --all --json
expect_rc 3 "test-restore --all with a corrupted backup"
assert_eq "$(json_get "$OUT" "[t['db_name'] + ' ' + t['outcome'] for t in d['tests']]")" \
    "['$DB complete', '$DB2 failed']" "--all JSON"
assert_contains "$ERR" "1 of 2 test restores failed: \"$DB2\"" "--all error"
expect_no_scratch "(g)"
run_pgvault test-restore -d "$REPO" --all --check-sql "$SCRATCH/ok.sql"
expect_rc 2 "--all with --check-sql"
expect_no_leftover_dbs "test-restore"
pass
