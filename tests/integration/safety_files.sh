#!/usr/bin/env bash
# Files and permissions: readers (list, verify) work wherever the repository's files are
# readable, also in a directory they may not write (mode 0500, no -wal/-shm files).
# The readers run as another user (postgres when the test runs as root, which
# permissions do not stop; else the test's own user).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3

# The other user, and a directory outside the build tree (which that user may not be
# able to traverse) with a copy of the binary; removed when the test ends.
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || skip "running as root but there is no postgres user"
    OTHER=postgres
else
    OTHER=
fi
PUB=$(mktemp -d /tmp/pgvault-safety-files.XXXXXX)
trap 'rc=$?; rm -rf "$PUB"; (exit $rc); _lib_on_exit' EXIT
chmod 0755 "$PUB"
cp "$PGVAULT_BIN" "$PUB/pgvault"
chmod 0755 "$PUB/pgvault"
if [[ -n "$OTHER" ]]; then
    printf '#!/bin/sh\nexec runuser -u %s -- "%s" "$@"\n' "$OTHER" "$PUB/pgvault" >"$PUB/as-other"
else
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$PUB/pgvault" >"$PUB/as-other"
fi
chmod 0755 "$PUB/as-other"

# give_to_other PATH…: PATH (recursively) belongs to the other user.
give_to_other() {
    if [[ -n "$OTHER" ]]; then
        chown -R "$OTHER:" "$@"
    fi
}

DB=pgv_safety_files
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
SQL

note "a repository at mode 0500 without -wal/-shm files: list and verify --all work"
REPO=$PUB/readonly
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE status = 'complete'")
[[ ! -e "$REPO/catalog.db-wal" && ! -e "$REPO/catalog.db-shm" ]] ||
    fail "the catalog's -wal/-shm files are still there after the backup"
give_to_other "$REPO"
chmod 0500 "$REPO"
before=$(repo_files "$REPO")
PGVAULT_BIN=$PUB/as-other run_pgvault list -d "$REPO"
expect_rc 0 "list of a 0500 repository"
assert_contains "$OUT" "$name" "list of a 0500 repository"
PGVAULT_BIN=$PUB/as-other run_pgvault list -d "$REPO" --json
expect_rc 0 "list --json of a 0500 repository"
assert_contains "$OUT" "\"$name\"" "list --json of a 0500 repository"
PGVAULT_BIN=$PUB/as-other run_pgvault verify -d "$REPO" --all
expect_rc 0 "verify --all of a 0500 repository"
assert_contains "$OUT" "ok" "verify --all of a 0500 repository"
assert_contains "$ERR" "results will not be recorded" "verify says it cannot record"
assert_eq "$(repo_files "$REPO")" "$before" "files of the 0500 repository after the readers"
chmod 0700 "$REPO"

pass
