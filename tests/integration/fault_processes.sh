#!/usr/bin/env bash
# Processes that die mid-way, on a pgbench database of scale 20 (~2 million rows):
#   backup:  kill -9 of pg_dump mid-stream; kill -9 of pgvault mid-write; SIGTERM and
#            SIGINT of pgvault mid-backup;
#   restore: SIGTERM of pgvault mid-load, the loading session terminated mid-load, kill -9 of pgvault
#            mid-load (the next restore drops the leftover);
#   sessions connected to the database during a restore are terminated.
# Each case: the exit code and one "pgvault: " line naming the cause, no partial file,
# no complete row for a half-written file, no row left 'running' after the next command,
# the earlier backups still verifying, and the database unchanged (same oid, same row
# counts) where a restore did not complete.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3 pgrep
PGBENCH=$(client pgbench)

BIG=pgv_fault_proc_big
SMALL=pgv_fault_proc_small
create_db "$BIG"
create_db "$SMALL"
note "pgbench -i -s 20 $BIG"
"$PGBENCH" -q -i -s 20 -I dtgp "$BIG" >/dev/null 2>&1 || fail "pgbench -i failed"
psql_script "$SMALL" >/dev/null <<'SQL'
CREATE TABLE s (id int PRIMARY KEY, v text);
INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SQL

REPO=$SCRATCH/repo
run_pgvault backup -d "$REPO" --db "$BIG"
expect_rc 0 "the reference backup of $BIG"
BIG_ID=$(last_row "$REPO" id)
run_pgvault backup -d "$REPO" --db "$SMALL"
expect_rc 0 "the reference backup of $SMALL"
SMALL_ID=$(last_row "$REPO" id)

# quick_fingerprint DB: oid and the row count of every table.
quick_fingerprint() {
    printf '%s %s\n' "$(db_oid "$1")" "$(psql_q "$1" "SELECT string_agg(c, ' ' ORDER BY c) FROM (
        SELECT relname || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, relname), false, true, '')))[1]::text AS c
        FROM pg_stat_user_tables) x")"
}
BIG_PRINT=$(quick_fingerprint "$BIG")
note "$BIG: $BIG_PRINT"

# after_backup_failure WHAT: the repository after a backup that failed on its own.
after_backup_failure() {
    no_partial "$REPO" "$1"
    expect_last_failed "$REPO" "$1"
    no_running "$REPO" "$1"
    complete_sane "$REPO" "$1"
    verify_all "$REPO" "$1"
}

