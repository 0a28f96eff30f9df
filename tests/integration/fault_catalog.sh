#!/usr/bin/env bash
# A catalog that cannot be used: garbage bytes instead of catalog.db, a truncated one,
# one locked by another process past the busy timeout (5 s), one from a newer schema
# version, one that is a symlink out of the repository. Each: a clear "pgvault: " line,
# the exit code of its class (1, 2 or 4), and nothing written — no dump file, no partial file,
# no row left 'running'.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3 python3

DB=pgv_fault_catalog
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SQL

# new_repo NAME: a repository with one complete backup; REPO, FILES_BEFORE.
new_repo() {
    REPO=$SCRATCH/$1
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 0 "$1: first backup"
    FILES_BEFORE=$(dump_files "$REPO")
}

# nothing_written WHAT: no new dump file, no partial file.
nothing_written() {
    assert_eq "$(dump_files "$REPO")" "$FILES_BEFORE" "$1: dump files"
    no_partial "$REPO" "$1"
}

case_garbage() {
    new_repo repo_garbage
    rm -f "$REPO/catalog.db-wal" "$REPO/catalog.db-shm"
    head -c 65536 /dev/urandom >"$REPO/catalog.db"
    local sum cmd
    sum=$(md5sum <"$REPO/catalog.db")
    for cmd in backup list verify; do
        local args=(-d "$REPO")
        case $cmd in
            backup) args+=(--db "$DB") ;;
            verify) args+=(--all) ;;
        esac
        run_pgvault "$cmd" "${args[@]}"
        expect_rc 1 "$cmd with a garbage catalog"
        expect_error_line "$cmd with a garbage catalog"
        assert_contains "$(first_err_line)" "not a database" "$cmd: message"
        assert_contains "$(first_err_line)" "$REPO/catalog.db" "$cmd: message names the catalog"
    done
    nothing_written "garbage catalog"
    assert_eq "$(md5sum <"$REPO/catalog.db")" "$sum" "the garbage catalog is left as it was"
}

case_truncated() {
    new_repo repo_trunc
    # fold the WAL in, then cut the file after its first page
    sqlite3 "$REPO/catalog.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    local size
    size=$(stat -c %s "$REPO/catalog.db")
    truncate -s 4096 "$REPO/catalog.db"
    note "catalog cut from $size to 4096 bytes"
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 1 "backup with a truncated catalog"
    expect_error_line "backup with a truncated catalog"
    assert_match "$(first_err_line)" "malformed|not a database|corrupt" "message of a truncated catalog"
    nothing_written "truncated catalog"
}

# hold_lock MODE SECONDS READY: python3 holds the catalog's write lock (MODE "write": BEGIN
# EXCLUSIVE and a write; "exclusive": locking_mode=EXCLUSIVE too, which shuts out
# readers) for SECONDS; READY is created once it holds it. Its pid in HOLDER_PID.
hold_lock() {
    python3 - "$REPO/catalog.db" "$1" "$2" "$3" <<'PY' &
import sqlite3, sys, time
path, mode, secs, ready = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
c = sqlite3.connect(path, isolation_level=None, timeout=0)
if mode == "exclusive":
    c.execute("PRAGMA locking_mode=EXCLUSIVE")
c.execute("BEGIN EXCLUSIVE")
c.execute("UPDATE backups SET label = label WHERE id = (SELECT max(id) FROM backups)")
open(ready, "w").close()
time.sleep(secs)
c.execute("ROLLBACK")
c.close()
PY
    HOLDER_PID=$!
    track_background "$HOLDER_PID"
    wait_for "the lock holder" 10 test -f "$3"
}

case_locked() {
    new_repo repo_locked
    hold_lock write 10 "$SCRATCH/ready1"
    local t0=$SECONDS
    run_pgvault backup -d "$REPO" --db "$DB"
    local took=$((SECONDS - t0))
    if [[ $RC != 4 && $RC != 1 ]]; then
        expect_rc 4 "backup with the catalog locked"
    fi
    expect_error_line "backup with the catalog locked"
    assert_contains "$(first_err_line)" "locked" "message of a locked catalog"
    note "exit $RC after ${took}s: $(first_err_line)"
    # readers are not blocked by a writer (WAL)
    run_pgvault list -d "$REPO"
    expect_rc 0 "list while another process writes"
    wait "$HOLDER_PID" || fail "the lock holder failed"
    nothing_written "locked catalog"
    no_running "$REPO" "locked catalog"
    verify_all "$REPO" "locked catalog"
}

case_locked_exclusive() {
    new_repo repo_locked_x
    hold_lock exclusive 8 "$SCRATCH/ready2"
    run_pgvault list -d "$REPO"
    if [[ $RC != 4 && $RC != 1 ]]; then
        expect_rc 4 "list with the catalog locked exclusively"
    fi
    expect_error_line "list with the catalog locked exclusively"
    assert_contains "$(first_err_line)" "locked" "message of an exclusively locked catalog"
    note "exit $RC: $(first_err_line)"
    wait "$HOLDER_PID" || fail "the lock holder failed"
    nothing_written "exclusively locked catalog"
    no_running "$REPO" "exclusively locked catalog"
}

case_newer_schema() {
    new_repo repo_newer
    sqlite3 "$REPO/catalog.db" 'PRAGMA user_version = 99'
    local cmd
    for cmd in backup list; do
        local args=(-d "$REPO")
        [[ $cmd == backup ]] && args+=(--db "$DB")
        run_pgvault "$cmd" "${args[@]}"
        expect_rc 2 "$cmd with a catalog of schema version 99"
        expect_error_line "$cmd with a catalog of schema version 99"
        assert_contains "$(first_err_line)" "99" "$cmd: message names the version"
    done
    nothing_written "newer schema"
    assert_eq "$(sqlite3 "$REPO/catalog.db" 'PRAGMA user_version')" 99 "the schema version is left alone"
}

# catalog.db is a symlink to a database outside the repository: nothing
# follows a symlink out of the repository.
case_symlink_catalog() {
    new_repo repo_symcat
    local outside=$SCRATCH/outside.db
    mv "$REPO/catalog.db" "$outside"
    rm -f "$REPO/catalog.db-wal" "$REPO/catalog.db-shm"
    ln -s "$outside" "$REPO/catalog.db"
    local sum
    sum=$(sqlite3 "$outside" .dump | md5sum)
    run_pgvault backup -d "$REPO" --db "$DB"
    assert_eq "$(sqlite3 "$outside" .dump | md5sum)" "$sum" \
        "the database outside the repository (written through the catalog.db symlink; exit $RC)"
    expect_rc 1 "backup with catalog.db a symlink out of the repository"
    expect_error_line "backup with catalog.db a symlink out of the repository"
}

run_case "garbage bytes instead of catalog.db: exit 1, not a database, nothing written" case_garbage
run_case "truncated catalog.db: exit 1, clear error, nothing written" case_truncated
run_case "catalog write-locked by another process past the busy timeout: exit 4, locked" case_locked
run_case "catalog exclusively locked (readers too): list exits 4, locked" case_locked_exclusive
run_case "catalog of a newer schema version (99): exit 2, names the version" case_newer_schema
run_case "catalog.db a symlink out of the repository: refused, the target untouched" case_symlink_catalog
finish_cases
