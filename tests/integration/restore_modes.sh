#!/usr/bin/env bash
# The ways a restore is asked for: without -f and without a TTY
# it refuses (exit 2, nothing touched); on a TTY only "yes" proceeds; --target creates a
# database beside the original; --in-place drops and reloads; --keep-old keeps the
# replaced database under the name it prints; --json prints one parsable object.
# Each case starts from the same database, created by the test (state B), and a
# backup of an earlier state (A).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 python3 script timeout

DB=pgv_rm
TARGET=pgv_rm_target
TARGET_JSON=pgv_rm_json
REPO=$SCRATCH/repo
register_db "$TARGET"
register_db "$TARGET_JSON"

STATE_A="
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) g;
CREATE TABLE \"Other \"\"T\"\"\" (a int);
INSERT INTO \"Other \"\"T\"\"\" SELECT generate_series(1, 40);
"
STATE_B="
DELETE FROM t WHERE id > 1000;
DROP TABLE \"Other \"\"T\"\"\";
CREATE TABLE b_only (x text);
INSERT INTO b_only VALUES ('b');
"

# State A, its fingerprint, the backup.
create_db "$DB"
psql_q "$DB" "$STATE_A" >/dev/null
psql_q postgres "ALTER DATABASE $DB SET work_mem = '12MB'" >/dev/null
FP_A=$(db_fingerprint "$DB")
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
TABLES=$(catalog_q "$REPO" "SELECT table_count FROM backups WHERE id = $BID")
ROWS=$(catalog_q "$REPO" "SELECT sum(row_count) FROM backup_tables WHERE backup_id = $BID")

# state_b: (re)creates $DB from scratch in state B (so that no case inherits anything
# from the restore before it).
state_b() {
    create_db "$DB"
    psql_q "$DB" "$STATE_A" >/dev/null
    psql_q "$DB" "$STATE_B" >/dev/null
    psql_q postgres "ALTER DATABASE $DB SET work_mem = '12MB'" >/dev/null
}
state_b
FP_B=$(db_fingerprint "$DB")
assert_ne "$FP_B" "$FP_A" "setup: states A and B differ"

# on_tty ANSWER ARGS…: runs pgvault ARGS on a pseudo-terminal (script), typing ANSWER;
# output (both streams, as the terminal shows them) in $OUT, exit code in $RC.
on_tty() {
    local answer=$1 cmd
    shift
    cmd=$(printf '%q ' "$PGVAULT_BIN" "$@")
    if printf '%s\n' "$answer" |
            timeout --kill-after=10 120 script -qec "$cmd" /dev/null >"$SCRATCH/tty.out" 2>&1; then
        RC=0
    else
        RC=$?
    fi
    OUT=$(tr -d '\r' <"$SCRATCH/tty.out")
    [[ $RC -ne 124 ]] || fail "pgvault $* on a TTY timed out: $OUT"
}

# 1. No TTY and no -f: refused, nothing touched.
note "no TTY, no -f"
run_pgvault restore -d "$REPO" --db "$DB" latest
expect_rc 2 "restore without -f and without a TTY"
expect_error_line "restore without -f and without a TTY"
assert_eq "$(db_fingerprint "$DB")" "$FP_B" "fingerprint of $DB after a refused restore"
expect_no_leftover_dbs "refused restore"

# 2. On a TTY, answering "no": not restored.
note "TTY, answer no"
on_tty no restore -d "$REPO" --db "$DB" latest
note "  exit $RC"
assert_ne "$RC" 0 "exit code of a restore answered 'no'"
assert_contains "$OUT" "$DB" "the confirmation prompt names the database"
assert_contains "$OUT" yes "the confirmation prompt asks for yes"
assert_eq "$(db_fingerprint "$DB")" "$FP_B" "fingerprint of $DB after answering no"
expect_no_leftover_dbs "restore answered no"
# "y" and "YES" are not "yes" either.
on_tty y restore -d "$REPO" --db "$DB" latest
assert_ne "$RC" 0 "exit code of a restore answered 'y'"
assert_eq "$(db_fingerprint "$DB")" "$FP_B" "fingerprint of $DB after answering y"

