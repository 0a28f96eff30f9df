#!/usr/bin/env bash
# Backup files that were damaged after the fact: a flipped byte, a truncated file, another
# valid backup copied over a file, a deleted file, a file replaced by a symlink; and a
# symlink planted at the name of the partial file a backup is about to write.
#   verify: exit 3, the damaged backup reported FAILED with the reason, the others ok;
#   restore: exit 3 before any database is touched (the target does not appear, the
#            original keeps its oid and rows);
#   planted symlink: the backup never writes through it (its target is unchanged, the
#            link is still a link) and no complete row names it.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3 python3

DB=pgv_fault_files
TARGET=pgv_fault_files_target
create_db "$DB"
register_db "$TARGET"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
SQL

REPO=$SCRATCH/repo
for i in 1 2 3; do
    psql_q "$DB" "INSERT INTO t VALUES ($((100000 + i)), 'extra $i')" >/dev/null
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup $i"
done
mapfile -t IDS < <(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete' ORDER BY id")
file_of() { catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $1"; }
DB_PRINT="$(db_oid "$DB") $(db_fingerprint "$DB")"

# damaged ID WHAT VERIFY_RE: verify ID exits 3 with a reason matching VERIFY_RE, verify of
# the others passes, restore ID (over $DB, and --target) exits 3 and touches nothing.
damaged() {
    local id=$1 what=$2 re=$3 other
    run_pgvault verify -d "$REPO" "$id"
    expect_rc 3 "verify of a backup with $what"
    assert_match "$OUT" "FAILED +$id .*($re)" "verify output for $what"
    expect_error_line "verify of a backup with $what"
    for other in "${IDS[@]}"; do
        [[ $other == "$id" ]] && continue
        run_pgvault verify -d "$REPO" "$other"
        expect_rc 0 "verify of backup $other beside the one with $what"
    done
    run_pgvault verify -d "$REPO" --all
    expect_rc 3 "verify --all with $what"
    run_pgvault restore -d "$REPO" -f "$id"
    expect_rc 3 "restore of a backup with $what"
    expect_error_line "restore of a backup with $what"
    run_pgvault restore -d "$REPO" -f --target "$TARGET" "$id"
    expect_rc 3 "restore --target of a backup with $what"
    expect_error_line "restore --target of a backup with $what"
    assert_eq "$(db_oid "$TARGET")" "" "restore --target of a backup with $what: the target database"
    assert_eq "$(db_oid "$DB") $(db_fingerprint "$DB")" "$DB_PRINT" "$DB after the restores of a backup with $what"
    assert_eq "$(temp_dbs "$DB" "$TARGET")" "" "temporary databases after the restores of a backup with $what"
}

# with_saved ID FUNCTION: runs FUNCTION on backup ID's file and puts the file back after.
with_saved() {
    local f
    f=$REPO/$(file_of "$1")
    cp -p "$f" "$SCRATCH/saved"
    try "$2" "$1" "$f"
    rm -f "$f"
    mv "$SCRATCH/saved" "$f"
    [[ $TRY_RC -eq 0 ]] || fail "backup $1: the case failed (above)"
}

flip_byte() {
    python3 - "$2" <<'PY'
import os, sys
p = sys.argv[1]
n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(n // 2)
    b = f.read(1)
    f.seek(n // 2)
    f.write(bytes([b[0] ^ 0x01]))
PY
    damaged "$1" "a flipped byte" "checksum mismatch"
}
case_flipped() { with_saved "${IDS[0]}" flip_byte; }

truncate_file() {
    truncate -s $(($(stat -c %s "$2") - 100)) "$2"
    damaged "$1" "a truncated file" "size is"
}
case_truncated() { with_saved "${IDS[1]}" truncate_file; }

copy_other() {
    cp "$REPO/$(file_of "${IDS[2]}")" "$2"
    damaged "$1" "another backup copied over it" "size is|checksum mismatch"
}
case_copied_over() { with_saved "${IDS[0]}" copy_other; }

# the other backup has the very same size: only the checksum tells them apart
copy_same_size() {
    local other=$SCRATCH/same_size
    python3 - "$2" "$other" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
# a valid gzip member of the same length: the same stream with another mtime in the header
data[4:8] = bytes([0x01, 0x02, 0x03, 0x04])
open(dst, "wb").write(bytes(data))
PY
    cp "$other" "$2"
    damaged "$1" "a same-size valid gzip file copied over it" "checksum mismatch"
}
case_copied_same_size() { with_saved "${IDS[1]}" copy_same_size; }

delete_file() {
    rm -f "$2"
    damaged "$1" "its file deleted" "missing"
}
case_deleted() { with_saved "${IDS[2]}" delete_file; }

# the file replaced by a symlink to an identical copy outside the repository
symlink_file() {
    cp "$2" "$SCRATCH/outside_copy"
    rm -f "$2"
    ln -s "$SCRATCH/outside_copy" "$2"
    damaged "$1" "its file replaced by a symlink" "not a regular file|symbolic link|symlink"
}
case_symlinked() { with_saved "${IDS[0]}" symlink_file; }

# A symlink at the partial file's name: <db>_<UTC now>.sql.gz.partial for this second and
# the next few, pointing at a file outside the repository.
case_planted_partial() {
    local victim=$SCRATCH/victim.txt t name planted=()
    echo "the victim's own content" >"$victim"
    local vsum
    vsum=$(md5sum <"$victim")
    local now
    now=$(date -u +%s)
    for ((t = now; t <= now + 6; t++)); do
        for seq in "" _2 _3; do
            name=${DB}_$(date -u -d "@$t" +%Y%m%d_%H%M%S)${seq}.sql.gz.partial
            ln -s "$victim" "$REPO/$name"
            planted+=("$name")
        done
    done
    run_pgvault backup -d "$REPO" --db "$DB"
    note "backup with planted symlinks: exit $RC; file $(last_row "$REPO" file_name); $(first_err_line)"
    assert_eq "$(md5sum <"$victim")" "$vsum" "the symlink's target"
    for name in "${planted[@]}"; do
        [[ -L "$REPO/$name" ]] || fail "planted symlink $name is no longer a symlink"
    done
    if [[ $RC -eq 0 ]]; then
        # it chose another name: that file is a regular file, and complete
        local f
        f=$(last_row "$REPO" file_name)
        [[ -f "$REPO/$f" && ! -L "$REPO/$f" ]] || fail "the backup's file $f is not a regular file"
        assert_eq "$(last_row "$REPO" status)" complete "the backup's row"
    else
        expect_rc 1 "backup refusing a planted symlink"
        expect_error_line "backup refusing a planted symlink"
        expect_last_failed "$REPO" "backup refusing a planted symlink"
    fi
    complete_sane "$REPO" "after the planted symlinks"
    assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete' AND file_name LIKE '%.partial'")" 0 \
        "complete rows naming a partial file"
    for name in "${planted[@]}"; do
        rm -f "$REPO/$name"
    done
}

run_case "flipped byte: verify 3 (checksum mismatch), restore 3, nothing touched" case_flipped
run_case "truncated file: verify 3 (size), restore 3, nothing touched" case_truncated
run_case "another valid backup copied over a file: verify 3, restore 3" case_copied_over
run_case "a same-size valid gzip copied over a file: verify 3 (checksum), restore 3" case_copied_same_size
run_case "deleted file: verify 3 (missing), restore 3" case_deleted
run_case "file replaced by a symlink out of the repository: verify 3, restore 3" case_symlinked
run_case "symlink planted at the partial file's name: never written through" case_planted_partial
finish_cases
