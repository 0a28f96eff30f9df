#!/usr/bin/env bash
# A lost backup host comes back from a remote: the hostile test database is backed up
# with a file:// remote, the whole repository is removed (rm -rf), "import --from" on a
# new directory rebuilds the catalog from the remote's snapshot (the backup becomes
# remote-only: 'missing' with a complete copy) and "restore latest" downloads it and gives
# back the same database. Then an object newer than the snapshot on the remote (its
# catalog put back one backup older) is downloaded and adopted by import --from, and
# restores too. restore --from replaces a damaged local file with the remote's copy; a
# damaged copy is refused (exit 3) before any database is touched. import --from
# refuses a repository that already has backups.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 cmp diff python3

DB=pgv_copies_hostile
T1=pgv_copies_restored1
T2=pgv_copies_restored2
T3=pgv_copies_restored3
register_db "$T1"
register_db "$T2"
register_db "$T3"
NAS=$SCRATCH/nas
mkdir -p "$NAS"
CONF=$SCRATCH/pgvault.conf
printf 'remote.nas.url = file://%s\n' "$NAS" >"$CONF"
pgv() { run_pgvault --config "$CONF" "$@"; }

same_dump() {
    normalized_dump "$1" "$SCRATCH/a.sql"
    normalized_dump "$2" "$SCRATCH/b.sql"
    cmp -s "$SCRATCH/a.sql" "$SCRATCH/b.sql" || fail "$3: pg_dump of $1 and of $2 differ:
$(diff "$SCRATCH/a.sql" "$SCRATCH/b.sql" | cut -c 1-300 | head -n 40)"
}

note "building $DB and backing it up with a remote"
create_db "$DB"
build_hostile_db "$DB"
REPO=$SCRATCH/host1
pgv backup -d "$REPO" --db "$DB" --no-progress
expect_rc 0 "backup"
B1=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
F1=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $B1")

note "the host is lost: rm -rf of the whole repository"
rm -rf "$REPO"
REPO2=$SCRATCH/host2
pgv import --from nas -d "$REPO2"
expect_rc 0 "import --from into a new directory"
assert_eq "$(catalog_q "$REPO2" "SELECT status FROM backups WHERE id = $B1")" missing \
    "the backup is remote-only after import --from"
assert_eq "$(catalog_q "$REPO2" "SELECT status FROM copies WHERE backup_id = $B1 AND remote = 'nas'")" \
    complete "its copy"
pgv list -d "$REPO2" --all-status
assert_contains "$OUT" "$F1" "list shows the rebuilt catalog"

note "restore latest downloads it and gives the database back"
pgv restore -d "$REPO2" --db "$DB" -f --target "$T1" --no-progress latest
expect_rc 0 "restore latest from the remote"
same_dump "$DB" "$T1" "restore after import --from"
cmp "$REPO2/$F1" "$NAS/$DB/$F1" || fail "the downloaded file differs from the copy"
assert_eq "$(file_mode "$REPO2/$F1")" 600 "mode of the downloaded file"
assert_eq "$(catalog_q "$REPO2" "SELECT status FROM backups WHERE id = $B1")" complete \
    "the backup is complete again"
assert_eq "$(catalog_q "$REPO2" "SELECT count(*) FROM events WHERE action = 'download' AND backup_id = $B1")" \
    1 "download event"
[[ -z "$(find "$REPO2" -name '*.partial')" ]] || fail "a partial file was left behind"

note "import --from refuses a repository that has backups"
pgv import --from nas -d "$REPO2"
expect_rc 2 "import --from into a repository with backups"
expect_error_line "import --from into a repository with backups"

note "an object newer than the snapshot is adopted"
cp -a "$NAS/catalog" "$SCRATCH/old-catalog"
psql_q "$DB" "CREATE TABLE after_snapshot (id int); INSERT INTO after_snapshot VALUES (1), (2)" >/dev/null
pgv backup -d "$REPO2" --db "$DB" --no-progress
expect_rc 0 "second backup"
B2=$(catalog_q "$REPO2" "SELECT max(id) FROM backups")
F2=$(catalog_q "$REPO2" "SELECT file_name FROM backups WHERE id = $B2")
[[ -f "$NAS/$DB/$F2" ]] || fail "second backup not on the remote"
rm -rf "$NAS/catalog"
cp -a "$SCRATCH/old-catalog" "$NAS/catalog" # the remote's catalog predates backup 2
rm -rf "$REPO2"
REPO3=$SCRATCH/host3
pgv import --from nas -d "$REPO3"
expect_rc 0 "import --from with an object newer than the snapshot"
assert_eq "$(catalog_q "$REPO3" "SELECT status || ' ' || origin FROM backups WHERE file_name = '$F2'")" \
    "complete import" "the newer object, adopted"
assert_eq "$(catalog_q "$REPO3" "SELECT c.status FROM copies c JOIN backups b ON b.id = c.backup_id
                                 WHERE b.file_name = '$F2'")" complete "its copy recorded"
assert_eq "$(catalog_q "$REPO3" "SELECT status FROM backups WHERE file_name = '$F1'")" missing \
    "the older one stays remote-only"
pgv restore -d "$REPO3" --db "$DB" -f --target "$T2" --no-progress latest
expect_rc 0 "restore latest of the adopted backup"
same_dump "$DB" "$T2" "restore of the adopted backup"

note "restore --from replaces a damaged local file; a damaged copy is refused"
B2b=$(catalog_q "$REPO3" "SELECT id FROM backups WHERE file_name = '$F2'")
flip_byte "$REPO3/$F2" 200
pgv restore -d "$REPO3" -f --target "$T3" --no-progress --from nas "$B2b"
expect_rc 0 "restore --from over a damaged local file"
cmp "$REPO3/$F2" "$NAS/$DB/$F2" || fail "the damaged local file was not replaced"
same_dump "$DB" "$T3" "restore --from"
flip_byte "$NAS/$DB/$F2" 200
drop_db "$T3"
pgv restore -d "$REPO3" -f --target "$T3" --no-progress --from nas "$B2b"
expect_rc 3 "restore --from a damaged copy"
db_exists "$T3" && fail "a database was created from a damaged copy"
cmp -s "$REPO3/$F2" "$NAS/$DB/$F2" && fail "the damaged copy replaced the local file"
assert_eq "$(catalog_q "$REPO3" "SELECT status FROM copies WHERE backup_id = $B2b")" failed \
    "the damaged copy is marked failed"

pass
