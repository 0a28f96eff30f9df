#!/usr/bin/env bash
# Files and permissions: readers (list, verify) work wherever the repository's files are
# readable, also in a directory they may not write (mode 0500, no -wal/-shm files); a
# backup file that cannot be read is exit 1 for verify (a permission problem, not an
# integrity failure); run as root in a repository owned by another user, backup gives
# every file it creates (backup files, catalog and its -wal/-shm, .lock) to that user,
# who can then verify them. The readers run as another user (postgres when the test
# runs as root, which permissions do not stop; else the test's own user); the part
# about ownership needs root and is skipped without it.
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
psql_q "$DB" "CREATE TABLE t AS SELECT g AS a, md5(g::text) AS b FROM generate_series(1, 1000) g"

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

note "a backup file the reader may not read: verify exits 1 (not 3) naming the cause"
chmod 0000 "$REPO/$name"
PGVAULT_BIN=$PUB/as-other run_pgvault verify -d "$REPO" --all
expect_rc 1 "verify --all of an unreadable backup file"
expect_error_line "verify --all of an unreadable backup file"
assert_contains "$OUT" "could not open file \"$REPO/$name\": Permission denied" \
    "verify names the permission problem"
assert_eq "${ERR%%$'\n'*}" "pgvault: 1 of 1 backups could not be verified" "summary"
chmod 0600 "$REPO/$name"

[[ -n "$OTHER" ]] || skip "not root: the ownership of files written as root is not tested"

note "backup as root in a repository owned by $OTHER: every new file belongs to $OTHER"
OWNED=$PUB/owned
mkdir -m 0700 "$OWNED"
chown "$OTHER:" "$OWNED"
# the post hook runs while the catalog is open: its -wal and -shm files exist then
printf '#!/bin/sh\nstat -c "%%U %%n" "%s"/* "%s"/.lock >"%s/owners"\n' \
    "$OWNED" "$OWNED" "$PUB" >"$PUB/owners.sh"
chmod 0755 "$PUB/owners.sh"
printf 'post_backup_hook = %s\n' "$PUB/owners.sh" >"$PUB/owners.conf"
for i in 1 2; do
    run_pgvault backup --config "$PUB/owners.conf" -d "$OWNED" --db "$DB"
    expect_rc 0 "backup $i as root into a repository owned by $OTHER"
done
grep -q -- "-wal\$" "$PUB/owners" || fail "no -wal file while the catalog was open: $(cat "$PUB/owners")"
assert_eq "$(grep -v "^$OTHER " "$PUB/owners" || true)" "" "files not owned by $OTHER during the backup"
assert_eq "$(find "$OWNED" -mindepth 1 ! -user "$OTHER" -printf '%f\n')" "" \
    "files not owned by $OTHER after the backups"
PGVAULT_BIN=$PUB/as-other run_pgvault verify -d "$OWNED" --all
expect_rc 0 "verify --all as $OTHER"
assert_not_contains "$ERR" "will not be recorded" "verify as $OTHER records its results"
assert_eq "$(catalog_q "$OWNED" "SELECT count(*) FROM backups WHERE verified_at IS NOT NULL")" 2 \
    "backups verified by $OTHER"

pass