# 3. On a TTY, answering "yes": restored.
note "TTY, answer yes"
t=$SECONDS
on_tty yes restore -d "$REPO" --db "$DB" latest
[[ $RC -eq 0 ]] || fail "restore answered 'yes' exited $RC: $OUT"
note "  took $((SECONDS - t))s"
assert_eq "$(db_fingerprint "$DB")" "$FP_A" "fingerprint of $DB after answering yes (state A)"
expect_no_leftover_dbs "restore answered yes"

# 4. --target NAME: a new database beside the original, which stays as it was.
note "--target $TARGET"
state_b
run_pgvault restore -d "$REPO" -f --target "$TARGET" latest --db "$DB"
expect_rc 0 "restore --target $TARGET"
db_exists "$TARGET" || fail "--target did not create $TARGET"
assert_eq "$(db_fingerprint "$TARGET")" "$FP_A" "fingerprint of $TARGET (state A)"
assert_eq "$(db_fingerprint "$DB")" "$FP_B" "fingerprint of $DB after --target (untouched)"
expect_no_leftover_dbs "restore --target"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" target_db)" "$TARGET" "restores.target_db of --target"
assert_eq "$(restore_col "$REPO" "$rid" status)" complete "restores.status of --target"

# 5. --in-place: drop, create, load.
note "--in-place"
state_b
run_pgvault restore -d "$REPO" -f --in-place --db "$DB" latest
expect_rc 0 "restore --in-place"
assert_eq "$(db_fingerprint "$DB")" "$FP_A" "fingerprint of $DB after --in-place (state A)"
expect_no_leftover_dbs "restore --in-place"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" status)" complete "restores.status of --in-place"
assert_eq "$(restore_col "$REPO" "$rid" tables_checked)" "$TABLES" "restores.tables_checked of --in-place"
assert_eq "$(restore_col "$REPO" "$rid" rows_checked)" "$ROWS" "restores.rows_checked of --in-place"

# 6. --keep-old: the replaced database stays, under the name the output gives.
note "--keep-old"
state_b
before=$(psql_q postgres "SELECT datname FROM pg_database ORDER BY 1")
run_pgvault restore -d "$REPO" -f --keep-old --db "$DB" latest
expect_rc 0 "restore --keep-old"
after=$(psql_q postgres "SELECT datname FROM pg_database ORDER BY 1")
# only pgvault's names: other tests create and drop databases at the same time
kept=$(comm -13 <(printf '%s\n' "$before" | LC_ALL=C sort) <(printf '%s\n' "$after" | LC_ALL=C sort) |
    grep "^pgvault_old_$(pgv_tag "$DB")_" || true)
for k in $kept; do register_db "$k"; done
[[ $(printf '%s\n' "$kept" | grep -c .) -eq 1 ]] ||
    fail "restore --keep-old: expected exactly one new database, got [$kept]"
note "  kept as $kept"
assert_contains "$OUT
$ERR" "$kept" "the output of --keep-old names the kept database"
assert_eq "$(db_fingerprint "$DB")" "$FP_A" "fingerprint of $DB after --keep-old (state A)"
# The kept database is the replaced one (its dump equals state B; its name differs, which
# normalized_dump's comment filter does not see, so compare the dumps themselves).
normalized_dump "$kept" "$SCRATCH/kept.sql"
state_b_dump=$SCRATCH/state_b.sql
create_db pgv_rm_state_b
psql_q pgv_rm_state_b "$STATE_A" >/dev/null
psql_q pgv_rm_state_b "$STATE_B" >/dev/null
normalized_dump pgv_rm_state_b "$state_b_dump"
cmp -s "$SCRATCH/kept.sql" "$state_b_dump" ||
    fail "the kept database $kept is not the replaced one:
$(diff "$state_b_dump" "$SCRATCH/kept.sql" | head -n 20)"
drop_db "$kept" # asked for; the leftover checks below are about what follows

