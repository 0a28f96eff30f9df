#!/usr/bin/env bash
# The server goes away: "pg_ctl stop -m fast" while pg_dump streams (on a private cluster
# of this test, so that the shared one keeps running), then a backup while it is down,
# then a backup after it is back.
#   mid-dump:  exit 1, one "pgvault: " line naming pg_dump and the lost connection, no
#              partial, the row 'failed', the earlier backup still verifying;
#   while down: exit 5 (database unreachable), nothing catalogued as running, no file;
#   after restart: the next backup completes.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3 pgrep
PGBENCH=$(client pgbench)

start_private_cluster stop
DB=pgv_fault_stop
on_private "$PSQL" -X -q -c "CREATE DATABASE $DB" postgres
note "pgbench -i -s 10 on the private cluster"
on_private "$PGBENCH" -q -i -s 10 -I dtg "$DB" >/dev/null 2>&1 || fail "pgbench -i failed"
on_private "$PSQL" -X -q -c "CREATE DATABASE ${DB}_small" postgres
on_private "$PSQL" -X -q -d "${DB}_small" -c "CREATE TABLE s AS SELECT g FROM generate_series(1, 100) g"
REPO=$SCRATCH/repo

case_stop_mid_dump() {
    on_private run_pgvault backup -d "$REPO" --db "${DB}_small"
    expect_rc 0 "the earlier backup"
    snapshot_partials "$REPO"
    PGHOST=$P_HOST PGPORT=$P_PORT start_pgvault backup -d "$REPO" --db "$DB" -Z 9 -j 1
    wait_for "1 MB of the partial file" 60 partial_bigger_than "$REPO" 1000000
    [[ -n "$(child_pid "$BG_PID" pg_dump)" ]] || fail "no pg_dump child of pgvault"
    private_pg_ctl stop -m fast -w -t 60 -s
    wait_pgvault
    expect_rc 1 "backup while the server stops"
    expect_error_line "backup while the server stops"
    assert_contains "$(first_err_line)" "pg_dump" "message names pg_dump"
    assert_match "$(first_err_line)" "connection|terminat|server closed" \
        "message names the lost connection"
    no_partial "$REPO" "server stopped mid-dump"
    expect_last_failed "$REPO" "server stopped mid-dump"
    no_running "$REPO" "server stopped mid-dump"
    complete_sane "$REPO" "server stopped mid-dump"
    verify_all "$REPO" "server stopped mid-dump"
}

case_server_down() {
    if private_pg_ctl status >/dev/null 2>&1; then
        private_pg_ctl stop -m fast -w -t 60 -s
    fi
    local rows_before files_before
    rows_before=$(catalog_q "$REPO" "SELECT count(*) FROM backups")
    files_before=$(repo_files "$REPO")
    on_private run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 5 "backup while the server is down"
    expect_error_line "backup while the server is down"
    assert_contains "$(first_err_line)" "could not connect" "message of an unreachable server"
    assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'running'")" 0 \
        "running rows while the server is down"
    assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" "$rows_before" \
        "backup rows while the server is down"
    assert_eq "$(repo_files "$REPO")" "$files_before" "repository while the server is down"
    verify_all "$REPO" "server down"
}

case_after_restart() {
    private_start
    on_private run_pgvault backup -d "$REPO" --db "${DB}_small"
    expect_rc 0 "backup after the server is back"
    no_running "$REPO" "after the restart"
    no_partial "$REPO" "after the restart"
    verify_all "$REPO" "after the restart"
}

run_case "server stopped (pg_ctl stop -m fast) mid-dump: exit 1, names the lost connection" case_stop_mid_dump
run_case "server down: exit 5, nothing catalogued" case_server_down
run_case "server back: the next backup completes" case_after_restart
finish_cases