# pg_dump_gone PID: the pg_dump is gone within 10 s (no orphan holds a connection).
pg_dump_gone() {
    local i
    for ((i = 0; i < 500; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.02
    done
    fail "pg_dump (pid $1) still runs 10 s after its pgvault ended"
}

# start_backup_big: in a new repository REPO with one backup of $SMALL, a slow backup of
# $BIG (one thread, level 9) in the background, until its partial file holds more than
# 1 MB; DUMP_PID is its pg_dump.
start_backup_big() {
    REPO=$(mktemp -d "$SCRATCH/repo_b.XXXXXX")
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 0 "the backup of $SMALL before the case"
    snapshot_partials "$REPO"
    start_pgvault backup -d "$REPO" --db "$BIG" -Z 9 -j 1
    wait_for "1 MB of the partial file" 60 partial_bigger_than "$REPO" 1000000
    DUMP_PID=$(child_pid "$BG_PID" pg_dump)
    [[ -n "$DUMP_PID" ]] || fail "no pg_dump child of pgvault $BG_PID"
}

case_kill_pg_dump() {
    start_backup_big
    kill -9 "$DUMP_PID"
    wait_pgvault
    expect_rc 1 "backup whose pg_dump was killed"
    expect_error_line "backup whose pg_dump was killed"
    assert_contains "$(first_err_line)" "pg_dump" "message names pg_dump"
    assert_contains "$(first_err_line)" "signal 9" "message names the signal"
    after_backup_failure "pg_dump killed"
}

case_kill_pgvault_backup() {
    start_backup_big
    local id
    id=$(last_row "$REPO" id)
    kill -9 "$BG_PID"
    wait_pgvault
    assert_eq "$RC" 137 "exit status of the killed pgvault"
    pg_dump_gone "$DUMP_PID"
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $id")" running \
        "the killed run's row before the next command"
    complete_sane "$REPO" "pgvault killed mid-write"
    verify_all "$REPO" "pgvault killed mid-write"
    # the next command that writes clears it up
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 0 "the backup after the kill"
    no_partial "$REPO" "after the backup that followed the kill"
    no_running "$REPO" "after the backup that followed the kill"
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $id")" failed \
        "the killed run's row after the next backup"
    complete_sane "$REPO" "after the backup that followed the kill"
}

# case_signal_backup SIG: SIGTERM/SIGINT mid-backup: exit 1, row failed, no partial.
case_signal_backup() {
    start_backup_big
    kill -"$1" "$BG_PID"
    wait_pgvault
    expect_rc 1 "backup interrupted by SIG$1"
    expect_error_line "backup interrupted by SIG$1"
    assert_contains "$(first_err_line)" "interrupted" "message of SIG$1"
    pg_dump_gone "$DUMP_PID"
    after_backup_failure "SIG$1 mid-backup"
}

# start_restore_big: a restore of the reference backup of $BIG over $BIG in the
# background, until the load into the temporary database is under way; LOAD_PID is the
# server process of the loading session.
start_restore_big() {
    start_pgvault restore -d "$REPO" -f "$BIG_ID"
    wait_for "the COPY into the temporary database" 90 copy_running
    LOAD_PID=$(psql_q postgres "SELECT pid FROM pg_stat_progress_copy WHERE datname = 'pgvault_tmp_$(pgv_tag "$BIG")' LIMIT 1")
    [[ -n "$LOAD_PID" ]] || fail "no loading session of pgvault $BG_PID"
}
copy_running() {
    [[ "$(psql_q postgres "SELECT count(*) FROM pg_stat_progress_copy WHERE datname = 'pgvault_tmp_$(pgv_tag "$BIG")' AND tuples_processed > 0")" != 0 ]]
}

# after_restore_failure WHAT: $BIG untouched, no temporary database, the restore failed.
after_restore_failure() {
    assert_eq "$(quick_fingerprint "$BIG")" "$BIG_PRINT" "$1: $BIG (oid and row counts)"
    assert_eq "$(temp_dbs "$BIG")" "" "$1: temporary databases left"
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM restores ORDER BY id DESC LIMIT 1")" failed \
        "$1: the restore row"
    verify_all "$REPO" "$1"
}

case_sigterm_restore() {
    start_restore_big
    kill -TERM "$BG_PID"
    wait_pgvault
    expect_rc 1 "restore interrupted by SIGTERM"
    expect_error_line "restore interrupted by SIGTERM"
    assert_contains "$(first_err_line)" "interrupted" "message of SIGTERM mid-restore"
    after_restore_failure "SIGTERM mid-restore"
}

case_kill_loader() {
    start_restore_big
    psql_q postgres "SELECT pg_terminate_backend($LOAD_PID)" >/dev/null
    wait_pgvault
    expect_rc 1 "restore whose loading session was killed"
    expect_error_line "restore whose loading session was killed"
    assert_contains "$(first_err_line)" "terminat" "message says the session was terminated"
    after_restore_failure "loading session killed mid-load"
}

case_kill_pgvault_restore() {
    start_restore_big
    kill -9 "$BG_PID"
    wait_pgvault
    assert_eq "$RC" 137 "exit status of the killed pgvault"
    # the loading session loses its client: its transaction is rolled back, and it is
    # the temporary database anyway
    assert_eq "$(quick_fingerprint "$BIG")" "$BIG_PRINT" "pgvault killed mid-restore: $BIG"
    verify_all "$REPO" "pgvault killed mid-restore"
    # the next restore of the same target drops the leftover and completes
    run_pgvault restore -d "$REPO" -f "$BIG_ID"
    expect_rc 0 "the restore after the killed one"
    assert_eq "$(temp_dbs "$BIG")" "" "temporary databases after the next restore"
    local now
    now=$(quick_fingerprint "$BIG")
    assert_eq "${now#* }" "${BIG_PRINT#* }" "row counts of $BIG after the next restore"
    BIG_PRINT=$now
    assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM restores WHERE status = 'running'")" 0 \
        "restore rows left 'running' after the next restore"
}

# start_session DB: a session connected to DB that sleeps; its pid in SESSION_PID.
start_session() {
    "$PSQL" -X -q -d "$1" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
    SESSION_PID=$!
    track_background "$SESSION_PID"
    wait_for "the session on $1" 20 session_on "$1"
}
session_on() {
    [[ "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND query LIKE '%pg_sleep%'")" != 0 ]]
}

case_sessions() {
    local before mode
    before=$(db_fingerprint "$SMALL")
    for mode in swap in-place; do
        start_session "$SMALL"
        local args=()
        [[ $mode == in-place ]] && args=(--in-place)
        run_pgvault restore -d "$REPO" -f "${args[@]}" "$SMALL_ID"
        expect_rc 0 "restore ($mode) with a session connected"
        local i
        for ((i = 0; i < 250; i++)); do
            kill -0 "$SESSION_PID" 2>/dev/null || break
            sleep 0.02
        done
        if kill -0 "$SESSION_PID" 2>/dev/null; then
            kill "$SESSION_PID"
            fail "restore ($mode): the connected session was not terminated"
        fi
        wait "$SESSION_PID" || true
        assert_eq "$(db_fingerprint "$SMALL")" "$before" "$SMALL after the restore ($mode)"
    done
}

run_case "kill -9 of pg_dump mid-stream: exit 1, names pg_dump and the signal" case_kill_pg_dump
run_case "kill -9 of pgvault mid-write: the next backup marks it failed, removes the partial" case_kill_pgvault_backup
run_case "SIGTERM mid-backup: exit 1, row failed, no partial" case_signal_backup TERM
run_case "SIGINT mid-backup: exit 1, row failed, no partial" case_signal_backup INT
run_case "SIGTERM mid-restore: exit 1, database untouched, temporary database dropped" case_sigterm_restore
run_case "the loading session killed mid-load: the restore fails, database untouched" case_kill_loader
run_case "kill -9 of pgvault mid-restore: database untouched; the next restore completes" case_kill_pgvault_restore
run_case "sessions connected during restore (swap, in-place) are terminated" case_sessions
finish_cases