# 7. --json: one object with the outcome and the counts.
note "--json"
run_pgvault restore -d "$REPO" -f --json --target "$TARGET_JSON" --db "$DB" latest
expect_rc 0 "restore --json"
assert_eq "$(json_get "$OUT" 'd["outcome"]')" complete "JSON outcome"
assert_eq "$(json_get "$OUT" 'd["tables_checked"]')" "$TABLES" "JSON tables_checked"
assert_eq "$(json_get "$OUT" 'd["rows_checked"]')" "$ROWS" "JSON rows_checked"
assert_eq "$(json_get "$OUT" 'd["target_db"]')" "$TARGET_JSON" "JSON target_db"
assert_eq "$(json_get "$OUT" 'd["backup_id"]')" "$BID" "JSON backup_id"
assert_eq "$(db_fingerprint "$TARGET_JSON")" "$FP_A" "fingerprint of $TARGET_JSON"
# A refusal under --json is still one parsable document (or nothing) on stdout.
run_pgvault restore -d "$REPO" --json --db "$DB" latest
expect_rc 2 "restore --json without -f and without a TTY"
if [[ -n "$OUT" ]]; then
    json_get "$OUT" 'type(d).__name__' >/dev/null
fi
expect_no_leftover_dbs "restore --json"

# 8. --in-place whose CREATE would fail (a collation this host lacks): proven before the
# DROP with an empty database of the same properties, so the database stays.
note "--in-place, CREATE would fail: nothing dropped"
state_b
FP_B=$(db_fingerprint "$DB")
run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 0 "second backup"
BID2=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
catalog_q "$REPO" "UPDATE backups SET lc_collate = 'pgv_no_such_locale' WHERE id = $BID2"
run_pgvault restore -d "$REPO" -f --in-place --db "$DB" "$BID2"
expect_rc 1 "restore --in-place whose CREATE would fail"
expect_error_line "restore --in-place whose CREATE would fail"
first=${ERR%%$'\n'*}
assert_contains "$first" "\"$DB\" was not dropped" "the error says the database stays"
assert_contains "$first" "pgv_no_such_locale" "the error keeps the cause"
db_exists "$DB" || fail "$DB was dropped although its CREATE could not work"
assert_eq "$(db_fingerprint "$DB")" "$FP_B" "fingerprint of $DB after the refused --in-place"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" status)" failed "restores.status of the refused --in-place"
expect_no_leftover_dbs "refused --in-place"

# 9. --in-place whose load fails after the DROP (a table's owner is gone from the
# server): the error says that the database was dropped and is incomplete, and the hint
# how to get it back.
note "--in-place, the load fails after the DROP"
GONE=pgv_rm_gone_owner
psql_q "$DB" "CREATE ROLE $GONE; CREATE TABLE gone_owner (a int);
              ALTER TABLE gone_owner OWNER TO $GONE" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 0 "backup with a table owned by $GONE"
BID3=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
psql_q "$DB" "DROP TABLE gone_owner; DROP ROLE $GONE" >/dev/null
run_pgvault restore -d "$REPO" -f --in-place --db "$DB" "$BID3"
expect_rc 1 "restore --in-place whose load fails"
expect_error_line "restore --in-place whose load fails"
first=${ERR%%$'\n'*}
assert_contains "$first" "\"$DB\" was dropped by --in-place and is incomplete" "the error says the database was dropped"
assert_contains "$first" "role \"$GONE\" does not exist" "the error keeps the cause"
assert_contains "$ERR" "HINT: the backup is intact" "a hint says how to recover"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" status)" failed "restores.status of the failed --in-place"
assert_contains "$(restore_col "$REPO" "$rid" detail)" "incomplete" "restores.detail of the failed --in-place"
# --no-owner on restore leaves the ownership out: the same backup loads.
run_pgvault restore -d "$REPO" -f --in-place --no-owner --db "$DB" "$BID3"
expect_rc 0 "restore --in-place --no-owner of the backup whose owner is gone"
assert_eq "$(psql_q "$DB" "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'gone_owner'")" \
    postgres "owner of gone_owner after --no-owner"
# The way back the hint gives: restore again.
run_pgvault restore -d "$REPO" -f --db "$DB" "$BID"
expect_rc 0 "restore after the failed --in-place"
assert_eq "$(db_fingerprint "$DB")" "$FP_A" "fingerprint of $DB restored again"
expect_no_leftover_dbs "failed --in-place"

pass
